//! [`ClientError`]: every way a call of the [`Client`](super::Client) fails, as one
//! enum a caller can match.

use std::time::Duration;

use uuid::Uuid;

use super::options::TooFarAhead;
use crate::backend::StoreError;
use crate::record::Status;
use crate::validate::Violation;

/// Why a call of the client failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
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
    /// No job has this uuid (it never existed, or was deleted).
    #[error("no job has uuid {0}")]
    UnknownJob(Uuid),
    /// The job has finished, so it cannot be cancelled or killed.
    #[error("job {uuid} has finished already; it is {status}")]
    AlreadyFinished {
        /// The job.
        uuid: Uuid,
        /// How it finished.
        status: Status,
    },
    /// The job has not finished, so it has no data yet.
    #[error("job {uuid} has not finished; it is {status}")]
    NotFinished {
        /// The job.
        uuid: Uuid,
        /// Its status now.
        status: Status,
    },
    /// The job is neither failed nor cancelled, so it cannot be retried.
    #[error("job {uuid} is {status}; only failed or cancelled jobs can be retried")]
    NotRetryable {
        /// The job.
        uuid: Uuid,
        /// Its status now.
        status: Status,
    },
    /// The job's data is not a `T` of [`Client::data_as`](super::Client::data_as).
    #[error("the data of job {uuid} is not a `{type_name}`: {source}")]
    Data {
        /// The job.
        uuid: Uuid,
        /// The type asked for.
        type_name: &'static str,
        /// Why it does not deserialize.
        #[source]
        source: serde_json::Error,
    },
    /// The job did not finish within the wait's timeout.
    #[error("job {uuid} did not finish within {waited:?}; it is {status}")]
    Timeout {
        /// The job.
        uuid: Uuid,
        /// How long the wait lasted.
        waited: Duration,
        /// Its status when the wait gave up.
        status: Status,
    },
    /// The client's store cannot enqueue inside a transaction of this kind: only the
    /// PostgreSQL and SQLite stores can, each as its own queue, in a transaction of
    /// their own database.
    #[error(
        "this client's store cannot enqueue inside a {transaction} transaction: only a \
         {transaction} store that is its own queue can"
    )]
    NotTransactional {
        /// The kind of transaction given: `PostgreSQL` or `SQLite`.
        transaction: &'static str,
    },
    /// The backend refused the call, failed, or cannot be reached.
    #[error(transparent)]
    Backend(StoreError),
}

impl From<StoreError> for ClientError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(uuid) => ClientError::UnknownJob(uuid),
            StoreError::AlreadyFinished { uuid, status } => {
                ClientError::AlreadyFinished { uuid, status }
            }
            StoreError::NotRetryable { uuid, status } => ClientError::NotRetryable { uuid, status },
            error => ClientError::Backend(error),
        }
    }
}

fn first(violations: &[Violation]) -> String {
    match violations.first() {
        Some(violation) => format!("`{}`: {}", violation.path, violation.message),
        None => "no detail".to_owned(),
    }
}
