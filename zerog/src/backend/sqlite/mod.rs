//! The embedded SQLite backend: store and queue in one table, one file, no server.
//!
//! Each job is one row of `zerog_jobs`, holding the record as JSON next to the columns
//! that the queue needs (status, due time, cost, lease). An enqueue is one `INSERT`, and
//! every state change is one `UPDATE`, so the record and the queue entry always change
//! together. Several processes may share the file: the database runs in WAL mode, every
//! write is a single statement, and reservation is an `UPDATE ... RETURNING` that
//! SQLite serializes.

mod admin;
mod workers;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Executor, Row};
use uuid::Uuid;

use super::beanstalkd::DeliveryStore;
use super::{
    CancelOutcome, JobPage, Lease, ListQuery, Queue, Recovered, Reservation, ReserveRequest,
    RunSignal, Stats, Store, StoreError, WorkerCommand, WorkerInfo, due_millis,
};
use crate::record::{JobRecord, Status, timestamp};

/// Versioned schema migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("001_jobs.sql")),
    (2, include_str!("002_control.sql")),
];

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A store and queue in an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    pool: SqlitePool,
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

/// Whether `error` is SQLite's SQLITE_BUSY, "database is locked".
fn is_busy(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error) if error.code().as_deref() == Some("5"))
}

pub(super) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

pub(super) fn parse_record(uuid: Uuid, json: &str) -> Result<JobRecord, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt { uuid, source })
}

pub(super) fn to_json(record: &JobRecord) -> String {
    // A record holds only strings, numbers and JSON values, which always serialize.
    serde_json::to_string(record).expect("a job record serializes")
}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `url` and migrates it.
    ///
    /// `url` is `sqlite://PATH` (relative to the working directory), `sqlite:///ABS/PATH`
    /// or `sqlite::memory:`, which lives as long as the backend.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: every migration runs in its own transaction.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let memory = url.contains(":memory:");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::UnsupportedUrl(url.to_owned()))?
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let options = if memory {
            options
        } else {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        };
        // Every connection to `:memory:` is a database of its own, so it gets exactly one,
        // kept for the life of the pool.
        let pool_options = if memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(4)
        };
        // Processes that open a new file at once race to switch it to WAL, and SQLite
        // answers the loser "database is locked" at once, without waiting out the busy
        // timeout. Opening again finds WAL set; the migrations are applied once each.
        let give_up = tokio::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            let opened = async {
                let pool = pool_options.clone().connect_with(options.clone()).await?;
                let backend = SqliteBackend { pool };
                backend.migrate().await?;
                Ok::<_, sqlx::Error>(backend)
            };
            match opened.await {
                Err(error) if is_busy(&error) && tokio::time::Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                opened => return Ok(opened?),
            }
        }
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS zerog_migrations (
                version INTEGER PRIMARY KEY,
                applied_at TEXT NOT NULL
            )",
        )
        .await?;
        for &(version, sql) in MIGRATIONS {
            // IMMEDIATE takes the write lock first, so two processes starting on one file
            // cannot both apply the same migration.
            conn.execute("BEGIN IMMEDIATE").await?;
            let applied = sqlx::query("SELECT 1 FROM zerog_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *conn)
                .await;
            let result = match applied {
                Ok(Some(_)) => Ok(()),
                Ok(None) => apply(&mut conn, version, sql).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(()) => conn.execute("COMMIT").await.map(drop)?,
                Err(error) => {
                    conn.execute("ROLLBACK").await?;
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    async fn write_fenced(
        &self,
        lease: &Lease,
        record: &JobRecord,
        run_at: Option<DateTime<Utc>>,
        keep_lease: bool,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let lease_expires_at = keep_lease.then(|| millis(now + lease.duration));
        let sql = if keep_lease {
            "UPDATE zerog_jobs SET status = ?1, record = ?2, run_at = ?3, lease_expires_at = ?4,
                 updated_at = ?5
             WHERE uuid = ?6 AND lease_id = ?7"
        } else {
            "UPDATE zerog_jobs SET status = ?1, record = ?2, run_at = ?3, lease_expires_at = ?4,
                 updated_at = ?5, lease_id = NULL, worker_id = NULL,
                 finished_at = CASE WHEN ?1 IN ('done', 'failed', 'cancelled') THEN ?5 END
             WHERE uuid = ?6 AND lease_id = ?7"
        };
        let written = sqlx::query(sql)
            .bind(record.status.as_str())
            .bind(to_json(record))
            .bind(run_at.map(due_millis))
            .bind(lease_expires_at)
            .bind(millis(now))
            .bind(lease.uuid.to_string())
            .bind(lease.id.to_string())
            .execute(&self.pool)
            .await?;
        if written.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(lease.uuid));
        }
        Ok(())
    }
}

async fn apply(
    conn: &mut sqlx::SqliteConnection,
    version: i64,
    sql: &'static str,
) -> Result<(), sqlx::Error> {
    conn.execute(sql).await?;
    sqlx::query("INSERT INTO zerog_migrations (version, applied_at) VALUES (?, ?)")
        .bind(version)
        .bind(timestamp(Utc::now()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteBackend {
    async fn get(&self, uuid: Uuid) -> Result<Option<JobRecord>, StoreError> {
        let row = sqlx::query("SELECT record FROM zerog_jobs WHERE uuid = ?")
            .bind(uuid.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| parse_record(uuid, row.get::<&str, _>(0)))
            .transpose()
    }

    async fn save_progress(&self, lease: &Lease, record: &JobRecord) -> Result<(), StoreError> {
        self.write_fenced(lease, record, None, true).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.pool.acquire().await?.ping().await?;
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        admin::list(&self.pool, query).await
    }

    async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        admin::delete_finished(&self.pool, statuses, finished_before).await
    }

    async fn stats(&self) -> Result<Stats, StoreError> {
        admin::stats(&self.pool).await
    }

    async fn cancel(&self, uuid: Uuid, kill: bool) -> Result<CancelOutcome, StoreError> {
        admin::cancel(&self.pool, uuid, kill).await
    }

    async fn run_signal(&self, lease: &Lease) -> Result<RunSignal, StoreError> {
        admin::run_signal(&self.pool, lease).await
    }

    async fn heartbeat_worker(
        &self,
        info: &WorkerInfo,
        ttl: Duration,
    ) -> Result<WorkerCommand, StoreError> {
        workers::heartbeat(&self.pool, info, ttl).await
    }

    async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        workers::list(&self.pool).await
    }

    async fn command_worker(&self, id: &str, command: WorkerCommand) -> Result<bool, StoreError> {
        workers::command(&self.pool, id, command).await
    }

    async fn remove_worker(&self, id: &str) -> Result<(), StoreError> {
        workers::remove(&self.pool, id).await
    }
}

#[async_trait]
impl Queue for SqliteBackend {
    async fn enqueue(
        &self,
        record: &JobRecord,
        cost: u32,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        insert_job(&self.pool, record, cost, run_at, millis(Utc::now())).await
    }

    /// One transaction for the whole batch: one commit (one WAL sync) instead of one
    /// per job, and all or nothing.
    async fn enqueue_many(
        &self,
        jobs: &[(JobRecord, u32)],
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = millis(Utc::now());
        let mut tx = self.pool.begin().await?;
        for (record, cost) in jobs {
            // On an error the transaction is dropped, which rolls the batch back.
            insert_job(&mut *tx, record, *cost, run_at, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn reserve(
        &self,
        request: &ReserveRequest<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        self.reserve_one(request, None).await
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
        admin::recover_expired(&self.pool, now).await
    }
}

/// Inserts a new, queued job; [`StoreError::Duplicate`] if its uuid is taken.
async fn insert_job<'e, E>(
    executor: E,
    record: &JobRecord,
    cost: u32,
    run_at: DateTime<Utc>,
    now: i64,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let inserted = sqlx::query(
        "INSERT INTO zerog_jobs
             (uuid, job_type, queue, status, cost, run_at, created_at, updated_at, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)
         ON CONFLICT (uuid) DO NOTHING",
    )
    .bind(record.uuid.to_string())
    .bind(&record.job_type)
    .bind(&record.queue)
    .bind(record.status.as_str())
    .bind(i64::from(cost))
    .bind(due_millis(run_at))
    .bind(now)
    .bind(to_json(record))
    .execute(executor)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::Duplicate(record.uuid));
    }
    Ok(())
}

#[async_trait]
impl DeliveryStore for SqliteBackend {
    async fn reserve_job(
        &self,
        uuid: Uuid,
        request: &ReserveRequest<'_>,
    ) -> Result<Option<Reservation>, StoreError> {
        self.reserve_one(request, Some(uuid)).await
    }
}

impl SqliteBackend {
    /// Takes the oldest due job that fits `request`, or only the job `only` if given.
    async fn reserve_one(
        &self,
        request: &ReserveRequest<'_>,
        only: Option<Uuid>,
    ) -> Result<Option<Reservation>, StoreError> {
        let now = Utc::now();
        let lease_id = Uuid::new_v4();
        let started_at = timestamp(now);
        // One statement: SQLite serializes writers, so two workers (or processes) can
        // never take the same row.
        let row = sqlx::query(
            "UPDATE zerog_jobs
             SET status = 'running', lease_id = ?1, worker_id = ?2, lease_expires_at = ?3,
                 run_at = NULL, updated_at = ?4,
                 record = json_set(record, '$.status', 'running', '$.startedAt', ?5,
                                   '$.updatedAt', ?5, '$.runAfter', NULL)
             WHERE seq = (
                 SELECT c.seq FROM zerog_jobs c
                 WHERE c.status IN ('queued', 'waiting') AND c.run_at <= ?4 AND c.cost <= ?6
                   AND c.queue IN (SELECT value FROM json_each(?7))
                   AND c.job_type IN (SELECT value FROM json_each(?8))
                   AND (?10 IS NULL OR c.uuid = ?10)
                   AND (json_extract(?9, '$.' || c.queue) IS NULL
                        OR (SELECT COUNT(*) FROM zerog_jobs r
                            WHERE r.queue = c.queue AND r.status = 'running')
                           < json_extract(?9, '$.' || c.queue))
                 ORDER BY c.run_at, c.seq
                 LIMIT 1)
             RETURNING uuid, cost, record",
        )
        .bind(lease_id.to_string())
        .bind(request.worker)
        .bind(millis(now + request.lease))
        .bind(millis(now))
        .bind(started_at)
        .bind(i64::from(request.max_cost))
        .bind(serde_json::to_string(request.queues).expect("strings serialize"))
        .bind(serde_json::to_string(request.job_types).expect("strings serialize"))
        .bind(serde_json::to_string(request.queue_limits).expect("a map of counts serializes"))
        .bind(only.map(|uuid| uuid.to_string()))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let uuid_text: &str = row.get(0);
        let uuid = Uuid::parse_str(uuid_text).map_err(|error| StoreError::Backend(error.into()))?;
        let cost: i64 = row.get(1);
        let record = parse_record(uuid, row.get::<&str, _>(2))?;
        debug_assert_eq!(record.status, Status::Running);
        Ok(Some(Reservation {
            record,
            lease: Lease {
                uuid,
                id: lease_id,
                worker: request.worker.to_owned(),
                duration: request.lease,
            },
            cost: u32::try_from(cost).unwrap_or(u32::MAX),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::tests::SPEC;

    fn batch(len: usize) -> Vec<(JobRecord, u32)> {
        (0..len)
            .map(|i| (JobRecord::new(&SPEC, serde_json::json!({ "i": i })), 1))
            .collect()
    }

    #[tokio::test]
    async fn enqueue_many_stores_every_job() {
        let backend = SqliteBackend::connect("sqlite::memory:").await.unwrap();
        let jobs = batch(3);
        backend.enqueue_many(&jobs, Utc::now()).await.unwrap();
        for (record, _) in &jobs {
            let stored = backend.get(record.uuid).await.unwrap().expect("stored");
            assert_eq!(stored.status, Status::Queued);
            assert_eq!(stored.params, record.params);
        }
    }

    #[tokio::test]
    async fn enqueue_many_with_a_taken_uuid_stores_nothing() {
        let backend = SqliteBackend::connect("sqlite::memory:").await.unwrap();
        let mut jobs = batch(3);
        backend.enqueue(&jobs[2].0, 1, Utc::now()).await.unwrap();
        jobs[2].0.params = serde_json::json!({ "i": "again" });
        let error = backend.enqueue_many(&jobs, Utc::now()).await.unwrap_err();
        assert!(matches!(error, StoreError::Duplicate(uuid) if uuid == jobs[2].0.uuid));
        for (record, _) in &jobs[..2] {
            assert!(backend.get(record.uuid).await.unwrap().is_none());
        }
        let kept = backend.get(jobs[2].0.uuid).await.unwrap().unwrap();
        assert_eq!(kept.params, serde_json::json!({ "i": 2 }));
    }
}
