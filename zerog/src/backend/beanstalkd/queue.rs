//! The [`Queue`] half of [`BeanstalkdQueue`]: beanstalkd decides who gets which job
//! when, the store hands out the lease.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::connection::Connection;
use super::{BeanstalkdQueue, Held, PRIORITY, log_failure, queue_error};
use crate::backend::{Lease, Queue, Recovered, Reservation, ReserveRequest, StoreError};
use crate::record::{JobRecord, Status};

/// How long a job with no record in the store is kept: its enqueue may still be
/// inserting the record. After that it is a leftover of a failed enqueue.
const NO_RECORD_GRACE: Duration = Duration::from_secs(60);

/// How often a job that is not for this worker (another type, too big, queue full)
/// comes back, at most.
const NOT_FOR_US_DELAY: Duration = Duration::from_secs(1);

/// How many beanstalkd jobs one reservation looks at beyond the ones it takes.
const SKIP_BUDGET: usize = 16;

/// Whole seconds from now until `at`, rounded up: beanstalkd delays in seconds.
fn delay_until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    let delay = (at - now).to_std().unwrap_or(Duration::ZERO);
    Duration::from_secs(delay.as_secs() + u64::from(delay.subsec_nanos() > 0))
}

/// What a reserver does with a beanstalkd job the store did not give it.
enum Verdict {
    /// Put it back, ready after the delay.
    Release(Duration),
    /// Delete it: the job is finished, or was never enqueued.
    Delete,
}

impl BeanstalkdQueue {
    /// Decides what to do with the beanstalkd job of `uuid`, which the store would not
    /// reserve for `request`.
    async fn verdict(
        &self,
        uuid: Uuid,
        put_at_ms: i64,
        request: &ReserveRequest<'_>,
    ) -> Result<Verdict, StoreError> {
        let now = Utc::now();
        let Some(record) = self.store.get(uuid).await? else {
            let age = Duration::from_millis(
                u64::try_from(now.timestamp_millis() - put_at_ms).unwrap_or(0),
            );
            return Ok(if age < NO_RECORD_GRACE {
                Verdict::Release(NOT_FOR_US_DELAY)
            } else {
                Verdict::Delete
            });
        };
        Ok(match record.status {
            status if status.is_finished() => Verdict::Delete,
            // Its worker holds the store lease; it comes back when a lease as long as
            // ours would have run out, to see whether the run ended or the lease
            // expired (its worker died, and beanstalkd gave the job back early).
            Status::Running => {
                let lease = Duration::from_secs(request.lease.as_secs_f64().ceil() as u64);
                Verdict::Release(lease.clamp(Duration::from_secs(1), self.ttr))
            }
            _ => {
                let run_after = record
                    .run_after
                    .as_deref()
                    .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                    .map(|at| at.with_timezone(&Utc));
                match run_after {
                    Some(at) if at > now => Verdict::Release(delay_until(at, now)),
                    // Due, but another type, too big for the free capacity, or its
                    // queue is at its limit: another worker may take it.
                    _ if request.max_cost > 0 => Verdict::Release(NOT_FOR_US_DELAY),
                    _ => Verdict::Release(Duration::ZERO),
                }
            }
        })
    }
}

fn parse_body(body: &[u8]) -> Option<(Uuid, i64)> {
    let text = std::str::from_utf8(body).ok()?;
    let (uuid, put_at) = text.split_once(' ')?;
    Some((Uuid::parse_str(uuid).ok()?, put_at.parse().ok()?))
}

#[async_trait]
impl Queue for BeanstalkdQueue {
    async fn enqueue(
        &self,
        record: &JobRecord,
        cost: u32,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        // The job goes to beanstalkd first: a failure after the put leaves an entry
        // without a record, which is skipped and deleted, never a record nobody
        // delivers.
        let body = format!("{} {}", record.uuid, now.timestamp_millis());
        let id = self
            .producer
            .lock()
            .await
            .put(
                &self.tube(&record.queue),
                PRIORITY,
                delay_until(run_at, now),
                self.ttr,
                body.as_bytes(),
            )
            .await
            .map_err(queue_error)?;
        if let Err(error) = self.store.enqueue(record, cost, run_at).await {
            let deleted = self.producer.lock().await.delete(id).await;
            log_failure("delete", deleted);
            return Err(error);
        }
        Ok(())
    }

    async fn reserve(
        &self,
        request: &ReserveRequest<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        Ok(self.reserve_many(request, 1).await?.pop())
    }

    async fn reserve_many(
        &self,
        request: &ReserveRequest<'_>,
        max_jobs: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        let tubes: BTreeSet<String> = request.queues.iter().map(|q| self.tube(q)).collect();
        if tubes.is_empty() || max_jobs == 0 || request.max_cost == 0 {
            return Ok(Vec::new());
        }
        let mut consumer = self.consumer.lock().await;
        consumer.watch_only(&tubes).await.map_err(queue_error)?;
        let mut taken: Vec<Reservation> = Vec::new();
        // Jobs not for this worker stay reserved until the end, so that one call does
        // not meet them twice.
        let mut put_back: Vec<(u64, Duration)> = Vec::new();
        let mut failure = None;
        let mut recovered = false;
        while taken.len() < max_jobs && put_back.len() < SKIP_BUDGET {
            let free = request.max_cost - taken.iter().map(|r| r.cost).sum::<u32>();
            if free == 0 {
                break;
            }
            let job = match consumer.reserve_now().await {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(error) => {
                    failure = Some(queue_error(error));
                    break;
                }
            };
            let Some((uuid, put_at)) = parse_body(&job.body) else {
                tracing::warn!(
                    id = job.id,
                    "deleting a beanstalkd job that zerog did not put"
                );
                log_failure("delete", consumer.delete(job.id).await);
                continue;
            };
            let fits = ReserveRequest {
                max_cost: free,
                ..request.clone()
            };
            let mut reserved = self.store.reserve_job(uuid, &fits).await;
            if matches!(reserved, Ok(None)) && !recovered {
                // Running in the store while beanstalkd offers it: its worker may be
                // dead. Take back expired leases (once per call), then try again.
                if let Ok(Some(record)) = self.store.get(uuid).await
                    && record.status == Status::Running
                {
                    recovered = true;
                    if let Ok(taken_back) = self.store.recover_expired(Utc::now()).await {
                        let held = self.take_recovered(&taken_back);
                        put_recovered(&mut consumer, held).await;
                        reserved = self.store.reserve_job(uuid, &fits).await;
                    }
                }
            }
            match reserved {
                Ok(Some(reservation)) => {
                    let held = Held {
                        id: job.id,
                        lease: reservation.lease.id,
                    };
                    self.held().insert(uuid, held);
                    taken.push(reservation);
                }
                Ok(None) => match self.verdict(uuid, put_at, &fits).await {
                    Ok(Verdict::Delete) => log_failure("delete", consumer.delete(job.id).await),
                    Ok(Verdict::Release(delay)) => put_back.push((job.id, delay)),
                    Err(error) => {
                        put_back.push((job.id, Duration::ZERO));
                        failure = Some(error);
                        break;
                    }
                },
                Err(error) => {
                    put_back.push((job.id, Duration::ZERO));
                    failure = Some(error);
                    break;
                }
            }
        }
        for (id, delay) in put_back {
            log_failure("release", consumer.release(id, PRIORITY, delay).await);
        }
        match failure {
            Some(error) if taken.is_empty() => Err(error),
            _ => Ok(taken),
        }
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        // Every enqueue also goes through the store, whose own wake-ups (NOTIFY,
        // pub/sub) come after the record is in, when the job can really be reserved.
        self.store.wait_for_jobs(timeout).await;
    }

    async fn ack(&self, lease: &Lease, record: &JobRecord) -> Result<(), StoreError> {
        let acked = self.store.ack(lease, record).await;
        self.fenced(lease, acked).await?;
        if let Some(job) = self.take_held(lease) {
            let mut consumer = self.consumer.lock().await;
            if record.status == Status::Failed {
                log_failure("bury", consumer.bury(job.id, PRIORITY).await);
            } else {
                log_failure("delete", consumer.delete(job.id).await);
            }
        }
        Ok(())
    }

    async fn release_after(
        &self,
        lease: &Lease,
        record: &JobRecord,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let released = self.store.release_after(lease, record, run_at).await;
        self.fenced(lease, released).await?;
        if let Some(job) = self.take_held(lease) {
            let delay = delay_until(run_at, Utc::now());
            let released = self
                .consumer
                .lock()
                .await
                .release(job.id, PRIORITY, delay)
                .await;
            log_failure("release", released);
        }
        Ok(())
    }

    async fn recover_expired(&self, now: DateTime<Utc>) -> Result<Recovered, StoreError> {
        let recovered = self.store.recover_expired(now).await?;
        let held = self.take_recovered(&recovered);
        if !held.is_empty() {
            let mut consumer = self.consumer.lock().await;
            put_recovered(&mut consumer, held).await;
        }
        Ok(recovered)
    }
}

impl BeanstalkdQueue {
    /// The jobs held here that `recovered` took back, each with whether it failed.
    fn take_recovered(&self, recovered: &Recovered) -> Vec<(Held, bool)> {
        let mut held = self.held();
        let requeued = recovered.requeued.iter().map(|uuid| (uuid, false));
        let failed = recovered.failed.iter().map(|uuid| (uuid, true));
        requeued
            .chain(failed)
            .filter_map(|(uuid, failed)| held.remove(uuid).map(|job| (job, failed)))
            .collect()
    }
}

/// Jobs taken back from expired leases go back to beanstalkd now, or are buried if
/// they failed; those held by other processes come back when their TTR runs out or
/// their connection closed.
async fn put_recovered(consumer: &mut Connection, held: Vec<(Held, bool)>) {
    for (job, failed) in held {
        if failed {
            log_failure("bury", consumer.bury(job.id, PRIORITY).await);
        } else {
            log_failure(
                "release",
                consumer.release(job.id, PRIORITY, Duration::ZERO).await,
            );
        }
    }
}
