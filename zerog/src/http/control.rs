//! `POST /cancel/{uuid}`, `POST /retry/{uuid}`, `GET /workers` and
//! `POST /workers/{id}/drain`: controlling jobs and workers (the seed's "flexible
//! capacity management").

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::monitor::ProgressView;
use super::{ApiError, ApiState, parse_uuid};
use crate::backend::{CancelOutcome, WorkerCommand};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelQuery {
    #[serde(default)]
    kill: bool,
}

pub(super) async fn cancel(
    uuid: web::Path<String>,
    query: web::Query<CancelQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let uuid = parse_uuid(&uuid)?;
    let outcome = state.backend.cancel(uuid, query.kill).await?;
    let (record, signalled) = match outcome {
        CancelOutcome::Cancelled(record) => (record, false),
        CancelOutcome::Signalled(record) => (record, true),
    };
    tracing::info!(job.uuid = %uuid, kill = query.kill, signalled, "cancel requested");
    Ok(HttpResponse::Ok().json(json!({
        "uuid": record.uuid,
        "status": record.status,
        "resultCode": record.result_code,
        "cancelRequested": signalled,
    })))
}

/// The query of a route that takes no parameter: any parameter is refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoQuery {}

/// `POST /retry/{uuid}`: a failed or cancelled job goes back to the queue.
pub(super) async fn retry(
    uuid: web::Path<String>,
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let uuid = parse_uuid(&uuid)?;
    let record = state.backend.retry(uuid).await?;
    tracing::info!(job.uuid = %uuid, "retry requested");
    Ok(HttpResponse::Ok().json(ProgressView::of(&record)))
}

pub(super) async fn workers(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let workers = state.backend.list_workers().await?;
    Ok(HttpResponse::Ok().json(json!({ "workers": workers })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DrainQuery {
    #[serde(default)]
    exit: bool,
}

pub(super) async fn drain(
    id: web::Path<String>,
    query: web::Query<DrainQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let command = if query.exit {
        WorkerCommand::DrainAndExit
    } else {
        WorkerCommand::Drain
    };
    if !state.backend.command_worker(&id, command).await? {
        return Err(ApiError::UnknownWorker(id.into_inner()));
    }
    tracing::info!(worker = %id, ?command, "worker drain requested");
    Ok(HttpResponse::Ok().json(json!({ "id": id.into_inner(), "command": command })))
}
