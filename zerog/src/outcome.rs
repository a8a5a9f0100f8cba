//! What a run returns: an [`Outcome`] when it did not fail, a [`JobError`] when it did.
//!
//! ```
//! use zerog::{JobError, Outcome};
//!
//! fn check(pages: u32) -> Result<Outcome, JobError> {
//!     match pages {
//!         0 => Err(JobError::fatal("nothing to print")),
//!         1..=100 => Ok(Outcome::done_with(200, pages)),
//!         _ => Ok(Outcome::requeue_after(std::time::Duration::from_secs(60))),
//!     }
//! }
//! assert!(matches!(check(0), Err(JobError::Fatal { code: 500, .. })));
//! ```

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::spec::RESULT_FAILED;

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
#[non_exhaustive]
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
    /// A retryable error whose message is the error's, followed by each of its sources
    /// (`could not fetch the page: connection reset`), so the job's log says why.
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        JobError::Retry(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_convert_to_retry() {
        fn parse(s: &str) -> Result<u32, JobError> {
            Ok(s.parse::<u32>()?)
        }
        assert!(matches!(parse("x"), Err(JobError::Retry(m)) if m.contains("invalid digit")));
    }

    #[test]
    fn a_converted_error_keeps_its_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("could not fetch the page")]
        struct Fetch(#[source] std::io::Error);
        let error = Fetch(std::io::Error::other("connection reset"));
        let JobError::Retry(message) = JobError::from(error) else {
            panic!("not a retry");
        };
        assert_eq!(message, "could not fetch the page: connection reset");
    }
}
