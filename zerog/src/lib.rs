//! zerog: jobs with a REST API, JSON Schema validation, progress, retries and durable
//! queues.
//!
//! A job type is a plain struct with `#[derive(Job)]` and an async [`Run::run`]. The
//! derive gives it a parameter JSON Schema, a validator and a registration, so that the
//! HTTP server ([`http`]) and the [`worker`] of the binary know it with no hand-written
//! list.
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use zerog::{Job, JobContext, JobError, Outcome};
//!
//! /// Wastes the given number of seconds, reporting progress as it goes.
//! #[derive(Job, Serialize, Deserialize, JsonSchema)]
//! #[job(type = "nap")]
//! pub struct Nap {
//!     /// Seconds to waste.
//!     pub delay: u64,
//! }
//!
//! impl zerog::Run for Nap {
//!     async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
//!         ctx.log_info(format!("napping {} s", self.delay));
//!         tokio::time::sleep(std::time::Duration::from_secs(self.delay)).await;
//!         Ok(Outcome::done(200))
//!     }
//! }
//! ```
//!
//! A binary gets every role from [`main`]: the API, workers and the scheduler. A
//! program of its own runs them in its own runtime instead, each a builder over a
//! shared [`backend::Backend`]: [`worker::Worker`], [`http::Server`] (or
//! [`http::configure`] inside its own actix-web app, under a prefix of its choosing) and
//! [`scheduler::Scheduler`], each until a shutdown future of its choosing (such as
//! [`cli::shutdown_signal`]). Its own code enqueues and follows jobs with the typed
//! [`Client`].

pub mod backend;
pub mod cli;
pub mod client;
pub mod context;
pub mod duration;
#[cfg(feature = "http")]
pub mod http;
pub mod job;
pub mod lifecycle;
pub mod metrics;
pub mod outcome;
pub mod pruner;
pub mod record;
pub mod registry;
pub mod schedule;
pub mod scheduler;
pub mod spec;
pub mod validate;
pub mod worker;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use cli::{main, main_with_schedules};
pub use client::{Client, ClientError, EnqueueOptions, Enqueued};
pub use context::JobContext;
pub use job::{Job, Run};
pub use outcome::{JobError, Outcome};
pub use record::{JobRecord, Status};
pub use registry::Registry;
pub use spec::{JobSpec, RetryPolicy};
pub use zerog_derive::Job;

/// The version of `schemars` that job types must derive `JsonSchema` from.
pub use schemars;
/// The version of `sqlx` that zerog's SQL stores are built with: a transaction of its
/// `PgPool` or `SqlitePool` is what
/// [`Client::enqueue_in`](client::Client::enqueue_in) takes.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use sqlx;
/// The version of `uuid` that job ids are.
pub use uuid;
