//! Listing, retention and statistics on PostgreSQL.
//!
//! Counts stay fast on a table of millions of jobs: unfinished jobs are counted exactly
//! by index-only scans of the indexes of due and of running jobs, and each finished
//! status reads at most its newest `cap + 1` jobs, past which its total is the
//! planner's estimate ([`Counted::Estimated`]).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Executor, Row};
use uuid::Uuid;

use super::PostgresBackend;
use crate::backend::{
    Counted, ListQuery, Overview, QueueStats, Stats, StoreError, Stored, oldest_due,
};
use crate::pruner::FINISHED;
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

pub(super) async fn stats(backend: &PostgresBackend, cap: u64) -> Result<Stats, StoreError> {
    let (mut stats, queues) = backlog(backend).await?;
    stats.queues = queues;
    let limit = i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX);
    for status in FINISHED {
        // The newest `cap + 1` jobs of the status, from its index alone (it carries the
        // job type): enough to tell whether there are more than `cap`, and the mix of
        // types among the newest.
        let rows = sqlx::query(backend.sql(
            "SELECT job_type, count(*) FROM (
                 SELECT job_type FROM {jobs} WHERE status = ANY($1)
                 ORDER BY status DESC, seq DESC LIMIT $2) newest
             GROUP BY job_type",
        ))
        .bind(vec![status.as_str()])
        .bind(limit)
        .fetch_all(&backend.inner.pool)
        .await?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in rows {
            let count = u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0);
            counts.push((row.try_get::<String, _>(0)?, count));
        }
        let seen: u64 = counts.iter().map(|(_, count)| count).sum();
        if seen <= cap {
            for (job_type, count) in counts {
                stats.jobs.insert((status, job_type), count);
            }
            continue;
        }
        // There are at least `seen`; the planner's estimate, from the table's size now
        // and the status's share at the last analysis, says how many.
        let total = planned_rows(backend, status).await?.max(seen);
        for (job_type, count) in counts {
            let share = (total as f64 * count as f64 / seen as f64).round() as u64;
            stats.jobs.insert((status, job_type), share);
        }
        stats.counted.insert(status, Counted::Estimated);
    }
    Ok(stats)
}

/// How many jobs have `status`, as the planner estimates it: planning, not running, a
/// count of them.
async fn planned_rows(backend: &PostgresBackend, status: Status) -> Result<u64, StoreError> {
    // The status is one of zerog's own words, never the caller's text.
    let sql = format!(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM {{jobs}} WHERE status = '{}'",
        status.as_str()
    );
    let plan: sqlx::types::Json<serde_json::Value> = sqlx::query_scalar(backend.sql_owned(sql))
        .fetch_one(&backend.inner.pool)
        .await?;
    let rows = plan.0[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0);
    Ok(rows.max(0.0) as u64)
}

/// The unfinished jobs by status and type, and the backlog of each queue, from
/// index-only scans of the indexes of due and of running jobs.
async fn backlog(
    backend: &PostgresBackend,
) -> Result<(Stats, BTreeMap<String, QueueStats>), StoreError> {
    let mut stats = Stats::default();
    let mut queues: BTreeMap<String, QueueStats> = BTreeMap::new();
    let mut oldest: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let now = Utc::now();
    // No parallel workers: starting them costs more than they save on index-only
    // scans of the backlog (twice the time, measured on 100,000 unfinished jobs).
    let mut tx = backend.inner.pool.begin().await?;
    tx.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        .await?;
    // Each part names the condition of its index (`zerog_jobs_due`,
    // `zerog_jobs_running`), whose entries carry every column read.
    let rows = sqlx::query(backend.sql(
        "SELECT queue, status, job_type, count(*),
                count(*) FILTER (WHERE run_at <= $1),
                min(run_at) FILTER (WHERE run_at <= $1),
                count(*) FILTER (WHERE run_at > $1)
         FROM {jobs}
         WHERE status IN ('queued', 'waiting')
         GROUP BY queue, status, job_type
         UNION ALL
         SELECT queue, 'running', job_type, count(*), 0, NULL, 0
         FROM {jobs}
         WHERE status = 'running'
         GROUP BY queue, job_type",
    ))
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for row in rows {
        let Ok(status) = row.try_get::<&str, _>(1)?.parse::<Status>() else {
            continue;
        };
        let queue_name: String = row.try_get(0)?;
        let count = |index| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.try_get::<i64, _>(index)?).unwrap_or(0))
        };
        stats.jobs.insert((status, row.try_get(2)?), count(3)?);
        let queue = queues.entry(queue_name.clone()).or_default();
        if status == Status::Running {
            queue.running += count(3)?;
            continue;
        }
        queue.due += count(4)?;
        queue.waiting += count(6)?;
        if let Some(at) = row.try_get::<Option<DateTime<Utc>>, _>(5)? {
            let first = oldest.entry(queue_name).or_insert(at);
            *first = (*first).min(at);
        }
    }
    for (name, at) in oldest {
        if let Some(queue) = queues.get_mut(&name) {
            queue.oldest_due_age = Some((now - at).to_std().unwrap_or(Duration::ZERO));
        }
    }
    Ok((stats, queues))
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
    overview.queues = backlog(backend).await?.1;
    overview.oldest_due = oldest_due(&overview.queues, Utc::now());
    Ok(overview)
}
