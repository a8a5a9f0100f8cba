//! The PostgreSQL backend: store and queue in one table, for many workers on many
//! hosts.
//!
//! Each job is one row of `zerog_jobs` in the backend's schema, holding the record as
//! JSONB next to the columns the queue works on, as in SQLite. Workers reserve with
//! `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other
//! and never take the same job; [`Queue::reserve_many`] takes a whole batch in one
//! statement. Every enqueue and release sends a `NOTIFY`, and idle workers `LISTEN`,
//! so a job submitted in one process wakes the workers of every other one within
//! milliseconds; if the listening connection is down, workers fall back to polling.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zerog::backend::StoreError> {
//! use zerog::backend::PostgresBackend;
//!
//! // The tables live in the schema `tenant_a`, created on first use.
//! let backend =
//!     PostgresBackend::connect("postgres://zerog@db.internal/jobs?schema=tenant_a").await?;
//! # Ok(()) }
//! ```
//!
//! # URL parameters
//!
//! Besides what the driver understands (`sslmode`, `application_name`, ...):
//! - `schema`: where the tables live (default `public`), `[a-z_][a-z0-9_]*`. It is
//!   created if missing, and migrated on start; tenants and tests isolate themselves
//!   with one schema each.
//! - `max_connections`: the size of the connection pool (default 10).
//! - `acquire_timeout_ms`: how long a statement waits for a connection before it fails
//!   (default 5000), which is how quickly an outage shows.
//!
//! # Transactional enqueue
//!
//! [`PostgresBackend::enqueue_in`] inserts a job on a connection the caller holds,
//! typically inside its own transaction: the job exists, and wakes workers, exactly
//! when that transaction commits (River's transactional enqueue).

mod admin;
mod listen;
mod reserve;
mod workers;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};
use uuid::Uuid;

use super::beanstalkd::DeliveryStore;
use super::{
    CancelOutcome, JobPage, Lease, ListQuery, Queue, Recovered, Reservation, ReserveRequest,
    RunSignal, Stats, Store, StoreError, WorkerCommand, WorkerInfo, is_plain_name, take_url_params,
};
use crate::record::{JobRecord, Status};

/// Versioned schema migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("001_jobs.sql"))];

/// The schema used when the URL names none.
pub const DEFAULT_SCHEMA: &str = "public";

const DEFAULT_MAX_CONNECTIONS: u32 = 10;
const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A store and queue in a PostgreSQL schema. Cloning is cheap: clones share the pool.
#[derive(Debug, Clone)]
pub struct PostgresBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    schema: String,
    /// `"schema".zerog_jobs`, for SQL that may run on a caller's connection.
    jobs: String,
    /// `"schema".zerog_workers`.
    workers: String,
    /// The `NOTIFY` channel of this schema.
    channel: String,
    wakeups: super::wakeups::Wakeups,
}

impl PostgresBackend {
    /// Connects to the database at `url`, creates the schema if needed and migrates it.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] for a URL or parameter that does not parse, or a
    /// schema name that is not `[a-z_][a-z0-9_]*`; otherwise the connection's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the migrations run in one transaction, which commits whole or not
    /// at all.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let bad_url = || StoreError::UnsupportedUrl(url.to_owned());
        let (driver_url, params) =
            take_url_params(url, &["schema", "max_connections", "acquire_timeout_ms"]);
        let schema = params
            .get("schema")
            .map_or(DEFAULT_SCHEMA, String::as_str)
            .to_owned();
        let max_connections = match params.get("max_connections") {
            Some(n) => n.parse().map_err(|_| bad_url())?,
            None => DEFAULT_MAX_CONNECTIONS,
        };
        let acquire_timeout = match params.get("acquire_timeout_ms") {
            Some(ms) => Duration::from_millis(ms.parse().map_err(|_| bad_url())?),
            None => DEFAULT_ACQUIRE_TIMEOUT,
        };
        let options = PgConnectOptions::from_str(&driver_url).map_err(|_| bad_url())?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(options.clone());
        Self::with_pool(pool, &schema, options).await
    }

    /// A backend on a pool the caller built, with its tables in `schema`; `options`
    /// open the extra connection that listens for wake-ups.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] if `schema` is not `[a-z_][a-z0-9_]*` (at most
    /// 48 bytes); otherwise the migration's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the migrations run in one transaction.
    pub async fn with_pool(
        pool: PgPool,
        schema: &str,
        options: PgConnectOptions,
    ) -> Result<Self, StoreError> {
        if !is_plain_name(schema) {
            return Err(StoreError::UnsupportedUrl(format!(
                "schema `{schema}` (expected [a-z_][a-z0-9_]*, at most 48 bytes)"
            )));
        }
        let channel = format!("zerog_{schema}");
        let backend = PostgresBackend {
            inner: Arc::new(Inner {
                jobs: format!("\"{schema}\".zerog_jobs"),
                workers: format!("\"{schema}\".zerog_workers"),
                wakeups: listen::wakeups(options, channel.clone()),
                channel,
                schema: schema.to_owned(),
                pool,
            }),
        };
        backend.migrate().await?;
        Ok(backend)
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The connection pool, for the caller's own queries and transactions.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Enqueues a new record on `conn`, which is typically the caller's open
    /// transaction (`&mut *tx`): the job becomes visible to workers, and wakes them,
    /// only when that transaction commits, and vanishes if it rolls back.
    ///
    /// ```no_run
    /// # async fn demo(backend: zerog::backend::PostgresBackend, record: zerog::JobRecord)
    /// # -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = backend.pool().begin().await?;
    /// sqlx::query("UPDATE accounts SET state = 'billing' WHERE id = 7")
    ///     .execute(&mut *tx)
    ///     .await?;
    /// backend.enqueue_in(&mut tx, &record, 1, chrono::Utc::now()).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] if the uuid is taken (by a committed job, or one
    /// inserted earlier in the same transaction).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe within a transaction: a dropped statement leaves the transaction to
    /// be rolled back by its owner. On a bare connection, as [`Queue::enqueue`].
    pub async fn enqueue_in(
        &self,
        conn: &mut PgConnection,
        record: &JobRecord,
        cost: u32,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let row = sqlx::query(self.sql(
            "WITH inserted AS (
                 INSERT INTO {jobs}
                     (uuid, job_type, queue, status, cost, run_at, created_at, updated_at, record)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
                 ON CONFLICT (uuid) DO NOTHING
                 RETURNING queue)
             SELECT (SELECT count(*) FROM inserted),
                    (SELECT count(*) FROM (SELECT pg_notify($9, queue) FROM inserted
                                           WHERE $6 <= $7) AS woken)",
        ))
        .bind(record.uuid)
        .bind(&record.job_type)
        .bind(&record.queue)
        .bind(record.status.as_str())
        .bind(i32::try_from(cost).unwrap_or(i32::MAX))
        .bind(run_at)
        .bind(now)
        .bind(sqlx::types::Json(record))
        .bind(&self.inner.channel)
        .fetch_one(conn)
        .await?;
        if row.get::<i64, _>(0) == 0 {
            return Err(StoreError::Duplicate(record.uuid));
        }
        Ok(())
    }

    /// Stores and queues `jobs` in one statement of one transaction, all or none, with
    /// one `NOTIFY` per queue.
    async fn insert_batch(
        &self,
        jobs: &[(JobRecord, u32)],
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut tx = self.inner.pool.begin().await?;
        let row = sqlx::query(self.sql(
            "WITH batch AS (
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                                      $5::int[], $6::jsonb[])
                     AS b(uuid, job_type, queue, status, cost, record)),
             inserted AS (
                 INSERT INTO {jobs}
                     (uuid, job_type, queue, status, cost, run_at, created_at, updated_at, record)
                 SELECT uuid, job_type, queue, status, cost, $7, $8, $8, record FROM batch
                 ON CONFLICT (uuid) DO NOTHING
                 RETURNING queue)
             SELECT (SELECT count(*) FROM inserted),
                    (SELECT count(*) FROM (SELECT pg_notify($9, queue)
                                           FROM (SELECT DISTINCT queue FROM inserted) AS q
                                           WHERE $7 <= $8) AS woken)",
        ))
        .bind(
            jobs.iter()
                .map(|(record, _)| record.uuid)
                .collect::<Vec<_>>(),
        )
        .bind(
            jobs.iter()
                .map(|(record, _)| record.job_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            jobs.iter()
                .map(|(record, _)| record.queue.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            jobs.iter()
                .map(|(record, _)| record.status.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            jobs.iter()
                .map(|&(_, cost)| i32::try_from(cost).unwrap_or(i32::MAX))
                .collect::<Vec<_>>(),
        )
        .bind(
            jobs.iter()
                .map(|(record, _)| sqlx::types::Json(record))
                .collect::<Vec<_>>(),
        )
        .bind(run_at)
        .bind(now)
        .bind(&self.inner.channel)
        .fetch_one(&mut *tx)
        .await?;
        if usize::try_from(row.get::<i64, _>(0)).ok() == Some(jobs.len()) {
            tx.commit().await?;
            return Ok(());
        }
        // Some uuid is taken, by a stored job or twice in the batch: roll back (by
        // dropping the transaction) and name one.
        drop(tx);
        let mut seen = std::collections::HashSet::new();
        if let Some((record, _)) = jobs.iter().find(|(record, _)| !seen.insert(record.uuid)) {
            return Err(StoreError::Duplicate(record.uuid));
        }
        let uuids: Vec<Uuid> = jobs.iter().map(|(record, _)| record.uuid).collect();
        let taken: Option<Uuid> =
            sqlx::query_scalar(self.sql("SELECT uuid FROM {jobs} WHERE uuid = ANY($1) LIMIT 1"))
                .bind(&uuids)
                .fetch_optional(&self.inner.pool)
                .await?;
        Err(StoreError::Duplicate(taken.unwrap_or(uuids[0])))
    }

    /// Drops the backend's schema with every job in it: for tests and for removing a
    /// tenant. The backend is unusable afterwards.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the drop is one statement.
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.inner.schema);
        self.inner.pool.execute(AssertSqlSafe(sql)).await?;
        Ok(())
    }

    /// `sql` with `{jobs}` and `{workers}` replaced by the schema-qualified tables.
    fn sql(&self, sql: &'static str) -> AssertSqlSafe<String> {
        AssertSqlSafe(
            sql.replace("{jobs}", &self.inner.jobs)
                .replace("{workers}", &self.inner.workers),
        )
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let schema = &self.inner.schema;
        let mut conn = self.inner.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        // Two processes starting on a fresh schema: the second waits here for the first.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("zerog migrate {schema}"))
            .execute(&mut *tx)
            .await?;
        tx.execute(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .await?;
        tx.execute(AssertSqlSafe(format!(
            "SET LOCAL search_path TO \"{schema}\""
        )))
        .await?;
        tx.execute(
            "CREATE TABLE IF NOT EXISTS zerog_migrations (
                version BIGINT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL
            )",
        )
        .await?;
        for &(version, sql) in MIGRATIONS {
            let applied = sqlx::query("SELECT 1 FROM zerog_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if applied.is_none() {
                tx.execute(sql).await?;
                sqlx::query("INSERT INTO zerog_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(version)
                    .bind(Utc::now())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a run's record if `lease` is still the job's; `keep_lease` renews it,
    /// otherwise the run ends and the job is queued again from `run_at` or finished.
    async fn write_fenced(
        &self,
        lease: &Lease,
        record: &JobRecord,
        run_at: Option<DateTime<Utc>>,
        keep_lease: bool,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let sql = if keep_lease {
            "UPDATE {jobs} SET status = $1, record = $2, lease_expires_at = $3, updated_at = $4
             WHERE uuid = $5 AND lease_id = $6"
        } else {
            "UPDATE {jobs} SET status = $1, record = $2, run_at = $7, lease_expires_at = NULL,
                 updated_at = $4, lease_id = NULL, worker_id = NULL,
                 finished_at = CASE WHEN $1 IN ('done', 'failed', 'cancelled') THEN $4 END
             WHERE uuid = $5 AND lease_id = $6"
        };
        let written = sqlx::query(self.sql(sql))
            .bind(record.status.as_str())
            .bind(sqlx::types::Json(record))
            .bind(now + lease.duration)
            .bind(now)
            .bind(lease.uuid)
            .bind(lease.id)
            .bind(run_at)
            .execute(&self.inner.pool)
            .await?;
        if written.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(lease.uuid));
        }
        if !keep_lease && run_at.is_some_and(|at| at <= now) {
            self.wake(&record.queue).await;
        }
        Ok(())
    }

    /// Tells listening workers that a job of `queue` is due. Best effort: a lost
    /// notification costs one poll interval, not a job.
    async fn wake(&self, queue: &str) {
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.inner.channel)
            .bind(queue)
            .execute(&self.inner.pool)
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "could not notify workers");
        }
    }
}

#[async_trait]
impl Store for PostgresBackend {
    async fn get(&self, uuid: Uuid) -> Result<Option<JobRecord>, StoreError> {
        let row = sqlx::query(self.sql("SELECT record FROM {jobs} WHERE uuid = $1"))
            .bind(uuid)
            .fetch_optional(&self.inner.pool)
            .await?;
        row.map(|row| admin::decode_record(uuid, &row, 0))
            .transpose()
    }

    async fn save_progress(&self, lease: &Lease, record: &JobRecord) -> Result<(), StoreError> {
        self.write_fenced(lease, record, None, true).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.pool.acquire().await?.ping().await?;
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        admin::list(self, query).await
    }

    async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        admin::delete_finished(self, statuses, finished_before).await
    }

    async fn stats(&self) -> Result<Stats, StoreError> {
        admin::stats(self).await
    }

    async fn cancel(&self, uuid: Uuid, kill: bool) -> Result<CancelOutcome, StoreError> {
        admin::cancel(self, uuid, kill).await
    }

    async fn run_signal(&self, lease: &Lease) -> Result<RunSignal, StoreError> {
        let row = sqlx::query(
            self.sql("SELECT cancel_requested FROM {jobs} WHERE uuid = $1 AND lease_id = $2"),
        )
        .bind(lease.uuid)
        .bind(lease.id)
        .fetch_optional(&self.inner.pool)
        .await?
        .ok_or(StoreError::LeaseLost(lease.uuid))?;
        Ok(if row.get::<bool, _>(0) {
            RunSignal::Cancel
        } else {
            RunSignal::Continue
        })
    }

    async fn heartbeat_worker(
        &self,
        info: &WorkerInfo,
        ttl: Duration,
    ) -> Result<WorkerCommand, StoreError> {
        workers::heartbeat(self, info, ttl).await
    }

    async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        workers::list(self).await
    }

    async fn command_worker(&self, id: &str, command: WorkerCommand) -> Result<bool, StoreError> {
        workers::command(self, id, command).await
    }

    async fn remove_worker(&self, id: &str) -> Result<(), StoreError> {
        workers::remove(self, id).await
    }
}

#[async_trait]
impl Queue for PostgresBackend {
    async fn enqueue(
        &self,
        record: &JobRecord,
        cost: u32,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.inner.pool.acquire().await?;
        self.enqueue_in(&mut conn, record, cost, run_at).await
    }

    async fn enqueue_many(
        &self,
        jobs: &[(JobRecord, u32)],
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.insert_batch(jobs, run_at).await
    }

    async fn reserve(
        &self,
        request: &ReserveRequest<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        Ok(reserve::reserve(self, request, 1, None).await?.pop())
    }

    async fn reserve_many(
        &self,
        request: &ReserveRequest<'_>,
        max_jobs: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        reserve::reserve(self, request, max_jobs, None).await
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        self.inner.wakeups.wait(timeout).await;
    }

    async fn ack(&self, lease: &Lease, record: &JobRecord) -> Result<(), StoreError> {
        self.write_fenced(lease, record, None, false).await
    }

    async fn release_after(
        &self,
        lease: &Lease,
        record: &JobRecord,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write_fenced(lease, record, Some(run_at), false).await
    }

    async fn recover_expired(&self, now: DateTime<Utc>) -> Result<Recovered, StoreError> {
        admin::recover_expired(self, now).await
    }
}

#[async_trait]
impl DeliveryStore for PostgresBackend {
    async fn reserve_job(
        &self,
        uuid: Uuid,
        request: &ReserveRequest<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        Ok(reserve::reserve(self, request, 1, Some(uuid)).await?.pop())
    }
}
