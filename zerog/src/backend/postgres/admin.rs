//! Listing, retention and statistics on PostgreSQL.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::PostgresBackend;
use crate::backend::{ListQuery, Overview, QueueStats, Stats, StoreError, Stored, oldest_due};
use crate::record::{JobRecord, Status};

/// The record in column `index` and the revision after it, which must be the job
/// `uuid`'s.
pub(super) fn decode_stored(uuid: Uuid, row: &PgRow, index: usize) -> Result<Stored, StoreError> {
    Ok(Stored {
        record: decode_record(uuid, row, index)?,
        revision: row.try_get(index + 1)?,
    })
}

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
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<(u64, JobRecord)>, StoreError> {
    // Backend::list checked that the cursor fits.
    let after = after.map(|seq| i64::try_from(seq).unwrap_or(i64::MAX));
    // Only the filters given are part of the statement, so that its plan (a generic
    // one too) can use their indexes. The first of status, job type and queue leads
    // the order, tested as `= ANY` of one value, which the planner cannot fold into a
    // constant and drop from the order: the scan then walks that column's index
    // (`(status, seq)`, ...) newest first. With `ORDER BY seq` alone it walks the
    // primary key and skips every newer job of another status, such as a backlog of
    // 100,000 queued jobs above the newest done one.
    let equal = [
        ("status", query.status.map(Status::as_str)),
        ("job_type", query.job_type.as_deref()),
        ("queue", query.queue.as_deref()),
    ];
    let mut filters = Vec::new();
    let mut order = None;
    let mut values: Vec<&str> = Vec::new();
    for (column, value) in equal {
        if let Some(value) = value {
            values.push(value);
            filters.push(format!("{column} = ANY(${})", values.len()));
            order.get_or_insert(column);
        }
    }
    let mut next = values.len();
    if after.is_some() {
        next += 1;
        filters.push(format!("seq < ${next}"));
    }
    if query.params.is_some() {
        next += 1;
        filters.push(format!("record->'params' @> ${next}"));
    }
    let filters = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let order = order.map_or(String::new(), |column| format!("{column} DESC, "));
    let sql = format!(
        "SELECT seq, uuid, record FROM {{jobs}} {filters} ORDER BY {order}seq DESC LIMIT ${}",
        next + 1
    );
    let mut statement = sqlx::query(backend.sql_owned(sql));
    for value in values {
        statement = statement.bind(vec![value]);
    }
    if let Some(after) = after {
        statement = statement.bind(after);
    }
    if let Some(search) = &query.params {
        statement = statement.bind(sqlx::types::Json(search.as_json()));
    }
    let statement = statement.bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = statement.fetch_all(&backend.inner.pool).await?;
    rows.iter()
        .map(|row| {
            let seq = u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0);
            Ok((seq, decode_record(row.try_get(1)?, row, 2)?))
        })
        .collect()
}

pub(super) async fn delete_if_finished(
    backend: &PostgresBackend,
    uuid: Uuid,
) -> Result<bool, StoreError> {
    let deleted =
        sqlx::query(backend.sql(
            "DELETE FROM {jobs} WHERE uuid = $1 AND status IN ('done', 'failed', 'cancelled')",
        ))
        .bind(uuid)
        .execute(&backend.inner.pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

pub(super) async fn delete_finished(
    backend: &PostgresBackend,
    statuses: &[Status],
    finished_before: DateTime<Utc>,
) -> Result<BTreeMap<Status, u64>, StoreError> {
    let names: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    let rows = sqlx::query(backend.sql(
        "WITH deleted AS (
             DELETE FROM {jobs} WHERE status = ANY($1) AND finished_at < $2 RETURNING status)
         SELECT status, count(*) FROM deleted GROUP BY status",
    ))
    .bind(&names)
    .bind(finished_before)
    .fetch_all(&backend.inner.pool)
    .await?;
    let mut counts: BTreeMap<Status, u64> = BTreeMap::new();
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
    stats.queues = queue_stats(backend).await?;
    Ok(stats)
}

/// The backlog of each queue, from the unfinished jobs alone.
async fn queue_stats(
    backend: &PostgresBackend,
) -> Result<BTreeMap<String, QueueStats>, StoreError> {
    let mut queues = BTreeMap::new();
    let now = Utc::now();
    let rows = sqlx::query(backend.sql(
        "SELECT queue,
                count(*) FILTER (WHERE status IN ('queued', 'waiting') AND run_at <= $1),
                count(*) FILTER (WHERE status = 'running'),
                min(run_at) FILTER (WHERE status IN ('queued', 'waiting') AND run_at <= $1),
                count(*) FILTER (WHERE status IN ('queued', 'waiting') AND run_at > $1)
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
            waiting: u64::try_from(row.try_get::<i64, _>(4)?).unwrap_or(0),
            oldest_due_age: oldest.map(|at| (now - at).to_std().unwrap_or(Duration::ZERO)),
        };
        queues.insert(row.try_get(0)?, queue);
    }
    Ok(queues)
}

pub(super) async fn overview(
    backend: &PostgresBackend,
    cap: u64,
    since: DateTime<Utc>,
) -> Result<Overview, StoreError> {
    let mut overview = Overview::default();
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    // Each count walks the status index and stops at the cap, where `count(*)` of the
    // whole table would read every row.
    for status in Status::ALL {
        let count: i64 =
            sqlx::query_scalar(backend.sql(
                "SELECT count(*) FROM (SELECT 1 FROM {jobs} WHERE status = $1 LIMIT $2) capped",
            ))
            .bind(status.as_str())
            .bind(cap)
            .fetch_one(&backend.inner.pool)
            .await?;
        overview
            .statuses
            .insert(status, u64::try_from(count).unwrap_or(0));
    }
    let rows = sqlx::query(backend.sql(
        "SELECT floor(extract(epoch FROM finished_at) / 60)::bigint, status, count(*)
         FROM {jobs}
         WHERE status IN ('done', 'failed') AND finished_at >= $1
         GROUP BY 1, 2",
    ))
    .bind(since)
    .fetch_all(&backend.inner.pool)
    .await?;
    for row in rows {
        let minute: i64 = row.try_get(0)?;
        let count = u64::try_from(row.try_get::<i64, _>(2)?).unwrap_or(0);
        let counts = overview.finished.entry(minute).or_default();
        match row.try_get::<&str, _>(1)? {
            "done" => counts.done = count,
            _ => counts.failed = count,
        }
    }
    overview.queues = queue_stats(backend).await?;
    overview.oldest_due = oldest_due(&overview.queues, Utc::now());
    Ok(overview)
}
