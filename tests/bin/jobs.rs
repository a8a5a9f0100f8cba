//! Job types for the multi-process tests.

use std::io::Write;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::{Job, JobContext, JobError, Outcome};

/// The file that `mark` appends to, from `ZEROG_TEST_MARK_FILE`.
const MARK_FILE: &str = "ZEROG_TEST_MARK_FILE";

/// Works for `ms` milliseconds, then appends its uuid to the mark file and finishes:
/// a side effect that shows how many times the job ran to completion.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(
    type = "mark",
    max_attempts = 25,
    retry_backoff = "fixed",
    retry_delay = "10ms"
)]
pub struct Mark {
    /// How long the work takes.
    #[serde(default)]
    pub ms: u64,
}

impl zerog::Run for Mark {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        let path = std::env::var(MARK_FILE).map_err(|_| JobError::fatal("no mark file"))?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        // One write of one line, so concurrent appends never interleave.
        file.write_all(format!("{}\n", ctx.uuid()).as_bytes())?;
        Ok(Outcome::done(200))
    }
}

/// Runs for `ms` milliseconds in 50 ms steps, reporting progress, so that cancel,
/// drain, shutdown and stalls can be observed. It stops early when cancelled: at a
/// checkpoint with `checkpoint`, by asking `is_cancelled` otherwise, and never when
/// `stubborn`.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(
    type = "linger",
    max_attempts = 3,
    retry_backoff = "fixed",
    retry_delay = "10ms"
)]
pub struct Linger {
    /// How long to run.
    pub ms: u64,
    /// Whether to call `checkpoint` after each step.
    #[serde(default)]
    pub checkpoint: bool,
    /// Whether to ignore cancel requests.
    #[serde(default)]
    pub stubborn: bool,
}

impl zerog::Run for Linger {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        let steps = (self.ms / 50).max(1);
        for step in 1..=steps {
            tokio::time::sleep(Duration::from_millis(50)).await;
            ctx.set_completeness(step as f64 / steps as f64);
            if self.checkpoint {
                ctx.checkpoint().await?;
            } else if !self.stubborn && ctx.is_cancelled() {
                ctx.log_warning("stopping early: cancelled");
                return Ok(Outcome::done(499));
            }
        }
        ctx.log_info(format!(
            "lingered {} ms on attempt {}",
            self.ms,
            ctx.attempt()
        ));
        Ok(Outcome::done_with(200, ctx.attempt()))
    }
}
