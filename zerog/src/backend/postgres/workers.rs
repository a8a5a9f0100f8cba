//! The worker directory on PostgreSQL: heartbeats, listing, and commands.

use std::time::Duration;

use chrono::Utc;
use sqlx::Row;

use super::PostgresBackend;
use crate::backend::{StoreError, WorkerCommand, WorkerInfo};

pub(super) async fn heartbeat(
    backend: &PostgresBackend,
    info: &WorkerInfo,
    ttl: Duration,
) -> Result<WorkerCommand, StoreError> {
    let now = Utc::now();
    let row = sqlx::query(backend.sql(
        "INSERT INTO {workers} (id, info, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET info = excluded.info, expires_at = excluded.expires_at
         RETURNING command",
    ))
    .bind(&info.id)
    .bind(sqlx::types::Json(info))
    .bind(now + ttl)
    .fetch_one(&backend.inner.pool)
    .await?;
    // Entries of workers long gone are of no use to anyone.
    sqlx::query(backend.sql("DELETE FROM {workers} WHERE expires_at < $1"))
        .bind(now - chrono::Duration::hours(1))
        .execute(&backend.inner.pool)
        .await?;
    Ok(WorkerCommand::parse(row.try_get(0)?))
}

pub(super) async fn list(backend: &PostgresBackend) -> Result<Vec<WorkerInfo>, StoreError> {
    let rows =
        sqlx::query(backend.sql("SELECT info FROM {workers} WHERE expires_at > $1 ORDER BY id"))
            .bind(Utc::now())
            .fetch_all(&backend.inner.pool)
            .await?;
    rows.iter()
        .map(|row| {
            let info: sqlx::types::Json<WorkerInfo> = row.try_get(0)?;
            Ok(info.0)
        })
        .collect()
}

pub(super) async fn command(
    backend: &PostgresBackend,
    id: &str,
    command: WorkerCommand,
) -> Result<bool, StoreError> {
    let written = sqlx::query(
        backend.sql("UPDATE {workers} SET command = $1 WHERE id = $2 AND expires_at > $3"),
    )
    .bind(command.as_str())
    .bind(id)
    .bind(Utc::now())
    .execute(&backend.inner.pool)
    .await?;
    Ok(written.rows_affected() == 1)
}

pub(super) async fn remove(backend: &PostgresBackend, id: &str) -> Result<(), StoreError> {
    sqlx::query(backend.sql("DELETE FROM {workers} WHERE id = $1"))
        .bind(id)
        .execute(&backend.inner.pool)
        .await?;
    Ok(())
}
