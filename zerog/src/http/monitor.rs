//! `GET /progress/{uuid}`, `/info/{uuid}` and `/data/{uuid}`: watching a job. The
//! hierarchy's `/{path}/progress/{uuid}` and its siblings answer the same.

use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{ApiError, ApiState, parse_uuid};
use crate::record::{JobRecord, Status};

/// The progress of a job, as `/progress` and job listings serve it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProgressView {
    /// The job's id.
    pub(super) uuid: Uuid,
    /// Its job type.
    pub(super) job_type: String,
    /// Where it is in its life.
    pub(super) status: Status,
    /// `-1` until finished, then the code it finished with (200 means success).
    pub(super) result_code: i64,
    /// `resultCode` again, under the key that ZeroG and Spacewalk clients read.
    pub(super) result: i64,
    /// Progress, from 0 to 1.
    pub(super) completeness: f64,
    /// When a `waiting` job may start (a delayed job, a requeue or a retry's backoff);
    /// absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) run_after: Option<String>,
}

impl ProgressView {
    pub(super) fn of(record: &JobRecord) -> Self {
        ProgressView {
            uuid: record.uuid,
            job_type: record.job_type.clone(),
            status: record.status,
            result_code: record.result_code,
            result: record.result_code,
            completeness: record.completeness,
            run_after: record.run_after.clone(),
        }
    }
}

/// The output of a finished job, as `/data` serves it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct DataView {
    /// The job's id.
    uuid: Uuid,
    /// The code it finished with (200 means success).
    result_code: i64,
    /// What `Outcome::done_with` gave, or null.
    data: Value,
}

/// Which view of a job to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum View {
    /// `/progress`.
    Progress,
    /// `/info`.
    Info,
    /// `/data`.
    Data,
}

impl View {
    /// The view a path word names: `progress`, `info` or `data`.
    pub(super) fn named(word: &str) -> Option<View> {
        match word {
            "progress" => Some(View::Progress),
            "info" => Some(View::Info),
            "data" => Some(View::Data),
            _ => None,
        }
    }
}

/// Loads the job named by a path's `{uuid}`.
pub(super) async fn load(state: &ApiState, uuid: &str) -> Result<JobRecord, ApiError> {
    let uuid = parse_uuid(uuid)?;
    state
        .backend
        .get(uuid)
        .await?
        .ok_or(ApiError::UnknownJob(uuid))
}

/// The record without `params` and `data`, plus `result` (= `resultCode`, the key
/// that ZeroG's and Spacewalk's clients read), as `/info` serves it.
pub(super) fn info_view(record: &JobRecord) -> Value {
    let mut view = serde_json::to_value(record).expect("a job record serializes");
    if let Value::Object(map) = &mut view {
        map.remove("params");
        map.remove("data");
        map.insert("result".into(), Value::from(record.result_code));
    }
    view
}

/// Answers `view` of the job `uuid`.
pub(super) async fn answer(
    state: &ApiState,
    view: View,
    uuid: &str,
) -> Result<HttpResponse, ApiError> {
    let record = load(state, uuid).await?;
    match view {
        View::Progress => Ok(HttpResponse::Ok().json(ProgressView::of(&record))),
        View::Info => Ok(HttpResponse::Ok().json(info_view(&record))),
        View::Data if !record.status.is_finished() => Err(ApiError::NotFinished {
            uuid: record.uuid,
            status: record.status,
        }),
        View::Data => Ok(HttpResponse::Ok().json(DataView {
            uuid: record.uuid,
            result_code: record.result_code,
            data: record.data,
        })),
    }
}

pub(super) async fn progress(
    uuid: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    answer(&state, View::Progress, &uuid).await
}

pub(super) async fn info(
    uuid: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    answer(&state, View::Info, &uuid).await
}

pub(super) async fn data(
    uuid: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    answer(&state, View::Data, &uuid).await
}
