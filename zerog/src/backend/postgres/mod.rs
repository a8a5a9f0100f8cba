//! The PostgreSQL backend: store and queue in one table, for many workers on many
//! hosts.
//!
//! Each job is one row of `zerog_jobs` in the backend's schema, holding the record as
//! JSONB next to the columns the queue works on, as in SQLite. Workers reserve with
//! `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other
//! and never take the same job; [`Store::reserve`] takes a whole batch in one
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
mod analyze;
mod insert;
mod listen;
mod reserve;
mod schedules;
mod workers;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use insert::jsonb;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};
use uuid::Uuid;

use super::{
    Change, Fence, Fire, Inserted, Lease, ListQuery, Listed, NewJob, Overview, PutSchedule,
    Reservation, ReserveRequest, RunSignal, Stats, Store, StoreError, Stored, UniqueKey,
    WorkerCommand, WorkerInfo, Write, WriteOutcome, bad_url, is_plain_name, redact_url,
    take_url_params,
};
use crate::lifecycle::Next;
use crate::record::Status;
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

/// Why `schema` cannot name the backend's schema.
fn schema_reason(schema: &str) -> String {
    format!("the parameter `schema` must be [a-z_][a-z0-9_]*, at most 48 bytes, not `{schema}`")
}

/// Versioned schema migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("001_jobs.sql")),
    (2, include_str!("002_revision.sql")),
    (3, include_str!("003_health.sql")),
    (4, include_str!("004_queues.sql")),
    (5, include_str!("005_unique.sql")),
    (6, include_str!("006_schedules.sql")),
    (7, include_str!("007_priority.sql")),
    (8, include_str!("008_search.sql")),
    (9, include_str!("009_backlog.sql")),
];

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
    /// `"schema".zerog_schedules`.
    schedules: String,
    /// The `NOTIFY` channel of this schema.
    channel: String,
    wakeups: super::wakeups::Wakeups,
    /// When to analyze the jobs table.
    freshness: analyze::Freshness,
}

impl PostgresBackend {
    /// Connects to the database at `url`, creates the schema if needed and migrates it.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadUrl`] for a URL or parameter that does not parse, or a
    /// schema name that is not `[a-z_][a-z0-9_]*`; otherwise the connection's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the migrations run in one transaction, which commits whole or not
    /// at all.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (driver_url, params) =
            take_url_params(url, &["schema", "max_connections", "acquire_timeout_ms"]);
        let schema = params
            .get("schema")
            .map_or(DEFAULT_SCHEMA, String::as_str)
            .to_owned();
        if !is_plain_name(&schema) {
            return Err(bad_url(url, schema_reason(&schema)));
        }
        let max_connections: u32 = match params.get("max_connections") {
            Some(n) => n.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                bad_url(
                    url,
                    format!(
                        "the parameter `max_connections` must be a whole number from 1, not `{n}`"
                    ),
                )
            })?,
            None => DEFAULT_MAX_CONNECTIONS,
        };
        let acquire_timeout = match params.get("acquire_timeout_ms") {
            Some(ms) => Duration::from_millis(ms.parse().map_err(|_| {
                bad_url(
                    url,
                    format!("the parameter `acquire_timeout_ms` must be a whole number of milliseconds, not `{ms}`"),
                )
            })?),
            None => DEFAULT_ACQUIRE_TIMEOUT,
        };
        let options = PgConnectOptions::from_str(&driver_url).map_err(|error| {
            bad_url(
                url,
                format!("it does not parse: {}", redact_url(&error.to_string())),
            )
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(options.clone());
        Self::with_pool(pool, &schema, options).await
    }

    /// A backend on a pool the caller built, with its tables in `schema`; `options`
    /// open the extra connection that listens for wake-ups.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadUrl`] if `schema` is not `[a-z_][a-z0-9_]*` (at most
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
            return Err(StoreError::BadUrl {
                url: format!("postgres://...?schema={schema}"),
                reason: schema_reason(schema),
            });
        }
        let channel = format!("zerog_{schema}");
        let backend = PostgresBackend {
            inner: Arc::new(Inner {
                jobs: format!("\"{schema}\".zerog_jobs"),
                workers: format!("\"{schema}\".zerog_workers"),
                schedules: format!("\"{schema}\".zerog_schedules"),
                wakeups: listen::wakeups(options, channel.clone()),
                channel,
                schema: schema.to_owned(),
                pool,
                freshness: analyze::Freshness::new(),
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

    /// `sql` with `{jobs}`, `{workers}` and `{schedules}` replaced by the
    /// schema-qualified tables.
    fn sql(&self, sql: &'static str) -> AssertSqlSafe<String> {
        self.sql_with(sql, "")
    }

    /// [`Self::sql`] of a statement put together at run time from constant parts.
    fn sql_owned(&self, sql: String) -> AssertSqlSafe<String> {
        AssertSqlSafe(
            sql.replace("{jobs}", &self.inner.jobs)
                .replace("{workers}", &self.inner.workers)
                .replace("{schedules}", &self.inner.schedules),
        )
    }

    /// [`Self::sql`], with `{fence}` replaced by `fence`.
    fn sql_with(&self, sql: &'static str, fence: &'static str) -> AssertSqlSafe<String> {
        AssertSqlSafe(
            sql.replace("{fence}", fence)
                .replace("{jobs}", &self.inner.jobs)
                .replace("{workers}", &self.inner.workers)
                .replace(
                    "{unique}",
                    &format!("\"{}\".zerog_unique", self.inner.schema),
                )
                .replace("{schedules}", &self.inner.schedules),
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

/// A cost as the `INTEGER` column stores it; costs beyond it are stored as the largest,
/// which no worker has room for.
fn stored_cost(cost: u32) -> i32 {
    i32::try_from(cost).unwrap_or(i32::MAX)
}

/// Ends many runs in one statement, each fenced on its own lease: the worker's
/// completer writes its batches this way.
async fn settle_runs(
    backend: &PostgresBackend,
    writes: &[Write<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<WriteOutcome>, StoreError> {
    let mut uuids = Vec::with_capacity(writes.len());
    let mut leases = Vec::with_capacity(writes.len());
    let mut statuses = Vec::with_capacity(writes.len());
    let mut records = Vec::with_capacity(writes.len());
    let mut run_ats = Vec::with_capacity(writes.len());
    for write in writes {
        let (Fence::Lease(lease), Change::Settle(transition)) = (write.fence, write.change) else {
            unreachable!("only the ends of runs are written together");
        };
        uuids.push(write.uuid);
        leases.push(lease);
        statuses.push(transition.record.status.as_str());
        records.push(jsonb(&transition.record));
        run_ats.push(match transition.next {
            Next::RunAt(at) => Some(at),
            Next::Finished => None,
        });
    }
    let written: Vec<Uuid> = sqlx::query_scalar(backend.sql(
        "UPDATE {jobs} j
         SET status = b.status, record = b.record, run_at = b.run_at,
             finished_at = CASE WHEN b.run_at IS NULL THEN $6 END,
             lease_id = NULL, worker_id = NULL, lease_expires_at = NULL,
             updated_at = $6, revision = j.revision + 1
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::timestamptz[])
             AS b(uuid, lease, status, record, run_at)
         WHERE j.uuid = b.uuid AND j.lease_id = b.lease
         RETURNING j.uuid",
    ))
    .bind(&uuids)
    .bind(&leases)
    .bind(&statuses)
    .bind(&records)
    .bind(&run_ats)
    .bind(now)
    .fetch_all(&backend.inner.pool)
    .await?;
    let written: std::collections::HashSet<Uuid> = written.into_iter().collect();
    Ok(uuids
        .iter()
        .map(|uuid| {
            if written.contains(uuid) {
                WriteOutcome::Written
            } else {
                WriteOutcome::Refused
            }
        })
        .collect())
}

/// Applies one fenced write on `conn`.
async fn write_one(
    backend: &PostgresBackend,
    conn: &mut PgConnection,
    write: &Write<'_>,
    now: DateTime<Utc>,
) -> Result<WriteOutcome, StoreError> {
    let (lease, revision) = match write.fence {
        Fence::Lease(id) => (Some(id), None),
        Fence::Revision(revision) => (None, Some(revision)),
    };
    let fence = "uuid = $1 AND ($2::uuid IS NULL OR lease_id = $2)
                 AND ($3::bigint IS NULL OR revision = $3)";
    let written = match write.change {
        Change::Progress(record, until) => {
            sqlx::query(backend.sql_with(
                "UPDATE {jobs} SET record = $4, lease_expires_at = $5, updated_at = $6,
                     revision = revision + 1
                 WHERE status = 'running' AND {fence}",
                fence,
            ))
            .bind(write.uuid)
            .bind(lease)
            .bind(revision)
            .bind(jsonb(record))
            .bind(until)
            .bind(now)
            .execute(&mut *conn)
            .await?
        }
        Change::Settle(transition) => {
            let (run_at, finished_at) = match transition.next {
                Next::RunAt(at) => (Some(at), None),
                Next::Finished => (None, Some(now)),
            };
            sqlx::query(backend.sql_with(
                "UPDATE {jobs} SET status = $4, record = $5, run_at = $6, finished_at = $7,
                     lease_id = NULL, worker_id = NULL, lease_expires_at = NULL,
                     updated_at = $8, revision = revision + 1
                 WHERE {fence}",
                fence,
            ))
            .bind(write.uuid)
            .bind(lease)
            .bind(revision)
            .bind(transition.record.status.as_str())
            .bind(jsonb(&transition.record))
            .bind(run_at)
            .bind(finished_at)
            .bind(now)
            .execute(&mut *conn)
            .await?
        }
        Change::RequestCancel => {
            sqlx::query(backend.sql_with(
                "UPDATE {jobs} SET cancel_requested = TRUE, revision = revision + 1
                 WHERE status = 'running' AND {fence}",
                fence,
            ))
            .bind(write.uuid)
            .bind(lease)
            .bind(revision)
            .execute(&mut *conn)
            .await?
        }
    };
    Ok(if written.rows_affected() == 1 {
        WriteOutcome::Written
    } else {
        WriteOutcome::Refused
    })
}

#[async_trait]
impl Store for PostgresBackend {
    async fn insert(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        match jobs {
            [] => Ok(()),
            [job] => {
                let mut conn = self.inner.pool.acquire().await?;
                self.enqueue_in(&mut conn, job.record, job.cost, job.run_at)
                    .await
            }
            jobs => self.insert_batch(jobs).await,
        }
    }

    async fn insert_unique(
        &self,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError> {
        self.insert_unique_job(job, unique).await
    }

    fn as_postgres(&self) -> Option<&PostgresBackend> {
        Some(self)
    }

    async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Vec<Reservation>, StoreError> {
        reserve::reserve(self, request).await
    }

    async fn get(&self, uuid: Uuid) -> Result<Option<Stored>, StoreError> {
        let row = sqlx::query(self.sql("SELECT record, revision FROM {jobs} WHERE uuid = $1"))
            .bind(uuid)
            .fetch_optional(&self.inner.pool)
            .await?;
        row.map(|row| admin::decode_stored(uuid, &row, 0))
            .transpose()
    }

    /// One statement for one write; one transaction for several.
    async fn write(&self, writes: &[Write<'_>]) -> Result<Vec<WriteOutcome>, StoreError> {
        let now = Utc::now();
        let mut outcomes = Vec::with_capacity(writes.len());
        let ends_of_runs = writes.iter().all(|write| {
            matches!(
                (write.fence, write.change),
                (Fence::Lease(_), Change::Settle(_))
            )
        });
        if writes.len() > 1 && ends_of_runs {
            outcomes = settle_runs(self, writes, now).await?;
        } else if let [write] = writes {
            let mut conn = self.inner.pool.acquire().await?;
            outcomes.push(write_one(self, &mut conn, write, now).await?);
        } else {
            let mut tx = self.inner.pool.begin().await?;
            for write in writes {
                outcomes.push(write_one(self, &mut tx, write, now).await?);
            }
            tx.commit().await?;
        }
        let mut woken = std::collections::BTreeSet::new();
        for (write, outcome) in writes.iter().zip(&outcomes) {
            if let (Change::Settle(transition), WriteOutcome::Written) = (write.change, outcome)
                && matches!(transition.next, Next::RunAt(at) if at <= now)
                && woken.insert(transition.record.queue.as_str())
            {
                self.wake(&transition.record.queue).await;
            }
        }
        Ok(outcomes)
    }

    async fn signals(&self, leases: &[Lease]) -> Result<Vec<RunSignal>, StoreError> {
        let uuids: Vec<Uuid> = leases.iter().map(|lease| lease.uuid).collect();
        let rows = sqlx::query(
            self.sql("SELECT uuid, lease_id, cancel_requested FROM {jobs} WHERE uuid = ANY($1)"),
        )
        .bind(&uuids)
        .fetch_all(&self.inner.pool)
        .await?;
        let mut current = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let uuid: Uuid = row.try_get(0)?;
            let lease: Option<Uuid> = row.try_get(1)?;
            current.insert(uuid, (lease, row.try_get::<bool, _>(2)?));
        }
        Ok(leases
            .iter()
            .map(|lease| RunSignal::of(lease, current.get(&lease.uuid).copied()))
            .collect())
    }

    async fn expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Stored>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT record, revision, uuid FROM {jobs}
             WHERE status = 'running' AND lease_expires_at < $1
             ORDER BY lease_expires_at
             LIMIT $2",
        ))
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.inner.pool)
        .await?;
        rows.iter()
            .map(|row| admin::decode_stored(row.try_get(2)?, row, 0))
            .collect()
    }

    async fn list(
        &self,
        query: &ListQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Listed, StoreError> {
        admin::list(self, query, after, limit)
            .await
            .map(Listed::from)
    }

    async fn delete_if_finished(&self, uuid: Uuid) -> Result<bool, StoreError> {
        admin::delete_if_finished(self, uuid).await
    }

    async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        admin::delete_finished(self, statuses, finished_before).await
    }

    async fn stats(&self, cap: u64) -> Result<Stats, StoreError> {
        admin::stats(self, cap).await
    }

    async fn overview(&self, cap: u64, since: DateTime<Utc>) -> Result<Overview, StoreError> {
        admin::overview(self, cap, since).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO \"{}\".zerog_health (id, checked_at) VALUES (1, now())
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
            self.inner.schema
        );
        sqlx::query(AssertSqlSafe(sql))
            .execute(&self.inner.pool)
            .await?;
        Ok(())
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        self.inner.wakeups.wait(timeout).await;
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

    async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), StoreError> {
        let schema = &self.inner.schema;
        let sql = if paused {
            format!(
                "INSERT INTO \"{schema}\".zerog_paused_queues (queue, paused_at) VALUES ($1, now())
                 ON CONFLICT (queue) DO NOTHING"
            )
        } else {
            format!("DELETE FROM \"{schema}\".zerog_paused_queues WHERE queue = $1")
        };
        sqlx::query(AssertSqlSafe(sql))
            .bind(queue)
            .execute(&self.inner.pool)
            .await?;
        Ok(())
    }

    async fn paused_queues(&self) -> Result<BTreeSet<String>, StoreError> {
        let sql = format!(
            "SELECT queue FROM \"{}\".zerog_paused_queues",
            self.inner.schema
        );
        let queues = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&self.inner.pool)
            .await?;
        Ok(queues.into_iter().collect())
    }

    async fn put_schedule(
        &self,
        schedule: &Schedule,
        source: ScheduleSource,
        mode: PutSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.put_schedule_row(schedule, source, mode, now).await
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleState>, StoreError> {
        self.list_schedule_rows().await
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleState>, StoreError> {
        self.get_schedule_row(name).await
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        self.delete_schedule_row(name).await
    }

    async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.pause_schedule_row(name, paused, now).await
    }

    /// One transaction: the conditional move of the cursor, then the job's insert.
    async fn fire(&self, fire: &Fire<'_>) -> Result<bool, StoreError> {
        self.fire_tick(fire).await
    }
}
