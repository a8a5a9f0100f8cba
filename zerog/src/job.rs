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

use std::future::Future;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::JobContext;
use crate::outcome::{JobError, Outcome};
use crate::spec::JobSpec;

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
