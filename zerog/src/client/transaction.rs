//! [`Transaction`]: a database transaction of the caller's that a job can be enqueued
//! in ([`Client::enqueue_in`](super::Client::enqueue_in)), so that the job exists only
//! if the transaction commits.
//!
//! PostgreSQL and SQLite transactions (and bare connections, inside a `BEGIN` of the
//! caller's) qualify, on a client whose store is that database and is its own queue.
//! The transaction must be on the store's database: for PostgreSQL, any connection to
//! it (the tables are named with their schema); for SQLite, a connection to the same
//! file, such as one of [`SqliteBackend::pool`](crate::backend::SqliteBackend::pool).
//!
//! A PostgreSQL job wakes workers in every process when the transaction commits
//! (`NOTIFY` is transactional); an SQLite job is found at the workers' next poll.

use async_trait::async_trait;

use super::ClientError;
use crate::backend::{Inserted, NewJob, Store, UniqueKey};

mod sealed {
    pub trait Sealed {}
}

/// A transaction, or a connection in one, that a job can be enqueued in. Sealed: it
/// is implemented for sqlx's PostgreSQL and SQLite transactions and connections.
#[async_trait]
pub trait Transaction: sealed::Sealed + Send {
    /// Writes `job` (under `unique`, if given) in this transaction, on `store`'s
    /// tables.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped write leaves the transaction to be rolled back by its
    /// owner.
    #[doc(hidden)]
    async fn insert_job(
        &mut self,
        store: &dyn Store,
        job: &NewJob<'_>,
        unique: Option<&UniqueKey>,
    ) -> Result<Inserted, ClientError>;
}

/// The impls for one database: its connection, and its transactions through it.
macro_rules! transactional {
    ($feature:literal, $module:ident, $connection:ident, $database:ident, $kind:literal, $as_backend:ident) => {
        #[cfg(feature = $feature)]
        mod $module {
            use sqlx::{$connection, $database};

            use super::*;

            impl sealed::Sealed for $connection {}
            impl sealed::Sealed for sqlx::Transaction<'_, $database> {}

            #[async_trait]
            impl Transaction for $connection {
                async fn insert_job(
                    &mut self,
                    store: &dyn Store,
                    job: &NewJob<'_>,
                    unique: Option<&UniqueKey>,
                ) -> Result<Inserted, ClientError> {
                    let backend = store
                        .$as_backend()
                        .ok_or(ClientError::NotTransactional { transaction: $kind })?;
                    Ok(backend.insert_in(self, job, unique).await?)
                }
            }

            #[async_trait]
            impl Transaction for sqlx::Transaction<'_, $database> {
                async fn insert_job(
                    &mut self,
                    store: &dyn Store,
                    job: &NewJob<'_>,
                    unique: Option<&UniqueKey>,
                ) -> Result<Inserted, ClientError> {
                    (**self).insert_job(store, job, unique).await
                }
            }
        }
    };
}

transactional!(
    "postgres",
    postgres,
    PgConnection,
    Postgres,
    "PostgreSQL",
    as_postgres
);
transactional!(
    "sqlite",
    sqlite,
    SqliteConnection,
    Sqlite,
    "SQLite",
    as_sqlite
);
