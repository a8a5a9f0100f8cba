//! Listing, retention, statistics, cancel and lease recovery on SQLite.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::{millis, parse_record, to_json};
use crate::backend::{
    CancelOutcome, JobPage, Lease, ListQuery, QueueStats, Recovered, RunSignal, Stats, StoreError,
    expire_lease, mark_cancelled,
};
use crate::record::Status;

/// How many expired leases one recovery pass takes back at most.
const RECOVERY_BATCH: i64 = 100;

pub(super) async fn list(pool: &SqlitePool, query: &ListQuery) -> Result<JobPage, StoreError> {
    let after = query
        .after_seq()?
        .map(i64::try_from)
        .transpose()
        .map_err(|_| StoreError::BadCursor(query.after.clone().unwrap_or_default()))?;
    let rows = sqlx::query(
        "SELECT seq, uuid, record FROM zerog_jobs
         WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR job_type = ?2)
           AND (?3 IS NULL OR seq < ?3)
         ORDER BY seq DESC
         LIMIT ?4",
    )
    .bind(query.status.map(Status::as_str))
    .bind(query.job_type.as_deref())
    .bind(after)
    .bind(i64::from(query.limit) + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() > query.limit as usize;
    let mut jobs = Vec::with_capacity(rows.len());
    let mut last_seq = None;
    for row in rows.iter().take(query.limit as usize) {
        let uuid = parse_uuid(row.get(1))?;
        jobs.push(parse_record(uuid, row.get(2))?);
        last_seq = Some(row.get::<i64, _>(0));
    }
    let next = more.then(|| last_seq.map(|seq| seq.to_string())).flatten();
    Ok(JobPage { jobs, next })
}

pub(super) async fn delete_finished(
    pool: &SqlitePool,
    statuses: &[Status],
    finished_before: DateTime<Utc>,
) -> Result<BTreeMap<Status, u64>, StoreError> {
    let finished: Vec<&str> = statuses
        .iter()
        .filter(|status| status.is_finished())
        .map(|status| status.as_str())
        .collect();
    let rows = sqlx::query(
        "DELETE FROM zerog_jobs
         WHERE status IN (SELECT value FROM json_each(?1)) AND finished_at < ?2
         RETURNING status",
    )
    .bind(serde_json::to_string(&finished).expect("strings serialize"))
    .bind(millis(finished_before))
    .fetch_all(pool)
    .await?;
    let mut counts: BTreeMap<Status, u64> = statuses
        .iter()
        .filter(|status| status.is_finished())
        .map(|&status| (status, 0))
        .collect();
    for row in rows {
        if let Ok(status) = row.get::<&str, _>(0).parse::<Status>() {
            *counts.entry(status).or_default() += 1;
        }
    }
    Ok(counts)
}

pub(super) async fn stats(pool: &SqlitePool) -> Result<Stats, StoreError> {
    let mut stats = Stats::default();
    let rows =
        sqlx::query("SELECT status, job_type, COUNT(*) FROM zerog_jobs GROUP BY status, job_type")
            .fetch_all(pool)
            .await?;
    for row in rows {
        if let Ok(status) = row.get::<&str, _>(0).parse::<Status>() {
            let count = u64::try_from(row.get::<i64, _>(2)).unwrap_or(0);
            stats.jobs.insert((status, row.get::<String, _>(1)), count);
        }
    }
    let now = millis(Utc::now());
    let rows = sqlx::query(
        "SELECT queue,
                SUM(status IN ('queued', 'waiting') AND run_at <= ?1),
                SUM(status = 'running'),
                MIN(CASE WHEN status IN ('queued', 'waiting') AND run_at <= ?1 THEN run_at END)
         FROM zerog_jobs
         WHERE status IN ('queued', 'waiting', 'running')
         GROUP BY queue",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    for row in rows {
        let oldest: Option<i64> = row.get(3);
        let queue = QueueStats {
            due: u64::try_from(row.get::<i64, _>(1)).unwrap_or(0),
            running: u64::try_from(row.get::<i64, _>(2)).unwrap_or(0),
            oldest_due_age: oldest
                .map(|at| Duration::from_millis(u64::try_from(now - at).unwrap_or(0))),
        };
        stats.queues.insert(row.get(0), queue);
    }
    Ok(stats)
}

pub(super) async fn cancel(
    pool: &SqlitePool,
    uuid: Uuid,
    kill: bool,
) -> Result<CancelOutcome, StoreError> {
    // Read, decide, then write only if the row is unchanged; a worker moving the job
    // in between makes the write miss, and the loop decides again.
    loop {
        let row = sqlx::query("SELECT record, lease_id FROM zerog_jobs WHERE uuid = ?")
            .bind(uuid.to_string())
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound(uuid))?;
        let mut record = parse_record(uuid, row.get(0))?;
        let lease_id: Option<String> = row.get(1);
        let status = record.status;
        if status.is_finished() {
            return Err(StoreError::AlreadyFinished { uuid, status });
        }
        if status == Status::Running && !kill {
            let written = sqlx::query(
                "UPDATE zerog_jobs SET cancel_requested = 1
                 WHERE uuid = ?1 AND status = 'running' AND lease_id IS ?2",
            )
            .bind(uuid.to_string())
            .bind(&lease_id)
            .execute(pool)
            .await?;
            if written.rows_affected() == 1 {
                return Ok(CancelOutcome::Signalled(record));
            }
            continue;
        }
        mark_cancelled(&mut record, kill && status == Status::Running);
        let now = millis(Utc::now());
        let written = sqlx::query(
            "UPDATE zerog_jobs
             SET status = 'cancelled', record = ?1, run_at = NULL, lease_id = NULL,
                 worker_id = NULL, lease_expires_at = NULL, updated_at = ?2, finished_at = ?2
             WHERE uuid = ?3 AND status = ?4 AND lease_id IS ?5",
        )
        .bind(to_json(&record))
        .bind(now)
        .bind(uuid.to_string())
        .bind(status.as_str())
        .bind(&lease_id)
        .execute(pool)
        .await?;
        if written.rows_affected() == 1 {
            return Ok(CancelOutcome::Cancelled(record));
        }
    }
}

pub(super) async fn run_signal(pool: &SqlitePool, lease: &Lease) -> Result<RunSignal, StoreError> {
    let row =
        sqlx::query("SELECT cancel_requested FROM zerog_jobs WHERE uuid = ? AND lease_id = ?")
            .bind(lease.uuid.to_string())
            .bind(lease.id.to_string())
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::LeaseLost(lease.uuid))?;
    Ok(if row.get::<i64, _>(0) != 0 {
        RunSignal::Cancel
    } else {
        RunSignal::Continue
    })
}

pub(super) async fn recover_expired(
    pool: &SqlitePool,
    now: DateTime<Utc>,
) -> Result<Recovered, StoreError> {
    let rows = sqlx::query(
        "SELECT uuid, lease_id, record FROM zerog_jobs
         WHERE status = 'running' AND lease_expires_at < ?1
         LIMIT ?2",
    )
    .bind(millis(now))
    .bind(RECOVERY_BATCH)
    .fetch_all(pool)
    .await?;
    let mut recovered = Recovered::default();
    for row in rows {
        let uuid = parse_uuid(row.get(0))?;
        let lease_id: String = row.get(1);
        let mut record = parse_record(uuid, row.get(2))?;
        expire_lease(&mut record, now);
        let finished = record.status.is_finished();
        // Fenced on the expired lease: if its worker wrote in the meantime, or another
        // worker recovered it first, this write misses and the job is left alone.
        let written = sqlx::query(
            "UPDATE zerog_jobs
             SET status = ?1, record = ?2, run_at = ?3, lease_id = NULL, worker_id = NULL,
                 lease_expires_at = NULL, updated_at = ?4, finished_at = ?5
             WHERE uuid = ?6 AND lease_id = ?7 AND lease_expires_at < ?4",
        )
        .bind(record.status.as_str())
        .bind(to_json(&record))
        .bind((!finished).then(|| millis(now)))
        .bind(millis(now))
        .bind(finished.then(|| millis(now)))
        .bind(uuid.to_string())
        .bind(lease_id)
        .execute(pool)
        .await?;
        if written.rows_affected() == 1 {
            if finished {
                recovered.failed.push(uuid);
            } else {
                recovered.requeued.push(uuid);
            }
        }
    }
    Ok(recovered)
}

pub(super) fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|error| StoreError::Backend(error.into()))
}
