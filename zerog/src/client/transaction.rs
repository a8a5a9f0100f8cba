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

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::{PgConnection, Postgres};

    use super::*;

    const KIND: &str = "PostgreSQL";

    async fn insert(
        conn: &mut PgConnection,
        store: &dyn Store,
        job: &NewJob<'_>,
        unique: Option<&UniqueKey>,
    ) -> Result<Inserted, ClientError> {
        let backend = store
            .as_postgres()
            .ok_or(ClientError::NotTransactional { transaction: KIND })?;
        Ok(backend.insert_in(conn, job, unique).await?)
    }

    impl sealed::Sealed for PgConnection {}
    impl sealed::Sealed for sqlx::Transaction<'_, Postgres> {}

    #[async_trait]
    impl Transaction for PgConnection {
        async fn insert_job(
            &mut self,
            store: &dyn Store,
            job: &NewJob<'_>,
            unique: Option<&UniqueKey>,
        ) -> Result<Inserted, ClientError> {
            insert(self, store, job, unique).await
        }
    }

    #[async_trait]
    impl Transaction for sqlx::Transaction<'_, Postgres> {
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

#[cfg(feature = "sqlite")]
mod sqlite {
    use sqlx::{Sqlite, SqliteConnection};

    use super::*;

    const KIND: &str = "SQLite";

    async fn insert(
        conn: &mut SqliteConnection,
        store: &dyn Store,
        job: &NewJob<'_>,
        unique: Option<&UniqueKey>,
    ) -> Result<Inserted, ClientError> {
        let backend = store
            .as_sqlite()
            .ok_or(ClientError::NotTransactional { transaction: KIND })?;
        Ok(backend.insert_in(conn, job, unique).await?)
    }

    impl sealed::Sealed for SqliteConnection {}
    impl sealed::Sealed for sqlx::Transaction<'_, Sqlite> {}

    #[async_trait]
    impl Transaction for SqliteConnection {
        async fn insert_job(
            &mut self,
            store: &dyn Store,
            job: &NewJob<'_>,
            unique: Option<&UniqueKey>,
        ) -> Result<Inserted, ClientError> {
            insert(self, store, job, unique).await
        }
    }

    #[async_trait]
    impl Transaction for sqlx::Transaction<'_, Sqlite> {
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
