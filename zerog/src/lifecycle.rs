//! A job's life, in one place: every change to a job's record that zerog makes, as a
//! pure function of the record, the job type's settings and the time.
//!
//! Each function returns a [`Transition`]: the new record, and what the queue must do
//! with the job ([`Next`]): run it again from a time, or finish it. The worker applies
//! the transitions of its runs, [`Backend`](crate::backend::Backend) those of cancels,
//! kills, retries and expired leases; a backend only stores them. Nothing here reads
//! the clock or touches a store, so every rule is tested without one.
//!
//! ```
//! use chrono::Utc;
//! use zerog::lifecycle::{self, Clock, Next, RunEnd};
//! use zerog::{JobError, JobRecord, JobSpec, RetryPolicy, Status};
//! # let spec = JobSpec { job_type: "mail", rust_type: "Mail", queue: "mail", cost: 1,
//! #     max_attempts: 3, priority: 5, timeout: None, retry: RetryPolicy::DEFAULT, description: "",
//! #     name: "Mail", path: "", allow_unknown_fields: false, unique_for: None };
//!
//! let clock = Clock::at(Utc::now());
//! let running = lifecycle::reserved(JobRecord::new(&spec, serde_json::json!({})), clock.now);
//! let end = RunEnd::Returned(Err(JobError::retry("the mail server is down")));
//! let (transition, _) = lifecycle::run_ended(running, &spec.retry, end, false, clock);
//! assert_eq!(transition.record.status, Status::Waiting);
//! assert_eq!(transition.record.attempts, 1);
//! assert!(matches!(transition.next, Next::RunAt(at) if at > clock.now));
//! ```

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::outcome::{JobError, Outcome};
use crate::record::{JobRecord, Status, timestamp};
use crate::spec::{RESULT_FAILED, RESULT_KILLED, RetryPolicy};

/// The event of a run that ended in an error and will run again, as ZeroG wrote it.
pub const EVENT_RESTARTING: &str = "Error - restarting";
/// The event of a run that ended in an error for good, as ZeroG wrote it.
pub const EVENT_FINISHED: &str = "Error - finished";
/// The error recorded when a job is taken back from a worker whose lease expired.
pub const WORKER_DIED_ERROR: &str = "worker died while running";
/// The event of a job taken back from a dead worker, as ZeroG wrote it.
pub const WORKER_DIED_EVENT: &str = "Worker died while running - restarting";
/// The error of a job whose attempts ran out on expired leases.
pub const LEASE_EXPIRED_ERROR: &str = "lease expired";
/// The error recorded when a user kills a running job, as ZeroG wrote it.
pub const KILLED_ERROR: &str = "Killed by user";
/// The event of a job cancelled or killed by a user.
pub const EVENT_CANCELLED: &str = "Cancelled by user";
/// The event of a run stopped at the worker's shutdown and put back.
pub const EVENT_RELEASED: &str = "Worker stopping - released unfinished";
/// The event of a failed or cancelled job that a user sent back to the queue.
pub const EVENT_RETRIED: &str = "Retried by user";

/// The time a transition happens at, and the jitter of a retry's delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Now.
    pub now: DateTime<Utc>,
    /// Where in its jitter range a retry's delay falls, in `[0, 1)`.
    pub jitter: f64,
}

impl Clock {
    /// The current time, with a random jitter.
    pub fn now() -> Self {
        Clock {
            now: Utc::now(),
            jitter: fastrand::f64(),
        }
    }

    /// `now`, with no jitter.
    pub fn at(now: DateTime<Utc>) -> Self {
        Clock { now, jitter: 0.0 }
    }
}

/// What the queue does with a job after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The job is due again from this time: `queued` or `waiting`.
    RunAt(DateTime<Utc>),
    /// The job has ended: `done`, `failed` or `cancelled`.
    Finished,
}

/// A job's new record and what the queue must do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The record after the change.
    pub record: JobRecord,
    /// Whether it runs again, and when.
    pub next: Next,
}

/// How one run ended, as the worker saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// `run` returned.
    Returned(Result<Outcome, JobError>),
    /// `run` panicked with this message.
    Panicked(String),
    /// `run` went past the job type's timeout and was stopped.
    TimedOut(Duration),
}

/// How a run ended, as metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunOutcome {
    /// `Outcome::done`: the job finished.
    Done,
    /// `Outcome::requeue`: the job runs again later.
    Requeued,
    /// An error, a panic or a timeout, with attempts left: the job is retried.
    Retried,
    /// An error with no attempt left, or a fatal error: the job failed.
    Failed,
    /// The job was cancelled or killed while it ran.
    Cancelled,
}

impl RunOutcome {
    /// The label value: `done`, `requeued`, `retried`, `failed` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Done => "done",
            RunOutcome::Requeued => "requeued",
            RunOutcome::Retried => "retried",
            RunOutcome::Failed => "failed",
            RunOutcome::Cancelled => "cancelled",
        }
    }
}

/// A new job, accepted at `now` to run from `run_at`, as it is stored: as given
/// (`queued`) when that time has come, else `waiting` with `runAfter` set to it.
///
/// `runAfter` is `run_at` rounded up to the millisecond, as records keep times, so
/// the record never names a time before the job may start.
///
/// ```
/// # use chrono::{Duration, Utc};
/// # use zerog::{JobRecord, JobSpec, RetryPolicy, Status, lifecycle};
/// # let spec = JobSpec { job_type: "mail", rust_type: "Mail", queue: "mail", cost: 1,
/// #     max_attempts: 3, priority: 5, timeout: None, retry: RetryPolicy::DEFAULT, description: "",
/// #     name: "Mail", path: "", allow_unknown_fields: false, unique_for: None };
/// let now = Utc::now();
/// let record = JobRecord::new_at(&spec, serde_json::json!({}), now);
/// let later = lifecycle::accepted(&record, now + Duration::minutes(5), now);
/// assert_eq!(later.status, Status::Waiting);
/// assert_eq!(lifecycle::accepted(&record, now, now).status, Status::Queued);
/// ```
pub fn accepted(
    record: &JobRecord,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Cow<'_, JobRecord> {
    if run_at <= now {
        return Cow::Borrowed(record);
    }
    let mut delayed = record.clone();
    delayed.status = Status::Waiting;
    delayed.run_after = Some(timestamp(ceil_millis(run_at)));
    Cow::Owned(delayed)
}

/// `time` rounded up to a whole millisecond.
fn ceil_millis(time: DateTime<Utc>) -> DateTime<Utc> {
    let sub_milli = time.timestamp_subsec_nanos() % 1_000_000;
    if sub_milli == 0 {
        return time;
    }
    let up = chrono::Duration::nanoseconds(i64::from(1_000_000 - sub_milli));
    time.checked_add_signed(up).unwrap_or(time)
}

/// A queued or waiting job taken by a worker at `now`: `running`, with its start time.
pub fn reserved(mut record: JobRecord, now: DateTime<Utc>) -> JobRecord {
    let now = timestamp(now);
    record.status = Status::Running;
    record.started_at = Some(now.clone());
    record.updated_at = now;
    record.run_after = None;
    record
}

/// The end of a run of `record` (as it stood when the run ended, progress applied): done,
/// requeued, retried with backoff, or failed. A run whose job a user asked to cancel
/// ends `cancelled`, whatever it returned, keeping the data of a `done_with`.
pub fn run_ended(
    mut record: JobRecord,
    retry: &RetryPolicy,
    end: RunEnd,
    cancel_requested: bool,
    clock: Clock,
) -> (Transition, RunOutcome) {
    let now = clock.now;
    let result = match end {
        RunEnd::Returned(result) => result,
        RunEnd::Panicked(message) => Err(JobError::retry(format!("panic: {message}"))),
        RunEnd::TimedOut(limit) => Err(JobError::retry(format!(
            "timed out after {}",
            humanize(limit)
        ))),
    };
    if cancel_requested {
        if let Ok(Outcome::Done { data, .. }) = result {
            record.data = data;
        }
        return (cancelled(record, false, now), RunOutcome::Cancelled);
    }
    let attempt = record.attempts + 1;
    record.touch(now);
    match result {
        Ok(Outcome::Done { code, data }) => {
            record.status = Status::Done;
            record.result_code = code;
            record.completeness = 1.0;
            record.data = data;
            (finished(record, now), RunOutcome::Done)
        }
        Ok(Outcome::Requeue { after }) => (waiting(record, now, after), RunOutcome::Requeued),
        Err(JobError::Fatal { code, message }) => {
            record.attempts = attempt;
            record.push_error(now, code, message, Some(attempt));
            (failed(record, now, code), RunOutcome::Failed)
        }
        Err(JobError::Retry(message)) => {
            record.attempts = attempt;
            record.push_error(now, RESULT_FAILED, message, Some(attempt));
            if record.attempts >= record.max_attempts {
                (failed(record, now, RESULT_FAILED), RunOutcome::Failed)
            } else {
                record.push_event(now, EVENT_RESTARTING);
                let delay = retry.delay_with_jitter(record.attempts, clock.jitter);
                (waiting(record, now, delay), RunOutcome::Retried)
            }
        }
    }
}

/// A running job whose lease expired at `now`: its worker died or stalled. It counts an
/// attempt, and runs again now, or fails if its attempts ran out.
pub fn lease_expired(mut record: JobRecord, now: DateTime<Utc>) -> Transition {
    record.attempts += 1;
    let attempt = Some(record.attempts);
    record.push_error(now, RESULT_FAILED, WORKER_DIED_ERROR, attempt);
    record.touch(now);
    if record.attempts >= record.max_attempts {
        record.push_error(now, RESULT_FAILED, LEASE_EXPIRED_ERROR, attempt);
        failed(record, now, RESULT_FAILED)
    } else {
        record.push_event(now, WORKER_DIED_EVENT);
        waiting(record, now, Duration::ZERO)
    }
}

/// What a user's cancel does to a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancel {
    /// The job ends `cancelled` now: it was queued or waiting, or was killed.
    Now(Box<Transition>),
    /// The job is running: its worker is asked to stop, and the run ends it `cancelled`.
    Signal,
    /// The job has finished already, with this status.
    Refused(Status),
}

/// A user's cancel (or, with `kill`, kill) of `record` at `now`.
pub fn cancel(record: JobRecord, kill: bool, now: DateTime<Utc>) -> Cancel {
    match record.status {
        status if status.is_finished() => Cancel::Refused(status),
        Status::Running if !kill => Cancel::Signal,
        Status::Running => Cancel::Now(Box::new(cancelled(record, true, now))),
        _ => Cancel::Now(Box::new(cancelled(record, false, now))),
    }
}

/// A run stopped at its worker's shutdown: the job goes back to the queue, due now,
/// with its progress and no attempt used.
pub fn released(mut record: JobRecord, now: DateTime<Utc>) -> Transition {
    record.touch(now);
    record.push_event(now, EVENT_RELEASED);
    record.status = Status::Queued;
    record.run_after = None;
    Transition {
        record,
        next: Next::RunAt(now),
    }
}

/// A job a worker reserved ahead of a free slot and hands back unstarted (it waited
/// too long for a slot, or the worker is stopping): queued again, due now, its attempts
/// and log as they were, since it never ran.
pub fn handed_back(mut record: JobRecord, now: DateTime<Utc>) -> Transition {
    record.touch(now);
    record.status = Status::Queued;
    record.run_after = None;
    Transition {
        record,
        next: Next::RunAt(now),
    }
}

/// Why a job cannot be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("only failed or cancelled jobs can be retried, and this one is {0}")]
pub struct NotRetryable(pub Status);

/// A user's retry of a `failed` or `cancelled` job: queued again, due now, with its
/// attempts reset and its log kept.
///
/// # Errors
///
/// [`NotRetryable`] for a job in any other status.
pub fn retried(mut record: JobRecord, now: DateTime<Utc>) -> Result<Transition, NotRetryable> {
    if !matches!(record.status, Status::Failed | Status::Cancelled) {
        return Err(NotRetryable(record.status));
    }
    record.touch(now);
    record.push_event(now, EVENT_RETRIED);
    record.status = Status::Queued;
    record.result_code = crate::spec::NO_RESULT;
    record.attempts = 0;
    record.completeness = 0.0;
    record.data = serde_json::Value::Null;
    record.finished_at = None;
    record.run_after = None;
    Ok(Transition {
        record,
        next: Next::RunAt(now),
    })
}

fn cancelled(mut record: JobRecord, killed: bool, now: DateTime<Utc>) -> Transition {
    if killed {
        record.push_error(now, RESULT_KILLED, KILLED_ERROR, Some(record.attempts + 1));
    }
    record.push_event(now, EVENT_CANCELLED);
    record.status = Status::Cancelled;
    record.result_code = RESULT_KILLED;
    record.touch(now);
    finished(record, now)
}

fn failed(mut record: JobRecord, now: DateTime<Utc>, code: i64) -> Transition {
    record.push_event(now, EVENT_FINISHED);
    record.status = Status::Failed;
    record.result_code = code;
    finished(record, now)
}

fn finished(mut record: JobRecord, now: DateTime<Utc>) -> Transition {
    record.finished_at = Some(timestamp(now));
    record.run_after = None;
    Transition {
        record,
        next: Next::Finished,
    }
}

fn waiting(mut record: JobRecord, now: DateTime<Utc>, after: Duration) -> Transition {
    let run_at = chrono::Duration::from_std(after)
        .ok()
        .and_then(|after| now.checked_add_signed(after))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    record.status = Status::Waiting;
    record.run_after = Some(timestamp(run_at));
    Transition {
        record,
        next: Next::RunAt(run_at),
    }
}

fn humanize(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests;
