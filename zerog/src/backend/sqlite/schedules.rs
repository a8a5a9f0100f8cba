//! Schedules in SQLite: one row each in `zerog_schedules`, and `fire` as one
//! transaction that moves the cursor only if it is before the tick, then inserts the
//! tick's job.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqlitePool};

use super::{insert_job, millis};
use crate::backend::{Fire, PutSchedule, StoreError, from_millis, parse_schedule, schedule_json};
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

pub(super) async fn put(
    pool: &SqlitePool,
    schedule: &Schedule,
    source: ScheduleSource,
    mode: PutSchedule,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let sql = match mode {
        PutSchedule::Create => {
            "INSERT INTO zerog_schedules (name, definition, source, last_tick)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING"
        }
        PutSchedule::Replace => {
            "UPDATE zerog_schedules SET definition = ?2, source = ?3 WHERE name = ?1"
        }
        PutSchedule::Declare => {
            "INSERT INTO zerog_schedules (name, definition, source, last_tick)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE
                 SET definition = excluded.definition, source = excluded.source"
        }
    };
    let written = sqlx::query(sql)
        .bind(&schedule.name)
        .bind(schedule_json(schedule))
        .bind(source.as_str())
        .bind(millis(now))
        .execute(pool)
        .await?;
    Ok(written.rows_affected() == 1)
}

pub(super) async fn list(pool: &SqlitePool) -> Result<Vec<ScheduleState>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, definition, source, paused, last_tick, last_run_at
         FROM zerog_schedules ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(state).collect()
}

pub(super) async fn get(
    pool: &SqlitePool,
    name: &str,
) -> Result<Option<ScheduleState>, StoreError> {
    let row = sqlx::query(
        "SELECT name, definition, source, paused, last_tick, last_run_at
         FROM zerog_schedules WHERE name = ?1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(state).transpose()
}

pub(super) async fn delete(pool: &SqlitePool, name: &str) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM zerog_schedules WHERE name = ?1")
        .bind(name)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

pub(super) async fn pause(
    pool: &SqlitePool,
    name: &str,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let written = sqlx::query(
        "UPDATE zerog_schedules
         SET paused = ?2, last_tick = CASE WHEN ?2 THEN last_tick ELSE MAX(last_tick, ?3) END
         WHERE name = ?1",
    )
    .bind(name)
    .bind(paused)
    .bind(millis(now))
    .execute(pool)
    .await?;
    Ok(written.rows_affected() == 1)
}

pub(super) async fn fire(pool: &SqlitePool, fire: &Fire<'_>) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    // The write comes first, so this transaction takes SQLite's write lock before it
    // reads anything: a second process firing the same tick waits here, then finds
    // the cursor moved.
    let moved = sqlx::query(
        "UPDATE zerog_schedules
         SET last_tick = ?2, last_run_at = CASE WHEN ?3 THEN ?2 ELSE last_run_at END
         WHERE name = ?1 AND paused = 0 AND last_tick < ?2",
    )
    .bind(fire.name)
    .bind(millis(fire.tick))
    .bind(fire.job.is_some())
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(job) = &fire.job {
        // On an error the transaction is dropped, which rolls the cursor back too.
        insert_job(&mut *tx, job, millis(Utc::now())).await?;
    }
    tx.commit().await?;
    Ok(true)
}

fn state(row: &sqlx::sqlite::SqliteRow) -> Result<ScheduleState, StoreError> {
    let name: &str = row.get(0);
    Ok(ScheduleState {
        schedule: parse_schedule(name, row.get(1))?,
        source: ScheduleSource::from_stored(row.get(2)),
        paused: row.get::<i64, _>(3) != 0,
        last_tick: from_millis(row.get(4)),
        last_run_at: row.get::<Option<i64>, _>(5).map(from_millis),
    })
}
