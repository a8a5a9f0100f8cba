//! Reservation on PostgreSQL: one statement takes a batch of due jobs with
//! `FOR UPDATE SKIP LOCKED`, within the worker's free capacity and the queues' limits.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{PostgresBackend, admin::decode_record};
use crate::backend::{Reservation, ReserveRequest, StoreError};
use crate::record::timestamp;

/// The end of both reserve statements: lease the `picked` jobs and return them.
macro_rules! lease_picked {
    () => {
        "
UPDATE {jobs} j
SET status = 'running', lease_id = gen_random_uuid(), worker_id = $9, lease_expires_at = $8,
    run_at = NULL, updated_at = $1, revision = j.revision + 1,
    record = j.record || jsonb_build_object('status', 'running', 'startedAt', $10::text,
                                            'updatedAt', $10::text, 'runAfter', NULL)
FROM picked
WHERE j.seq = picked.seq
RETURNING j.uuid, j.cost, j.lease_id, j.record, picked.run_at, j.seq"
    };
}

/// Reserves when none of the worker's queues is limited, the common case: the oldest
/// due jobs, locked and skipped by concurrent reservers, that fit the free capacity
/// together, in order. Planning and running it costs about half of what
/// [`RESERVE_LIMITED`] costs. `$5` and `$6` are the limits, unused here.
const RESERVE: &str = concat!(
    "
WITH candidates AS (
    SELECT c.seq, c.cost, c.run_at, c.priority
    FROM {jobs} c
    WHERE c.status IN ('queued', 'waiting') AND c.run_at <= $1 AND c.cost <= LEAST($2, $12)
      AND c.queue = ANY($3) AND c.job_type = ANY($4)
      AND ($11::uuid IS NULL OR c.uuid = $11)
    ORDER BY c.priority, c.run_at, c.seq
    LIMIT $7
    FOR UPDATE SKIP LOCKED
),
picked AS (
    SELECT s.seq, s.run_at
    FROM (SELECT c.seq, c.run_at, sum(c.cost) OVER (ORDER BY c.priority, c.run_at, c.seq) AS cost_so_far
          FROM candidates c) s
    WHERE s.cost_so_far <= $2
)",
    lease_picked!()
);

/// Reserves when some of the worker's queues are limited. Candidates are the oldest
/// due jobs that fit one by one, locked and skipped by concurrent reservers; of those,
/// the statement keeps the ones that fit together: within each limited queue's free
/// slots, then within the free capacity, in order. Both cuts only ever take fewer jobs
/// than would fit, never more.
const RESERVE_LIMITED: &str = concat!(
    "
WITH limits AS (
    SELECT l.queue, l.cap,
           (SELECT count(*) FROM {jobs} r WHERE r.queue = l.queue AND r.status = 'running')
               AS running
    FROM unnest($5::text[], $6::bigint[]) AS l(queue, cap)
),
candidates AS (
    SELECT c.seq, c.queue, c.cost, c.run_at, c.priority
    FROM {jobs} c
    WHERE c.status IN ('queued', 'waiting') AND c.run_at <= $1 AND c.cost <= LEAST($2, $12)
      AND c.queue = ANY($3) AND c.job_type = ANY($4)
      AND ($11::uuid IS NULL OR c.uuid = $11)
      AND c.queue NOT IN (SELECT queue FROM limits WHERE running >= cap)
    ORDER BY c.priority, c.run_at, c.seq
    LIMIT $7
    FOR UPDATE SKIP LOCKED
),
within_limits AS (
    SELECT n.seq, n.cost, n.run_at, n.priority
    FROM (SELECT c.*, row_number() OVER (PARTITION BY c.queue ORDER BY c.priority, c.run_at, c.seq) AS nth
          FROM candidates c) n
    LEFT JOIN limits l ON l.queue = n.queue
    WHERE l.cap IS NULL OR l.running + n.nth <= l.cap
),
picked AS (
    SELECT s.seq, s.run_at
    FROM (SELECT w.seq, w.run_at, sum(w.cost) OVER (ORDER BY w.priority, w.run_at, w.seq) AS cost_so_far
          FROM within_limits w) s
    WHERE s.cost_so_far <= $2
)",
    lease_picked!()
);

/// Takes up to `request.max_jobs` jobs for `request`, or only the job `request.only`.
pub(super) async fn reserve(
    backend: &PostgresBackend,
    request: &ReserveRequest<'_>,
) -> Result<Vec<Reservation>, StoreError> {
    let max_jobs = if request.only.is_some() {
        request.max_jobs.min(1)
    } else {
        request.max_jobs
    };
    if max_jobs == 0 || request.max_cost == 0 {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let limited: Vec<(&String, i64)> = request
        .queue_limits
        .iter()
        .filter(|(queue, _)| request.queues.contains(queue))
        .map(|(queue, &cap)| (queue, i64::from(cap)))
        .collect();
    let sql = if limited.is_empty() {
        RESERVE
    } else {
        RESERVE_LIMITED
    };
    let query = sqlx::query(backend.sql(sql))
        .bind(now)
        .bind(i32::try_from(request.max_cost).unwrap_or(i32::MAX))
        .bind(request.queues)
        .bind(request.job_types)
        .bind(
            limited
                .iter()
                .map(|(queue, _)| queue.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(limited.iter().map(|&(_, cap)| cap).collect::<Vec<_>>())
        .bind(i64::try_from(max_jobs).unwrap_or(i64::MAX))
        .bind(now + request.lease)
        .bind(request.worker)
        .bind(timestamp(now))
        .bind(request.only)
        .bind(i32::try_from(request.max_job_cost).unwrap_or(i32::MAX));
    let rows = if limited.is_empty() {
        query.fetch_all(&backend.inner.pool).await?
    } else {
        // Counting a queue's running jobs and taking more of them must not interleave
        // with another reserver doing the same, or both would fill the last slot.
        // Advisory locks, in a fixed order, serialize reservations of limited queues.
        let mut tx = backend.inner.pool.begin().await?;
        for (queue, _) in &limited {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("zerog limit {} {queue}", backend.inner.schema))
                .execute(&mut *tx)
                .await?;
        }
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows
    };
    let mut taken = rows
        .iter()
        .map(|row| reservation(row, request))
        .collect::<Result<Vec<_>, _>>()?;
    taken.sort_by_key(|(order, _)| *order);
    Ok(taken
        .into_iter()
        .map(|(_, reservation)| reservation)
        .collect())
}

fn reservation(
    row: &PgRow,
    request: &ReserveRequest<'_>,
) -> Result<((DateTime<Utc>, i64), Reservation), StoreError> {
    let uuid: Uuid = row.try_get(0)?;
    let cost: i32 = row.try_get(1)?;
    let lease_id: Uuid = row.try_get(2)?;
    let record = decode_record(uuid, row, 3)?;
    let order = (row.try_get(4)?, row.try_get(5)?);
    Ok((
        order,
        request.reservation(record, lease_id, i64::from(cost)),
    ))
}
