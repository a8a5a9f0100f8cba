//! Storage and queueing, behind the [`Store`] and [`Queue`] traits.
//!
//! The [`Store`] keeps job records; the [`Queue`] delivers jobs to workers under a lease.
//! A backend that does both (SQLite) writes the record and the queue entry in one
//! transaction. [`Backend`] pairs a store with a queue and is what the server and the
//! workers hold:
//!
//! ```no_run
//! # async fn demo() -> Result<(), zerog::backend::StoreError> {
//! use zerog::backend::Backend;
//!
//! let embedded = Backend::connect("sqlite://zerog.db").await?;
//! let scaled = Backend::connect("postgres://postgres@db/zerog?schema=jobs").await?;
//! let redis = Backend::connect("redis://127.0.0.1:6379/?prefix=zerog").await?;
//! // Records in PostgreSQL, delivery by the seed's beanstalkd.
//! let split = Backend::connect_split(
//!     "postgres://postgres@db/zerog",
//!     Some("beanstalkd://127.0.0.1:11300"),
//! )
//! .await?;
//! # Ok(()) }
//! ```
//!
//! | URL | store | queue | module |
//! |---|---|---|---|
//! | `sqlite://PATH`, `sqlite::memory:` | yes | yes | [`SqliteBackend`] |
//! | `postgres://…`, `postgresql://…` | yes | yes | [`PostgresBackend`] |
//! | `redis://…` | yes | yes | [`RedisBackend`] |
//! | `beanstalkd://host:port` | no | yes | [`beanstalkd::BeanstalkdQueue`] |
//!
//! # Leases and fencing
//!
//! [`Queue::reserve`] hands out a job with a fresh [`Lease`]. Every later write for that
//! run names the lease, and a write whose lease is no longer the job's current one fails
//! with [`StoreError::LeaseLost`], so a worker that lost its job cannot overwrite what
//! another worker has since written.

pub mod beanstalkd;
mod model;
mod postgres;
mod redis;
mod sqlite;
mod url;
mod wakeups;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::job::RESULT_KILLED;
use crate::record::{JobRecord, Status, timestamp};

pub use model::{
    CancelOutcome, JobPage, ListQuery, QueueStats, Recovered, RunSignal, Stats, WorkerCommand,
    WorkerInfo, WorkerState,
};
pub use postgres::PostgresBackend;
pub use redis::RedisBackend;
pub use sqlite::SqliteBackend;

use url::connect_store;
pub(crate) use url::{is_plain_name, take_url_params};

/// The default store: an SQLite file in the working directory.
pub const DEFAULT_STORE_URL: &str = "sqlite://zerog.db";

/// A failure of the store or queue.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write named a lease that is no longer the job's: another worker owns it now,
    /// or the job was cancelled.
    #[error("the lease on job {0} was lost; another owner has it")]
    LeaseLost(Uuid),
    /// A record with this uuid exists already.
    #[error("job {0} exists already")]
    Duplicate(Uuid),
    /// No job has this uuid.
    #[error("no job has uuid {0}")]
    NotFound(Uuid),
    /// The job has finished, so it cannot be cancelled.
    #[error("job {uuid} has finished already; it is {status}")]
    AlreadyFinished {
        /// The job.
        uuid: Uuid,
        /// How it finished.
        status: Status,
    },
    /// A listing cursor that this backend did not hand out.
    #[error("`{0}` is not a listing cursor")]
    BadCursor(String),
    /// The URL names no backend that zerog knows.
    #[error(
        "unsupported backend URL `{0}`: expected sqlite://PATH, sqlite::memory:, \
         postgres://..., postgresql://... or redis://... as the store, and the store or \
         beanstalkd://HOST:PORT as the queue"
    )]
    UnsupportedUrl(String),
    /// The backend failed or cannot be reached.
    #[error("backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record does not parse.
    #[error("stored record of job {uuid} is corrupt: {source}")]
    Corrupt {
        /// The job.
        uuid: Uuid,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
}

/// The claim of one worker on one run of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub uuid: Uuid,
    /// The fencing token: unique to this run.
    pub id: Uuid,
    /// The worker that holds it.
    pub worker: String,
    /// How long the lease lasts after each renewal.
    pub duration: Duration,
}

/// A job handed to a worker.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// The record as of the reservation, with status `running`.
    pub record: JobRecord,
    /// The lease on this run.
    pub lease: Lease,
    /// Capacity units the job takes.
    pub cost: u32,
}

/// What a worker asks [`Queue::reserve`] for.
#[derive(Debug, Clone)]
pub struct ReserveRequest<'a> {
    /// The worker's id, recorded with the lease.
    pub worker: &'a str,
    /// Only jobs from these queues.
    pub queues: &'a [String],
    /// Only jobs of these types: the ones this worker can run.
    pub job_types: &'a [String],
    /// Only jobs whose cost is at most this: the worker's free capacity.
    pub max_cost: u32,
    /// The lease to take.
    pub lease: Duration,
    /// Queues with a cap on how many of their jobs run at once, across all workers.
    pub queue_limits: &'a BTreeMap<String, u32>,
}

/// Keeps job records.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The record of `uuid`, if there is one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn get(&self, uuid: Uuid) -> Result<Option<JobRecord>, StoreError>;

    /// Writes a running job's record (progress, log) and renews its lease.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] if `lease` is no longer the job's.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the write is one statement, which happens whole or not at all. If
    /// it did not happen, the record keeps its previous progress.
    async fn save_progress(&self, lease: &Lease, record: &JobRecord) -> Result<(), StoreError>;

    /// A round trip to the backend, for health checks.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it changes nothing.
    async fn ping(&self) -> Result<(), StoreError>;

    /// One page of jobs, newest first, filtered by status and job type.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadCursor`] for a cursor this backend did not hand out.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError>;

    /// Deletes finished jobs with one of `statuses` that finished before
    /// `finished_before`, and counts them per status.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the delete is one transaction, which happens whole or not at all.
    async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError>;

    /// Counts jobs by status and type, and each queue's backlog.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn stats(&self) -> Result<Stats, StoreError>;

    /// Cancels a job: a queued or waiting one at once; a running one by signalling its
    /// worker or, with `kill`, at once, taking its lease away (error 410 "Killed by
    /// user").
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], or [`StoreError::AlreadyFinished`] for a finished job.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the change is one atomic write; if the future is dropped, the
    /// job was cancelled or it was not, and `get` tells which.
    async fn cancel(&self, uuid: Uuid, kill: bool) -> Result<CancelOutcome, StoreError>;

    /// Whether the run holding `lease` should go on.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] if the lease is no longer the job's (it was killed, or
    /// another worker took it over).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn run_signal(&self, lease: &Lease) -> Result<RunSignal, StoreError>;

    /// Records a worker's heartbeat, to be listed until `ttl` passes without another,
    /// and returns the command waiting for it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the upsert is atomic; a dropped heartbeat is one missed beat.
    async fn heartbeat_worker(
        &self,
        info: &WorkerInfo,
        ttl: Duration,
    ) -> Result<WorkerCommand, StoreError>;

    /// The workers whose heartbeat has not expired.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError>;

    /// Leaves `command` for the live worker `id`; whether there is such a worker.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the write is atomic.
    async fn command_worker(&self, id: &str, command: WorkerCommand) -> Result<bool, StoreError>;

    /// Takes a stopping worker off the directory.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a worker left behind drops off when its heartbeat expires.
    async fn remove_worker(&self, id: &str) -> Result<(), StoreError>;
}

/// Delivers jobs to workers, under leases.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Stores a new, queued record and queues it to run from `run_at`, in one
    /// transaction where the backend allows.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] if the uuid is taken.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe where the store is the queue: the record and the entry commit
    /// together or not at all. A caller that dropped the future cannot tell which, so
    /// it must not have answered the client yet.
    async fn enqueue(
        &self,
        record: &JobRecord,
        cost: u32,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores and queues several new records, each with its cost, to run from `run_at`:
    /// what [`Queue::enqueue`] does for one, in as few round trips as the backend
    /// allows.
    ///
    /// The default calls [`Queue::enqueue`] for each job in order, and stops at the
    /// first error: the jobs before it stay queued (beanstalkd uses it). SQLite and
    /// PostgreSQL override it with one transaction for the whole batch, and Redis with
    /// one script, so there it is all or nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] if a uuid is taken (by an existing job, or twice in the
    /// batch); otherwise the backend's error.
    ///
    /// # Cancel safety
    ///
    /// With the default, not cancel safe: a dropped future leaves the jobs enqueued so
    /// far queued and the rest not, and the caller cannot tell where it stopped. With
    /// the SQLite, PostgreSQL and Redis overrides, cancel safe as [`Queue::enqueue`]:
    /// the batch commits whole or not at all.
    async fn enqueue_many(
        &self,
        jobs: &[(JobRecord, u32)],
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for (record, cost) in jobs {
            self.enqueue(record, *cost, run_at).await?;
        }
        Ok(())
    }

    /// Takes the next due job that fits the request, marks it `running` and leases it.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped after the backend committed, the job
    /// stays leased to a worker that never learns of it, and runs again only once the
    /// lease expires.
    async fn reserve(
        &self,
        request: &ReserveRequest<'_>,
    ) -> Result<Option<Reservation>, StoreError>;

    /// Takes up to `max_jobs` due jobs that fit the request together: their costs add
    /// up to at most `request.max_cost`, and no queue goes past its limit. Oldest
    /// first, like [`Queue::reserve`]; an empty list when nothing is due.
    ///
    /// A worker with room for several jobs calls this once instead of `reserve` in a
    /// loop. The default does exactly that loop; PostgreSQL and Redis take the whole
    /// batch in one round trip.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`Queue::reserve`]: jobs taken before the future was
    /// dropped stay leased until their leases expire.
    async fn reserve_many(
        &self,
        request: &ReserveRequest<'_>,
        max_jobs: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        let mut taken: Vec<Reservation> = Vec::new();
        let mut free = request.max_cost;
        while taken.len() < max_jobs && free > 0 {
            let request = ReserveRequest {
                max_cost: free,
                ..request.clone()
            };
            match self.reserve(&request).await {
                Ok(Some(reservation)) => {
                    free = free.saturating_sub(reservation.cost);
                    taken.push(reservation);
                }
                Ok(None) => break,
                // Jobs already taken are the caller's now; the error can wait.
                Err(_) if !taken.is_empty() => break,
                Err(error) => return Err(error),
            }
        }
        Ok(taken)
    }

    /// Waits until jobs may have become due (another process enqueued or released
    /// one), or for `timeout`, whichever comes first. A wake-up is a hint, not a
    /// promise: the caller reserves, and finds nothing if another worker was faster.
    ///
    /// Idle workers call this between polls (through [`Backend::wait_for_jobs`]). The
    /// default sleeps for `timeout` (SQLite); PostgreSQL wakes on `LISTEN/NOTIFY` and
    /// Redis on pub/sub, within milliseconds of an enqueue or release in any process,
    /// and each falls back to the timeout while its channel is down. beanstalkd waits
    /// on its store's channel, which fires once the record is in.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it takes and changes nothing.
    async fn wait_for_jobs(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }

    /// Ends a run for good: writes the final record (done, failed or cancelled) and
    /// removes the job from the queue.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] if `lease` is no longer the job's; nothing is written.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the write is atomic. If it did not happen, the job stays leased and
    /// runs again once the lease expires.
    async fn ack(&self, lease: &Lease, record: &JobRecord) -> Result<(), StoreError>;

    /// Ends a run and puts the job back, to run again from `run_at` (requeue, retry or
    /// release at shutdown), with the record as given.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] if `lease` is no longer the job's; nothing is written.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the write is atomic. If it did not happen, the job stays leased and
    /// runs again once the lease expires.
    async fn release_after(
        &self,
        lease: &Lease,
        record: &JobRecord,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Takes back every running job whose lease expired before `now`: its worker died
    /// or stalled. Each counts an attempt, with the error "worker died while running"
    /// and the event "Worker died while running - restarting"; a job whose attempts
    /// run out fails with the error "lease expired".
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each job is taken back by one fenced write, so a dropped call
    /// leaves the rest for the next.
    async fn recover_expired(&self, now: DateTime<Utc>) -> Result<Recovered, StoreError>;
}

/// The error and event recorded when a job is taken back from a dead worker.
pub const WORKER_DIED_ERROR: &str = "worker died while running";
/// The lifecycle event of a job taken back from a dead worker, as ZeroG wrote it.
pub const WORKER_DIED_EVENT: &str = "Worker died while running - restarting";
/// The error of a job whose attempts ran out on expired leases.
pub const LEASE_EXPIRED_ERROR: &str = "lease expired";
/// The error recorded when a user kills a running job, as ZeroG wrote it.
pub const KILLED_ERROR: &str = "Killed by user";

/// Applies an expired lease to a running job's record: one attempt used, and the job
/// either waits to run again now or, out of attempts, fails. Every backend's
/// [`Queue::recover_expired`] uses this, so they all record the same thing.
pub fn expire_lease(record: &mut JobRecord, now: DateTime<Utc>) {
    record.attempts += 1;
    record.push_error(
        crate::job::RESULT_FAILED,
        WORKER_DIED_ERROR,
        Some(record.attempts),
    );
    if record.attempts >= record.max_attempts {
        record.push_error(
            crate::job::RESULT_FAILED,
            LEASE_EXPIRED_ERROR,
            Some(record.attempts),
        );
        record.push_event(crate::record::EVENT_FINISHED);
        record.status = Status::Failed;
        record.result_code = crate::job::RESULT_FAILED;
        record.finished_at = Some(timestamp(now));
        record.run_after = None;
    } else {
        record.push_event(WORKER_DIED_EVENT);
        record.status = Status::Waiting;
        record.run_after = Some(timestamp(now));
    }
    record.updated_at = timestamp(now);
}

/// `run_at` in whole milliseconds, for backends that keep times in milliseconds and
/// compare them with the current time rounded down. A time still ahead is rounded up,
/// so a job is never reserved before its `run_at`; one already past is rounded down,
/// so a job enqueued to run now is due at once.
pub(crate) fn due_millis(run_at: DateTime<Utc>) -> i64 {
    due_millis_at(run_at, Utc::now())
}

fn due_millis_at(run_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let floor = run_at.timestamp_millis();
    if run_at <= now || run_at.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        floor
    } else {
        floor + 1
    }
}

/// Applies a cancel to a queued or waiting job's record, or a kill to a running one's.
pub fn mark_cancelled(record: &mut JobRecord, kill: bool) {
    let now = Utc::now();
    if kill {
        record.push_error(RESULT_KILLED, KILLED_ERROR, Some(record.attempts + 1));
    }
    record.push_event("Cancelled by user");
    record.status = Status::Cancelled;
    record.result_code = RESULT_KILLED;
    record.finished_at = Some(timestamp(now));
    record.run_after = None;
    record.updated_at = timestamp(now);
}

/// A store and a queue, as the server and workers use them.
#[derive(Clone)]
pub struct Backend {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    enqueued: Arc<Notify>,
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
        let store = connect_store(url).await?;
        Ok(Self::from_parts(
            store.clone().into_store(),
            store.into_queue(),
        ))
    }

    /// Connects to the store at `store_url` and the queue at `queue_url`; with no
    /// queue URL, or the store's own URL, the store is the queue as in
    /// [`Backend::connect`]. This is what `ZEROG_STORE` and `ZEROG_QUEUE` configure.
    ///
    /// The only queue apart from a store is `beanstalkd://HOST:PORT` (see
    /// [`beanstalkd`]): it delivers the jobs whose records and leases the store keeps.
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
                let store = connect_store(store_url).await?;
                let queue = Arc::new(
                    beanstalkd::BeanstalkdQueue::connect(queue_url, store.into_delivery()).await?,
                );
                Ok(Self::from_parts(queue.clone(), queue))
            }
            Some(queue_url) => Err(StoreError::UnsupportedUrl(queue_url.to_owned())),
        }
    }

    /// Pairs a store with a queue.
    pub fn from_parts(store: Arc<dyn Store>, queue: Arc<dyn Queue>) -> Self {
        Backend {
            store,
            queue,
            enqueued: Arc::new(Notify::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The queue.
    pub fn queue(&self) -> &dyn Queue {
        &*self.queue
    }

    /// Enqueues a new record to run now, and wakes this process's idle workers.
    ///
    /// # Cancel safety
    ///
    /// As [`Queue::enqueue`].
    pub async fn submit(&self, record: &JobRecord, cost: u32) -> Result<(), StoreError> {
        self.queue.enqueue(record, cost, Utc::now()).await?;
        self.enqueued.notify_waiters();
        Ok(())
    }

    /// Enqueues several new records, each with its cost, to run now, and wakes this
    /// process's idle workers. See [`Queue::enqueue_many`] for what a failure leaves
    /// behind.
    ///
    /// # Cancel safety
    ///
    /// As [`Queue::enqueue_many`].
    pub async fn submit_many(&self, jobs: &[(JobRecord, u32)]) -> Result<(), StoreError> {
        self.queue.enqueue_many(jobs, Utc::now()).await?;
        self.enqueued.notify_waiters();
        Ok(())
    }

    /// Completes when a job is submitted through this handle (or a clone of it).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn submitted(&self) {
        self.enqueued.notified().await;
    }

    /// Waits until a job is submitted through this handle, or the queue reports that
    /// jobs may be due (an enqueue in another process, see [`Queue::wait_for_jobs`]),
    /// or for `timeout`: what an idle worker waits on between polls.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_for_jobs(&self, timeout: Duration) {
        tokio::select! {
            () = self.submitted() => {}
            () = self.queue.wait_for_jobs(timeout) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::due_millis_at;

    #[test]
    fn due_millis_rounds_a_time_ahead_up_and_a_time_past_down() {
        let at = |nanos: u32| DateTime::<Utc>::from_timestamp(1_700_000_000, nanos).unwrap();
        let base = 1_700_000_000_000;
        let before = at(0) - chrono::Duration::seconds(1);
        assert_eq!(due_millis_at(at(0), before), base);
        assert_eq!(due_millis_at(at(1), before), base + 1);
        assert_eq!(due_millis_at(at(999_999), before), base + 1);
        assert_eq!(due_millis_at(at(1_000_000), before), base + 1);
        assert_eq!(due_millis_at(at(1_000_001), before), base + 2);
        let after = at(0) + chrono::Duration::seconds(1);
        assert_eq!(due_millis_at(at(999_999), after), base);
        assert_eq!(due_millis_at(at(1_000_001), after), base + 1);
    }
}
