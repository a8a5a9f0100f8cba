//! The settings of a job type and the result codes: what `#[job(...)]` writes and what
//! every other part of zerog reads. This module depends on nothing else in the crate.
//!
//! ```
//! use std::time::Duration;
//! use zerog::RetryPolicy;
//!
//! let policy = RetryPolicy::Exponential { delay: Duration::from_secs(5) };
//! // The third attempt waits 20 s, plus up to 10% jitter.
//! assert!(policy.delay_after(3) >= Duration::from_secs(20));
//! ```

use std::time::Duration;

/// The result code of a job that finished successfully, as in ZeroG.
pub const RESULT_OK: i64 = 200;
/// The result code of a job that has not finished yet (ZeroG's `NO_RESULT`).
pub const NO_RESULT: i64 = -1;
/// The result code of a job that failed without a code of its own.
pub const RESULT_FAILED: i64 = 500;
/// The result code of a job cancelled or killed by a user (ZeroG's "Killed by user").
pub const RESULT_KILLED: i64 = 410;

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
    /// How urgent its jobs are: 0, the most, to [`LOWEST_PRIORITY`] (default 5). Within
    /// a queue, due jobs start by priority, then by due time, then in submit order.
    pub priority: u8,
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
    /// How long a job stands for every submit of the same type and parameters: within
    /// it, and while the job has not failed or been cancelled, such a submit creates
    /// nothing and answers the job's uuid (SPEC §5). `None`: every submit is a job.
    pub unique_for: Option<Duration>,
}

/// The least urgent priority; 0 is the most.
pub const LOWEST_PRIORITY: u8 = 9;

/// The priority of a job type that sets none.
pub const DEFAULT_PRIORITY: u8 = 5;

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

    /// The wait before the next run, after `attempts` runs ended in an error (1-based),
    /// with a random jitter.
    pub fn delay_after(&self, attempts: u32) -> Duration {
        self.delay_with_jitter(attempts, fastrand::f64())
    }

    /// The wait before the next run, after `attempts` runs ended in an error (1-based),
    /// where `jitter` in `[0, 1)` picks how much of the 10% jitter is added.
    pub fn delay_with_jitter(&self, attempts: u32, jitter: f64) -> Duration {
        match *self {
            RetryPolicy::Fixed { delay } => delay,
            RetryPolicy::Exponential { delay } => {
                let exponent = attempts.saturating_sub(1).min(30);
                let base = delay.saturating_mul(1u32 << exponent).min(Self::MAX_DELAY);
                let jitter = base.mul_f64(jitter.clamp(0.0, 1.0) * 0.1);
                (base + jitter).min(Self::MAX_DELAY)
            }
        }
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
        priority: DEFAULT_PRIORITY,
        timeout: None,
        retry: RetryPolicy::DEFAULT,
        description: "",
        name: "Test",
        path: "",
        allow_unknown_fields: false,
        unique_for: None,
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
        assert_eq!(policy.delay_with_jitter(2, 0.0), Duration::from_secs(4));
        assert_eq!(
            policy.delay_with_jitter(2, 0.5),
            Duration::from_millis(4200)
        );
    }

    #[test]
    fn fixed_backoff_is_constant() {
        let delay = Duration::from_millis(1500);
        let policy = RetryPolicy::Fixed { delay };
        assert_eq!(policy.delay_after(1), delay);
        assert_eq!(policy.delay_after(9), delay);
    }
}
