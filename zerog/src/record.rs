//! The job record: what is stored for each job and served by `/info` (SPEC §3).
//!
//! The record is JSON with camelCase keys, compatible with ZeroG clients. Its job log
//! (`events`, `warnings`, `errors`) accumulates over every attempt and keeps the newest
//! [`LOG_CAP`] entries of each kind, counting the ones dropped.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::spec::{JobSpec, NO_RESULT};

/// How many entries of each log kind a record keeps; older ones are dropped and counted.
pub const LOG_CAP: usize = 1000;

/// Where a job is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for a worker.
    Queued,
    /// A worker is running it.
    Running,
    /// Requeued or retrying: runs again after `runAfter`.
    Waiting,
    /// Finished; `resultCode` says how.
    Done,
    /// Ended in an error with no attempt left, or a fatal error.
    Failed,
    /// Cancelled or killed by a user.
    Cancelled,
}

impl Status {
    /// Every status, in the order of a job's life.
    pub const ALL: [Status; 6] = [
        Status::Queued,
        Status::Running,
        Status::Waiting,
        Status::Done,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The status as stored and served: `queued`, `running`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Waiting => "waiting",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether the job has ended and will not run again.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown status `{s}`"))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry of `events` or `warnings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// When it was logged, RFC 3339.
    pub time_stamp: String,
    /// The message.
    pub msg: String,
}

/// An entry of `errors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEntry {
    /// When it was logged, RFC 3339.
    pub time_stamp: String,
    /// The error code; 500 for a panic or an error without a code.
    pub error_code: i64,
    /// The message.
    pub msg: String,
    /// The attempt (1-based) during which the error happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

fn default_priority() -> u8 {
    crate::spec::DEFAULT_PRIORITY
}

/// Everything stored for one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    /// The job's id.
    pub uuid: Uuid,
    /// The `type` from `#[job]`.
    pub job_type: String,
    /// The queue it runs from.
    pub queue: String,
    /// How urgent it is: 0, the most, to 9; from `#[job(priority)]` or the submit.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Where it is in its life.
    pub status: Status,
    /// `-1` until finished, then the code of `Outcome::done` or the error.
    pub result_code: i64,
    /// Progress, from 0 to 1.
    pub completeness: f64,
    /// The job's fields as last persisted.
    pub params: Value,
    /// The output of `Outcome::done_with`, else null.
    pub data: Value,
    /// The job log: `log_info` and lifecycle events.
    pub events: Vec<LogEntry>,
    /// The job log: `log_warning`.
    pub warnings: Vec<LogEntry>,
    /// The job log: `log_error`, failed runs and panics.
    pub errors: Vec<ErrorEntry>,
    /// Events dropped to keep the newest [`LOG_CAP`].
    #[serde(default)]
    pub events_dropped: u64,
    /// Warnings dropped to keep the newest [`LOG_CAP`].
    #[serde(default)]
    pub warnings_dropped: u64,
    /// Errors dropped to keep the newest [`LOG_CAP`].
    #[serde(default)]
    pub errors_dropped: u64,
    /// Runs that ended in an error so far.
    pub attempts: u32,
    /// The limit on `attempts`.
    pub max_attempts: u32,
    /// When the job was accepted.
    pub created_at: String,
    /// When its latest run started.
    pub started_at: Option<String>,
    /// When the record last changed.
    pub updated_at: String,
    /// When it finished.
    pub finished_at: Option<String>,
    /// When a waiting job runs again.
    pub run_after: Option<String>,
    /// The schedule that created the job, and the tick it fired for; absent for a job
    /// submitted otherwise. No two jobs share a schedule's name and tick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleTick>,
}

/// The schedule and tick a job was created for (see [`crate::schedule`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTick {
    /// The schedule's name.
    pub name: String,
    /// The tick, RFC 3339 in UTC.
    pub tick: String,
}

/// Formats a time as the record stores it: RFC 3339 in UTC, with milliseconds.
pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl JobRecord {
    /// A new, queued record for validated `params` of the job type `spec`.
    pub fn new(spec: &JobSpec, params: Value) -> Self {
        Self::new_at(spec, params, Utc::now())
    }

    /// A new, queued record for validated `params` of the job type `spec`, created at
    /// `now`.
    pub fn new_at(spec: &JobSpec, params: Value, now: DateTime<Utc>) -> Self {
        let now = timestamp(now);
        JobRecord {
            uuid: Uuid::new_v4(),
            job_type: spec.job_type.to_owned(),
            queue: spec.queue.to_owned(),
            priority: spec.priority,
            status: Status::Queued,
            result_code: NO_RESULT,
            completeness: 0.0,
            params,
            data: Value::Null,
            events: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
            events_dropped: 0,
            warnings_dropped: 0,
            errors_dropped: 0,
            attempts: 0,
            max_attempts: spec.max_attempts,
            created_at: now.clone(),
            started_at: None,
            updated_at: now,
            finished_at: None,
            run_after: None,
            schedule: None,
        }
    }

    /// Appends to `events` an entry of `now`, keeping the newest [`LOG_CAP`].
    pub fn push_event(&mut self, now: DateTime<Utc>, msg: impl Into<String>) {
        let entry = LogEntry {
            time_stamp: timestamp(now),
            msg: msg.into(),
        };
        push_capped(&mut self.events, &mut self.events_dropped, entry);
    }

    /// Appends log entries gathered by a job's context, keeping the newest of each kind.
    pub(crate) fn append_log(
        &mut self,
        events: Vec<LogEntry>,
        warnings: Vec<LogEntry>,
        errors: Vec<ErrorEntry>,
    ) {
        for entry in events {
            push_capped(&mut self.events, &mut self.events_dropped, entry);
        }
        for entry in warnings {
            push_capped(&mut self.warnings, &mut self.warnings_dropped, entry);
        }
        for entry in errors {
            push_capped(&mut self.errors, &mut self.errors_dropped, entry);
        }
    }

    /// Appends to `errors` an entry of `now`, keeping the newest [`LOG_CAP`].
    pub fn push_error(
        &mut self,
        now: DateTime<Utc>,
        error_code: i64,
        msg: impl Into<String>,
        attempt: Option<u32>,
    ) {
        let entry = ErrorEntry {
            time_stamp: timestamp(now),
            error_code,
            msg: msg.into(),
            attempt,
        };
        push_capped(&mut self.errors, &mut self.errors_dropped, entry);
    }

    /// Sets `updatedAt` to `now`.
    pub fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = timestamp(now);
    }
}

fn push_capped<T>(log: &mut Vec<T>, dropped: &mut u64, entry: T) {
    log.push(entry);
    if log.len() > LOG_CAP {
        let excess = log.len() - LOG_CAP;
        log.drain(..excess);
        *dropped += excess as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keeps_the_newest_entries_and_counts_the_dropped() {
        let spec = crate::spec::tests::SPEC;
        let mut record = JobRecord::new(&spec, Value::Null);
        for i in 0..LOG_CAP + 5 {
            record.push_event(Utc::now(), format!("event {i}"));
        }
        assert_eq!(record.events.len(), LOG_CAP);
        assert_eq!(record.events_dropped, 5);
        assert_eq!(record.events[0].msg, "event 5");
    }

    #[test]
    fn record_keys_are_camel_case() {
        let spec = crate::spec::tests::SPEC;
        let json = serde_json::to_value(JobRecord::new(&spec, Value::Null)).unwrap();
        for key in [
            "uuid",
            "jobType",
            "resultCode",
            "maxAttempts",
            "createdAt",
            "runAfter",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        assert_eq!(json["status"], "queued");
        assert_eq!(json["resultCode"], -1);
    }
}
