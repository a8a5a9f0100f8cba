//! Listing, retention and statistics on SQLite.
//!
//! Counts stay fast on a file of millions of jobs: unfinished jobs are counted exactly
//! from the indexes of due and of leased jobs alone, and each finished status reads at
//! most its newest `cap + 1` jobs, past which its counts are lower bounds
//! ([`Counted::AtLeast`]).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool};
use uuid::Uuid;

use super::{millis, parse_record};
use crate::backend::{
    Counted, ListQuery, Listed, Overview, ParamSearch, QueueStats, Stats, StoreError, Test,
    oldest_due,
};
use crate::pruner::FINISHED;
use crate::record::{JobRecord, Status};

/// How many jobs a listing with a parameter search looks at in one call at most, so
/// that a search that matches little stays as fast as a page: the next page goes on
/// from where it stopped.
pub(super) const SEARCH_SCAN: i64 = 10_000;

pub(super) async fn list(
    pool: &SqlitePool,
    query: &ListQuery,
    after: Option<u64>,
    limit: usize,
) -> Result<Listed, StoreError> {
    // Backend::list checked that the cursor fits.
    let after = after.map(|seq| i64::try_from(seq).unwrap_or(i64::MAX));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // Only the filters given are part of the statement: SQLite plans `?1 IS NULL OR
    // status = ?1` without the value, so such a filter could use no index, and a deep
    // page would walk every newer job to reach its cursor.
    // With a status, the other columns are tested as `+column`, which keeps SQLite on
    // the status index: its entries carry the job type, so a rare mix of status and
    // type is found without reading the rows of the type's other statuses.
    let mut filters = Vec::new();
    let by_status = query.status.is_some();
    for (column, value, index) in [
        ("status", query.status.map(Status::as_str), 1),
        ("job_type", query.job_type.as_deref(), 2),
        ("queue", query.queue.as_deref(), 3),
    ] {
        if value.is_some() {
            let unindexed = if by_status && column != "status" {
                "+"
            } else {
                ""
            };
            filters.push(format!("{unindexed}{column} = ?{index}"));
        }
    }
    if after.is_some() {
        filters.push("seq < ?4".to_owned());
    }
    let filters = if filters.is_empty() {
        "1".to_owned()
    } else {
        filters.join(" AND ")
    };
    let Some(search) = &query.params else {
        let sql = format!(
            "SELECT seq, uuid, record FROM zerog_jobs WHERE {filters} ORDER BY seq DESC LIMIT ?5"
        );
        let rows = bind_filters(sqlx::query(AssertSqlSafe(sql)), query, after)
            .bind(limit)
            .fetch_all(pool)
            .await?;
        return Ok(decode_rows(&rows)?.into());
    };
    let (clause, values) = search_clause(search, 6);
    let window = format!(
        "SELECT seq, uuid, record FROM zerog_jobs WHERE {filters} ORDER BY seq DESC LIMIT ?5"
    );
    let sql = format!(
        "SELECT seq, uuid, record FROM ({window}) WHERE {clause} ORDER BY seq DESC LIMIT {limit}"
    );
    let mut found = bind_filters(sqlx::query(AssertSqlSafe(sql)), query, after).bind(SEARCH_SCAN);
    for value in &values {
        found = bind_value(found, value);
    }
    let rows = decode_rows(&found.fetch_all(pool).await?)?;
    let mut scanned_to = None;
    if (rows.len() as i64) < limit {
        let sql = format!("SELECT MIN(seq), COUNT(*) FROM ({window})");
        let scanned = bind_filters(sqlx::query(AssertSqlSafe(sql)), query, after)
            .bind(SEARCH_SCAN)
            .fetch_one(pool)
            .await?;
        if scanned.get::<i64, _>(1) == SEARCH_SCAN {
            scanned_to = scanned
                .get::<Option<i64>, _>(0)
                .and_then(|seq| u64::try_from(seq).ok());
        }
    }
    Ok(Listed { rows, scanned_to })
}

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

fn bind_filters<'q>(sql: Query<'q>, query: &'q ListQuery, after: Option<i64>) -> Query<'q> {
    sql.bind(query.status.map(Status::as_str))
        .bind(query.job_type.as_deref())
        .bind(query.queue.as_deref())
        .bind(after)
}

fn decode_rows(rows: &[SqliteRow]) -> Result<Vec<(u64, JobRecord)>, StoreError> {
    rows.iter()
        .map(|row| {
            let seq = u64::try_from(row.get::<i64, _>(0)).unwrap_or(0);
            Ok((seq, parse_record(parse_uuid(row.get(1))?, row.get(2))?))
        })
        .collect()
}

/// A value bound into a search clause: a JSON path or a scalar.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    Text(String),
    Integer(i64),
    Real(f64),
}

fn bind_value<'q>(sql: Query<'q>, value: &Bound) -> Query<'q> {
    match value {
        Bound::Text(text) => sql.bind(text.clone()),
        Bound::Integer(number) => sql.bind(*number),
        Bound::Real(number) => sql.bind(*number),
    }
}

/// The `WHERE` clause of `search` over the column `record`, with its placeholders
/// numbered from `first`, and the values they stand for.
fn search_clause(search: &ParamSearch, first: usize) -> (String, Vec<Bound>) {
    let mut values = Vec::new();
    let mut placeholder = |value: Bound| {
        values.push(value);
        format!("?{}", first + values.len() - 1)
    };
    let tests: Vec<String> = search
        .conditions()
        .iter()
        .map(|condition| {
            let path = placeholder(Bound::Text(json_path(&condition.path)));
            match &condition.test {
                Test::Equals(value) => {
                    let test = scalar_test(
                        "json_type(record, {path})",
                        "json_extract(record, {path})",
                        value,
                        &mut placeholder,
                    );
                    test.replace("{path}", &path)
                }
                Test::HasElement(value) => {
                    let test = scalar_test("type", "value", value, &mut placeholder);
                    format!(
                        "json_type(record, {path}) = 'array' AND EXISTS \
                         (SELECT 1 FROM json_each(record, {path}) WHERE {test})"
                    )
                }
            }
        })
        .collect();
    (format!("({})", tests.join(") AND (")), values)
}

/// The SQL that holds when the JSON value whose type is `kind` and whose SQL value is
/// `value` equals the scalar `wanted`.
fn scalar_test(
    kind: &str,
    value: &str,
    wanted: &Value,
    placeholder: &mut impl FnMut(Bound) -> String,
) -> String {
    match wanted {
        Value::Null => format!("{kind} = 'null'"),
        Value::Bool(true) => format!("{kind} = 'true'"),
        Value::Bool(false) => format!("{kind} = 'false'"),
        Value::String(text) => format!(
            "{kind} = 'text' AND {value} = {}",
            placeholder(Bound::Text(text.clone()))
        ),
        Value::Number(number) => {
            let bound = match number.as_i64() {
                Some(integer) => Bound::Integer(integer),
                None => Bound::Real(number.as_f64().unwrap_or(f64::NAN)),
            };
            format!(
                "{kind} IN ('integer', 'real') AND {value} = {}",
                placeholder(bound)
            )
        }
        // A search holds only scalars here: ParamSearch flattened the rest.
        Value::Array(_) | Value::Object(_) => "0".to_owned(),
    }
}

/// The SQLite JSON path of `keys` inside the record's `params`; ParamSearch refused
/// keys holding a quote or a backslash, which a quoted path label cannot hold.
fn json_path(keys: &[String]) -> String {
    let mut path = String::from("$.params");
    for key in keys {
        path.push_str(".\"");
        path.push_str(key);
        path.push('"');
    }
    path
}

pub(super) async fn delete_if_finished(pool: &SqlitePool, uuid: Uuid) -> Result<bool, StoreError> {
    let deleted = sqlx::query(
        "DELETE FROM zerog_jobs WHERE uuid = ?1 AND status IN ('done', 'failed', 'cancelled')",
    )
    .bind(uuid.to_string())
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected() == 1)
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

pub(super) async fn stats(pool: &SqlitePool, cap: u64) -> Result<Stats, StoreError> {
    let (mut stats, queues) = backlog(pool).await?;
    stats.queues = queues;
    let limit = i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX);
    for status in FINISHED {
        // The newest `cap + 1` jobs of the status, from its index (status, seq, job_type)
        // alone.
        let rows = sqlx::query(
            "SELECT job_type, COUNT(*) FROM (
                 SELECT job_type FROM zerog_jobs WHERE status = ?1 ORDER BY seq DESC LIMIT ?2)
             GROUP BY job_type",
        )
        .bind(status.as_str())
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let mut seen = 0;
        for row in rows {
            let count = u64::try_from(row.get::<i64, _>(1)).unwrap_or(0);
            seen += count;
            stats.jobs.insert((status, row.get::<String, _>(0)), count);
        }
        if seen > cap {
            // SQLite keeps no count to estimate from, and counting the rest would read
            // them all: these are the counts among the newest, lower bounds.
            stats.counted.insert(status, Counted::AtLeast);
        }
    }
    Ok(stats)
}

/// The unfinished jobs by status and type, and the backlog of each queue, read from
/// the indexes of due and of leased jobs alone.
async fn backlog(pool: &SqlitePool) -> Result<(Stats, BTreeMap<String, QueueStats>), StoreError> {
    let mut stats = Stats::default();
    let mut queues: BTreeMap<String, QueueStats> = BTreeMap::new();
    let now = millis(Utc::now());
    // Each part names its index, since SQLite would rather look each job up by its
    // status, and the index's condition exactly, as SQLite needs to use it at all;
    // the entries of both carry every column read.
    let rows = sqlx::query(
        "SELECT queue, status, job_type, COUNT(*),
                COUNT(CASE WHEN run_at <= ?1 THEN 1 END),
                MIN(CASE WHEN run_at <= ?1 THEN run_at END),
                COUNT(CASE WHEN run_at > ?1 THEN 1 END)
         FROM zerog_jobs INDEXED BY zerog_jobs_due
         WHERE status IN ('queued', 'waiting')
         GROUP BY queue, status, job_type
         UNION ALL
         SELECT queue, 'running', job_type, COUNT(*), 0, NULL, 0
         FROM zerog_jobs INDEXED BY zerog_jobs_leased
         WHERE status = 'running'
         GROUP BY queue, job_type",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    for row in rows {
        let Ok(status) = row.get::<&str, _>(1).parse::<Status>() else {
            continue;
        };
        let count = |index| u64::try_from(row.get::<i64, _>(index)).unwrap_or(0);
        stats.jobs.insert((status, row.get(2)), count(3));
        let queue = queues.entry(row.get(0)).or_default();
        if status == Status::Running {
            queue.running += count(3);
            continue;
        }
        queue.due += count(4);
        queue.waiting += count(6);
        if let Some(at) = row.get::<Option<i64>, _>(5) {
            let age = Duration::from_millis(u64::try_from(now - at).unwrap_or(0));
            queue.oldest_due_age = Some(queue.oldest_due_age.map_or(age, |old| old.max(age)));
        }
    }
    Ok((stats, queues))
}

pub(super) async fn overview(
    pool: &SqlitePool,
    cap: u64,
    since: DateTime<Utc>,
) -> Result<Overview, StoreError> {
    let mut overview = Overview::default();
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    // Each count walks the status index and stops at the cap.
    for status in Status::ALL {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM zerog_jobs WHERE status = ?1 LIMIT ?2)",
        )
        .bind(status.as_str())
        .bind(cap)
        .fetch_one(pool)
        .await?;
        overview
            .statuses
            .insert(status, u64::try_from(count).unwrap_or(0));
    }
    let rows = sqlx::query(
        // The first test names the statuses of the index of finish times exactly, or
        // SQLite would not use it and would read every done and failed job.
        "SELECT finished_at / 60000, status, COUNT(*) FROM zerog_jobs
         WHERE status IN ('done', 'failed', 'cancelled') AND status IN ('done', 'failed')
           AND finished_at >= ?1
         GROUP BY 1, 2",
    )
    .bind(millis(since))
    .fetch_all(pool)
    .await?;
    for row in rows {
        let minute: i64 = row.get(0);
        let count = u64::try_from(row.get::<i64, _>(2)).unwrap_or(0);
        let counts = overview.finished.entry(minute).or_default();
        match row.get::<&str, _>(1) {
            "done" => counts.done = count,
            _ => counts.failed = count,
        }
    }
    overview.queues = backlog(pool).await?.1;
    overview.oldest_due = oldest_due(&overview.queues, Utc::now());
    Ok(overview)
}

pub(super) fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|error| StoreError::Backend(error.into()))
}
