//! [`JobContext`]: what a running job can see and do besides its own fields.
//!
//! Progress and log calls are cheap: they land in memory, and the worker writes them to
//! the store at most every 250 ms, and always when the run ends. Call
//! [`JobContext::checkpoint`] to write them now.
//!
//! ```
//! # use zerog::{JobContext, JobError, Outcome};
//! async fn step(ctx: &mut JobContext) -> Result<Outcome, JobError> {
//!     ctx.log_info("halfway there");
//!     ctx.set_completeness(0.5);
//!     ctx.checkpoint().await?;
//!     if ctx.is_cancelled() {
//!         return Err(JobError::fatal("stopped"));
//!     }
//!     Ok(Outcome::done(200))
//! }
//! ```

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::watch;
use uuid::Uuid;

use crate::outcome::JobError;
use crate::record::{ErrorEntry, JobRecord, LogEntry, timestamp};

/// The running job's view of its own run: ids, progress, log and cancellation.
#[derive(Debug)]
pub struct JobContext {
    uuid: Uuid,
    job_type: String,
    attempt: u32,
    progress: Arc<Progress>,
    writer: Arc<dyn ProgressWriter>,
    cancel: watch::Receiver<bool>,
}

impl std::fmt::Debug for dyn ProgressWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressWriter")
    }
}

impl JobContext {
    pub(crate) fn new(
        record: &JobRecord,
        progress: Arc<Progress>,
        writer: Arc<dyn ProgressWriter>,
        cancel: watch::Receiver<bool>,
    ) -> Self {
        JobContext {
            uuid: record.uuid,
            job_type: record.job_type.clone(),
            attempt: record.attempts + 1,
            progress,
            writer,
            cancel,
        }
    }

    /// The job's uuid.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// This run's attempt number: 1 on the first run, plus one per run that ended in an
    /// error. Requeues do not count.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The job's completeness now, from 0 to 1.
    pub fn completeness(&self) -> f64 {
        self.progress.pending().completeness
    }

    /// Adds `delta` to completeness, clamped to [0, 1].
    pub fn add_to_completeness(&mut self, delta: f64) {
        let mut pending = self.progress.pending();
        let value = pending.completeness + delta;
        pending.set_completeness(value);
    }

    /// Sets completeness to `value`, clamped to [0, 1].
    pub fn set_completeness(&mut self, value: f64) {
        self.progress.pending().set_completeness(value);
    }

    /// Adds `msg` to the job's `events` (ZeroG's `job_log_info`).
    pub fn log_info(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::info!(job.uuid = %self.uuid, job.job_type = %self.job_type, "{msg}");
        let mut pending = self.progress.pending();
        pending.events.push(entry(msg));
        pending.dirty = true;
    }

    /// Adds `msg` to the job's `warnings` (ZeroG's `job_log_warning`).
    pub fn log_warning(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::warn!(job.uuid = %self.uuid, job.job_type = %self.job_type, "{msg}");
        let mut pending = self.progress.pending();
        pending.warnings.push(entry(msg));
        pending.dirty = true;
    }

    /// Adds an entry with `code` and `msg` to the job's `errors` (ZeroG's
    /// `job_log_error`). The job goes on; return a [`JobError`] to end it.
    pub fn log_error(&mut self, code: i64, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::error!(job.uuid = %self.uuid, job.job_type = %self.job_type, code, "{msg}");
        let mut pending = self.progress.pending();
        pending.errors.push(ErrorEntry {
            time_stamp: timestamp(Utc::now()),
            error_code: code,
            msg,
            attempt: Some(self.attempt),
        });
        pending.dirty = true;
    }

    /// Writes progress and log to the store now.
    ///
    /// # Errors
    ///
    /// A retryable [`JobError`] when the job was cancelled, or when this worker lost the
    /// job's lease (whatever the run returns then is not written). Pass it on with `?`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: entries not yet written stay pending and go with the next write.
    pub async fn checkpoint(&mut self) -> Result<(), JobError> {
        if self.is_cancelled() {
            return Err(JobError::retry("cancelled"));
        }
        match self.writer.write_progress().await {
            Ok(()) => Ok(()),
            Err(CheckpointError::LeaseLost) => Err(JobError::retry("lease lost")),
            Err(CheckpointError::Unavailable(error)) => {
                tracing::warn!(job.uuid = %self.uuid, %error, "checkpoint failed; will retry");
                Ok(())
            }
        }
    }

    /// Whether a user asked to cancel this job.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Completes when a user asks to cancel this job.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn cancelled(&mut self) {
        // The sender lives as long as the run, so an error means the run is over anyway.
        let _ = self.cancel.wait_for(|cancelled| *cancelled).await;
    }
}

fn entry(msg: String) -> LogEntry {
    LogEntry {
        time_stamp: timestamp(Utc::now()),
        msg,
    }
}

/// Progress and log entries not yet written to the record.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    completeness: f64,
    events: Vec<LogEntry>,
    warnings: Vec<LogEntry>,
    errors: Vec<ErrorEntry>,
    dirty: bool,
}

impl Pending {
    fn set_completeness(&mut self, value: f64) {
        let value = if value.is_nan() {
            0.0
        } else {
            value.clamp(0.0, 1.0)
        };
        if value != self.completeness {
            self.completeness = value;
            self.dirty = true;
        }
    }
}

/// A run's progress and log entries not yet written, shared by the job's context and
/// the worker that writes them.
#[derive(Debug)]
pub(crate) struct Progress {
    pending: Mutex<Pending>,
}

impl Progress {
    /// Progress that starts from `record`'s completeness.
    pub(crate) fn new(record: &JobRecord) -> Self {
        Progress {
            pending: Mutex::new(Pending {
                completeness: record.completeness,
                ..Pending::default()
            }),
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the pending changes into `record`; whether there were any.
    pub(crate) fn apply_to(&self, record: &mut JobRecord) -> bool {
        let mut pending = self.pending();
        if !pending.dirty {
            return false;
        }
        record.completeness = pending.completeness;
        let events = std::mem::take(&mut pending.events);
        let warnings = std::mem::take(&mut pending.warnings);
        let errors = std::mem::take(&mut pending.errors);
        record.append_log(events, warnings, errors);
        pending.dirty = false;
        true
    }
}

/// Why a checkpoint's write did not happen.
#[derive(Debug)]
pub(crate) enum CheckpointError {
    /// The run's lease is no longer the job's: another worker owns it, or it was killed.
    LeaseLost,
    /// The store could not be reached; the entries go with the next write.
    Unavailable(String),
}

/// What writes a run's pending progress to the store: the worker implements it, so
/// that the context a job author touches knows nothing of storage.
#[async_trait]
pub(crate) trait ProgressWriter: Send + Sync + 'static {
    /// Writes the pending progress and log now, renewing the run's lease.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: entries not yet written stay pending and go with the next write.
    async fn write_progress(&self) -> Result<(), CheckpointError>;
}
