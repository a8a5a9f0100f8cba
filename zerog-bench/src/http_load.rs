//! HTTP submits over real TCP, zerog only (apalis has no HTTP API): the phase that a
//! child of its own runs on fresh storage, so that no other figure shares its store.
//!
//! The child serves zerog's own API ([`zerog::http::Server`], as `serve` does) on an
//! ephemeral port of 127.0.0.1 with the no-op job type registered, and drives it from
//! the same process with C keep-alive HTTP/1.1 connections (actix's client, one
//! connection per client), each sending its share of the requests one after another:
//!
//! 1. **Single:** N requests `POST /job/bench_noop` with `{"seq": i}`.
//! 2. **Batched:** N jobs as `POST /job/bench_noop/batch` requests of `--batch` jobs
//!    each, the body a JSON array of parameter objects (SPEC §4).
//!
//! Every answer that is not 2xx is counted (the report shows the count; it should be
//! 0), and so is every request that got no answer. With no worker running, the jobs
//! just queue; after the clock stops, if every submit was accepted, a worker drains
//! them, unmeasured, which checks that every accepted job was stored and leaves a
//! beanstalkd tube empty.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use zerog::http::{AllowedHosts, ApiState, DEFAULT_MAX_CONNECTIONS, Server};
use zerog::{Job as _, Registry};

use crate::args::ChildArgs;
use crate::probe;
use crate::stats::rate;
use crate::workload::{self, BoxError, Drain, SystemUnderTest, batches};
use crate::zerog_system::{BenchNoop, ZerogSystem};

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest answer body read: a batch's uuids, with room to spare.
const ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// What the HTTP phase measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpFigures {
    /// Connections open at once.
    pub connections: u32,
    /// Jobs per second submitted by `POST /job/{jobType}`, one job per request.
    pub single_per_s: f64,
    /// Jobs per second submitted by `POST /job/{jobType}/batch`.
    pub batch_per_s: f64,
    /// Answers that were not 2xx, in both parts.
    pub non_2xx: u64,
    /// Requests that got no answer at all (connection or timeout errors).
    pub failed_requests: u64,
}

/// One request to send: its path and JSON body, and how many jobs it submits.
#[derive(Debug, Clone, PartialEq)]
struct Submit {
    path: String,
    body: String,
    jobs: u64,
}

/// How one part (single or batched) went.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tally {
    accepted_jobs: u64,
    non_2xx: u64,
    failed_requests: u64,
}

impl Tally {
    fn add(self, other: Tally) -> Tally {
        Tally {
            accepted_jobs: self.accepted_jobs + other.accepted_jobs,
            non_2xx: self.non_2xx + other.non_2xx,
            failed_requests: self.failed_requests + other.failed_requests,
        }
    }
}

/// The single submits of jobs `0..n`.
fn single_submits(n: u64) -> Vec<Submit> {
    let path = format!("/job/{}", BenchNoop::SPEC.job_type);
    (0..n)
        .map(|seq| Submit {
            path: path.clone(),
            body: format!("{{\"seq\":{seq}}}"),
            jobs: 1,
        })
        .collect()
}

/// The batch submits of jobs `seqs`, `size` per request.
fn batch_submits(seqs: std::ops::Range<u64>, size: u64) -> Vec<Submit> {
    let path = format!("/job/{}/batch", BenchNoop::SPEC.job_type);
    batches(seqs, size)
        .map(|batch| {
            let jobs = batch.end - batch.start;
            let items: Vec<String> = batch.map(|seq| format!("{{\"seq\":{seq}}}")).collect();
            Submit {
                path: path.clone(),
                body: format!("[{}]", items.join(",")),
                jobs,
            }
        })
        .collect()
}

/// Deals `submits` out to `connections` shares, round robin, each keeping its order.
fn deal<T>(submits: Vec<T>, connections: usize) -> Vec<Vec<T>> {
    let connections = connections.max(1);
    let mut shares: Vec<Vec<T>> = (0..connections).map(|_| Vec::new()).collect();
    for (i, submit) in submits.into_iter().enumerate() {
        shares[i % connections].push(submit);
    }
    shares.retain(|share| !share.is_empty());
    shares
}

/// Runs the HTTP phase on `system`: serves its API, submits over TCP, then drains.
///
/// # Errors
///
/// The server's or the system's error; a drain that misses its deadline.
pub async fn run(system: &mut ZerogSystem, args: &ChildArgs) -> Result<HttpFigures, BoxError> {
    let n = args.jobs;
    probe::install(2 * n);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let registry = Registry::new().register::<BenchNoop>();
    let state = ApiState::new(system.backend().clone(), registry)
        .allowed_hosts(AllowedHosts::new(address, std::iter::empty::<&str>()));
    let connections = usize::try_from(args.http_connections)?;
    let server = Server::new(state)
        .max_connections(DEFAULT_MAX_CONNECTIONS.max(2 * connections))
        .listen(listener)?;
    let handle = server.handle();
    let serving = tokio::spawn(server);

    let single = single_submits(n);
    let batched = batch_submits(n..2 * n, args.batch);
    let (sent, driven) = oneshot::channel();
    // actix's client runs on an actix system of its own thread, beside the server's.
    std::thread::spawn(move || {
        let result = actix_rt::System::new().block_on(async move {
            let single = drive(address, single, connections).await;
            let batched = drive(address, batched, connections).await;
            (single, batched)
        });
        let _ = sent.send(result);
    });
    let ((single, single_time), (batched, batch_time)) = driven.await?;
    handle.stop(true).await;
    serving.await??;

    let accepted = single.add(batched);
    if accepted.accepted_jobs == 2 * n {
        let phase = "the drain after the HTTP phase";
        if let Drain::Late(why) = workload::drain(system, args.workers, 2 * n, phase).await? {
            return Err(why.into());
        }
    }
    system.stop().await?;
    Ok(HttpFigures {
        connections: args.http_connections,
        single_per_s: rate(single.accepted_jobs, single_time),
        batch_per_s: rate(batched.accepted_jobs, batch_time),
        non_2xx: accepted.non_2xx,
        failed_requests: accepted.failed_requests,
    })
}

/// Sends `submits` to `address` over `connections` keep-alive connections at once;
/// what came back and how long it took.
async fn drive(address: SocketAddr, submits: Vec<Submit>, connections: usize) -> (Tally, Duration) {
    let shares = deal(submits, connections);
    let clock = Instant::now();
    let tallies = join_all(shares.into_iter().map(|share| connection(address, share))).await;
    let elapsed = clock.elapsed();
    let tally = tallies.into_iter().fold(Tally::default(), Tally::add);
    (tally, elapsed)
}

/// One connection's share, sent one request after another.
async fn connection(address: SocketAddr, share: Vec<Submit>) -> Tally {
    // One client with a pool of one: exactly one connection, kept alive between requests.
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(1))
        .timeout(REQUEST_TIMEOUT)
        .finish();
    let mut tally = Tally::default();
    for submit in share {
        let sent = client
            .post(format!("http://{address}{}", submit.path))
            .insert_header(("Content-Type", "application/json"))
            .send_body(submit.body)
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(_) => {
                tally.failed_requests += 1;
                continue;
            }
        };
        // The body is read whole, so the connection is free for the next request.
        let body = response.body().limit(ANSWER_LIMIT).await;
        match (response.status().is_success(), body) {
            (true, Ok(_)) => tally.accepted_jobs += submit.jobs,
            (false, Ok(_)) => tally.non_2xx += 1,
            (_, Err(_)) => tally.failed_requests += 1,
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_submits_post_one_job_each() {
        let submits = single_submits(3);
        assert_eq!(submits.len(), 3);
        assert_eq!(submits[0].path, "/job/bench_noop");
        assert_eq!(submits[2].body, r#"{"seq":2}"#);
        assert!(submits.iter().all(|submit| submit.jobs == 1));
    }

    #[test]
    fn batch_submits_post_arrays_of_parameters() {
        let submits = batch_submits(10..15, 2);
        assert_eq!(submits.len(), 3);
        assert_eq!(submits[0].path, "/job/bench_noop/batch");
        let first: serde_json::Value = serde_json::from_str(&submits[0].body).unwrap();
        assert_eq!(first, serde_json::json!([{"seq": 10}, {"seq": 11}]));
        assert_eq!(submits[2].body, r#"[{"seq":14}]"#);
        assert_eq!(submits.iter().map(|s| s.jobs).sum::<u64>(), 5);
    }

    #[test]
    fn shares_are_dealt_round_robin_and_none_is_empty() {
        let shares = deal((0..7).collect(), 3);
        assert_eq!(shares, [vec![0, 3, 6], vec![1, 4], vec![2, 5]]);
        let shares = deal((0..2).collect(), 32);
        assert_eq!(shares, [vec![0], vec![1]]);
        assert!(deal(Vec::<u8>::new(), 4).is_empty());
    }

    #[test]
    fn tallies_add_up() {
        let a = Tally {
            accepted_jobs: 3,
            non_2xx: 1,
            failed_requests: 0,
        };
        let b = Tally {
            accepted_jobs: 2,
            non_2xx: 0,
            failed_requests: 4,
        };
        assert_eq!(
            a.add(b),
            Tally {
                accepted_jobs: 5,
                non_2xx: 1,
                failed_requests: 4
            }
        );
    }
}
