//! Listing, retention, statistics, cancel and lease recovery on PostgreSQL.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::PostgresBackend;
use crate::backend::{
    CancelOutcome, JobPage, ListQuery, QueueStats, Recovered, Stats, StoreError, expire_lease,
    mark_cancelled,
};
use crate::record::{JobRecord, Status};

/// How many expired leases one recovery pass takes back at most.
const RECOVERY_BATCH: i64 = 100;

/// The record in column `index`, which must be the job `uuid`'s.
pub(super) fn decode_record(
    uuid: Uuid,
    row: &PgRow,
    index: usize,
) -> Result<JobRecord, StoreError> {
    let value: sqlx::types::Json<serde_json::Value> = row.try_get(index)?;
    serde_json::from_value(value.0).map_err(|source| StoreError::Corrupt { uuid, source })
}

pub(super) async fn list(
    backend: &PostgresBackend,
    query: &ListQuery,
) -> Result<JobPage, StoreError> {
    let after = query
        .after_seq()?
        .map(i64::try_from)
        .transpose()
        .map_err(|_| StoreError::BadCursor(query.after.clone().unwrap_or_default()))?;
    let rows = sqlx::query(backend.sql(
        "SELECT seq, uuid, record FROM {jobs}
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR job_type = $2)
           AND ($3::bigint IS NULL OR seq < $3)
         ORDER BY seq DESC
         LIMIT $4",
    ))
    .bind(query.status.map(Status::as_str))
    .bind(query.job_type.as_deref())
    .bind(after)
    .bind(i64::from(query.limit) + 1)
    .fetch_all(&backend.inner.pool)
    .await?;
    let more = rows.len() > query.limit as usize;
    let mut jobs = Vec::with_capacity(rows.len());
    let mut last_seq = None;
    for row in rows.iter().take(query.limit as usize) {
        jobs.push(decode_record(row.try_get(1)?, row, 2)?);
        last_seq = Some(row.try_get::<i64, _>(0)?);
    }
    let next = more.then(|| last_seq.map(|seq| seq.to_string())).flatten();
    Ok(JobPage { jobs, next })
}

pub(super) async fn delete_finished(
    backend: &PostgresBackend,
    statuses: &[Status],
    finished_before: DateTime<Utc>,
) -> Result<BTreeMap<Status, u64>, StoreError> {
    let finished: Vec<Status> = statuses
        .iter()
        .copied()
        .filter(|status| status.is_finished())
        .collect();
    let names: Vec<&str> = finished.iter().map(|status| status.as_str()).collect();
    let rows = sqlx::query(backend.sql(
        "WITH deleted AS (
             DELETE FROM {jobs} WHERE status = ANY($1) AND finished_at < $2 RETURNING status)
         SELECT status, count(*) FROM deleted GROUP BY status",
    ))
    .bind(&names)
    .bind(finished_before)
    .fetch_all(&backend.inner.pool)
    .await?;
    let mut counts: BTreeMap<Status, u64> =
        finished.into_iter().map(|status| (status, 0)).collect();
    for row in rows {
        if let Ok(status) = row.try_get::<&str, _>(0)?.parse::<Status>() {
            counts.insert(
                status,
                u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
            );
        }
    }
    Ok(counts)
}

pub(super) async fn stats(backend: &PostgresBackend) -> Result<Stats, StoreError> {
    let mut stats = Stats::default();
    let rows = sqlx::query(
        backend.sql("SELECT status, job_type, count(*) FROM {jobs} GROUP BY status, job_type"),
    )
    .fetch_all(&backend.inner.pool)
    .await?;
    for row in rows {
        if let Ok(status) = row.try_get::<&str, _>(0)?.parse::<Status>() {
            let count = u64::try_from(row.try_get::<i64, _>(2)?).unwrap_or(0);
            stats.jobs.insert((status, row.try_get(1)?), count);
        }
    }
    let now = Utc::now();
    let rows = sqlx::query(backend.sql(
        "SELECT queue,
                count(*) FILTER (WHERE status IN ('queued', 'waiting') AND run_at <= $1),
                count(*) FILTER (WHERE status = 'running'),
                min(run_at) FILTER (WHERE status IN ('queued', 'waiting') AND run_at <= $1)
         FROM {jobs}
         WHERE status IN ('queued', 'waiting', 'running')
         GROUP BY queue",
    ))
    .bind(now)
    .fetch_all(&backend.inner.pool)
    .await?;
    for row in rows {
        let oldest: Option<DateTime<Utc>> = row.try_get(3)?;
        let queue = QueueStats {
            due: u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
            running: u64::try_from(row.try_get::<i64, _>(2)?).unwrap_or(0),
            oldest_due_age: oldest.map(|at| (now - at).to_std().unwrap_or(Duration::ZERO)),
        };
        stats.queues.insert(row.try_get(0)?, queue);
    }
    Ok(stats)
}

pub(super) async fn cancel(
    backend: &PostgresBackend,
    uuid: Uuid,
    kill: bool,
) -> Result<CancelOutcome, StoreError> {
    // The row lock holds off workers while the decision is made and written.
    let mut tx = backend.inner.pool.begin().await?;
    let row = sqlx::query(backend.sql("SELECT record FROM {jobs} WHERE uuid = $1 FOR UPDATE"))
        .bind(uuid)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(uuid))?;
    let mut record = decode_record(uuid, &row, 0)?;
    let status = record.status;
    if status.is_finished() {
        return Err(StoreError::AlreadyFinished { uuid, status });
    }
    if status == Status::Running && !kill {
        sqlx::query(backend.sql("UPDATE {jobs} SET cancel_requested = TRUE WHERE uuid = $1"))
            .bind(uuid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(CancelOutcome::Signalled(record));
    }
    mark_cancelled(&mut record, kill && status == Status::Running);
    let now = Utc::now();
    sqlx::query(backend.sql(
        "UPDATE {jobs}
         SET status = 'cancelled', record = $1, run_at = NULL, lease_id = NULL,
             worker_id = NULL, lease_expires_at = NULL, updated_at = $2, finished_at = $2
         WHERE uuid = $3",
    ))
    .bind(sqlx::types::Json(&record))
    .bind(now)
    .bind(uuid)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(CancelOutcome::Cancelled(record))
}

pub(super) async fn recover_expired(
    backend: &PostgresBackend,
    now: DateTime<Utc>,
) -> Result<Recovered, StoreError> {
    let mut tx = backend.inner.pool.begin().await?;
    // Several processes recover at once: each takes the rows no other one has locked.
    let rows = sqlx::query(backend.sql(
        "SELECT uuid, lease_id, record FROM {jobs}
         WHERE status = 'running' AND lease_expires_at < $1
         ORDER BY lease_expires_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED",
    ))
    .bind(now)
    .bind(RECOVERY_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let mut recovered = Recovered::default();
    for row in rows {
        let uuid: Uuid = row.try_get(0)?;
        let lease_id: Uuid = row.try_get(1)?;
        let mut record = decode_record(uuid, &row, 2)?;
        expire_lease(&mut record, now);
        let finished = record.status.is_finished();
        let written = sqlx::query(backend.sql(
            "UPDATE {jobs}
             SET status = $1, record = $2, run_at = $3, lease_id = NULL, worker_id = NULL,
                 lease_expires_at = NULL, updated_at = $4, finished_at = $5
             WHERE uuid = $6 AND lease_id = $7",
        ))
        .bind(record.status.as_str())
        .bind(sqlx::types::Json(&record))
        .bind((!finished).then_some(now))
        .bind(now)
        .bind(finished.then_some(now))
        .bind(uuid)
        .bind(lease_id)
        .execute(&mut *tx)
        .await?;
        if written.rows_affected() == 1 {
            if finished {
                recovered.failed.push(uuid);
            } else {
                recovered.requeued.push(uuid);
            }
        }
    }
    tx.commit().await?;
    if !recovered.requeued.is_empty() {
        backend.wake("").await;
    }
    Ok(recovered)
}
