//! The embedded SQLite backend: store and queue in one table, one file, no server.
//!
//! Each job is one row of `zerog_jobs`, holding the record as JSON next to the columns
//! that the queue needs (status, due time, cost, lease). An enqueue is one `INSERT`, and
//! every state change is one `UPDATE`, so the record and the queue entry always change
//! together. Several processes may share the file: the database runs in WAL mode, every
//! write is a single statement or one transaction, and reservation is an
//! `UPDATE ... RETURNING` that SQLite serializes.

mod admin;
mod reserve;
pub(crate) mod schedules;
mod workers;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Executor, Row};
use uuid::Uuid;

use super::{
    Change, Fence, Fire, Inserted, Lease, ListQuery, Listed, NewJob, Overview, PutSchedule,
    Reservation, ReserveRequest, RunSignal, Stats, Store, StoreError, Stored, UniqueKey,
    WorkerCommand, WorkerInfo, Write, WriteOutcome, due_millis, take_url_params,
};
use crate::lifecycle::Next;
use crate::record::{JobRecord, Status, timestamp};
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

/// Versioned schema migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("001_jobs.sql")),
    (2, include_str!("002_control.sql")),
    (3, include_str!("003_revision.sql")),
    (4, include_str!("004_health.sql")),
    (5, include_str!("005_queues.sql")),
    (6, include_str!("006_unique.sql")),
    (7, include_str!("007_schedules.sql")),
    (8, include_str!("008_priority.sql")),
    (9, include_str!("009_by_queue.sql")),
    (10, include_str!("010_backlog.sql")),
];

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A store and queue in an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    pool: SqlitePool,
    /// The database file, for a file database: `ping` checks that it is still there.
    file: Option<Arc<DatabaseFile>>,
}

/// The file a backend opened, and which file it was: SQLite goes on writing to a file
/// that was deleted or replaced under it, and its jobs are gone at the next start.
#[derive(Debug)]
struct DatabaseFile {
    path: PathBuf,
    identity: Option<FileIdentity>,
}

/// A file's device and inode, where the platform has them.
type FileIdentity = (u64, u64);

impl DatabaseFile {
    fn identity(metadata: &std::fs::Metadata) -> Option<FileIdentity> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some((metadata.dev(), metadata.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            None
        }
    }

    fn opened(path: &Path) -> std::io::Result<Self> {
        let path = std::fs::canonicalize(path)?;
        let identity = Self::identity(&std::fs::metadata(&path)?);
        Ok(DatabaseFile { path, identity })
    }

    /// An error if the file is gone or is another file now.
    fn check(&self) -> Result<(), StoreError> {
        let gone = |why: String| {
            StoreError::Backend(
                format!("the SQLite database `{}` {why}", self.path.display()).into(),
            )
        };
        let metadata =
            std::fs::metadata(&self.path).map_err(|error| gone(format!("is gone: {error}")))?;
        if Self::identity(&metadata) != self.identity {
            return Err(gone("was replaced by another file".to_owned()));
        }
        Ok(())
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
        // An empty path gives each pooled connection a private temporary database of
        // its own, of which only one is migrated: jobs would be accepted and lost.
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.split('?').next().unwrap_or_default().is_empty() {
            return Err(super::unsupported(url));
        }
        let (driver_url, params) = take_url_params(url, &["synchronous"]);
        // FULL syncs the WAL at every commit, so a job that got its 201 survives a power
        // loss; NORMAL, on request, may lose the last commits then, never corrupting.
        let synchronous = match params.get("synchronous").map(String::as_str) {
            None | Some("full") => SqliteSynchronous::Full,
            Some("normal") => SqliteSynchronous::Normal,
            Some(other) => {
                return Err(super::bad_url(
                    url,
                    format!(
                        "the parameter `synchronous` must be `full` or `normal`, not `{other}`"
                    ),
                ));
            }
        };
        let options = SqliteConnectOptions::from_str(&driver_url)
            .map_err(|error| super::bad_url(url, format!("it does not parse: {error}")))?
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let options = if memory {
            options
        } else {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
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
                let file = if memory {
                    None
                } else {
                    let file =
                        DatabaseFile::opened(options.get_filename()).map_err(sqlx::Error::Io)?;
                    Some(Arc::new(file))
                };
                let backend = SqliteBackend { pool, file };
                backend.migrate().await?;
                Ok::<_, sqlx::Error>(backend)
            };
            match opened.await {
                Err(error) if is_busy(&error) && tokio::time::Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                opened => {
                    // SQLite's own message ("unable to open database file") names no path.
                    return opened.map_err(|error| {
                        let path = path.split('?').next().unwrap_or_default();
                        StoreError::Backend(
                            format!("cannot open the SQLite database `{path}`: {error}").into(),
                        )
                    });
                }
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
    /// One statement for one job; one transaction for a batch: one commit (one WAL
    /// sync) instead of one per job, and all or nothing.
    async fn insert(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        let now = millis(Utc::now());
        if let [job] = jobs {
            return insert_job(&self.pool, job, now).await;
        }
        let mut tx = self.pool.begin().await?;
        for job in jobs {
            // On an error the transaction is dropped, which rolls the batch back.
            insert_job(&mut *tx, job, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_unique(
        &self,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.pool.begin().await?;
        // On an error, or a duplicate, the transaction is dropped: nothing is written.
        let inserted = insert_unique_in(&mut tx, job, unique).await?;
        if inserted == Inserted::New {
            tx.commit().await?;
        }
        Ok(inserted)
    }

    fn as_sqlite(&self) -> Option<&SqliteBackend> {
        Some(self)
    }

    async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Vec<Reservation>, StoreError> {
        reserve::reserve(self, request).await
    }

    async fn get(&self, uuid: Uuid) -> Result<Option<Stored>, StoreError> {
        let row = sqlx::query("SELECT record, revision FROM zerog_jobs WHERE uuid = ?")
            .bind(uuid.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| stored(uuid, &row, 0)).transpose()
    }

    /// One statement for one write; one transaction for several.
    async fn write(&self, writes: &[Write<'_>]) -> Result<Vec<WriteOutcome>, StoreError> {
        let now = Utc::now();
        if let [write] = writes {
            return Ok(vec![write_one(&self.pool, write, now).await?]);
        }
        let mut tx = self.pool.begin().await?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for write in writes {
            outcomes.push(write_one(&mut *tx, write, now).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn signals(&self, leases: &[Lease]) -> Result<Vec<RunSignal>, StoreError> {
        let uuids: Vec<String> = leases.iter().map(|lease| lease.uuid.to_string()).collect();
        let rows = sqlx::query(
            "SELECT uuid, lease_id, cancel_requested FROM zerog_jobs
             WHERE uuid IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(&uuids).expect("strings serialize"))
        .fetch_all(&self.pool)
        .await?;
        let mut current = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let lease = row
                .get::<Option<&str>, _>(1)
                .map(admin::parse_uuid)
                .transpose()?;
            current.insert(
                admin::parse_uuid(row.get(0))?,
                (lease, row.get::<i64, _>(2) != 0),
            );
        }
        Ok(leases
            .iter()
            .map(|lease| RunSignal::of(lease, current.get(&lease.uuid).copied()))
            .collect())
    }

    async fn expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Stored>, StoreError> {
        let rows = sqlx::query(
            "SELECT record, revision, uuid FROM zerog_jobs
             WHERE status = 'running' AND lease_expires_at < ?1
             ORDER BY lease_expires_at
             LIMIT ?2",
        )
        .bind(millis(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| stored(admin::parse_uuid(row.get(2))?, row, 0))
            .collect()
    }

    async fn list(
        &self,
        query: &ListQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Listed, StoreError> {
        admin::list(&self.pool, query, after, limit).await
    }

    async fn delete_if_finished(&self, uuid: Uuid) -> Result<bool, StoreError> {
        admin::delete_if_finished(&self.pool, uuid).await
    }

    async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        admin::delete_finished(&self.pool, statuses, finished_before).await
    }

    async fn stats(&self, cap: u64) -> Result<Stats, StoreError> {
        admin::stats(&self.pool, cap).await
    }

    async fn overview(&self, cap: u64, since: DateTime<Utc>) -> Result<Overview, StoreError> {
        admin::overview(&self.pool, cap, since).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if let Some(file) = &self.file {
            file.check()?;
        }
        sqlx::query(
            "INSERT INTO zerog_health (id, checked_at) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
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

    async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), StoreError> {
        let statement = if paused {
            sqlx::query(
                "INSERT INTO zerog_paused_queues (queue, paused_at) VALUES (?1, ?2)
                 ON CONFLICT (queue) DO NOTHING",
            )
            .bind(queue)
            .bind(millis(Utc::now()))
        } else {
            sqlx::query("DELETE FROM zerog_paused_queues WHERE queue = ?1").bind(queue)
        };
        statement.execute(&self.pool).await?;
        Ok(())
    }

    async fn paused_queues(&self) -> Result<BTreeSet<String>, StoreError> {
        let queues = sqlx::query_scalar("SELECT queue FROM zerog_paused_queues")
            .fetch_all(&self.pool)
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
        schedules::put(&self.pool, schedule, source, mode, now).await
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleState>, StoreError> {
        schedules::list(&self.pool).await
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleState>, StoreError> {
        schedules::get(&self.pool, name).await
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        schedules::delete(&self.pool, name).await
    }

    async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        schedules::pause(&self.pool, name, paused, now).await
    }

    /// One transaction: the conditional move of the cursor, then the job's insert.
    async fn fire(&self, fire: &Fire<'_>) -> Result<bool, StoreError> {
        schedules::fire(&self.pool, fire).await
    }
}

/// The record in column `index` and the revision after it.
fn stored(uuid: Uuid, row: &sqlx::sqlite::SqliteRow, index: usize) -> Result<Stored, StoreError> {
    Ok(Stored {
        record: parse_record(uuid, row.get::<&str, _>(index))?,
        revision: row.get(index + 1),
    })
}

/// Inserts a new, queued job; [`StoreError::Duplicate`] if its uuid is taken.
pub(super) async fn insert_job<'e, E>(
    executor: E,
    job: &NewJob<'_>,
    now: i64,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let record = job.record;
    let inserted = sqlx::query(
        "INSERT INTO zerog_jobs
             (uuid, job_type, queue, status, cost, run_at, created_at, updated_at, record,
              priority)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)
         ON CONFLICT (uuid) DO NOTHING",
    )
    .bind(record.uuid.to_string())
    .bind(&record.job_type)
    .bind(&record.queue)
    .bind(record.status.as_str())
    .bind(i64::from(job.cost))
    .bind(due_millis(job.run_at))
    .bind(now)
    .bind(to_json(record))
    .bind(i64::from(record.priority))
    .execute(executor)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::Duplicate(record.uuid));
    }
    Ok(())
}

/// Stores `job` under `unique` on `conn`, typically an open transaction, as
/// [`Store::insert_unique`] does: the key and the job are written when it commits.
async fn insert_unique_in(
    conn: &mut sqlx::SqliteConnection,
    job: &NewJob<'_>,
    unique: &UniqueKey,
) -> Result<Inserted, StoreError> {
    let now = millis(Utc::now());
    let taken = sqlx::query(
        "INSERT INTO zerog_unique (key, uuid, until) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET uuid = excluded.uuid, until = excluded.until
         WHERE zerog_unique.until <= ?4
            OR NOT EXISTS (SELECT 1 FROM zerog_jobs j
                           WHERE j.uuid = zerog_unique.uuid
                             AND j.status NOT IN ('failed', 'cancelled'))
         RETURNING uuid",
    )
    .bind(unique.key.to_string())
    .bind(job.record.uuid.to_string())
    .bind(millis(unique.until))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_none() {
        let holder: String = sqlx::query_scalar("SELECT uuid FROM zerog_unique WHERE key = ?1")
            .bind(unique.key.to_string())
            .fetch_one(&mut *conn)
            .await?;
        return Ok(Inserted::Duplicate(admin::parse_uuid(&holder)?));
    }
    insert_job(&mut *conn, job, now).await?;
    Ok(Inserted::New)
}

/// Applies one fenced write.
async fn write_one<'e, E>(
    executor: E,
    write: &Write<'_>,
    now: DateTime<Utc>,
) -> Result<WriteOutcome, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    // ?2 is the lease of a run's write, ?3 the revision of a decision: the other is
    // NULL, so one statement per change serves both fences.
    let (lease, revision) = match write.fence {
        Fence::Lease(id) => (Some(id.to_string()), None),
        Fence::Revision(revision) => (None, Some(revision)),
    };
    let query = match write.change {
        Change::Progress(record, until) => sqlx::query(
            "UPDATE zerog_jobs SET record = ?4, lease_expires_at = ?5, updated_at = ?6,
                 revision = revision + 1
             WHERE uuid = ?1 AND status = 'running'
               AND (?2 IS NULL OR lease_id = ?2) AND (?3 IS NULL OR revision = ?3)",
        )
        .bind(write.uuid.to_string())
        .bind(lease)
        .bind(revision)
        .bind(to_json(record))
        .bind(millis(until))
        .bind(millis(now)),
        Change::Settle(transition) => {
            let (run_at, finished_at) = match transition.next {
                Next::RunAt(at) => (Some(due_millis(at)), None),
                Next::Finished => (None, Some(millis(now))),
            };
            sqlx::query(
                "UPDATE zerog_jobs SET status = ?4, record = ?5, run_at = ?6, finished_at = ?7,
                     lease_id = NULL, worker_id = NULL, lease_expires_at = NULL,
                     updated_at = ?8, revision = revision + 1
                 WHERE uuid = ?1
                   AND (?2 IS NULL OR lease_id = ?2) AND (?3 IS NULL OR revision = ?3)",
            )
            .bind(write.uuid.to_string())
            .bind(lease)
            .bind(revision)
            .bind(transition.record.status.as_str())
            .bind(to_json(&transition.record))
            .bind(run_at)
            .bind(finished_at)
            .bind(millis(now))
        }
        Change::RequestCancel => sqlx::query(
            "UPDATE zerog_jobs SET cancel_requested = 1, revision = revision + 1
             WHERE uuid = ?1 AND status = 'running'
               AND (?2 IS NULL OR lease_id = ?2) AND (?3 IS NULL OR revision = ?3)",
        )
        .bind(write.uuid.to_string())
        .bind(lease)
        .bind(revision),
    };
    let written = query.execute(executor).await?;
    Ok(if written.rows_affected() == 1 {
        WriteOutcome::Written
    } else {
        WriteOutcome::Refused
    })
}

impl SqliteBackend {
    /// The connection pool, for the caller's own queries and transactions: a
    /// transaction begun on it may enqueue jobs
    /// ([`Client::enqueue_in`](crate::client::Client::enqueue_in)).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Stores `job` (under `unique`, if given) on `conn`, a connection of this
    /// database in the caller's open transaction: it is written when that commits.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped write leaves the transaction to be rolled back by its
    /// owner.
    pub(crate) async fn insert_in(
        &self,
        conn: &mut sqlx::SqliteConnection,
        job: &NewJob<'_>,
        unique: Option<&UniqueKey>,
    ) -> Result<Inserted, StoreError> {
        match unique {
            Some(unique) => insert_unique_in(conn, job, unique).await,
            None => {
                insert_job(conn, job, millis(Utc::now())).await?;
                Ok(Inserted::New)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tests::SPEC;

    fn batch(len: usize) -> Vec<JobRecord> {
        (0..len)
            .map(|i| JobRecord::new(&SPEC, serde_json::json!({ "i": i })))
            .collect()
    }

    fn new_jobs(records: &[JobRecord]) -> Vec<NewJob<'_>> {
        records
            .iter()
            .map(|record| NewJob {
                record,
                cost: 1,
                run_at: Utc::now(),
            })
            .collect()
    }

    #[tokio::test]
    async fn commits_sync_in_full_unless_the_url_asks_for_normal() {
        let dir = tempfile::tempdir().unwrap();
        for (query, expected) in [
            ("", 2),
            ("?synchronous=full", 2),
            ("?synchronous=normal", 1),
        ] {
            let url = format!(
                "sqlite://{}/s{}.db{query}",
                dir.path().display(),
                query.len()
            );
            let backend = SqliteBackend::connect(&url).await.unwrap();
            let mut conn = backend.pool.acquire().await.unwrap();
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(level, expected, "{url}");
        }
        let bad = format!("sqlite://{}/bad.db?synchronous=off", dir.path().display());
        let error = SqliteBackend::connect(&bad).await.unwrap_err().to_string();
        assert!(
            error.contains("the parameter `synchronous` must be `full` or `normal`"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_url_without_a_path_is_refused() {
        for url in [
            "sqlite://",
            "sqlite:",
            "sqlite://?mode=rwc",
            "sqlite:?mode=rwc",
        ] {
            let error = SqliteBackend::connect(url).await.unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, StoreError::UnsupportedUrl(_)),
                "{url}: {message}"
            );
            assert!(
                message.contains("sqlite://PATH") && message.contains("sqlite::memory:"),
                "{url}: {message}"
            );
        }
    }

    #[tokio::test]
    async fn enqueue_many_stores_every_job() {
        let backend = SqliteBackend::connect("sqlite::memory:").await.unwrap();
        let jobs = batch(3);
        backend.insert(&new_jobs(&jobs)).await.unwrap();
        for record in &jobs {
            let stored = backend.get(record.uuid).await.unwrap().expect("stored");
            assert_eq!(stored.record.status, Status::Queued);
            assert_eq!(stored.record.params, record.params);
        }
    }

    #[tokio::test]
    async fn enqueue_many_with_a_taken_uuid_stores_nothing() {
        let backend = SqliteBackend::connect("sqlite::memory:").await.unwrap();
        let mut jobs = batch(3);
        backend.insert(&new_jobs(&jobs[2..])).await.unwrap();
        jobs[2].params = serde_json::json!({ "i": "again" });
        let error = backend.insert(&new_jobs(&jobs)).await.unwrap_err();
        assert!(matches!(error, StoreError::Duplicate(uuid) if uuid == jobs[2].uuid));
        for record in &jobs[..2] {
            assert!(backend.get(record.uuid).await.unwrap().is_none());
        }
        let kept = backend.get(jobs[2].uuid).await.unwrap().unwrap();
        assert_eq!(kept.record.params, serde_json::json!({ "i": 2 }));
    }
}
