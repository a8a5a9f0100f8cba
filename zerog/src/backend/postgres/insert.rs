//! Inserting jobs on PostgreSQL: one on a connection the caller holds (in its own
//! transaction, if it likes), a batch in one `unnest` statement, and one under a
//! unique key; and the record as the `jsonb` value every write stores.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{PostgresBackend, stored_cost};
#[cfg(doc)]
use crate::backend::Store;
use crate::backend::{Inserted, NewJob, StoreError, UniqueKey};
use crate::record::JobRecord;

/// `record` as a `jsonb` value. JSONB cannot hold `\u0000`, and a job's own text (a
/// log line, an error, its data) may: each NUL is kept as U+FFFD, so that the write
/// of a run's end never fails on it. (Parameters with NUL are refused at submit, on
/// every backend.)
pub(super) fn jsonb(record: &JobRecord) -> sqlx::types::Json<Box<RawValue>> {
    // A record holds only strings, numbers and JSON values, which always serialize.
    let text = serde_json::to_string(record).expect("a job record serializes");
    let text = if text.contains("\\u0000") {
        let mut value: serde_json::Value =
            serde_json::from_str(&text).expect("it was just written");
        replace_nul(&mut value);
        value.to_string()
    } else {
        text
    };
    sqlx::types::Json(RawValue::from_string(text).expect("serde_json wrote valid JSON"))
}

/// Replaces each NUL in the strings and keys of `value` with U+FFFD.
fn replace_nul(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) => *text = text.replace('\0', "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(fields) => {
            let taken = std::mem::take(fields);
            for (key, mut field) in taken {
                replace_nul(&mut field);
                fields.insert(key.replace('\0', "\u{FFFD}"), field);
            }
        }
        _ => {}
    }
}

impl PostgresBackend {
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
    /// be rolled back by its owner. On a bare connection, as [`Store::insert`].
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
        .bind(stored_cost(cost))
        .bind(run_at)
        .bind(now)
        .bind(jsonb(record))
        .bind(&self.inner.channel)
        .fetch_one(conn)
        .await?;
        if row.get::<i64, _>(0) == 0 {
            return Err(StoreError::Duplicate(record.uuid));
        }
        self.inserted(1);
        Ok(())
    }

    /// Stores and queues `jobs` in one statement of one transaction, all or none, with
    /// one `NOTIFY` per queue.
    pub(super) async fn insert_batch(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut tx = self.inner.pool.begin().await?;
        let row = sqlx::query(self.sql(
            "WITH batch AS (
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                                      $5::int[], $6::jsonb[], $7::timestamptz[])
                     AS b(uuid, job_type, queue, status, cost, record, run_at)),
             inserted AS (
                 INSERT INTO {jobs}
                     (uuid, job_type, queue, status, cost, run_at, created_at, updated_at, record)
                 SELECT uuid, job_type, queue, status, cost, run_at, $8, $8, record FROM batch
                 ON CONFLICT (uuid) DO NOTHING
                 RETURNING queue, run_at)
             SELECT (SELECT count(*) FROM inserted),
                    (SELECT count(*) FROM (SELECT pg_notify($9, queue)
                                           FROM (SELECT DISTINCT queue FROM inserted
                                                 WHERE run_at <= $8) AS q) AS woken)",
        ))
        .bind(jobs.iter().map(|job| job.record.uuid).collect::<Vec<_>>())
        .bind(
            jobs.iter()
                .map(|job| job.record.job_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            jobs.iter()
                .map(|job| job.record.queue.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            jobs.iter()
                .map(|job| job.record.status.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            jobs.iter()
                .map(|job| stored_cost(job.cost))
                .collect::<Vec<_>>(),
        )
        .bind(jobs.iter().map(|job| jsonb(job.record)).collect::<Vec<_>>())
        .bind(jobs.iter().map(|job| job.run_at).collect::<Vec<_>>())
        .bind(now)
        .bind(&self.inner.channel)
        .fetch_one(&mut *tx)
        .await?;
        if usize::try_from(row.get::<i64, _>(0)).ok() == Some(jobs.len()) {
            tx.commit().await?;
            self.inserted(jobs.len() as u64);
            return Ok(());
        }
        // Some uuid is taken, by a stored job or twice in the batch: roll back (by
        // dropping the transaction) and name one.
        drop(tx);
        let mut seen = std::collections::HashSet::new();
        if let Some(job) = jobs.iter().find(|job| !seen.insert(job.record.uuid)) {
            return Err(StoreError::Duplicate(job.record.uuid));
        }
        let uuids: Vec<Uuid> = jobs.iter().map(|job| job.record.uuid).collect();
        let taken: Option<Uuid> =
            sqlx::query_scalar(self.sql("SELECT uuid FROM {jobs} WHERE uuid = ANY($1) LIMIT 1"))
                .bind(&uuids)
                .fetch_optional(&self.inner.pool)
                .await?;
        Err(StoreError::Duplicate(taken.unwrap_or(uuids[0])))
    }

    /// [`Store::insert_unique`]: the key and the job in one transaction, inserts of one
    /// key taking turns.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the transaction commits whole or not at all.
    pub(super) async fn insert_unique_job(
        &self,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        let inserted = self.insert_unique_in(&mut tx, job, unique).await?;
        if inserted == Inserted::New {
            tx.commit().await?;
        }
        Ok(inserted)
    }

    /// Stores `job` (under `unique`, if given) on `conn`, as [`Self::enqueue_in`] does.
    ///
    /// # Cancel safety
    ///
    /// As [`Self::enqueue_in`].
    pub(crate) async fn insert_in(
        &self,
        conn: &mut PgConnection,
        job: &NewJob<'_>,
        unique: Option<&UniqueKey>,
    ) -> Result<Inserted, StoreError> {
        match unique {
            Some(unique) => self.insert_unique_in(conn, job, unique).await,
            None => {
                self.enqueue_in(conn, job.record, job.cost, job.run_at)
                    .await?;
                Ok(Inserted::New)
            }
        }
    }

    /// The key and the job on `conn`, typically the caller's open transaction: both
    /// are written when it commits, and inserts of the key by others wait for it to
    /// end (the lock is the transaction's).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe within a transaction, which its owner then rolls back.
    async fn insert_unique_in(
        &self,
        conn: &mut PgConnection,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError> {
        // Inserts of one key take turns, and each statement below reads what the turn
        // before committed: without the lock, a concurrent insert's job would be
        // invisible to the check of the holder's status, which reads the snapshot of
        // its statement's start.
        let [a, b, c, d, e, f, g, h, ..] = *unique.key.as_bytes();
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(i64::from_be_bytes([a, b, c, d, e, f, g, h]))
            .execute(&mut *conn)
            .await?;
        let taken = sqlx::query(self.sql(
            "INSERT INTO {unique} AS u (key, uuid, until) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET uuid = excluded.uuid, until = excluded.until
             WHERE u.until <= now()
                OR NOT EXISTS (SELECT 1 FROM {jobs} j
                               WHERE j.uuid = u.uuid AND j.status NOT IN ('failed', 'cancelled'))
             RETURNING uuid",
        ))
        .bind(unique.key)
        .bind(job.record.uuid)
        .bind(unique.until)
        .fetch_optional(&mut *conn)
        .await?;
        if taken.is_none() {
            let holder: Uuid =
                sqlx::query_scalar(self.sql("SELECT uuid FROM {unique} WHERE key = $1"))
                    .bind(unique.key)
                    .fetch_one(&mut *conn)
                    .await?;
            return Ok(Inserted::Duplicate(holder));
        }
        self.enqueue_in(conn, job.record, job.cost, job.run_at)
            .await?;
        Ok(Inserted::New)
    }
}
