//! Reservation on SQLite: the due jobs that fit, one statement per job and one
//! transaction for the batch. SQLite serializes writers, so two workers (or
//! processes) can never take the same row.

use chrono::Utc;
use sqlx::Row;
use uuid::Uuid;

use super::{SqliteBackend, admin, millis, parse_record};
use crate::backend::{Reservation, ReserveRequest, StoreError};
use crate::record::{Status, timestamp};

/// One job per statement, all in one transaction: one commit (one sync of the
/// WAL) for the batch, where a commit per job made the sync the bottleneck.
pub(super) async fn reserve(
    backend: &SqliteBackend,
    request: &ReserveRequest<'_>,
) -> Result<Vec<Reservation>, StoreError> {
    let mut taken: Vec<Reservation> = Vec::new();
    let mut free = request.max_cost;
    // Its first statement writes, so it takes the write lock at once, and never
    // has to upgrade a read lock (which could fail busy).
    let mut tx = backend.pool.begin().await?;
    while taken.len() < request.max_jobs && free > 0 {
        match reserve_one(&mut tx, request, free.min(request.max_job_cost)).await {
            Ok(Some(reservation)) => {
                free = free.saturating_sub(reservation.cost);
                taken.push(reservation);
            }
            Ok(None) => break,
            // Jobs already taken are the caller's now; the error can wait.
            Err(_) if !taken.is_empty() => break,
            Err(error) => return Err(error),
        }
        if request.only.is_some() {
            break;
        }
    }
    if taken.is_empty() {
        // Nothing was written: dropping the transaction rolls it back.
        return Ok(taken);
    }
    tx.commit().await?;
    Ok(taken)
}

/// Takes one job, in one statement: SQLite serializes writers, so two workers (or
/// processes) can never take the same row. The due index is named: without fresh
/// statistics the planner would take the status index and sort every queued job, a
/// cost that grows with the backlog. Listing every priority makes the search one range
/// of due times per priority, in order, past jobs due later at a more urgent one.
const RESERVE_ONE: &str = "UPDATE zerog_jobs
 SET status = 'running', lease_id = ?1, worker_id = ?2, lease_expires_at = ?3,
     run_at = NULL, updated_at = ?4, revision = revision + 1,
     record = json_set(record, '$.status', 'running', '$.startedAt', ?5,
                       '$.updatedAt', ?5, '$.runAfter', NULL)
 WHERE seq = (
     SELECT c.seq FROM zerog_jobs c INDEXED BY zerog_jobs_due
     WHERE c.status IN ('queued', 'waiting') AND c.run_at <= ?4 AND c.cost <= ?6
       AND c.priority IN (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
       AND c.queue IN (SELECT value FROM json_each(?7))
       AND c.job_type IN (SELECT value FROM json_each(?8))
       AND (?10 IS NULL OR c.uuid = ?10)
       AND (json_extract(?9, '$.' || c.queue) IS NULL
            OR (SELECT COUNT(*) FROM zerog_jobs r
                WHERE r.queue = c.queue AND r.status = 'running')
               < json_extract(?9, '$.' || c.queue))
     ORDER BY c.priority, c.run_at, c.seq
     LIMIT 1)
 RETURNING uuid, cost, record";

// The priorities the reserve lists, 0 to the lowest.
const _: () = assert!(crate::spec::LOWEST_PRIORITY == 9);

/// Takes the oldest due job that fits `request` within `free` units, or only the
/// job `request.only` if given.
async fn reserve_one(
    conn: &mut sqlx::SqliteConnection,
    request: &ReserveRequest<'_>,
    free: u32,
) -> Result<Option<Reservation>, StoreError> {
    let now = Utc::now();
    let lease_id = Uuid::new_v4();
    let started_at = timestamp(now);
    let row = sqlx::query(RESERVE_ONE)
        .bind(lease_id.to_string())
        .bind(request.worker)
        .bind(millis(now + request.lease))
        .bind(millis(now))
        .bind(started_at)
        .bind(i64::from(free))
        .bind(serde_json::to_string(request.queues).expect("strings serialize"))
        .bind(serde_json::to_string(request.job_types).expect("strings serialize"))
        .bind(serde_json::to_string(request.queue_limits).expect("a map of counts serializes"))
        .bind(request.only.map(|uuid| uuid.to_string()))
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let uuid = admin::parse_uuid(row.get(0))?;
    let record = parse_record(uuid, row.get::<&str, _>(2))?;
    debug_assert_eq!(record.status, Status::Running);
    Ok(Some(request.reservation(record, lease_id, row.get(1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_reserve_searches_the_due_index_and_sorts_nothing() {
        let backend = SqliteBackend::connect("sqlite::memory:").await.unwrap();
        let explain = format!("EXPLAIN QUERY PLAN {RESERVE_ONE}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(explain))
            .fetch_all(backend.pool())
            .await
            .unwrap();
        let plan: Vec<String> = rows.iter().map(|row| row.get::<String, _>(3)).collect();
        assert!(
            plan.iter().any(|step| step
                .contains("SEARCH c USING INDEX zerog_jobs_due (priority=? AND run_at<?)")),
            "{plan:#?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:#?}"
        );
    }
}
