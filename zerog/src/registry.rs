//! The registry: every job type a binary knows.
//!
//! `#[derive(Job)]` registers its type through `inventory`, so [`Registry::from_inventory`]
//! finds every job type linked into the binary with no hand-written list. Tests, and
//! binaries that want a subset, build one explicitly:
//!
//! ```
//! # use schemars::JsonSchema;
//! # use serde::{Deserialize, Serialize};
//! # use zerog::{Job, JobContext, JobError, Outcome, Registry};
//! # /// Does nothing.
//! # #[derive(Job, Serialize, Deserialize, JsonSchema)]
//! # #[job(type = "noop")]
//! # pub struct Noop {}
//! # impl zerog::Run for Noop {
//! #     async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> { Ok(Outcome::done(200)) }
//! # }
//! let registry = Registry::new().register::<Noop>();
//! assert!(registry.get("noop").is_some());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::context::JobContext;
use crate::job::Job;
use crate::outcome::{JobError, Outcome};
use crate::spec::JobSpec;
use crate::validate::{self, Violation};

/// A boxed, sendable future, as the type-erased run of a job returns.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What one type-erased run gives back: the job's state after the run (when the job
/// could be deserialized and `run` returned), and how the run ended.
pub(crate) struct RunReport {
    pub(crate) params: Option<Value>,
    pub(crate) result: Result<Outcome, JobError>,
}

/// The type-erased face of one job type, built from `T: Job` at compile time.
#[derive(Clone, Copy)]
pub struct JobType {
    spec: &'static JobSpec,
    schema: fn() -> &'static Value,
    validate: fn(&Value) -> Result<Value, Vec<Violation>>,
    run: fn(Value, JobContext) -> BoxFuture<RunReport>,
}

impl JobType {
    /// The type-erased face of `T`.
    pub const fn of<T: Job>() -> Self {
        JobType {
            spec: &T::SPEC,
            schema: T::schema,
            validate: validate::validate_params::<T>,
            run: run_erased::<T>,
        }
    }

    /// The type's settings from `#[job(...)]`.
    pub fn spec(&self) -> &'static JobSpec {
        self.spec
    }

    /// The parameter JSON Schema.
    pub fn schema(&self) -> &'static Value {
        (self.schema)()
    }

    /// Checks parameters against the schema and the struct, and returns them with
    /// defaults filled in, or *every* violation found.
    pub fn validate(&self, params: &Value) -> Result<Value, Vec<Violation>> {
        (self.validate)(params)
    }

    pub(crate) fn run(&self, params: Value, context: JobContext) -> BoxFuture<RunReport> {
        (self.run)(params, context)
    }
}

impl fmt::Debug for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobType").field("spec", self.spec).finish()
    }
}

fn run_erased<T: Job>(params: Value, mut context: JobContext) -> BoxFuture<RunReport> {
    Box::pin(async move {
        let mut job: T = match serde_json::from_value(params) {
            Ok(job) => job,
            Err(error) => {
                let message = format!("stored parameters no longer fit the job type: {error}");
                return RunReport {
                    params: None,
                    result: Err(JobError::fatal(message)),
                };
            }
        };
        let result = job.run(&mut context).await;
        // The struct is the job's state: persist it whatever the run ended in.
        let params = serde_json::to_value(&job).ok();
        RunReport { params, result }
    })
}

/// A job type's entry in the binary-wide `inventory` collection.
#[doc(hidden)]
pub struct Registration(pub(crate) JobType);

impl Registration {
    /// The entry for `T`; used by `#[derive(Job)]`.
    pub const fn of<T: Job>() -> Self {
        Registration(JobType::of::<T>())
    }
}

inventory::collect!(Registration);

/// The set of job types that a server or worker knows, by job type name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: Arc<BTreeMap<&'static str, JobType>>,
    duplicates: Vec<(&'static str, &'static str)>,
}

/// Two Rust types claim the same job type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job type `{job_type}` is declared twice: by `{first}` and by `{second}`")]
pub struct DuplicateJobType {
    /// The job type name.
    pub job_type: &'static str,
    /// The Rust type that claimed it first.
    pub first: &'static str,
    /// The Rust type that claimed it again.
    pub second: &'static str,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every job type linked into this binary with `#[derive(Job)]`.
    pub fn from_inventory() -> Self {
        inventory::iter::<Registration>
            .into_iter()
            .fold(Registry::new(), |registry, entry| registry.insert(entry.0))
    }

    /// Adds `T`.
    pub fn register<T: Job>(self) -> Self {
        self.insert(JobType::of::<T>())
    }

    fn insert(mut self, job_type: JobType) -> Self {
        let name = job_type.spec.job_type;
        let types = Arc::make_mut(&mut self.types);
        match types.get(name) {
            Some(existing) if existing.spec.rust_type != job_type.spec.rust_type => {
                self.duplicates
                    .push((existing.spec.rust_type, job_type.spec.rust_type));
            }
            Some(_) => {}
            None => {
                types.insert(name, job_type);
            }
        }
        self
    }

    /// Fails when two Rust types declared the same job type; servers and workers call
    /// this at start-up.
    ///
    /// # Errors
    ///
    /// The first duplicate found, naming both Rust types.
    pub fn check(&self) -> Result<(), DuplicateJobType> {
        match self.duplicates.first() {
            Some(&(first, second)) => {
                let job_type = self
                    .types
                    .values()
                    .find(|t| t.spec.rust_type == first)
                    .map_or("", |t| t.spec.job_type);
                Err(DuplicateJobType {
                    job_type,
                    first,
                    second,
                })
            }
            None => Ok(()),
        }
    }

    /// The job type called `name`.
    pub fn get(&self, name: &str) -> Option<&JobType> {
        self.types.get(name)
    }

    /// Every job type, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &JobType> {
        self.types.values()
    }

    /// The names of every job type, sorted.
    pub fn job_types(&self) -> Vec<&'static str> {
        self.types.keys().copied().collect()
    }

    /// The queues that the registered job types go to, sorted and without repeats.
    pub fn queues(&self) -> Vec<&'static str> {
        let mut queues: Vec<_> = self.types.values().map(|t| t.spec.queue).collect();
        queues.sort_unstable();
        queues.dedup();
        queues
    }

    /// Whether no job type is registered.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}
