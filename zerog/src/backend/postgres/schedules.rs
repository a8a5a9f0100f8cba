//! Schedules in PostgreSQL: one row each in `zerog_schedules`, and `fire` as one
//! transaction whose conditional `UPDATE` of the cursor comes first. The row lock it
//! takes makes a second process firing the same tick wait for the first to commit,
//! and then find the cursor moved (READ COMMITTED re-reads the row), so it writes
//! nothing.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::PostgresBackend;
use crate::backend::{Fire, PutSchedule, StoreError, parse_schedule, schedule_json};
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

const COLUMNS: &str = "name, definition::text, source, paused, last_tick, last_run_at";

impl PostgresBackend {
    pub(super) async fn put_schedule_row(
        &self,
        schedule: &Schedule,
        source: ScheduleSource,
        mode: PutSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = match mode {
            PutSchedule::Create => {
                "INSERT INTO {schedules} (name, definition, source, last_tick)
                 VALUES ($1, $2::jsonb, $3, $4) ON CONFLICT (name) DO NOTHING"
            }
            PutSchedule::Replace => {
                "UPDATE {schedules} SET definition = $2::jsonb, source = $3 WHERE name = $1"
            }
            PutSchedule::Declare => {
                "INSERT INTO {schedules} (name, definition, source, last_tick)
                 VALUES ($1, $2::jsonb, $3, $4)
                 ON CONFLICT (name) DO UPDATE
                     SET definition = excluded.definition, source = excluded.source"
            }
        };
        let query = sqlx::query(self.sql(sql))
            .bind(&schedule.name)
            .bind(schedule_json(schedule))
            .bind(source.as_str());
        // A replace keeps the cursor, so it takes no time.
        let query = if mode == PutSchedule::Replace {
            query
        } else {
            query.bind(now)
        };
        let written = query.execute(&self.inner.pool).await?;
        Ok(written.rows_affected() == 1)
    }

    pub(super) async fn list_schedule_rows(&self) -> Result<Vec<ScheduleState>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {{schedules}} ORDER BY name");
        let rows = sqlx::query(self.sql_owned(sql))
            .fetch_all(&self.inner.pool)
            .await?;
        rows.iter().map(state).collect()
    }

    pub(super) async fn get_schedule_row(
        &self,
        name: &str,
    ) -> Result<Option<ScheduleState>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {{schedules}} WHERE name = $1");
        let row = sqlx::query(self.sql_owned(sql))
            .bind(name)
            .fetch_optional(&self.inner.pool)
            .await?;
        row.as_ref().map(state).transpose()
    }

    pub(super) async fn delete_schedule_row(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query(self.sql("DELETE FROM {schedules} WHERE name = $1"))
            .bind(name)
            .execute(&self.inner.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    pub(super) async fn pause_schedule_row(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let written = sqlx::query(self.sql(
            "UPDATE {schedules}
             SET paused = $2,
                 last_tick = CASE WHEN $2 THEN last_tick ELSE GREATEST(last_tick, $3) END
             WHERE name = $1",
        ))
        .bind(name)
        .bind(paused)
        .bind(now)
        .execute(&self.inner.pool)
        .await?;
        Ok(written.rows_affected() == 1)
    }

    pub(super) async fn fire_tick(&self, fire: &Fire<'_>) -> Result<bool, StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        let moved = sqlx::query(self.sql(
            "UPDATE {schedules}
             SET last_tick = $2, last_run_at = CASE WHEN $3 THEN $2 ELSE last_run_at END
             WHERE name = $1 AND NOT paused AND last_tick < $2",
        ))
        .bind(fire.name)
        .bind(fire.tick)
        .bind(fire.job.is_some())
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some(job) = &fire.job {
            // On an error the transaction is dropped, which rolls the cursor back too.
            self.enqueue_in(&mut tx, job.record, job.cost, job.run_at)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

fn state(row: &sqlx::postgres::PgRow) -> Result<ScheduleState, StoreError> {
    let name: &str = row.get(0);
    Ok(ScheduleState {
        schedule: parse_schedule(name, row.get(1))?,
        source: ScheduleSource::from_stored(row.get(2)),
        paused: row.get(3),
        last_tick: row.get(4),
        last_run_at: row.get(5),
    })
}
