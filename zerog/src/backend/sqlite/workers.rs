//! The worker directory on SQLite: heartbeats, listing, and commands.

use std::time::Duration;

use chrono::Utc;
use sqlx::{Row, SqlitePool};

use super::millis;
use crate::backend::{StoreError, WorkerCommand, WorkerInfo};

pub(super) async fn heartbeat(
    pool: &SqlitePool,
    info: &WorkerInfo,
    ttl: Duration,
) -> Result<WorkerCommand, StoreError> {
    let now = Utc::now();
    let expires_at = millis(now + ttl);
    let row = sqlx::query(
        "INSERT INTO zerog_workers (id, info, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET info = excluded.info, expires_at = excluded.expires_at
         RETURNING command",
    )
    .bind(&info.id)
    .bind(serde_json::to_string(info).expect("worker info serializes"))
    .bind(expires_at)
    .fetch_one(pool)
    .await?;
    // Entries of workers long gone are of no use to anyone.
    sqlx::query("DELETE FROM zerog_workers WHERE expires_at < ?")
        .bind(millis(now) - 3_600_000)
        .execute(pool)
        .await?;
    Ok(WorkerCommand::parse(row.get(0)))
}

pub(super) async fn list(pool: &SqlitePool) -> Result<Vec<WorkerInfo>, StoreError> {
    let rows = sqlx::query("SELECT info FROM zerog_workers WHERE expires_at > ? ORDER BY id")
        .bind(millis(Utc::now()))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            serde_json::from_str(row.get(0)).map_err(|error| StoreError::Backend(error.into()))
        })
        .collect()
}

pub(super) async fn command(
    pool: &SqlitePool,
    id: &str,
    command: WorkerCommand,
) -> Result<bool, StoreError> {
    let written =
        sqlx::query("UPDATE zerog_workers SET command = ?1 WHERE id = ?2 AND expires_at > ?3")
            .bind(command.as_str())
            .bind(id)
            .bind(millis(Utc::now()))
            .execute(pool)
            .await?;
    Ok(written.rows_affected() == 1)
}

pub(super) async fn remove(pool: &SqlitePool, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM zerog_workers WHERE id = ?")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
