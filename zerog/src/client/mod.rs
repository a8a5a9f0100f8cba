//! [`Client`]: enqueueing typed jobs from a program's own code, validated as a POST
//! is, now or later ([`EnqueueOptions`]), in one write for many, or inside the
//! program's own database transaction ([`Transaction`]); and following them: their
//! progress, record and typed data, cancel, kill and retry, and a wait for the end.
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
//! # async fn demo() -> Result<(), zerog::client::ClientError> {
//! use std::time::Duration;
//! use zerog::client::{Client, EnqueueOptions};
//!
//! let client = Client::connect("sqlite://zerog.db").await?;
//! let now = client.enqueue(Mail { to: "ada@example.com".into() }).await?;
//! let in_a_minute = client
//!     .enqueue_after(Mail { to: "bob@example.com".into() }, Duration::from_secs(60))
//!     .await?;
//! let tonight = chrono::Utc::now() + chrono::Duration::hours(8);
//! let later = client
//!     .enqueue_with(Mail { to: "eve@example.com".into() }, EnqueueOptions::new().run_at(tonight))
//!     .await?
//!     .uuid();
//! let batch = client
//!     .enqueue_many((0..10).map(|n| Mail { to: format!("user{n}@example.com") }))
//!     .await?;
//! let finished = client.wait_for(now, Duration::from_secs(30)).await?;
//! assert!(finished.status.is_finished());
//! let sent: Option<String> = client.data_as(now).await?;
//! # Ok(()) }
//! ```
//!
//! Every call fails with one [`ClientError`], whose variants name what a caller may
//! want to handle: refused parameters, an unknown job, a job already finished, a
//! backend that failed.

mod error;
mod options;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod transaction;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::backend::{Backend, CancelOutcome, Inserted};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
use crate::backend::{NewJob, UniqueKey};
use crate::job::Job;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
use crate::lifecycle;
use crate::record::{JobRecord, Status};
use crate::registry::JobType;

pub use error::ClientError;
pub use options::{EnqueueOptions, MAX_DELAY, TooFarAhead};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use transaction::Transaction;

/// How often [`Client::wait`] reads a job's record by default, between the wake-ups
/// of runs that end in this process.
pub const DEFAULT_WAIT_POLL: Duration = Duration::from_millis(200);

/// What an enqueue did: stored a new job, or found that a job of a type with
/// `unique_for` holds the same parameters, and stored nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job, with this uuid.
    Created(Uuid),
    /// The uuid of the job that holds the same parameters within its `unique_for`.
    Duplicate(Uuid),
}

impl Enqueued {
    /// The job's uuid: the new one, or the one it duplicates.
    pub fn uuid(self) -> Uuid {
        match self {
            Enqueued::Created(uuid) | Enqueued::Duplicate(uuid) => uuid,
        }
    }

    /// Whether nothing was stored, because another job holds the parameters.
    pub fn is_duplicate(self) -> bool {
        matches!(self, Enqueued::Duplicate(_))
    }
}

/// A job's status and completeness, as `GET /progress/{uuid}` answers them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// The job.
    pub uuid: Uuid,
    /// Its type.
    pub job_type: String,
    /// Where it is in its life.
    pub status: Status,
    /// Its result code; `-1` until it finishes.
    pub result_code: i64,
    /// How far it got, from 0 to 1.
    pub completeness: f64,
}

impl Progress {
    fn of(record: &JobRecord) -> Self {
        Progress {
            uuid: record.uuid,
            job_type: record.job_type.clone(),
            status: record.status,
            result_code: record.result_code,
            completeness: record.completeness,
        }
    }
}

/// Enqueues and follows typed jobs on a [`Backend`]. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Client {
    backend: Backend,
    wait_poll: Duration,
}

impl Client {
    /// A client of `backend`: the handle a worker or server of this process may share,
    /// so that a wait wakes as soon as one of its runs ends.
    pub fn new(backend: Backend) -> Self {
        Client {
            backend,
            wait_poll: DEFAULT_WAIT_POLL,
        }
    }

    /// Connects to the store at `url` (see [`Backend::connect`]; `ZEROG_STORE`'s
    /// default is [`DEFAULT_STORE_URL`](crate::backend::DEFAULT_STORE_URL)).
    ///
    /// # Errors
    ///
    /// The connection's error, as [`ClientError::Backend`].
    ///
    /// # Cancel safety
    ///
    /// As [`Backend::connect`].
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        Ok(Client::new(Backend::connect(url).await?))
    }

    /// Connects to the store and queue that `ZEROG_STORE` and `ZEROG_QUEUE` name, as
    /// the binary's roles do: by default, the SQLite file
    /// [`DEFAULT_STORE_URL`](crate::backend::DEFAULT_STORE_URL), which is also the
    /// queue.
    ///
    /// # Errors
    ///
    /// As [`Backend::connect_split`], as [`ClientError::Backend`].
    ///
    /// # Cancel safety
    ///
    /// As [`Backend::connect_split`].
    pub async fn from_env() -> Result<Self, ClientError> {
        let store = std::env::var("ZEROG_STORE")
            .unwrap_or_else(|_| crate::backend::DEFAULT_STORE_URL.to_owned());
        let queue = std::env::var("ZEROG_QUEUE").ok();
        let backend = Backend::connect_split(&store, queue.as_deref()).await?;
        Ok(Client::new(backend))
    }

    /// Sets how often [`wait`](Self::wait) reads the job's record, between the
    /// wake-ups of this process's own runs (at least 10 ms).
    pub fn wait_poll(mut self, interval: Duration) -> Self {
        self.wait_poll = interval.max(Duration::from_millis(10));
        self
    }

    /// The backend it enqueues on.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Validates `job` as a POST of its fields is validated, and enqueues it to run
    /// now; its uuid (for a duplicate of a unique job, the holder's).
    ///
    /// # Errors
    ///
    /// [`ClientError::Validation`] with every violation, or the store's error.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`](crate::backend::Store::insert): the job is stored whole
    /// or not at all, and a dropped call cannot tell which.
    pub async fn enqueue<T: Job>(&self, job: T) -> Result<Uuid, ClientError> {
        Ok(self.enqueue_with(job, EnqueueOptions::new()).await?.uuid())
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
    pub async fn enqueue_at<T: Job>(&self, job: T, at: DateTime<Utc>) -> Result<Uuid, ClientError> {
        let options = EnqueueOptions::new().run_at(at);
        Ok(self.enqueue_with(job, options).await?.uuid())
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
    pub async fn enqueue_after<T: Job>(
        &self,
        job: T,
        delay: Duration,
    ) -> Result<Uuid, ClientError> {
        let options = EnqueueOptions::new().run_after(delay);
        Ok(self.enqueue_with(job, options).await?.uuid())
    }

    /// As [`enqueue`](Self::enqueue), starting as `options` say; whether a job was
    /// created, or one of a type with `unique_for` holds the same parameters.
    ///
    /// # Errors
    ///
    /// [`ClientError::Validation`], [`ClientError::BadRunAt`] for a start more than
    /// [`MAX_DELAY`] ahead, [`ClientError::BadPriority`], or the store's error.
    ///
    /// # Cancel safety
    ///
    /// As [`enqueue`](Self::enqueue).
    pub async fn enqueue_with<T: Job>(
        &self,
        job: T,
        options: EnqueueOptions,
    ) -> Result<Enqueued, ClientError> {
        let mut answers = self.enqueue_many_with([job], options).await?;
        Ok(answers.remove(0))
    }

    /// Validates every job and enqueues them all, to run now, in one write of the
    /// store (one transaction or script where the backend allows); their uuids, in
    /// order. One invalid job enqueues none. For a type with `unique_for`, each job
    /// is written on its own, and a duplicate's uuid is that of the job it stands for.
    ///
    /// # Errors
    ///
    /// [`ClientError::Validation`] for the first invalid job, with its index, or the
    /// store's error.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`](crate::backend::Store::insert).
    pub async fn enqueue_many<T: Job>(
        &self,
        jobs: impl IntoIterator<Item = T>,
    ) -> Result<Vec<Uuid>, ClientError> {
        let answers = self.enqueue_many_with(jobs, EnqueueOptions::new()).await?;
        Ok(answers.into_iter().map(Enqueued::uuid).collect())
    }

    /// As [`enqueue_many`](Self::enqueue_many), starting as `options` say.
    ///
    /// # Errors
    ///
    /// As [`enqueue_many`](Self::enqueue_many), and those of
    /// [`enqueue_with`](Self::enqueue_with).
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`](crate::backend::Store::insert).
    pub async fn enqueue_many_with<T: Job>(
        &self,
        jobs: impl IntoIterator<Item = T>,
        options: EnqueueOptions,
    ) -> Result<Vec<Enqueued>, ClientError> {
        let run_at = options.due_at(Utc::now())?;
        let records = records(jobs, &options)?;
        let answers = self
            .backend
            .enqueue_of_type(&T::SPEC, &records, run_at)
            .await?;
        Ok(records.iter().zip(answers).map(enqueued).collect())
    }

    /// Validates `job` and enqueues it to run now inside `transaction`, the caller's
    /// own transaction on the store's database: the job exists only if it commits.
    ///
    /// ```no_run
    /// # use schemars::JsonSchema;
    /// # use serde::{Deserialize, Serialize};
    /// # use zerog::{Job, JobContext, JobError, Outcome};
    /// # /// Sends a mail.
    /// # #[derive(Job, Serialize, Deserialize, JsonSchema)]
    /// # #[job(type = "mail")]
    /// # pub struct Mail { pub to: String }
    /// # impl zerog::Run for Mail {
    /// #     async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> { Ok(Outcome::done(200)) }
    /// # }
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use zerog::sqlx;
    ///
    /// let client = zerog::Client::connect("sqlite://app.db").await?;
    /// let pool = sqlx::SqlitePool::connect("sqlite://app.db").await?; // the app's own
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("INSERT INTO users (email) VALUES ('ada@example.com')")
    ///     .execute(&mut *tx)
    ///     .await?;
    /// client.enqueue_in(&mut tx, Mail { to: "ada@example.com".into() }).await?;
    /// tx.commit().await?; // the user and the mail, or neither
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ClientError::NotTransactional`] when the client's store is not the database
    /// of `transaction` serving as its own queue; otherwise as
    /// [`enqueue_with`](Self::enqueue_with).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped call leaves the transaction to be rolled back by its
    /// owner.
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    pub async fn enqueue_in<T: Job, X: Transaction + ?Sized>(
        &self,
        transaction: &mut X,
        job: T,
    ) -> Result<Uuid, ClientError> {
        let enqueued = self
            .enqueue_in_with(transaction, job, EnqueueOptions::new())
            .await?;
        Ok(enqueued.uuid())
    }

    /// As [`enqueue_in`](Self::enqueue_in), starting as `options` say; a type with
    /// `unique_for` takes its key in the transaction too.
    ///
    /// # Errors
    ///
    /// As [`enqueue_in`](Self::enqueue_in).
    ///
    /// # Cancel safety
    ///
    /// As [`enqueue_in`](Self::enqueue_in).
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    pub async fn enqueue_in_with<T: Job, X: Transaction + ?Sized>(
        &self,
        transaction: &mut X,
        job: T,
        options: EnqueueOptions,
    ) -> Result<Enqueued, ClientError> {
        let now = Utc::now();
        let run_at = options.due_at(now)?;
        let mut records = records([job], &options)?;
        let record = records.remove(0);
        let accepted = lifecycle::accepted(&record, run_at, now);
        let unique = T::SPEC
            .unique_for
            .map(|window| UniqueKey::of(&record.job_type, &record.params, window, now));
        let job = NewJob {
            record: &accepted,
            cost: T::SPEC.cost,
            run_at,
        };
        let inserted = transaction
            .insert_job(self.backend.store(), &job, unique.as_ref())
            .await?;
        if inserted == Inserted::New && run_at <= now {
            // A hint only: the job is not visible until the caller commits.
            self.backend.notify_submitted();
        }
        Ok(enqueued((&record, inserted)))
    }

    /// The job's record: its log, attempts and timestamps, parameters and data.
    ///
    /// # Errors
    ///
    /// [`ClientError::UnknownJob`], or the store's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn info(&self, uuid: Uuid) -> Result<JobRecord, ClientError> {
        self.backend
            .get(uuid)
            .await?
            .ok_or(ClientError::UnknownJob(uuid))
    }

    /// The job's status and completeness.
    ///
    /// # Errors
    ///
    /// As [`info`](Self::info).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn progress(&self, uuid: Uuid) -> Result<Progress, ClientError> {
        Ok(Progress::of(&self.info(uuid).await?))
    }

    /// The data a finished job gave [`Outcome::done_with`](crate::Outcome::done_with),
    /// as a `T`; `None` when it finished with none.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotFinished`] while the job may still run,
    /// [`ClientError::Data`] when its data is not a `T`, or those of
    /// [`info`](Self::info).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn data_as<T: DeserializeOwned>(&self, uuid: Uuid) -> Result<Option<T>, ClientError> {
        data_of(self.info(uuid).await?)
    }

    /// Cancels the job: a queued or waiting one at once; a running one when `run`
    /// returns or reaches its next checkpoint (see [`Backend::cancel`]).
    ///
    /// # Errors
    ///
    /// [`ClientError::AlreadyFinished`], [`ClientError::UnknownJob`], or the store's
    /// error.
    ///
    /// # Cancel safety
    ///
    /// As [`Backend::cancel`].
    pub async fn cancel(&self, uuid: Uuid) -> Result<CancelOutcome, ClientError> {
        Ok(self.backend.cancel(uuid, false).await?)
    }

    /// Ends the job now, running or not, with the error 410 "Killed by user".
    ///
    /// # Errors
    ///
    /// As [`cancel`](Self::cancel).
    ///
    /// # Cancel safety
    ///
    /// As [`Backend::cancel`].
    pub async fn kill(&self, uuid: Uuid) -> Result<CancelOutcome, ClientError> {
        Ok(self.backend.cancel(uuid, true).await?)
    }

    /// Sends a failed or cancelled job back to the queue, its attempts reset and its
    /// log kept; the record as written.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotRetryable`], [`ClientError::UnknownJob`], or the store's
    /// error.
    ///
    /// # Cancel safety
    ///
    /// As [`Backend::retry`].
    pub async fn retry(&self, uuid: Uuid) -> Result<JobRecord, ClientError> {
        Ok(self.backend.retry(uuid).await?)
    }

    /// Waits until the job has finished (done, failed or cancelled), and gives its
    /// record. A run that ends in this process, through this client's backend or a
    /// clone of it, wakes the wait at once; others are seen at the next read, every
    /// [`wait_poll`](Self::wait_poll).
    ///
    /// # Errors
    ///
    /// As [`info`](Self::info): a job deleted while waited for is
    /// [`ClientError::UnknownJob`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads, so it can be raced against a deadline of the
    /// caller's (or see [`wait_for`](Self::wait_for)).
    pub async fn wait(&self, uuid: Uuid) -> Result<JobRecord, ClientError> {
        loop {
            let settled = self.backend.settled().notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let record = self.info(uuid).await?;
            if record.status.is_finished() {
                return Ok(record);
            }
            tokio::select! {
                () = settled => {}
                () = tokio::time::sleep(self.wait_poll) => {}
            }
        }
    }

    /// As [`wait`](Self::wait), for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`ClientError::Timeout`], with the job's status then, when it has not finished
    /// in time; otherwise as [`wait`](Self::wait).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`wait`](Self::wait).
    pub async fn wait_for(&self, uuid: Uuid, timeout: Duration) -> Result<JobRecord, ClientError> {
        match tokio::time::timeout(timeout, self.wait(uuid)).await {
            Ok(answer) => answer,
            Err(_) => Err(ClientError::Timeout {
                uuid,
                waited: timeout,
                status: self.info(uuid).await?.status,
            }),
        }
    }
}

/// A record of each job, validated as a POST of its fields is.
fn records<T: Job>(
    jobs: impl IntoIterator<Item = T>,
    options: &EnqueueOptions,
) -> Result<Vec<JobRecord>, ClientError> {
    let priority = match options.priority {
        Some(priority) if priority > crate::spec::LOWEST_PRIORITY => {
            return Err(ClientError::BadPriority(priority));
        }
        given => given.unwrap_or(T::SPEC.priority),
    };
    let job_type = JobType::of::<T>();
    jobs.into_iter()
        .enumerate()
        .map(|(index, job)| {
            let params = serde_json::to_value(&job).map_err(ClientError::Serialize)?;
            let params =
                job_type
                    .validate(&params)
                    .map_err(|violations| ClientError::Validation {
                        job_type: T::SPEC.job_type,
                        index,
                        violations,
                    })?;
            let mut record = JobRecord::new(&T::SPEC, params);
            record.priority = priority;
            Ok(record)
        })
        .collect()
}

fn enqueued((record, inserted): (&JobRecord, Inserted)) -> Enqueued {
    match inserted {
        Inserted::New => Enqueued::Created(record.uuid),
        Inserted::Duplicate(holder) => Enqueued::Duplicate(holder),
    }
}

/// The data of `record`, as a `T`.
fn data_of<T: DeserializeOwned>(record: JobRecord) -> Result<Option<T>, ClientError> {
    if !record.status.is_finished() {
        return Err(ClientError::NotFinished {
            uuid: record.uuid,
            status: record.status,
        });
    }
    if record.data.is_null() {
        return Ok(None);
    }
    serde_json::from_value(record.data)
        .map(Some)
        .map_err(|source| ClientError::Data {
            uuid: record.uuid,
            type_name: std::any::type_name::<T>(),
            source,
        })
}
