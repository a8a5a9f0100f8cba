//! Listing, retention and statistics on SQLite.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::{millis, parse_record};
use crate::backend::{ListQuery, QueueStats, Stats, StoreError};
use crate::record::{JobRecord, Status};

pub(super) async fn list(
    pool: &SqlitePool,
    query: &ListQuery,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<(u64, JobRecord)>, StoreError> {
    // Backend::list checked that the cursor fits.
    let after = after.map(|seq| i64::try_from(seq).unwrap_or(i64::MAX));
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
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let seq = u64::try_from(row.get::<i64, _>(0)).unwrap_or(0);
            Ok((seq, parse_record(parse_uuid(row.get(1))?, row.get(2))?))
        })
        .collect()
}

pub(super) async fn delete_finished(
    pool: &SqlitePool,
    statuses: &[Status],
    finished_before: DateTime<Utc>,
) -> Result<BTreeMap<Status, u64>, StoreError> {
    let finished: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    let rows = sqlx::query(
        "DELETE FROM zerog_jobs
         WHERE status IN (SELECT value FROM json_each(?1)) AND finished_at < ?2
         RETURNING status",
    )
    .bind(serde_json::to_string(&finished).expect("strings serialize"))
    .bind(millis(finished_before))
    .fetch_all(pool)
    .await?;
    let mut counts: BTreeMap<Status, u64> = BTreeMap::new();
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
                MIN(CASE WHEN status IN ('queued', 'waiting') AND run_at <= ?1 THEN run_at END),
                SUM(status IN ('queued', 'waiting') AND run_at > ?1)
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
            waiting: u64::try_from(row.get::<i64, _>(4)).unwrap_or(0),
            oldest_due_age: oldest
                .map(|at| Duration::from_millis(u64::try_from(now - at).unwrap_or(0))),
        };
        stats.queues.insert(row.get(0), queue);
    }
    Ok(stats)
}

pub(super) fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|error| StoreError::Backend(error.into()))
}
