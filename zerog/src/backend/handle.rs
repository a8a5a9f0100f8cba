//! [`Backend`]: the handle that the server, the workers and the pruner hold, and the
//! loops written once above every [`Store`]: submit, cancel and kill, retry, lease
//! recovery, listing pages and retention counts.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use uuid::Uuid;

#[cfg(feature = "beanstalkd")]
use super::beanstalkd;
use super::grouping::Grouping;
use super::pauses::PausedQueues;
pub use super::pauses::REFRESH as PAUSE_REFRESH;
use super::url::connect_store;
use super::{
    CancelOutcome, Change, Fence, JobPage, Lease, ListQuery, Listed, NewJob, Overview, Recovered,
    Reservation, ReserveRequest, RunSignal, STATS_COUNT_CAP, Stats, Store, StoreError,
    WorkerCommand, WorkerInfo, Write, WriteOutcome, loops,
};
use super::{Inserted, UniqueKey};
use crate::lifecycle::{self, Next};
use crate::record::{JobRecord, Status};
use crate::spec::JobSpec;

/// A store, as the server and workers use it. Cloning is cheap: clones share the store
/// and wake each other's idle workers on a submit.
#[derive(Clone)]
pub struct Backend {
    store: Arc<dyn Store>,
    submitted: Arc<Notify>,
    /// Notified when a run ends or a job is cancelled through this handle: what a
    /// client waiting for a job of this process wakes on.
    settled: Arc<Notify>,
    /// Single submits that come together, written together.
    grouping: Arc<Grouping>,
    paused: Arc<PausedQueues>,
}

/// Wakes every task waiting on `notify`, and the next one to wait if none is: a
/// wake-up that comes while a worker is between two waits (reserving, say) is kept
/// for its next wait instead of lost, at the price of one spare look at the store.
pub(super) fn wake(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").finish_non_exhaustive()
    }
}

impl Backend {
    /// Connects to the store at `url`, which also serves as the queue.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] for an unknown scheme, or the connection's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped connect leaves at most an applied migration behind.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self::new(connect_store(url).await?))
    }

    /// Connects to the store at `store_url` and the queue at `queue_url`; with no
    /// queue URL, or the store's own URL, the store is the queue as in
    /// [`Backend::connect`]. This is what `ZEROG_STORE` and `ZEROG_QUEUE` configure.
    ///
    /// The only queue apart from a store is `beanstalkd://HOST:PORT` (the
    /// `beanstalkd` feature): it delivers the jobs whose records and leases the store keeps.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] for an unknown scheme, or for a queue URL that
    /// names a second store; otherwise the connection's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped connect leaves at most an applied migration behind.
    pub async fn connect_split(
        store_url: &str,
        queue_url: Option<&str>,
    ) -> Result<Self, StoreError> {
        let queue_url = queue_url.map(str::trim).filter(|url| !url.is_empty());
        match queue_url {
            None => Self::connect(store_url).await,
            Some(queue_url) if queue_url == store_url => Self::connect(store_url).await,
            Some(queue_url) if queue_url.starts_with("beanstalkd://") => {
                #[cfg(feature = "beanstalkd")]
                {
                    let store = connect_store(store_url).await?;
                    let queue = beanstalkd::BeanstalkdQueue::connect(queue_url, store).await?;
                    Ok(Self::new(Arc::new(queue)))
                }
                #[cfg(not(feature = "beanstalkd"))]
                Err(super::url::not_built(queue_url, "beanstalkd"))
            }
            Some(queue_url) => Err(super::unsupported(queue_url)),
        }
    }

    /// A handle on `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Backend {
            store,
            submitted: Arc::new(Notify::new()),
            settled: Arc::new(Notify::new()),
            grouping: Arc::default(),
            paused: Arc::default(),
        }
    }

    /// The store's primitives.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Stores and queues a new record to run from `run_at`. A record for a time still
    /// ahead is stored `waiting`, with `runAfter` set to it (see
    /// [`lifecycle::accepted`]); a worker reserves it only once that time has come.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] if the uuid is taken.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`].
    pub async fn enqueue(
        &self,
        record: &JobRecord,
        cost: u32,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.insert_accepted(std::iter::once((record, cost)), run_at)
            .await
    }

    /// Stores and queues new records, each with its cost, to run from `run_at`, in one
    /// write, `waiting` if that time is still ahead as in [`Backend::enqueue`]. See
    /// [`Store::insert`] for what a failure leaves behind.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`].
    pub async fn enqueue_many(
        &self,
        jobs: &[(JobRecord, u32)],
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.insert_accepted(jobs.iter().map(|(record, cost)| (record, *cost)), run_at)
            .await
    }

    /// Stores and queues `jobs`, each a record and its cost, in one write, each record
    /// as [`lifecycle::accepted`] makes it for `run_at`; and wakes the idle workers.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`].
    async fn insert_accepted<'r>(
        &self,
        jobs: impl Iterator<Item = (&'r JobRecord, u32)>,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut accepted: Vec<(Cow<'_, JobRecord>, u32)> = jobs
            .map(|(record, cost)| (lifecycle::accepted(record, run_at, now), cost))
            .collect();
        if accepted.is_empty() {
            return Ok(());
        }
        if accepted.len() == 1 && self.store.atomic_inserts() {
            let (record, cost) = accepted.remove(0);
            self.grouping
                .insert(&self.store, record.into_owned(), cost, run_at)
                .await?;
            wake(&self.submitted);
            return Ok(());
        }
        let jobs: Vec<NewJob<'_>> = accepted
            .iter()
            .map(|(record, cost)| NewJob {
                record,
                cost: *cost,
                run_at,
            })
            .collect();
        self.store.insert(&jobs).await?;
        wake(&self.submitted);
        Ok(())
    }

    /// Enqueues new records of the job type `spec`, each with the type's cost, to run
    /// from `run_at`, as [`Backend::enqueue_many`] does, in one write. For a type with
    /// `unique_for`, each is written on its own under its [`UniqueKey`] (see
    /// [`Store::insert_unique`]), and one whose key a job holds is not written: its
    /// answer names that job.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`]; under `unique_for`, each job as [`Store::insert_unique`].
    pub async fn enqueue_of_type(
        &self,
        spec: &JobSpec,
        records: &[JobRecord],
        run_at: DateTime<Utc>,
    ) -> Result<Vec<Inserted>, StoreError> {
        let Some(window) = spec.unique_for else {
            self.insert_accepted(records.iter().map(|record| (record, spec.cost)), run_at)
                .await?;
            return Ok(vec![Inserted::New; records.len()]);
        };
        let mut answers = Vec::with_capacity(records.len());
        for record in records {
            let now = Utc::now();
            let record = lifecycle::accepted(record, run_at, now);
            let unique = UniqueKey::of(&record.job_type, &record.params, window, now);
            let job = NewJob {
                record: &record,
                cost: spec.cost,
                run_at,
            };
            let inserted = self.store.insert_unique(&job, &unique).await?;
            if inserted == Inserted::New {
                wake(&self.submitted);
            }
            answers.push(inserted);
        }
        Ok(answers)
    }

    /// Enqueues a new record to run now, and wakes this process's idle workers.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`].
    pub async fn submit(&self, record: &JobRecord, cost: u32) -> Result<(), StoreError> {
        self.enqueue(record, cost, Utc::now()).await
    }

    /// Enqueues several new records, each with its cost, to run now, and wakes this
    /// process's idle workers.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`].
    pub async fn submit_many(&self, jobs: &[(JobRecord, u32)]) -> Result<(), StoreError> {
        self.enqueue_many(jobs, Utc::now()).await
    }

    /// Takes due jobs for a worker: see [`Store::reserve`]. Paused queues are left
    /// out of the request, as the store said at most [`PAUSE_REFRESH`] ago.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`Store::reserve`].
    pub async fn reserve(
        &self,
        request: &ReserveRequest<'_>,
    ) -> Result<Vec<Reservation>, StoreError> {
        let paused = self.paused.current(&*self.store).await?;
        if !request.queues.iter().any(|queue| paused.contains(queue)) {
            return self.store.reserve(request).await;
        }
        let queues: Vec<String> = request
            .queues
            .iter()
            .filter(|queue| !paused.contains(*queue))
            .cloned()
            .collect();
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let request = ReserveRequest {
            queues: &queues,
            ..*request
        };
        self.store.reserve(&request).await
    }

    /// Pauses `queue` for every worker of the store (`paused`), or resumes it; see
    /// [`Store::set_queue_paused`]. This process's workers see it at once, others
    /// within [`PAUSE_REFRESH`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one idempotent write.
    pub async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), StoreError> {
        self.store.set_queue_paused(queue, paused).await?;
        self.paused.forget();
        Ok(())
    }

    /// The paused queues, as the store has them now.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn paused_queues(&self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        self.store.paused_queues().await
    }

    /// The record of `uuid`, if there is one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn get(&self, uuid: Uuid) -> Result<Option<JobRecord>, StoreError> {
        Ok(self.store.get(uuid).await?.map(|stored| stored.record))
    }

    /// Writes a running job's record (progress, log) and renews its lease.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] if `lease` is no longer the job's.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the write happens whole or not at all.
    pub async fn save_progress(&self, lease: &Lease, record: &JobRecord) -> Result<(), StoreError> {
        let until = Utc::now() + lease.duration;
        self.write_run(lease, Change::Progress(record, until)).await
    }

    /// Ends a run with `transition` (done, requeue, retry, failure, cancel, release),
    /// if `lease` is still the job's.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] if `lease` is no longer the job's; nothing is written.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the write did not happen, the job stays leased and runs again
    /// once the lease expires.
    pub async fn settle_run(
        &self,
        lease: &Lease,
        transition: &lifecycle::Transition,
    ) -> Result<(), StoreError> {
        let mut outcomes = self.settle_runs(&[(lease, transition)]).await?;
        outcomes
            .pop()
            .unwrap_or(Err(StoreError::LeaseLost(lease.uuid)))
    }

    /// Ends many runs in one write of the store, each fenced on its own lease: a run
    /// whose lease was lost gets [`StoreError::LeaseLost`] in its place of the answer,
    /// and the others are written.
    ///
    /// # Errors
    ///
    /// The backend's error, when the write as a whole failed.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::write`]: each run's end is written whole or not at all, and one
    /// that was not keeps its lease, to run again once it expires.
    pub async fn settle_runs(
        &self,
        runs: &[(&Lease, &lifecycle::Transition)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let writes: Vec<Write<'_>> = runs
            .iter()
            .map(|(lease, transition)| Write {
                uuid: lease.uuid,
                fence: Fence::Lease(lease.id),
                change: Change::Settle(transition),
            })
            .collect();
        let outcomes = self.store.write(&writes).await?;
        let now = Utc::now();
        let mut due = false;
        let answers = runs
            .iter()
            .zip(outcomes)
            .map(|((lease, transition), outcome)| match outcome {
                WriteOutcome::Written => {
                    due |= matches!(transition.next, Next::RunAt(at) if at <= now);
                    Ok(())
                }
                WriteOutcome::Refused => Err(StoreError::LeaseLost(lease.uuid)),
            })
            .collect();
        if due {
            wake(&self.submitted);
        }
        self.settled.notify_waiters();
        Ok(answers)
    }

    async fn write_run(&self, lease: &Lease, change: Change<'_>) -> Result<(), StoreError> {
        let write = Write {
            uuid: lease.uuid,
            fence: Fence::Lease(lease.id),
            change,
        };
        match self.store.write(&[write]).await?.first() {
            Some(WriteOutcome::Written) => Ok(()),
            _ => Err(StoreError::LeaseLost(lease.uuid)),
        }
    }

    /// Whether the run holding `lease` should go on.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn run_signal(&self, lease: &Lease) -> Result<RunSignal, StoreError> {
        let signals = self.store.signals(std::slice::from_ref(lease)).await?;
        Ok(signals.first().copied().unwrap_or(RunSignal::LeaseLost))
    }

    /// Cancels a queued or waiting job at once; asks a running job's worker to stop it
    /// (the job becomes `cancelled` when `run` returns); with `kill`, ends a running
    /// job now and takes its lease.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown job, [`StoreError::AlreadyFinished`] for
    /// one that has ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each attempt is one fenced write, whole or not at all.
    pub async fn cancel(&self, uuid: Uuid, kill: bool) -> Result<CancelOutcome, StoreError> {
        let outcome = loops::cancel(&*self.store, uuid, kill).await?;
        self.settled.notify_waiters();
        Ok(outcome)
    }

    /// What notifies its waiters when a run ends, or a job is cancelled, through this
    /// handle or a clone of it.
    pub(crate) fn settled(&self) -> &Notify {
        &self.settled
    }

    /// Sends a `failed` or `cancelled` job back to the queue, due now, with its
    /// attempts reset and its log kept, as [`lifecycle::retried`] says; returns the
    /// record as written. The write is fenced on the revision read, so a retry racing
    /// another change of the job (in any process) is decided again on the new record.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown job, [`StoreError::NotRetryable`] for
    /// one in any other status.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each attempt is one fenced write, whole or not at all; a dropped
    /// call leaves the job retried or as it was.
    pub async fn retry(&self, uuid: Uuid) -> Result<JobRecord, StoreError> {
        let record = loops::retry(&*self.store, uuid).await?;
        wake(&self.submitted);
        Ok(record)
    }

    /// Takes back every running job whose lease expired before `now` (its worker died
    /// or stalled), as [`lifecycle::lease_expired`] says: each counts an attempt and
    /// runs again, or fails with "lease expired" when its attempts ran out.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each job is taken back by one fenced write, so a dropped call
    /// leaves the rest for the next.
    pub async fn recover_expired(&self, now: DateTime<Utc>) -> Result<Recovered, StoreError> {
        let recovered = loops::recover_expired(&*self.store, now).await?;
        if !recovered.requeued.is_empty() {
            wake(&self.submitted);
        }
        Ok(recovered)
    }

    /// One page of jobs, newest first, and the cursor of the next.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadCursor`] for a cursor no listing handed out.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        let after = query.after_seq()?;
        let limit = query.limit as usize;
        let Listed {
            mut rows,
            scanned_to,
        } = self.store.list(query, after, limit + 1).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        // A bounded scan that stopped early continues where it stopped, even on a page
        // with fewer jobs than asked for.
        let next = if more {
            rows.last().map(|(seq, _)| seq.to_string())
        } else {
            scanned_to.map(|seq| seq.to_string())
        };
        Ok(JobPage {
            jobs: rows.into_iter().map(|(_, record)| record).collect(),
            next,
        })
    }

    /// Deletes the finished job `uuid`, and answers its record as it was.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when there is no such job, and
    /// [`StoreError::NotFinished`] when it has not finished.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the delete is one step, and the reads around it change nothing.
    pub async fn delete_job(&self, uuid: Uuid) -> Result<JobRecord, StoreError> {
        let record = self
            .store
            .get(uuid)
            .await?
            .ok_or(StoreError::NotFound(uuid))?;
        if self.store.delete_if_finished(uuid).await? {
            return Ok(record.record);
        }
        match self.store.get(uuid).await? {
            None => Err(StoreError::NotFound(uuid)),
            Some(stored) => Err(StoreError::NotFinished {
                uuid,
                status: stored.record.status,
            }),
        }
    }

    /// Deletes finished jobs with one of `statuses` that finished before
    /// `finished_before`, and counts them for each finished status asked for, zeros
    /// included. Unfinished statuses are ignored.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::delete_finished`].
    pub async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        let finished: Vec<Status> = statuses
            .iter()
            .copied()
            .filter(|status| status.is_finished())
            .collect();
        let mut counts: BTreeMap<Status, u64> =
            finished.iter().map(|&status| (status, 0)).collect();
        if finished.is_empty() {
            return Ok(counts);
        }
        for (status, deleted) in self
            .store
            .delete_finished(&finished, finished_before)
            .await?
        {
            *counts.entry(status).or_default() += deleted;
        }
        Ok(counts)
    }

    /// Counts for `/metrics` and `/queues`, each finished status counted exactly up
    /// to [`STATS_COUNT_CAP`] jobs: see [`Store::stats`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        self.store.stats(STATS_COUNT_CAP).await
    }

    /// Counts as [`Backend::stats`], each finished status counted exactly up to `cap`
    /// jobs (`u64::MAX` for exact counts, at the cost of reading every job).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn stats_capped_at(&self, cap: u64) -> Result<Stats, StoreError> {
        self.store.stats(cap).await
    }

    /// The dashboard's overview: see [`Store::overview`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn overview(&self, cap: u64, since: DateTime<Utc>) -> Result<Overview, StoreError> {
        self.store.overview(cap, since).await
    }

    /// A round trip to the store.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// The live workers: see [`Store::list_workers`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        self.store.list_workers().await
    }

    /// Leaves `command` for the live worker `id`: see [`Store::command_worker`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one write.
    pub async fn command_worker(
        &self,
        id: &str,
        command: WorkerCommand,
    ) -> Result<bool, StoreError> {
        self.store.command_worker(id, command).await
    }

    /// Wakes this process's idle workers: a job was stored that is due now.
    pub(crate) fn notify_submitted(&self) {
        wake(&self.submitted);
    }

    /// Completes when a job is submitted through this handle (or a clone of it).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn submitted(&self) {
        self.submitted.notified().await;
    }

    /// Waits until a job is submitted through this handle, or the store reports that
    /// jobs may be due (see [`Store::wait_for_jobs`]), or for `timeout`: what an idle
    /// worker waits on between polls.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_for_jobs(&self, timeout: Duration) {
        tokio::select! {
            () = self.submitted() => {}
            () = self.store.wait_for_jobs(timeout) => {}
        }
    }
}
