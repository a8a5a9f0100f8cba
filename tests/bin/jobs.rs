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

/// Prints a catalog: a job whose parameters hold every kind of field that the
/// dashboard's form draws, for the browser tests.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "catalog")]
pub struct Catalog {
    /// The catalog's title, printed on its cover.
    #[schemars(length(min = 1, max = 60))]
    pub title: String,
    /// How many copies to print.
    #[serde(default = "one_copy")]
    #[schemars(range(min = 1, max = 10))]
    pub copies: u32,
    /// How much to enlarge each page.
    #[serde(default = "unscaled")]
    #[schemars(range(min = 0.5, max = 2.0))]
    pub scale: f64,
    /// Whether the copies are bound.
    #[serde(default)]
    pub bound: bool,
    /// The paper size.
    #[serde(default)]
    pub paper: Paper,
    /// Labels for the shelf.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where the copies go.
    pub address: Address,
    /// A note for the printer, if any.
    #[serde(default)]
    pub note: Option<String>,
    /// Pages printed so far: the job's own state, never asked for.
    #[schemars(skip)]
    #[serde(default)]
    pub printed: u32,
}

/// A paper size.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    /// 210 × 297 mm.
    #[default]
    A4,
    /// 8.5 × 11 in.
    Letter,
}

/// A postal address.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Address {
    /// The city.
    pub city: String,
    /// The postal code, if the city has them.
    #[serde(default)]
    pub zip: Option<String>,
}

fn one_copy() -> u32 {
    1
}

fn unscaled() -> f64 {
    1.0
}

impl zerog::Run for Catalog {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        for _ in 0..self.copies {
            self.printed += 1;
            ctx.add_to_completeness(1.0 / f64::from(self.copies));
            ctx.log_info(format!("printed copy {} of {}", self.printed, self.copies));
        }
        Ok(Outcome::done_with(
            200,
            serde_json::json!({ "printed": self.printed }),
        ))
    }
}
