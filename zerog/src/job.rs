//! The job traits and what a run returns.
//!
//! A job type is a plain struct with `#[derive(Job)]`, which implements [`Job`], and
//! a hand-written impl of [`Run`]:
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use zerog::{Job, JobContext, JobError, Outcome};
//!
//! /// Counts to `to`, one step per run.
//! #[derive(Job, Serialize, Deserialize, JsonSchema)]
//! #[job(type = "count", max_attempts = 5)]
//! pub struct Count {
//!     /// Where to stop.
//!     pub to: u32,
//!     /// Where the count is now.
//!     #[serde(default)]
//!     pub at: u32,
//! }
//!
//! impl zerog::Run for Count {
//!     async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
//!         if self.at < self.to {
//!             self.at += 1;
//!             ctx.set_completeness(f64::from(self.at) / f64::from(self.to));
//!             return Ok(Outcome::requeue());
//!         }
//!         Ok(Outcome::done_with(200, self.at))
//!     }
//! }
//! ```
//!
//! The struct *is* the job's state: after every run, whatever it ended in, the worker
//! serializes `self` back into the record, so a requeued job resumes from its fields.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::JobContext;

/// The result code of a job that finished successfully, as in ZeroG.
pub const RESULT_OK: i64 = 200;
/// The result code of a job that has not finished yet (ZeroG's `NO_RESULT`).
pub const NO_RESULT: i64 = -1;
/// The result code of a job that failed without a code of its own.
pub const RESULT_FAILED: i64 = 500;
/// The result code of a job cancelled or killed by a user (ZeroG's "Killed by user").
pub const RESULT_KILLED: i64 = 410;

/// A job type: its static description, parameter schema and validator.
///
/// Implemented by `#[derive(Job)]`; do not implement it by hand. The derive also
/// registers the type, so that the server and workers of the binary know it.
pub trait Job: Run + Serialize + DeserializeOwned + JsonSchema + Send + Sized + 'static {
    /// The job type's settings, from `#[job(...)]`.
    const SPEC: JobSpec;

    /// The parameter JSON Schema (draft 2020-12), built once and cached.
    fn schema() -> &'static serde_json::Value;

    /// The compiled validator for [`Job::schema`], built once and cached.
    fn validator() -> &'static jsonschema::Validator;
}

/// The work a job does. Implement this by hand for every `#[derive(Job)]` struct.
///
/// Write it as an `async fn`; the future it returns must be `Send`, because workers
/// run jobs on a multi-threaded runtime.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[derive(Job)]` but no `impl zerog::Run for {Self}`",
    label = "this job type has no `run` method",
    note = "add `impl zerog::Run for {Self} {{ async fn run(&mut self, ctx: &mut zerog::JobContext) -> Result<zerog::Outcome, zerog::JobError> {{ ... }} }}`"
)]
pub trait Run {
    /// Runs the job once.
    ///
    /// Return [`Outcome::done`] when finished, [`Outcome::requeue`] to run again later
    /// without using an attempt, or a [`JobError`] to fail or retry. A panic is caught
    /// and counts as [`JobError::Retry`].
    fn run(
        &mut self,
        ctx: &mut JobContext,
    ) -> impl Future<Output = Result<Outcome, JobError>> + Send;
}

/// The settings of a job type, written by `#[job(...)]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobSpec {
    /// The job type: `[a-z][a-z0-9_]*`, unique in a binary.
    pub job_type: &'static str,
    /// The Rust name of the type, to report duplicate job types.
    pub rust_type: &'static str,
    /// The queue the type's jobs go to (default: the job type).
    pub queue: &'static str,
    /// Capacity units one job takes on a worker (default 1).
    pub cost: u32,
    /// Runs that may end in an error before the job fails (default 3).
    pub max_attempts: u32,
    /// How long one run may take before it is stopped and retried.
    pub timeout: Option<Duration>,
    /// How long to wait before a retry.
    pub retry: RetryPolicy,
    /// What the job does (default: the struct's doc comment).
    pub description: &'static str,
    /// A human title (default: derived from the job type).
    pub name: &'static str,
    /// The job's branch in the endpoint hierarchy; empty for the root.
    pub path: &'static str,
    /// Whether parameters the schema does not name are accepted.
    pub allow_unknown_fields: bool,
}

/// How long a job waits before its next attempt after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    /// `delay × 2^(attempt − 1)`, with up to 10% jitter, capped at [`RetryPolicy::MAX_DELAY`].
    Exponential {
        /// The first delay.
        delay: Duration,
    },
    /// The same delay before every retry.
    Fixed {
        /// The delay.
        delay: Duration,
    },
}

impl RetryPolicy {
    /// The longest wait between two attempts.
    pub const MAX_DELAY: Duration = Duration::from_secs(3600);
    /// The default: exponential from 5 seconds.
    pub const DEFAULT: RetryPolicy = RetryPolicy::Exponential {
        delay: Duration::from_secs(5),
    };

    /// The wait before the next run, after `attempts` runs ended in an error (1-based).
    pub fn delay_after(&self, attempts: u32) -> Duration {
        match *self {
            RetryPolicy::Fixed { delay } => delay,
            RetryPolicy::Exponential { delay } => {
                let exponent = attempts.saturating_sub(1).min(30);
                let base = delay.saturating_mul(1u32 << exponent).min(Self::MAX_DELAY);
                let jitter = base.mul_f64(fastrand::f64() * 0.1);
                (base + jitter).min(Self::MAX_DELAY)
            }
        }
    }
}

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The job is finished.
    Done {
        /// The result code; 200 means success, as in ZeroG.
        code: i64,
        /// The job's output, served by `GET /data/{uuid}`.
        data: serde_json::Value,
    },
    /// The job runs again later, with no attempt used (Geyser's resume time).
    Requeue {
        /// How long to wait first.
        after: Duration,
    },
}

impl Outcome {
    /// Finished with `code` and no data.
    pub fn done(code: i64) -> Self {
        Outcome::Done {
            code,
            data: serde_json::Value::Null,
        }
    }

    /// Finished with `code` and `data` as the job's output.
    ///
    /// # Panics
    ///
    /// Panics if `data` cannot be serialized to JSON (for example a map with non-string
    /// keys). Inside `run`, the panic is caught and counts as a retryable error.
    pub fn done_with(code: i64, data: impl Serialize) -> Self {
        let data = serde_json::to_value(data).expect("job output must serialize to JSON");
        Outcome::Done { code, data }
    }

    /// Runs again as soon as a worker is free, with no attempt used.
    pub fn requeue() -> Self {
        Outcome::Requeue {
            after: Duration::ZERO,
        }
    }

    /// Runs again after `after`, with no attempt used.
    pub fn requeue_after(after: Duration) -> Self {
        Outcome::Requeue { after }
    }
}

/// A run that ended in an error.
///
/// Any `E: std::error::Error` converts into [`JobError::Retry`], so `?` works in `run`.
#[derive(Debug, Clone, PartialEq)]
pub enum JobError {
    /// Fails the job now, with no retry (Geyser's `WFErrorFinish`).
    Fatal {
        /// The job's result code (500 unless set by [`JobError::fatal_with_code`]).
        code: i64,
        /// What went wrong.
        message: String,
    },
    /// Retries the job within its `max_attempts`, with backoff (Geyser's `WFErrorContinue`).
    Retry(String),
}

impl JobError {
    /// Fails the job now with result code 500.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::fatal_with_code(RESULT_FAILED, message)
    }

    /// Fails the job now with the given result code (ZeroG's `raise_error_finish`).
    pub fn fatal_with_code(code: i64, message: impl Into<String>) -> Self {
        JobError::Fatal {
            code,
            message: message.into(),
        }
    }

    /// Retries the job, if it has attempts left.
    pub fn retry(message: impl Into<String>) -> Self {
        JobError::Retry(message.into())
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Fatal { code, message } => write!(f, "fatal error {code}: {message}"),
            JobError::Retry(message) => write!(f, "retryable error: {message}"),
        }
    }
}

impl<E: std::error::Error> From<E> for JobError {
    fn from(error: E) -> Self {
        JobError::Retry(error.to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A job type's settings, for tests that need one.
    pub(crate) const SPEC: JobSpec = JobSpec {
        job_type: "test",
        rust_type: "zerog::Test",
        queue: "test",
        cost: 1,
        max_attempts: 3,
        timeout: None,
        retry: RetryPolicy::DEFAULT,
        description: "",
        name: "Test",
        path: "",
        allow_unknown_fields: false,
    };

    #[test]
    fn exponential_backoff_doubles_with_bounded_jitter_and_cap() {
        let policy = RetryPolicy::Exponential {
            delay: Duration::from_secs(2),
        };
        for (attempts, base) in [(1, 2), (2, 4), (3, 8), (4, 16)] {
            let delay = policy.delay_after(attempts);
            let base = Duration::from_secs(base);
            assert!(delay >= base && delay <= base.mul_f64(1.1), "{delay:?}");
        }
        assert_eq!(policy.delay_after(40), RetryPolicy::MAX_DELAY);
    }

    #[test]
    fn fixed_backoff_is_constant() {
        let delay = Duration::from_millis(1500);
        let policy = RetryPolicy::Fixed { delay };
        assert_eq!(policy.delay_after(1), delay);
        assert_eq!(policy.delay_after(9), delay);
    }

    #[test]
    fn errors_convert_to_retry() {
        fn parse(s: &str) -> Result<u32, JobError> {
            Ok(s.parse::<u32>()?)
        }
        assert!(matches!(parse("x"), Err(JobError::Retry(m)) if m.contains("invalid digit")));
    }
}
