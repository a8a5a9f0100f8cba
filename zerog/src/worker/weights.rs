//! Weighted queues (`ZEROG_QUEUES=critical:6,default:3,low:1`, Sidekiq's weighted
//! mode): each reserve tries the worker's queues one at a time, in an order drawn at
//! random in which a queue comes first with the probability of its share of the
//! weights, and takes from the first that has jobs due.
//!
//! With a backlog in every queue, the shares of the jobs run follow the weights; a
//! queue with nothing due costs one more round trip to the reserve that tries it, and
//! no queue with a weight ever waits for the others to empty.

use std::collections::BTreeMap;

use crate::backend::{Backend, Reservation, ReserveRequest, StoreError};

/// Reserves as `request` asks, each job from a queue drawn by weight: the draws share
/// the batch out among the queues, each queue's share is taken in one reserve, and what
/// a queue could not fill goes to the others in a [`weighted_order`]. One job at a time
/// or many, the shares of the jobs taken follow the weights.
///
/// # Cancel safety
///
/// Not cancel safe, as [`Backend::reserve`]: a dropped call may have leased jobs that
/// no one runs until their leases expire.
pub(super) async fn reserve(
    backend: &Backend,
    request: &ReserveRequest<'_>,
    weights: &BTreeMap<String, u32>,
) -> Result<Vec<Reservation>, StoreError> {
    let wanted = request.max_jobs.min(request.max_cost as usize);
    let mut shares: BTreeMap<&String, usize> = BTreeMap::new();
    for _ in 0..wanted {
        if let Some(queue) = weighted_order(request.queues, weights, fastrand::f64).first() {
            *shares.entry(*queue).or_default() += 1;
        }
    }
    let mut taken: Vec<Reservation> = Vec::new();
    let shared = shares.into_iter().collect::<Vec<_>>();
    let rest = weighted_order(request.queues, weights, fastrand::f64);
    let asks = shared
        .into_iter()
        .chain(rest.into_iter().map(|queue| (queue, usize::MAX)));
    for (queue, share) in asks {
        let cost: u32 = taken.iter().map(|r| r.cost).sum();
        let (jobs, units) = (request.max_jobs - taken.len(), request.max_cost - cost);
        if jobs == 0 || units == 0 {
            break;
        }
        let ask = ReserveRequest {
            queues: std::slice::from_ref(queue),
            max_jobs: share.min(jobs),
            max_cost: units,
            ..request.clone()
        };
        match backend.reserve(&ask).await {
            Ok(more) => taken.extend(more),
            // Jobs already taken are the worker's now; the error can wait.
            Err(error) if !taken.is_empty() => {
                super::log_backend_error("reserve", &error);
                break;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(taken)
}

/// `queues` in an order drawn with `random` (uniform in `[0, 1)`): weighted random
/// sampling without replacement (Efraimidis and Spirakis), where each queue draws the
/// key `u^(1/weight)` and the largest key goes first, so that a queue is first with
/// probability `weight / total`. A queue with no weight counts 1.
fn weighted_order<'q>(
    queues: &'q [String],
    weights: &BTreeMap<String, u32>,
    mut random: impl FnMut() -> f64,
) -> Vec<&'q String> {
    let mut keyed: Vec<(f64, &String)> = queues
        .iter()
        .map(|queue| {
            let weight = f64::from(weights.get(queue).copied().unwrap_or(1).max(1));
            (random().powf(1.0 / weight), queue)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    keyed.into_iter().map(|(_, queue)| queue).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_queue_comes_first_in_proportion_to_its_weight() {
        let queues: Vec<String> = ["critical", "default", "low"].map(String::from).into();
        let weights: BTreeMap<String, u32> = [
            ("critical".to_owned(), 6),
            ("default".to_owned(), 3),
            ("low".to_owned(), 1),
        ]
        .into();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut first: BTreeMap<&str, u32> = BTreeMap::new();
        let draws = 20_000;
        for _ in 0..draws {
            let order = weighted_order(&queues, &weights, || rng.f64());
            assert_eq!(order.len(), 3, "every queue is tried");
            *first.entry(order[0].as_str()).or_default() += 1;
        }
        for (queue, share) in [("critical", 0.6), ("default", 0.3), ("low", 0.1)] {
            let seen = f64::from(first[queue]) / f64::from(draws);
            assert!(
                (seen - share).abs() < 0.02,
                "{queue} came first {seen:.3} of the time, not {share}"
            );
        }
    }
}
