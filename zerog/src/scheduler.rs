//! The scheduler: the loop that turns the ticks of every stored [`Schedule`] into jobs.
//!
//! It runs in the `schedule` and `run` processes, and any number of them may run
//! against one store: each tick is fired by [`Backend::fire`], which moves the
//! schedule's cursor and inserts the tick's job together, and only if no process got
//! there first, so each tick creates exactly one job, with no leader to elect. A
//! scheduler killed halfway loses nothing: another one fires the ticks it would have.
//!
//! ```no_run
//! # async fn demo(backend: zerog::backend::Backend) -> Result<(), Box<dyn std::error::Error>> {
//! use zerog::schedule::Schedule;
//! use zerog::scheduler::Scheduler;
//!
//! let scheduler = Scheduler::new(backend, zerog::Registry::from_inventory());
//! scheduler
//!     .declare(&[Schedule::new("hourly-report", "report", "@hourly")])
//!     .await?;
//! scheduler.run_until(zerog::cli::shutdown_signal()).await;
//! # Ok(()) }
//! ```
//!
//! What is due, missed or skipped is decided by [`next_step`]; this loop reads the
//! schedules, acts on each step, and sleeps until the earliest next tick (at most a
//! second, so that schedules stored by other processes are seen).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::backend::{Backend, StoreError};
use crate::record::{JobRecord, ScheduleTick, timestamp};
use crate::registry::Registry;
use crate::schedule::{Schedule, ScheduleError, ScheduleState, Step, next_step};
use crate::validate::Violation;

/// How late a tick may be seen and still fire as on time, by default. Later than that
/// it was missed, and the schedule's [`Missed`](crate::schedule::Missed) policy applies.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The longest sleep between two reads of the schedules.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// How many steps one schedule may take in one pass: a scheduler that fell behind by
/// more on-time ticks than this catches up over the next passes.
const MAX_STEPS_PER_PASS: usize = 1000;

/// A schedule refused before it is stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The name, the cron expression or the time zone.
    #[error(transparent)]
    Definition(#[from] ScheduleError),
    /// No job type has this name.
    #[error("unknown job type `{0}`")]
    UnknownJobType(String),
    /// The parameters break the job type's schema.
    #[error("the parameters of schedule `{name}` do not match the schema of job type `{job_type}`")]
    Validation {
        /// The schedule.
        name: String,
        /// The job type.
        job_type: String,
        /// Every violation, with its JSON pointer path.
        violations: Vec<Violation>,
    },
}

/// Checks `schedule` against the job types of `registry`, as a POST of its parameters
/// would be checked, and returns its parameters as they validate.
///
/// # Errors
///
/// A [`CheckError`] for a bad name, expression or time zone, an unknown job type, or
/// parameters that break the type's schema.
pub fn check(schedule: &Schedule, registry: &Registry) -> Result<Value, CheckError> {
    schedule.timetable()?;
    let job_type = registry
        .get(&schedule.job_type)
        .ok_or_else(|| CheckError::UnknownJobType(schedule.job_type.clone()))?;
    job_type
        .validate(&schedule.params)
        .map_err(|violations| CheckError::Validation {
            name: schedule.name.clone(),
            job_type: schedule.job_type.clone(),
            violations,
        })
}

/// A declared schedule that could not be stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeclareError {
    /// The schedule is refused.
    #[error("schedule `{name}`: {error}")]
    Refused {
        /// The schedule.
        name: String,
        /// Why.
        error: CheckError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The scheduler of one process.
#[derive(Debug, Clone)]
pub struct Scheduler {
    backend: Backend,
    registry: Registry,
    grace: Duration,
}

impl Scheduler {
    /// A scheduler of the schedules in `backend`'s store whose job types `registry`
    /// knows.
    pub fn new(backend: Backend, registry: Registry) -> Self {
        Scheduler {
            backend,
            registry,
            grace: DEFAULT_GRACE,
        }
    }

    /// How late a tick may be seen and still fire as on time (default
    /// [`DEFAULT_GRACE`]); ticks older than that were missed.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Checks the schedules declared in code and stores them: new ones start from
    /// now, and stored ones take the new definitions and keep their cursors.
    ///
    /// # Errors
    ///
    /// The first schedule refused, before any is stored, or the store's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each schedule is stored whole or not at all, and declaring again
    /// stores the rest.
    pub async fn declare(&self, schedules: &[Schedule]) -> Result<(), DeclareError> {
        for schedule in schedules {
            check(schedule, &self.registry).map_err(|error| DeclareError::Refused {
                name: schedule.name.clone(),
                error,
            })?;
        }
        for schedule in schedules {
            self.backend.declare_schedule(schedule).await?;
        }
        Ok(())
    }

    /// Fires the ticks of every schedule until `shutdown` completes. A failure of the
    /// store is logged and the loop goes on.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each tick is fired whole or not at all, and another scheduler (or
    /// this one, started again) fires the ticks this one did not.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        tracing::info!(
            grace_ms = self.grace.as_millis() as u64,
            "scheduler started"
        );
        tokio::pin!(shutdown);
        loop {
            let now = Utc::now();
            let wake = match self.pass(now).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "the scheduler could not read or fire schedules");
                    None
                }
            };
            let sleep = wake
                .and_then(|at| (at - Utc::now()).to_std().ok())
                // Ticks fall on whole seconds: wake just after, not just before.
                .map(|until| until + Duration::from_millis(2))
                .map_or(MAX_SLEEP, |until| until.min(MAX_SLEEP));
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// Fires what is due at `now` for every schedule, and returns the earliest tick
    /// still to come.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Scheduler::run_until`].
    pub async fn pass(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut earliest: Option<DateTime<Utc>> = None;
        for state in self.backend.schedules().await? {
            if state.paused {
                continue;
            }
            if let Some(next) = self.advance(&state, now).await? {
                earliest = Some(earliest.map_or(next, |earliest| earliest.min(next)));
            }
        }
        Ok(earliest)
    }

    /// Takes the steps of one schedule that are due at `now`; its next tick.
    async fn advance(
        &self,
        state: &ScheduleState,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let schedule = &state.schedule;
        let table = match schedule.timetable() {
            Ok(table) => table,
            Err(error) => {
                tracing::warn!(schedule = %schedule.name, %error, "schedule skipped");
                return Ok(None);
            }
        };
        let Some(job_type) = self.registry.get(&schedule.job_type) else {
            tracing::debug!(schedule = %schedule.name, job_type = %schedule.job_type,
                "schedule of a job type this process does not know");
            return Ok(None);
        };
        let mut cursor = state.last_tick;
        for _ in 0..MAX_STEPS_PER_PASS {
            match next_step(&table, schedule.missed, cursor, now, self.grace) {
                Step::Fire(tick) => {
                    let params = match job_type.validate(&schedule.params) {
                        Ok(params) => params,
                        Err(violations) => {
                            tracing::warn!(schedule = %schedule.name, ?violations,
                                "the schedule's parameters no longer fit its job type");
                            return Ok(None);
                        }
                    };
                    let mut record = JobRecord::new_at(job_type.spec(), params, Utc::now());
                    record.schedule = Some(ScheduleTick {
                        name: schedule.name.clone(),
                        tick: timestamp(tick),
                    });
                    let cost = job_type.spec().cost;
                    if self
                        .backend
                        .fire(&schedule.name, tick, Some((&record, cost)))
                        .await?
                    {
                        tracing::info!(schedule = %schedule.name, tick = %timestamp(tick),
                            job.uuid = %record.uuid, "schedule fired");
                    }
                    cursor = tick;
                }
                Step::Skip(tick) => {
                    if self.backend.fire(&schedule.name, tick, None).await? {
                        tracing::info!(schedule = %schedule.name, until = %timestamp(tick),
                            "missed ticks skipped");
                    }
                    cursor = tick;
                }
                Step::WaitUntil(next) => return Ok(Some(next)),
                Step::Never => return Ok(None),
            }
        }
        Ok(Some(now))
    }
}
