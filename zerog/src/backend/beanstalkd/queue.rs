//! The [`Store`] of [`BeanstalkdQueue`]: beanstalkd decides who gets which job when,
//! the store it wraps keeps the records and hands out the leases.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::connection::Connection;
use super::{BeanstalkdQueue, Held, PRIORITY, beanstalkd_priority, log_failure, queue_error};
use crate::backend::{
    Change, Fence, Fire, Inserted, Lease, ListQuery, Listed, NewJob, Overview, PutSchedule,
    Recovered, Reservation, ReserveRequest, RunSignal, Stats, Store, StoreError, Stored, UniqueKey,
    WorkerCommand, WorkerInfo, Write, WriteOutcome, loops,
};
use crate::lifecycle::Next;
use crate::record::Status;
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

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
        let Some(Stored { record, .. }) = self.store.get(uuid).await? else {
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

fn parse_body(body: &[u8]) -> Option<(Uuid, i64, u32)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut fields = text.split(' ');
    let uuid = Uuid::parse_str(fields.next()?).ok()?;
    let put_at = fields.next()?.parse().ok()?;
    // Entries put before priorities have none: the default's.
    let priority = match fields.next() {
        Some(priority) => priority.parse().ok()?,
        None => PRIORITY,
    };
    Some((uuid, put_at, priority))
}

/// The body of a job's entry: its uuid, when it was put (Unix ms), and its beanstalkd
/// priority, which a release keeps.
fn entry_body(record: &crate::record::JobRecord, now: DateTime<Utc>) -> String {
    format!(
        "{} {} {}",
        record.uuid,
        now.timestamp_millis(),
        beanstalkd_priority(record.priority)
    )
}

#[async_trait]
impl Store for BeanstalkdQueue {
    /// Puts every job, then inserts the records in one write of the store: a failure
    /// after the puts leaves entries without records, which are deleted at once or
    /// skipped and deleted when they come up, never a record nobody delivers.
    async fn insert(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        let put = self.put_new(jobs).await?;
        let inserted = self.store.insert(jobs).await;
        if inserted.is_err() {
            self.delete_put(put).await;
        }
        inserted
    }

    /// The puts of a batch that fails midway are not taken back at once (their
    /// entries are skipped when they come up), so single submits are not grouped.
    fn atomic_inserts(&self) -> bool {
        false
    }

    /// Puts the job, then inserts it under its key in the store; a duplicate, like a
    /// failure, deletes the entry again.
    async fn insert_unique(
        &self,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError> {
        let now = Utc::now();
        let body = entry_body(job.record, now);
        let tube = self.tube(&job.record.queue);
        let id = self
            .producer
            .lock()
            .await
            .put(
                &tube,
                beanstalkd_priority(job.record.priority),
                delay_until(job.run_at, now),
                self.ttr,
                body.as_bytes(),
            )
            .await
            .map_err(queue_error)?;
        let inserted = self.store.insert_unique(job, unique).await;
        if !matches!(inserted, Ok(Inserted::New)) {
            log_failure("delete", self.producer.lock().await.delete(id).await);
        }
        inserted
    }

    async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Vec<Reservation>, StoreError> {
        let max_jobs = request.max_jobs;
        let tubes: BTreeSet<String> = request.queues.iter().map(|q| self.tube(q)).collect();
        if tubes.is_empty() || max_jobs == 0 || request.max_cost == 0 {
            return Ok(Vec::new());
        }
        let mut consumer = self.consumer.lock().await;
        consumer.watch_only(&tubes).await.map_err(queue_error)?;
        let mut taken: Vec<Reservation> = Vec::new();
        // Jobs not for this worker stay reserved until the end, so that one call does
        // not meet them twice.
        let mut put_back: Vec<(u64, Duration, u32)> = Vec::new();
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
            let Some((uuid, put_at, priority)) = parse_body(&job.body) else {
                tracing::warn!(
                    id = job.id,
                    "deleting a beanstalkd job that zerog did not put"
                );
                log_failure("delete", consumer.delete(job.id).await);
                continue;
            };
            let fits = ReserveRequest {
                max_cost: free,
                max_jobs: 1,
                only: Some(uuid),
                ..request.clone()
            };
            let mut reserved = self.store.reserve(&fits).await.map(|mut taken| taken.pop());
            if matches!(reserved, Ok(None)) && !recovered {
                // Running in the store while beanstalkd offers it: its worker may be
                // dead. Take back expired leases (once per call), then try again.
                if let Ok(Some(stored)) = self.store.get(uuid).await
                    && stored.record.status == Status::Running
                {
                    recovered = true;
                    let taken_back = loops::recover_expired(&*self.store, Utc::now()).await;
                    if let Ok(taken_back) = taken_back {
                        let held = self.take_recovered(&taken_back);
                        put_recovered(&mut consumer, held).await;
                        reserved = self.store.reserve(&fits).await.map(|mut taken| taken.pop());
                    }
                }
            }
            match reserved {
                Ok(Some(reservation)) => {
                    let held = Held {
                        id: job.id,
                        lease: reservation.lease.id,
                        priority,
                    };
                    self.held().insert(uuid, held);
                    taken.push(reservation);
                }
                Ok(None) => match self.verdict(uuid, put_at, &fits).await {
                    Ok(Verdict::Delete) => log_failure("delete", consumer.delete(job.id).await),
                    Ok(Verdict::Release(delay)) => put_back.push((job.id, delay, priority)),
                    Err(error) => {
                        put_back.push((job.id, Duration::ZERO, priority));
                        failure = Some(error);
                        break;
                    }
                },
                Err(error) => {
                    put_back.push((job.id, Duration::ZERO, priority));
                    failure = Some(error);
                    break;
                }
            }
        }
        for (id, delay, priority) in put_back {
            log_failure("release", consumer.release(id, priority, delay).await);
        }
        match failure {
            Some(error) if taken.is_empty() => Err(error),
            _ => Ok(taken),
        }
    }

    async fn get(&self, uuid: Uuid) -> Result<Option<Stored>, StoreError> {
        self.store.get(uuid).await
    }

    /// The store's writes, then what they mean for the beanstalkd jobs held here: a
    /// progress write touches its job; a job settled to run again is released with
    /// the delay, one that failed is buried, any other finished one deleted; a run
    /// whose lease was lost lets go of its job.
    ///
    /// A finished job sent back to the queue (a user's retry) has no beanstalkd job
    /// any more, so one is put first, as an enqueue puts it before the record: the
    /// record is never due with nothing to deliver it. If the store refuses the
    /// write, that job is deleted again (or, failing that, when it comes up).
    async fn write(&self, writes: &[Write<'_>]) -> Result<Vec<WriteOutcome>, StoreError> {
        let revived = self.put_revived(writes).await?;
        let outcomes = match self.store.write(writes).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                self.delete_put(revived.into_iter().map(|(_, id)| id).collect())
                    .await;
                return Err(error);
            }
        };
        let refused: Vec<u64> = revived
            .into_iter()
            .filter(|(index, _)| outcomes.get(*index) != Some(&WriteOutcome::Written))
            .map(|(_, id)| id)
            .collect();
        self.delete_put(refused).await;
        let now = Utc::now();
        for (write, outcome) in writes.iter().zip(&outcomes) {
            let lease = match write.fence {
                Fence::Lease(id) => Some(id),
                Fence::Revision(_) => None,
            };
            match (outcome, write.change) {
                (WriteOutcome::Refused, _) => {
                    if let Some(lease) = lease {
                        self.lease_lost(write.uuid, lease).await;
                    }
                }
                (WriteOutcome::Written, Change::Progress(..)) => {
                    let job = self.held().get(&write.uuid).copied();
                    if let Some(job) = job.filter(|job| lease == Some(job.lease)) {
                        log_failure("touch", self.consumer.lock().await.touch(job.id).await);
                    }
                }
                (WriteOutcome::Written, Change::Settle(transition)) => {
                    let Some(job) = self.take_held(write.uuid, lease) else {
                        continue;
                    };
                    let mut consumer = self.consumer.lock().await;
                    match transition.next {
                        Next::RunAt(at) => log_failure(
                            "release",
                            consumer
                                .release(job.id, job.priority, delay_until(at, now))
                                .await,
                        ),
                        Next::Finished if transition.record.status == Status::Failed => {
                            log_failure("bury", consumer.bury(job.id, job.priority).await);
                        }
                        Next::Finished => log_failure("delete", consumer.delete(job.id).await),
                    }
                }
                (WriteOutcome::Written, Change::RequestCancel) => {}
            }
        }
        Ok(outcomes)
    }

    async fn signals(&self, leases: &[Lease]) -> Result<Vec<RunSignal>, StoreError> {
        let signals = self.store.signals(leases).await?;
        for (lease, signal) in leases.iter().zip(&signals) {
            if *signal == RunSignal::LeaseLost {
                self.lease_lost(lease.uuid, lease.id).await;
            }
        }
        Ok(signals)
    }

    async fn expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Stored>, StoreError> {
        self.store.expired(now, limit).await
    }

    async fn list(
        &self,
        query: &ListQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Listed, StoreError> {
        self.store.list(query, after, limit).await
    }

    async fn delete_if_finished(&self, uuid: Uuid) -> Result<bool, StoreError> {
        self.store.delete_if_finished(uuid).await
    }

    async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        self.store.delete_finished(statuses, finished_before).await
    }

    async fn stats(&self, cap: u64) -> Result<Stats, StoreError> {
        self.store.stats(cap).await
    }

    async fn overview(&self, cap: u64, since: DateTime<Utc>) -> Result<Overview, StoreError> {
        self.store.overview(cap, since).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await?;
        self.producer
            .lock()
            .await
            .ping()
            .await
            .map_err(queue_error)?;
        Ok(())
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        // Every insert also goes through the store, whose own wake-ups (NOTIFY,
        // pub/sub) come after the record is in, when the job can really be reserved.
        self.store.wait_for_jobs(timeout).await;
    }

    async fn heartbeat_worker(
        &self,
        info: &WorkerInfo,
        ttl: Duration,
    ) -> Result<WorkerCommand, StoreError> {
        self.store.heartbeat_worker(info, ttl).await
    }

    async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        self.store.list_workers().await
    }

    async fn command_worker(&self, id: &str, command: WorkerCommand) -> Result<bool, StoreError> {
        self.store.command_worker(id, command).await
    }

    async fn put_schedule(
        &self,
        schedule: &Schedule,
        source: ScheduleSource,
        mode: PutSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store.put_schedule(schedule, source, mode, now).await
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleState>, StoreError> {
        self.store.list_schedules().await
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleState>, StoreError> {
        self.store.get_schedule(name).await
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        self.store.delete_schedule(name).await
    }

    async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store.pause_schedule(name, paused, now).await
    }

    /// Puts the tick's job, as an enqueue does, then fires the tick in the store: when
    /// another process fired it first, or the store fails, the put job is deleted again
    /// (or, failing that, when it comes up with no record). So a fired tick's record is
    /// never due with nothing to deliver it, and an unfired tick delivers nothing.
    async fn fire(&self, fire: &Fire<'_>) -> Result<bool, StoreError> {
        let Some(job) = &fire.job else {
            return self.store.fire(fire).await;
        };
        let put = self.put_new(std::slice::from_ref(job)).await?;
        let fired = self.store.fire(fire).await;
        if !matches!(fired, Ok(true)) {
            self.delete_put(put).await;
        }
        fired
    }

    async fn remove_worker(&self, id: &str) -> Result<(), StoreError> {
        self.store.remove_worker(id).await
    }

    async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), StoreError> {
        self.store.set_queue_paused(queue, paused).await
    }

    async fn paused_queues(&self) -> Result<BTreeSet<String>, StoreError> {
        self.store.paused_queues().await
    }
}

impl BeanstalkdQueue {
    /// Puts a beanstalkd job for each write of `writes` that queues a finished job
    /// again, fenced on the revision at which it is finished: the index of each such
    /// write, with the id of its new job.
    async fn put_revived(&self, writes: &[Write<'_>]) -> Result<Vec<(usize, u64)>, StoreError> {
        let mut put = Vec::new();
        for (index, write) in writes.iter().enumerate() {
            let (Fence::Revision(revision), Change::Settle(transition)) =
                (write.fence, write.change)
            else {
                continue;
            };
            let Next::RunAt(at) = transition.next else {
                continue;
            };
            let finished = match self.store.get(write.uuid).await {
                Ok(stored) => stored.is_some_and(|stored| {
                    stored.revision == revision && stored.record.status.is_finished()
                }),
                Err(error) => {
                    self.delete_put(put.into_iter().map(|(_, id)| id).collect())
                        .await;
                    return Err(error);
                }
            };
            if !finished {
                continue;
            }
            let now = Utc::now();
            let body = entry_body(&transition.record, now);
            let tube = self.tube(&transition.record.queue);
            let delay = delay_until(at, now);
            let result = self
                .producer
                .lock()
                .await
                .put(
                    &tube,
                    beanstalkd_priority(transition.record.priority),
                    delay,
                    self.ttr,
                    body.as_bytes(),
                )
                .await;
            match result {
                Ok(id) => put.push((index, id)),
                Err(error) => {
                    self.delete_put(put.into_iter().map(|(_, id)| id).collect())
                        .await;
                    return Err(queue_error(error));
                }
            }
        }
        Ok(put)
    }

    /// Deletes beanstalkd jobs this process put; one left behind is deleted when it
    /// comes up and its record is finished.
    /// Puts a beanstalkd job for each new job, due at its `run_at`: all or none, the
    /// ones put before a failure deleted again.
    async fn put_new(&self, jobs: &[NewJob<'_>]) -> Result<Vec<u64>, StoreError> {
        let now = Utc::now();
        let mut put = Vec::with_capacity(jobs.len());
        let mut failure = None;
        {
            let mut producer = self.producer.lock().await;
            for job in jobs {
                let body = entry_body(job.record, now);
                let delay = delay_until(job.run_at, now);
                let tube = self.tube(&job.record.queue);
                match producer
                    .put(
                        &tube,
                        beanstalkd_priority(job.record.priority),
                        delay,
                        self.ttr,
                        body.as_bytes(),
                    )
                    .await
                {
                    Ok(id) => put.push(id),
                    Err(error) => {
                        failure = Some(queue_error(error));
                        break;
                    }
                }
            }
        }
        match failure {
            Some(error) => {
                self.delete_put(put).await;
                Err(error)
            }
            None => Ok(put),
        }
    }

    async fn delete_put(&self, ids: Vec<u64>) {
        if ids.is_empty() {
            return;
        }
        let mut producer = self.producer.lock().await;
        for id in ids {
            log_failure("delete", producer.delete(id).await);
        }
    }

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
            log_failure("bury", consumer.bury(job.id, job.priority).await);
        } else {
            log_failure(
                "release",
                consumer.release(job.id, job.priority, Duration::ZERO).await,
            );
        }
    }
}
