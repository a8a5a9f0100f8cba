//! The values that cross the [`Store`](super::Store) contract and the
//! [`Backend`](super::Backend) handle besides the job record: listing, statistics,
//! cancel, lease recovery and the worker directory.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ParamSearch, StoreError};
use crate::record::{JobRecord, Status};

/// What `GET /jobs` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Only jobs with this status.
    pub status: Option<Status>,
    /// Only jobs of this type.
    pub job_type: Option<String>,
    /// Only jobs of this queue.
    pub queue: Option<String>,
    /// Only jobs whose parameters contain these values.
    pub params: Option<ParamSearch>,
    /// At most this many jobs.
    pub limit: u32,
    /// Only jobs older than this cursor, from a previous page's `next`.
    pub after: Option<String>,
}

impl ListQuery {
    /// The insertion sequence number that the `after` cursor names: every backend
    /// hands out its cursors as that number in decimal.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadCursor`] for a cursor that is not a number from 0 to
    /// `i64::MAX`, the range of the SQL stores' sequences.
    pub fn after_seq(&self) -> Result<Option<u64>, StoreError> {
        self.after
            .as_deref()
            .map(|cursor| {
                cursor
                    .parse::<u64>()
                    .ok()
                    .filter(|&seq| i64::try_from(seq).is_ok())
                    .ok_or_else(|| StoreError::BadCursor(cursor.to_owned()))
            })
            .transpose()
    }
}

/// What [`Store::list`](super::Store::list) found: the matching jobs, each with its
/// insertion sequence, and where the scan stopped if it stopped early.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listed {
    /// The jobs found, newest first.
    pub rows: Vec<(u64, JobRecord)>,
    /// Set when the store looked at no more jobs than it may in one call before it
    /// found as many as asked: the jobs older than this sequence are yet to be looked
    /// at, so the next page starts there.
    pub scanned_to: Option<u64>,
}

impl From<Vec<(u64, JobRecord)>> for Listed {
    fn from(rows: Vec<(u64, JobRecord)>) -> Self {
        Listed {
            rows,
            scanned_to: None,
        }
    }
}

/// One page of a job listing, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// The jobs.
    pub jobs: Vec<JobRecord>,
    /// The cursor of the next page, or `None` on the last page.
    pub next: Option<String>,
}

/// Counts for `/metrics` and `/queues`, read so that they stay fast on a store of
/// millions of jobs: see [`Store::stats`](super::Store::stats).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Jobs by status and job type. Unfinished statuses are counted exactly; a finished
    /// one exactly up to the cap asked for, and past it as [`Stats::counted`] says.
    pub jobs: BTreeMap<(Status, String), u64>,
    /// How the counts of each status were taken, for the statuses not counted
    /// exactly; a status left out was counted exactly.
    pub counted: BTreeMap<Status, Counted>,
    /// Per queue: jobs due now, and the age of the oldest due one.
    pub queues: BTreeMap<String, QueueStats>,
}

impl Stats {
    /// How the counts of `status` were taken.
    pub fn counted(&self, status: Status) -> Counted {
        self.counted.get(&status).copied().unwrap_or(Counted::Exact)
    }
}

/// How the counts of one status in [`Stats::jobs`] were taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Counted {
    /// Every job was counted.
    #[default]
    Exact,
    /// The status has more jobs than the cap: its newest jobs, as many as the cap, were
    /// counted by type, so each count is a lower bound (SQLite).
    AtLeast,
    /// The status has more jobs than the cap: its total is the database planner's
    /// estimate, shared out among the types in the proportions of its newest jobs
    /// (PostgreSQL).
    Estimated,
}

/// The backlog of one queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// Jobs queued or waiting whose time has come.
    pub due: u64,
    /// Jobs running now.
    pub running: u64,
    /// Jobs queued or waiting whose time has not come yet.
    pub waiting: u64,
    /// How long the oldest due job has been due.
    pub oldest_due_age: Option<Duration>,
}

/// What the dashboard's overview shows, read so that it stays fast on a store of
/// millions of jobs: see [`Store::overview`](super::Store::overview).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    /// Jobs by status, each counted up to the cap asked for: a count equal to the cap
    /// means "at least".
    pub statuses: BTreeMap<Status, u64>,
    /// Jobs that finished `done` and `failed` in each minute since the time asked for,
    /// by the minute's start in whole minutes since the Unix epoch; minutes with none
    /// may be left out.
    pub finished: BTreeMap<i64, FinishedCounts>,
    /// When the job that has been due the longest became due, if any is due.
    pub oldest_due: Option<DateTime<Utc>>,
    /// The backlog of each queue that has unfinished jobs, read from the unfinished
    /// jobs alone, as [`Stats::queues`] is.
    pub queues: BTreeMap<String, QueueStats>,
}

/// When the job due the longest became due, at `now`, from each queue's backlog.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(super) fn oldest_due(
    queues: &BTreeMap<String, QueueStats>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    queues
        .values()
        .filter_map(|queue| queue.oldest_due_age)
        .max()
        .and_then(|age| chrono::Duration::from_std(age).ok())
        .map(|age| now - age)
}

/// The jobs that finished in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FinishedCounts {
    /// Finished `done`.
    pub done: u64,
    /// Finished `failed`.
    pub failed: u64,
}

/// How [`Backend::cancel`](super::Backend::cancel) went.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// The job was queued or waiting, or was killed: it is `cancelled` now.
    Cancelled(JobRecord),
    /// The job is running: its worker is asked to stop, and the job becomes
    /// `cancelled` when `run` returns or at its next checkpoint.
    Signalled(JobRecord),
}

/// What a running job's worker learns when it checks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSignal {
    /// Carry on.
    Continue,
    /// A user asked to cancel the job.
    Cancel,
    /// The lease is no longer the job's: another worker owns it, or it was killed.
    LeaseLost,
}

impl RunSignal {
    /// The signal for the run holding `lease`, from the job's current lease id and
    /// cancel flag, if the job exists.
    pub fn of(lease: &super::Lease, current: Option<(Option<Uuid>, bool)>) -> Self {
        match current {
            Some((Some(id), cancel)) if id == lease.id => {
                if cancel {
                    RunSignal::Cancel
                } else {
                    RunSignal::Continue
                }
            }
            _ => RunSignal::LeaseLost,
        }
    }
}

/// What a worker is doing, as `GET /workers` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Idle, looking for jobs.
    Polling,
    /// Running at least one job.
    Running,
    /// Taking no new job; finishing what it runs.
    Draining,
}

/// A worker's entry in the worker directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerInfo {
    /// `host:pid:name`.
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its name.
    pub name: String,
    /// What it is doing.
    pub state: WorkerState,
    /// The uuids of the jobs it runs.
    pub running: Vec<Uuid>,
    /// Capacity units in use.
    pub capacity_used: u32,
    /// Capacity units in all.
    pub capacity_total: u32,
    /// The queues it serves.
    pub queues: Vec<String>,
    /// The caps on running jobs per queue, across all workers, that it keeps to.
    #[serde(default)]
    pub queue_limits: BTreeMap<String, u32>,
    /// Its resident memory, in bytes, where the platform tells.
    pub rss_bytes: Option<u64>,
    /// When it started, RFC 3339.
    pub started_at: String,
    /// Its last heartbeat, RFC 3339.
    pub last_heartbeat: String,
}

/// What the worker directory asks a worker to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WorkerCommand {
    /// Nothing: carry on.
    None,
    /// Stop reserving; finish what runs.
    Drain,
    /// Stop reserving, finish what runs, then exit (ZeroG's retire).
    DrainAndExit,
}

impl WorkerCommand {
    /// The stored form of the command.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerCommand::None => "none",
            WorkerCommand::Drain => "drain",
            WorkerCommand::DrainAndExit => "drainAndExit",
        }
    }

    /// Parses the stored form; anything unknown is `None`.
    pub fn parse(text: &str) -> Self {
        match text {
            "drain" => WorkerCommand::Drain,
            "drainAndExit" => WorkerCommand::DrainAndExit,
            _ => WorkerCommand::None,
        }
    }
}

/// The jobs that [`Backend::recover_expired`](super::Backend::recover_expired) took
/// back from workers whose leases expired.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// Jobs put back to run again.
    pub requeued: Vec<Uuid>,
    /// Jobs failed because their attempts ran out.
    pub failed: Vec<Uuid>,
}
