//! [`Client`]: enqueueing typed jobs from a program's own code, validated as a POST
//! is, now or later ([`EnqueueOptions`]).
//!
//! ```no_run
//! # use schemars::JsonSchema;
//! # use serde::{Deserialize, Serialize};
//! # use zerog::{Job, JobContext, JobError, Outcome};
//! # /// Sends a mail.
//! # #[derive(Job, Serialize, Deserialize, JsonSchema)]
//! # #[job(type = "mail")]
//! # pub struct Mail { pub to: String }
//! # impl zerog::Run for Mail {
//! #     async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> { Ok(Outcome::done(200)) }
//! # }
//! # async fn demo() -> Result<(), zerog::client::EnqueueError> {
//! use std::time::Duration;
//! use zerog::client::{Client, EnqueueOptions};
//!
//! let client = Client::connect("sqlite://zerog.db").await?;
//! let now = client.enqueue(Mail { to: "ada@example.com".into() }).await?;
//! let in_a_minute = client
//!     .enqueue_in(Mail { to: "bob@example.com".into() }, Duration::from_secs(60))
//!     .await?;
//! let tonight = chrono::Utc::now() + chrono::Duration::hours(8);
//! let later = client
//!     .enqueue_with(Mail { to: "eve@example.com".into() }, EnqueueOptions::new().run_at(tonight))
//!     .await?;
//! let batch = client
//!     .enqueue_many((0..10).map(|n| Mail { to: format!("user{n}@example.com") }))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! A job for a time still ahead is stored `waiting`, with `runAfter` set to that time,
//! and no worker starts it before then; a time that has come (or passed) queues it
//! now. A start more than [`MAX_DELAY`] ahead is refused ([`EnqueueError::BadRunAt`]),
//! so that every backend can store it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::backend::{Backend, Inserted, StoreError};
use crate::job::Job;
use crate::record::JobRecord;
use crate::registry::JobType;
use crate::validate::Violation;

/// How far ahead a job may be set to start: 100 years (of 365.25 days), well inside
/// the range of every backend's timestamps.
pub const MAX_DELAY: Duration = Duration::from_secs(36_525 * 24 * 60 * 60);

/// When an enqueued job may start: now (the default), at a time, or after a delay;
/// and how urgent it is, if not as its type says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnqueueOptions {
    start: Start,
    priority: Option<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Start {
    #[default]
    Now,
    At(DateTime<Utc>),
    After(Duration),
}

impl EnqueueOptions {
    /// Start now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start no earlier than `at`; a time that has come means now. Replaces a
    /// [`run_after`](Self::run_after).
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.start = Start::At(at);
        self
    }

    /// Start no earlier than `delay` from the enqueue. Replaces a
    /// [`run_at`](Self::run_at).
    pub fn run_after(mut self, delay: Duration) -> Self {
        self.start = Start::After(delay);
        self
    }

    /// Gives the jobs `priority`, from 0, the most urgent, to
    /// [`LOWEST_PRIORITY`](crate::spec::LOWEST_PRIORITY), in place of their type's;
    /// an enqueue with a priority beyond that is refused
    /// ([`EnqueueError::BadPriority`]).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = Some(priority);
        self
    }

    /// When a job enqueued at `now` with these options becomes due: never before
    /// `now`.
    ///
    /// # Errors
    ///
    /// [`TooFarAhead`] for a start more than [`MAX_DELAY`] after `now`.
    pub fn due_at(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, TooFarAhead> {
        let latest = chrono::Duration::from_std(MAX_DELAY)
            .ok()
            .and_then(|max| now.checked_add_signed(max))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let at = match self.start {
            Start::Now => return Ok(now),
            Start::At(at) => at,
            Start::After(delay) => chrono::Duration::from_std(delay)
                .ok()
                .and_then(|delay| now.checked_add_signed(delay))
                .ok_or(TooFarAhead)?,
        };
        if at > latest {
            return Err(TooFarAhead);
        }
        Ok(at.max(now))
    }
}

/// A start further ahead than [`MAX_DELAY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a job may start at most 100 years ahead")]
pub struct TooFarAhead;

/// Why an enqueue failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The job's fields break its type's schema, as a POST of them would; `index` is
    /// the job's place in a batch (0 for a single job).
    #[error(
        "job {index} of type `{job_type}` does not match its schema: {}",
        first(violations)
    )]
    Validation {
        /// The job type.
        job_type: &'static str,
        /// Its place in the batch.
        index: usize,
        /// Every violation, with its JSON pointer path.
        violations: Vec<Violation>,
    },
    /// The job does not serialize to JSON.
    #[error("the job does not serialize to JSON: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The start is too far ahead.
    #[error(transparent)]
    BadRunAt(#[from] TooFarAhead),
    /// The priority is beyond the least urgent.
    #[error("priority {0} is out of range: 0, the most urgent, to {max}", max = crate::spec::LOWEST_PRIORITY)]
    BadPriority(u8),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn first(violations: &[Violation]) -> String {
    match violations.first() {
        Some(violation) => format!("`{}`: {}", violation.path, violation.message),
        None => "no detail".to_owned(),
    }
}

/// Enqueues typed jobs on a [`Backend`]. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Client {
    backend: Backend,
}

impl Client {
    /// A client of `backend`: the handle a worker or server of this process may share.
    pub fn new(backend: Backend) -> Self {
        Client { backend }
    }

    /// Connects to the store at `url` (see [`Backend::connect`]).
    ///
    /// # Errors
    ///
    /// The connection's error.
    ///
    /// # Cancel safety
    ///
    /// As [`Backend::connect`].
    pub async fn connect(url: &str) -> Result<Self, EnqueueError> {
        Ok(Client::new(Backend::connect(url).await?))
    }

    /// The backend it enqueues on.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Validates `job` as a POST of its fields is validated, and enqueues it to run
    /// now; its uuid.
    ///
    /// # Errors
    ///
    /// [`EnqueueError::Validation`] with every violation, or the store's error.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`](crate::backend::Store::insert): the job is stored whole
    /// or not at all, and a dropped call cannot tell which.
    pub async fn enqueue<T: Job>(&self, job: T) -> Result<Uuid, EnqueueError> {
        self.enqueue_with(job, EnqueueOptions::new()).await
    }

    /// As [`enqueue`](Self::enqueue), to start no earlier than `at`.
    ///
    /// # Errors
    ///
    /// As [`enqueue_with`](Self::enqueue_with).
    ///
    /// # Cancel safety
    ///
    /// As [`enqueue`](Self::enqueue).
    pub async fn enqueue_at<T: Job>(
        &self,
        job: T,
        at: DateTime<Utc>,
    ) -> Result<Uuid, EnqueueError> {
        self.enqueue_with(job, EnqueueOptions::new().run_at(at))
            .await
    }

    /// As [`enqueue`](Self::enqueue), to start no earlier than `delay` from now.
    ///
    /// # Errors
    ///
    /// As [`enqueue_with`](Self::enqueue_with).
    ///
    /// # Cancel safety
    ///
    /// As [`enqueue`](Self::enqueue).
    pub async fn enqueue_in<T: Job>(&self, job: T, delay: Duration) -> Result<Uuid, EnqueueError> {
        self.enqueue_with(job, EnqueueOptions::new().run_after(delay))
            .await
    }

    /// As [`enqueue`](Self::enqueue), starting as `options` say.
    ///
    /// # Errors
    ///
    /// [`EnqueueError::Validation`], [`EnqueueError::BadRunAt`] for a start more
    /// than [`MAX_DELAY`] ahead, or the store's error.
    ///
    /// # Cancel safety
    ///
    /// As [`enqueue`](Self::enqueue).
    pub async fn enqueue_with<T: Job>(
        &self,
        job: T,
        options: EnqueueOptions,
    ) -> Result<Uuid, EnqueueError> {
        let mut uuids = self.enqueue_many_with([job], options).await?;
        Ok(uuids.remove(0))
    }

    /// Validates every job and enqueues them all, to run now, in one write of the
    /// store (one transaction or script where the backend allows); their uuids, in
    /// order. One invalid job enqueues none. For a type with `unique_for`, each job
    /// is written on its own, and a duplicate's uuid is that of the job it stands for.
    ///
    /// # Errors
    ///
    /// [`EnqueueError::Validation`] for the first invalid job, with its index, or the
    /// store's error.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`](crate::backend::Store::insert).
    pub async fn enqueue_many<T: Job>(
        &self,
        jobs: impl IntoIterator<Item = T>,
    ) -> Result<Vec<Uuid>, EnqueueError> {
        self.enqueue_many_with(jobs, EnqueueOptions::new()).await
    }

    /// As [`enqueue_many`](Self::enqueue_many), starting as `options` say.
    ///
    /// # Errors
    ///
    /// As [`enqueue_many`](Self::enqueue_many), and [`EnqueueError::BadRunAt`].
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`](crate::backend::Store::insert).
    pub async fn enqueue_many_with<T: Job>(
        &self,
        jobs: impl IntoIterator<Item = T>,
        options: EnqueueOptions,
    ) -> Result<Vec<Uuid>, EnqueueError> {
        let run_at = options.due_at(Utc::now())?;
        let priority = match options.priority {
            Some(priority) if priority > crate::spec::LOWEST_PRIORITY => {
                return Err(EnqueueError::BadPriority(priority));
            }
            given => given.unwrap_or(T::SPEC.priority),
        };
        let job_type = JobType::of::<T>();
        let spec = job_type.spec();
        let records =
            jobs.into_iter()
                .enumerate()
                .map(|(index, job)| {
                    let params = serde_json::to_value(&job).map_err(EnqueueError::Serialize)?;
                    let params = job_type.validate(&params).map_err(|violations| {
                        EnqueueError::Validation {
                            job_type: spec.job_type,
                            index,
                            violations,
                        }
                    })?;
                    let mut record = JobRecord::new(spec, params);
                    record.priority = priority;
                    Ok(record)
                })
                .collect::<Result<Vec<_>, EnqueueError>>()?;
        let answers = self.backend.enqueue_of_type(spec, &records, run_at).await?;
        Ok(records
            .iter()
            .zip(answers)
            .map(|(record, inserted)| match inserted {
                Inserted::New => record.uuid,
                Inserted::Duplicate(holder) => holder,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_start_is_never_before_now() {
        let options = EnqueueOptions::new();
        assert_eq!(options.due_at(now()), Ok(now()));
        let past = now() - chrono::Duration::days(3);
        assert_eq!(options.run_at(past).due_at(now()), Ok(now()));
        let later = now() + chrono::Duration::seconds(90);
        assert_eq!(options.run_at(later).due_at(now()), Ok(later));
        let delay = options.run_after(Duration::from_millis(1500));
        assert_eq!(
            delay.due_at(now()),
            Ok(now() + chrono::Duration::milliseconds(1500))
        );
    }

    #[test]
    fn the_last_start_given_wins() {
        let later = now() + chrono::Duration::seconds(90);
        let options = EnqueueOptions::new()
            .run_after(Duration::from_secs(5))
            .run_at(later);
        assert_eq!(options.due_at(now()), Ok(later));
    }

    #[test]
    fn a_start_beyond_a_hundred_years_is_refused() {
        let options = EnqueueOptions::new();
        assert_eq!(
            options.run_after(MAX_DELAY).due_at(now()).map(|_| ()),
            Ok(())
        );
        let beyond = MAX_DELAY + Duration::from_secs(1);
        assert_eq!(options.run_after(beyond).due_at(now()), Err(TooFarAhead));
        assert_eq!(
            options.run_after(Duration::MAX).due_at(now()),
            Err(TooFarAhead)
        );
        let far = now() + chrono::Duration::days(36_600);
        assert_eq!(options.run_at(far).due_at(now()), Err(TooFarAhead));
    }
}
