//! `GET /queues`, `POST /queues/{name}/pause` and `/resume`: each queue's backlog, its
//! cap on running jobs, and pausing it for every worker of the store. A paused queue
//! keeps accepting jobs; no worker reserves from it until it is resumed (workers in
//! other processes see a pause within [`PAUSE_REFRESH`]).
//!
//! The queues listed are those of the job types this service registers, those with
//! jobs in the store, and those paused.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::control::NoQuery;
use super::openapi::{Components, answer, error, with_backend_errors};
use super::{ApiError, ApiState};
#[cfg(doc)]
use crate::backend::PAUSE_REFRESH;

/// One queue, as `/queues` shows it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct QueueView {
    /// The queue's name.
    name: String,
    /// Jobs queued or waiting whose time has come.
    due: u64,
    /// Jobs running now.
    running: u64,
    /// Jobs queued or waiting whose time has not come yet.
    waiting: u64,
    /// The cap on its running jobs across all workers, as live workers keep it, or
    /// null for none.
    limit: Option<u32>,
    /// Whether workers are kept from reserving its jobs.
    paused: bool,
}

/// Every queue, by name.
async fn views(state: &ApiState) -> Result<Vec<QueueView>, ApiError> {
    let stats = state.backend.stats().await?;
    let paused = state.backend.paused_queues().await?;
    let workers = state.backend.list_workers().await?;
    let mut names: BTreeSet<String> = state
        .registry
        .queues()
        .into_iter()
        .map(str::to_owned)
        .collect();
    names.extend(stats.queues.keys().cloned());
    names.extend(paused.iter().cloned());
    Ok(names
        .into_iter()
        .map(|name| {
            let counts = stats.queues.get(&name).cloned().unwrap_or_default();
            let limit = workers
                .iter()
                .filter_map(|worker| worker.queue_limits.get(&name).copied())
                .min();
            QueueView {
                paused: paused.contains(&name),
                due: counts.due,
                running: counts.running,
                waiting: counts.waiting,
                limit,
                name,
            }
        })
        .collect())
}

/// `GET /queues`.
pub(super) async fn list(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({ "queues": views(&state).await? })))
}

/// `POST /queues/{name}/pause`.
pub(super) async fn pause(
    name: web::Path<String>,
    query: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    set_paused(name, query, state, true).await
}

/// `POST /queues/{name}/resume`.
pub(super) async fn resume(
    name: web::Path<String>,
    query: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    set_paused(name, query, state, false).await
}

async fn set_paused(
    name: web::Path<String>,
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
    paused: bool,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let mut view = views(&state)
        .await?
        .into_iter()
        .find(|queue| queue.name == name)
        .ok_or_else(|| ApiError::UnknownQueue(name.clone()))?;
    state.backend.set_queue_paused(&name, paused).await?;
    tracing::info!(queue = %name, paused, "queue paused or resumed");
    view.paused = paused;
    Ok(HttpResponse::Ok().json(view))
}

pub(super) fn list_operation(components: &mut Components, _: &ApiState) -> Value {
    let queue = components.of::<QueueView>();
    json!({
        "operationId": "listQueues",
        "tags": ["operations"],
        "summary": "Each queue's backlog and cap, and whether it is paused",
        "responses": with_backend_errors(json!({
            "200": answer("Every queue, by name", json!({
                "type": "object",
                "properties": { "queues": { "type": "array", "items": queue } },
                "required": ["queues"],
            })),
        })),
    })
}

fn control_operation(components: &mut Components, id: &str, summary: &str) -> Value {
    let queue = components.of::<QueueView>();
    json!({
        "operationId": id,
        "tags": ["operations"],
        "summary": summary,
        "parameters": [
            { "name": "name", "in": "path", "required": true, "description": "The queue's name, from `GET /queues`.", "schema": { "type": "string" } },
        ],
        "responses": with_backend_errors(json!({
            "200": answer("The queue, now", queue),
            "400": error("bad_query"),
            "404": error("unknown_queue"),
        })),
    })
}

pub(super) fn pause_operation(components: &mut Components, _: &ApiState) -> Value {
    control_operation(
        components,
        "pauseQueue",
        "Pause a queue for every worker: jobs are accepted, none is reserved",
    )
}

pub(super) fn resume_operation(components: &mut Components, _: &ApiState) -> Value {
    control_operation(components, "resumeQueue", "Resume a paused queue")
}
