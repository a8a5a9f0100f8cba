//! Storage and queueing: the [`Store`] contract that every backend implements, and the
//! [`Backend`] handle that the server and the workers hold.
//!
//! A [`Store`] offers primitives: insert jobs, reserve due jobs, read a record, write
//! changes fenced by a lease or a revision, each with a batch form where it is hot. It
//! decides nothing: what a cancel, a kill, an expired lease or the end of a run does to
//! a job is decided once, by the pure functions of [`lifecycle`](crate::lifecycle), and
//! the loops that read, decide and write (cancel, lease recovery, paging, pruning) are
//! written once in [`Backend`]. A new backend writes its queries and passes the
//! conformance suite (`tests/conformance/`).
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
//! | URL | feature |
//! |---|---|
//! | `sqlite://PATH`, `sqlite::memory:` | `sqlite` (default) |
//! | `postgres://…`, `postgresql://…` | `postgres` |
//! | `redis://…` | `redis` |
//! | `beanstalkd://host:port`, a queue around any store | `beanstalkd` |
//!
//! Each backend is a cargo feature of zerog (`full` turns on all of them), so a
//! service compiles only the clients it uses; a URL whose backend is left out is
//! refused with [`StoreError::NotBuilt`].
//!
//! # Leases, revisions and fencing
//!
//! [`Store::reserve`] hands out a job with a fresh [`Lease`]. Every later write of that
//! run names the lease ([`Fence::Lease`]), and a write whose lease is no longer the
//! job's current one is refused, so a worker that lost its job cannot overwrite what
//! another worker has since written. Every change of a job also advances its revision;
//! a decision made on a record read before ([`Fence::Revision`]) is written only if
//! the job has not changed since, and is otherwise made again on the new record.

#[cfg(feature = "beanstalkd")]
pub mod beanstalkd;
mod grouping;
mod handle;
mod loops;
mod model;
mod pauses;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
mod schedules;
mod search;
#[cfg(feature = "sqlite")]
mod sqlite;
mod url;
#[cfg(any(feature = "postgres", feature = "redis"))]
mod wakeups;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::lifecycle::Transition;
use crate::record::{JobRecord, Status};
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

pub use handle::{Backend, PAUSE_REFRESH};
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
use model::oldest_due;
pub use model::{
    CancelOutcome, Counted, FinishedCounts, JobPage, ListQuery, Listed, Overview, QueueStats,
    Recovered, RunSignal, Stats, WorkerCommand, WorkerInfo, WorkerState,
};
#[cfg(feature = "postgres")]
pub use postgres::PostgresBackend;
#[cfg(feature = "redis")]
pub use redis::RedisBackend;
pub use search::{
    Condition, MAX_SEARCH_BYTES, MAX_SEARCH_CONDITIONS, MAX_SEARCH_DEPTH, ParamSearch, SearchError,
    Test,
};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteBackend;

#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "redis",
    feature = "beanstalkd"
))]
pub(crate) use url::bad_url;
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) use url::is_plain_name;
pub use url::redact_url;
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "redis",
    feature = "beanstalkd"
))]
pub(crate) use url::take_url_params;
pub(crate) use url::unsupported;

/// How many jobs of one finished status [`Backend::stats`] counts exactly: past it,
/// the counts of that status are estimated or a lower bound (see [`Counted`]).
pub const STATS_COUNT_CAP: u64 = 10_000;

/// The default store: an SQLite file in the working directory.
pub const DEFAULT_STORE_URL: &str = "sqlite://zerog.db";

/// A failure of the store or queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// The job is neither failed nor cancelled, so it cannot be retried.
    #[error("job {uuid} is {status}; only failed or cancelled jobs can be retried")]
    NotRetryable {
        /// The job.
        uuid: Uuid,
        /// Its status now.
        status: Status,
    },
    /// The job has not finished, so it cannot be deleted.
    #[error("job {uuid} is {status}; only finished jobs can be deleted")]
    NotFinished {
        /// The job.
        uuid: Uuid,
        /// Its status now.
        status: Status,
    },
    /// A listing cursor that this backend did not hand out.
    #[error("`{0}` is not a listing cursor")]
    BadCursor(String),
    /// The URL names a backend that this build of zerog leaves out.
    #[error(
        "`{url}` needs the `{feature}` backend, which this build leaves out: enable the \
         `{feature}` feature of the zerog crate"
    )]
    NotBuilt {
        /// The URL, its password hidden.
        url: String,
        /// The cargo feature that builds the backend.
        feature: &'static str,
    },
    /// The URL names no backend that zerog knows. The URL is shown with its password
    /// hidden, as in every error that names a URL.
    #[error(
        "unsupported backend URL `{0}`: expected sqlite://PATH, sqlite::memory:, \
         postgres://..., postgresql://... or redis://... as the store, and the store or \
         beanstalkd://HOST:PORT as the queue"
    )]
    UnsupportedUrl(String),
    /// The URL names a backend, but one of its parts or parameters is wrong.
    #[error("`{url}` is not a usable backend URL: {reason}")]
    BadUrl {
        /// The URL, its password hidden.
        url: String,
        /// What is wrong, naming the parameter at fault.
        reason: String,
    },
    /// The backend failed or cannot be reached.
    #[error("backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store opened, but a write to it failed: it is read-only, full, or gone.
    #[error("the store `{url}` cannot be written: {source}")]
    Unwritable {
        /// The URL, its password hidden.
        url: String,
        /// The failed write's error.
        #[source]
        source: Box<StoreError>,
    },
    /// A stored schedule does not parse.
    #[error("stored schedule `{name}` is corrupt: {source}")]
    CorruptSchedule {
        /// The schedule.
        name: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
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

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Backend(Box::new(error))
    }
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

/// What a worker asks [`Store::reserve`] for.
#[derive(Debug, Clone)]
pub struct ReserveRequest<'a> {
    /// The worker's id, recorded with the lease.
    pub worker: &'a str,
    /// Only jobs from these queues.
    pub queues: &'a [String],
    /// Only jobs of these types: the ones this worker can run.
    pub job_types: &'a [String],
    /// Only jobs whose costs add up to at most this: the worker's free capacity, and
    /// what it holds ahead.
    pub max_cost: u32,
    /// Only jobs that cost at most this each: the worker's whole capacity, so that a
    /// job it takes ahead can run once its runs end.
    pub max_job_cost: u32,
    /// At most this many jobs.
    pub max_jobs: usize,
    /// The lease to take.
    pub lease: Duration,
    /// Queues with a cap on how many of their jobs run at once, across all workers.
    pub queue_limits: &'a BTreeMap<String, u32>,
    /// Only this job, if it fits the rest of the request: how a queue outside the store
    /// (beanstalkd) hands over the job it delivered.
    pub only: Option<Uuid>,
}

impl ReserveRequest<'_> {
    /// The reservation of a job this request took: `record` as reserved, its lease
    /// `lease_id`, and its cost as stored.
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
    pub(crate) fn reservation(&self, record: JobRecord, lease_id: Uuid, cost: i64) -> Reservation {
        Reservation {
            lease: Lease {
                uuid: record.uuid,
                id: lease_id,
                worker: self.worker.to_owned(),
                duration: self.lease,
            },
            record,
            cost: cost_from_stored(cost),
        }
    }
}

/// A new job for [`Store::insert`].
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    /// Its record, `queued`.
    pub record: &'a JobRecord,
    /// Capacity units it takes.
    pub cost: u32,
    /// When it becomes due.
    pub run_at: DateTime<Utc>,
}

/// What makes a job stand for every submit of the same job type and parameters for a
/// while: `#[job(unique_for = "10m")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueKey {
    /// The job type and parameters, hashed: a UUIDv5 of both.
    pub key: Uuid,
    /// Until when the new job holds the key.
    pub until: DateTime<Utc>,
}

impl UniqueKey {
    /// The key of `job_type` with `params` (as stored, defaults filled in), held for
    /// `window` from `now`. Parameters compare as JSON values: object keys in any
    /// order are the same parameters.
    pub fn of(
        job_type: &str,
        params: &serde_json::Value,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        // serde_json's maps are ordered by key, so equal values print the same.
        let text = format!("{job_type}\n{params}");
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        UniqueKey {
            key: Uuid::new_v5(&Uuid::NAMESPACE_OID, text.as_bytes()),
            until: now
                .checked_add_signed(window)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

/// How [`Store::insert_unique`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The job is stored and queued.
    New,
    /// The key is held by this job: nothing was written.
    Duplicate(Uuid),
}

/// A job's record as stored, with the revision a decision on it is fenced with.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The record.
    pub record: JobRecord,
    /// Advances with every change of the job.
    pub revision: i64,
}

/// The condition a [`Write`] holds to: the write happens only if it is still true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// The job is running under this lease: the writes of a run.
    Lease(Uuid),
    /// The job has not changed since it was read at this revision: a decision made on
    /// a record read before (cancel, kill, retry, an expired lease).
    Revision(i64),
}

/// What a [`Write`] changes.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// The run goes on: its record (progress, log), and its lease renewed until the
    /// given time.
    Progress(&'a JobRecord, DateTime<Utc>),
    /// A transition of [`lifecycle`](crate::lifecycle): the job takes the record and
    /// is due again or finished, and a lease it had ends.
    Settle(&'a Transition),
    /// A user asked the running job to stop: its worker hears of it from
    /// [`Store::signals`]. The record is unchanged.
    RequestCancel,
}

/// One fenced change of one job.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    /// The job.
    pub uuid: Uuid,
    /// What must still hold.
    pub fence: Fence,
    /// What to write.
    pub change: Change<'a>,
}

/// How one [`Write`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written.
    Written,
    /// Not written: the fence no longer holds (the lease was lost, or the job changed
    /// since it was read), or the job is gone.
    Refused,
}

/// How [`Store::put_schedule`] writes a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutSchedule {
    /// A new schedule, its cursor at the time given: refused if the name is taken.
    Create,
    /// A new definition of an existing schedule, which keeps its cursor and pause:
    /// refused if there is no such schedule.
    Replace,
    /// A schedule declared in code: created as by `Create`, or its definition
    /// replaced as by `Replace`. Never refused.
    Declare,
}

/// One tick of a schedule for [`Store::fire`].
#[derive(Debug, Clone, Copy)]
pub struct Fire<'a> {
    /// The schedule.
    pub name: &'a str,
    /// The tick: the schedule's cursor moves to it.
    pub tick: DateTime<Utc>,
    /// The tick's job, whose record names the schedule and tick; `None` to skip the
    /// tick (a missed stretch under `missed = "skip"`).
    pub job: Option<NewJob<'a>>,
}

/// The storage operations of a backend.
///
/// Every method is a primitive: one statement, transaction or script. Rules live in
/// [`lifecycle`](crate::lifecycle) and the loops in [`Backend`]; a backend implements
/// this trait and passes the conformance suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores new jobs and queues each from its `run_at`: all or none, in one
    /// transaction or script where the backend allows.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] if a uuid is taken (by a stored job, or twice in the
    /// batch); nothing is stored then where the backend is atomic.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe where atomic: the batch commits whole or not at all. A caller that
    /// dropped the future cannot tell which, so it must not have answered a client.
    async fn insert(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError>;

    /// Stores and queues `job` as [`Store::insert`] does, unless `unique` is held: by a
    /// job that took the same key before `unique.until` of its own, and has not failed
    /// or been cancelled (nor been deleted). The key and the job are written together,
    /// and the check is the store's (a conditional upsert or one script), so two
    /// concurrent inserts of one key make one job.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the key and the job commit together or not at all.
    async fn insert_unique(
        &self,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError>;

    /// Whether [`Store::insert`] of a batch stores all of it or none, as every
    /// store of zerog's does (beanstalkd's puts aside, which a later failure takes
    /// back or skips). Only such a store has concurrent single submits grouped into
    /// one insert, since a refused group is then inserted again job by job.
    fn atomic_inserts(&self) -> bool {
        true
    }

    /// This store as the PostgreSQL backend, if it is one (and is also the queue):
    /// what an enqueue inside a caller's own transaction needs
    /// ([`Client::enqueue_in`](crate::client::Client::enqueue_in)).
    #[cfg(feature = "postgres")]
    fn as_postgres(&self) -> Option<&PostgresBackend> {
        None
    }

    /// This store as the SQLite backend, if it is one, as
    /// `Store::as_postgres` for PostgreSQL.
    #[cfg(feature = "sqlite")]
    fn as_sqlite(&self) -> Option<&SqliteBackend> {
        None
    }

    /// Takes up to `request.max_jobs` due jobs that fit the request together (their
    /// costs within `max_cost`, each within `max_job_cost`, no queue past its
    /// limit), oldest due first, marks them
    /// `running` and leases each. An empty list when nothing fits.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped after the backend committed, the jobs
    /// stay leased to a worker that never learns of them, and run again once their
    /// leases expire.
    async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Vec<Reservation>, StoreError>;

    /// The record of `uuid` and its revision, if there is such a job.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn get(&self, uuid: Uuid) -> Result<Option<Stored>, StoreError>;

    /// Applies each write whose fence holds, each on its own: one refused write does
    /// not stop the others. The outcomes come in the order of `writes`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each write happens whole or not at all. A write that did not
    /// happen leaves the job as it was: a run's job stays leased and runs again once
    /// the lease expires.
    async fn write(&self, writes: &[Write<'_>]) -> Result<Vec<WriteOutcome>, StoreError>;

    /// Whether each run should go on, in the order of `leases`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn signals(&self, leases: &[Lease]) -> Result<Vec<RunSignal>, StoreError>;

    /// Running jobs whose lease expired before `now`, at most `limit` of them.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Stored>, StoreError>;

    /// Up to `limit` jobs that match `query`'s filters, newest first, each with its
    /// insertion sequence, starting below `query.after` (a sequence number). A store
    /// that filters by scanning may stop after a bounded scan with fewer jobs, and says
    /// where in [`Listed::scanned_to`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn list(
        &self,
        query: &ListQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Listed, StoreError>;

    /// Deletes the job `uuid` if it has finished (`done`, `failed` or `cancelled`), in
    /// one step that reads and deletes; whether it did. A job that is not there, or
    /// has not finished, is left as it is.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one statement or script, which deletes whole or not at all.
    async fn delete_if_finished(&self, uuid: Uuid) -> Result<bool, StoreError>;

    /// Deletes jobs with one of the finished `statuses` that finished before
    /// `finished_before`, and counts them by status (statuses with none may be left out).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each statement or script deletes whole or not at all.
    async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError>;

    /// Counts of jobs by status and type, and the backlog of each queue. Unfinished
    /// jobs (queued, running, waiting) are counted exactly; a finished status is read
    /// up to `cap + 1` jobs, newest first, and counted exactly if it has at most `cap`,
    /// and otherwise its counts are an estimate or a lower bound, as
    /// [`Stats::counted`] says. Its cost grows with the unfinished jobs, not with the
    /// finished ones beyond `cap` per finished status.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn stats(&self, cap: u64) -> Result<Stats, StoreError>;

    /// The dashboard's overview: jobs by status, each counted up to `cap`; the jobs
    /// finished `done` and `failed` per minute since `since`; each queue's backlog, and
    /// when the oldest due job became due. Its cost does not grow with the number of stored jobs beyond
    /// `cap` per status and the jobs finished since `since`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn overview(&self, cap: u64, since: DateTime<Utc>) -> Result<Overview, StoreError>;

    /// A round trip to the backend that writes, for `/health` and for the check at
    /// connect: a store that answers reads but refuses writes (a read-only file or
    /// standby, a full disk, an SQLite file deleted under the process) fails it. It
    /// rewrites one row or key of its own and touches no job.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one idempotent write.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Waits until jobs may have become due (another process inserted or released
    /// one), or for `timeout`. A wake-up is a hint: the caller reserves, and finds
    /// nothing if another worker was faster. The default sleeps; PostgreSQL wakes on
    /// `LISTEN/NOTIFY` and Redis on pub/sub, and each falls back to the timeout while
    /// its channel is down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it takes and changes nothing.
    async fn wait_for_jobs(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }

    /// Records a worker's heartbeat in the worker directory, for `ttl`, and returns the
    /// command waiting for it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the next heartbeat writes again.
    async fn heartbeat_worker(
        &self,
        info: &WorkerInfo,
        ttl: Duration,
    ) -> Result<WorkerCommand, StoreError>;

    /// The workers whose heartbeat has not expired, sorted by id.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError>;

    /// Leaves `command` for the live worker `id`; whether there is such a worker.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one write.
    async fn command_worker(&self, id: &str, command: WorkerCommand) -> Result<bool, StoreError>;

    /// Takes a stopping worker off the directory.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a worker left behind drops off when its heartbeat expires.
    async fn remove_worker(&self, id: &str) -> Result<(), StoreError>;

    /// Pauses `queue` (`paused`) or resumes it, for every worker of the store: no
    /// worker reserves a job of a paused queue, while jobs keep being accepted into it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one idempotent write.
    async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), StoreError>;

    /// The queues that are paused.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn paused_queues(&self) -> Result<BTreeSet<String>, StoreError>;

    /// Writes `schedule` as `mode` says, from `source`; a new schedule's cursor is
    /// `now`, so it fires for no tick before it existed. Whether it was written:
    /// `false` when `Create` found the name taken or `Replace` found no schedule.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one statement or script, whole or not at all.
    async fn put_schedule(
        &self,
        schedule: &Schedule,
        source: ScheduleSource,
        mode: PutSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Every schedule, sorted by name.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn list_schedules(&self) -> Result<Vec<ScheduleState>, StoreError>;

    /// The schedule called `name`, if there is one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleState>, StoreError>;

    /// Removes the schedule called `name`; whether there was one. Its jobs stay.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one statement or script.
    async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError>;

    /// Pauses or resumes the schedule called `name`; whether there is one. Resuming
    /// moves its cursor up to `now`: ticks that passed while it was paused are not
    /// missed ones, and create no job.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one statement or script.
    async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Moves the cursor of the unpaused schedule `fire.name` to `fire.tick` and stores
    /// and queues `fire.job`, together, if the cursor is before the tick; otherwise
    /// writes nothing. Whether it wrote. The check and both writes are one transaction
    /// or script, so of any number of processes firing the same tick, one writes and
    /// the others find the cursor moved: each tick creates one job, with no leader.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] if the job's uuid is taken; nothing is written then.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the tick is fired whole or not at all. A dropped call may have
    /// fired it; a scheduler that tries again finds the cursor moved and writes nothing.
    async fn fire(&self, fire: &Fire<'_>) -> Result<bool, StoreError>;
}

/// A schedule's definition as stored: JSON.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn schedule_json(schedule: &Schedule) -> String {
    // A schedule holds only strings and a JSON value, which always serialize.
    serde_json::to_string(schedule).expect("a schedule serializes")
}

/// A stored definition of the schedule `name`.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn parse_schedule(name: &str, json: &str) -> Result<Schedule, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::CorruptSchedule {
        name: name.to_owned(),
        source,
    })
}

/// A time stored as Unix milliseconds.
#[cfg(any(feature = "sqlite", feature = "redis"))]
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `run_at` in whole milliseconds, for backends that keep times in milliseconds and
/// compare them with the current time rounded down. A time still ahead is rounded up,
/// so a job is never reserved before its `run_at`; one already past is rounded down,
/// so a job enqueued to run now is due at once.
#[cfg(any(feature = "sqlite", feature = "redis"))]
pub(crate) fn due_millis(run_at: DateTime<Utc>) -> i64 {
    due_millis_at(run_at, Utc::now())
}

#[cfg(any(feature = "sqlite", feature = "redis", test))]
fn due_millis_at(run_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let floor = run_at.timestamp_millis();
    if run_at <= now || run_at.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        floor
    } else {
        floor + 1
    }
}

/// A stored cost as capacity units. Costs are written from a `u32`, so one out of
/// range is corrupt: it is read as the largest cost, which no worker has room for.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn cost_from_stored(cost: i64) -> u32 {
    u32::try_from(cost).unwrap_or(u32::MAX)
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
