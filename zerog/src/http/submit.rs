//! `POST /job/{jobType}`: validate, persist, enqueue (the seed's "run job"), now or
//! from `?runAt=` / `?runAfter=` (see `delay`); and `POST /job/{jobType}/batch`, many
//! jobs of one type validated as a whole and enqueued in one write.

use std::sync::Arc;

use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};

use super::connection::ConnectionReport;
use super::delay::SubmitQuery;
use super::{ApiError, ApiState, Mount};
use crate::backend::Inserted;
use crate::record::JobRecord;
use crate::registry::JobType;
use crate::validate::Violation;

pub(super) async fn submit(
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let job_type = known_type(&state, path.into_inner())?;
    accept(&request, job_type, body, &state).await
}

fn known_type(state: &ApiState, name: String) -> Result<&JobType, ApiError> {
    state
        .registry
        .get(&name)
        .ok_or(ApiError::UnknownJobType(name))
}

/// `POST /job/{jobType}/batch`: a JSON array of parameter objects, validated as a
/// whole (every violation of every job, each path under its index, and nothing
/// enqueued if there is one), then enqueued in one write of the store.
pub(super) async fn submit_batch(
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let job_type = known_type(&state, path.into_inner())?;
    let query = SubmitQuery::parse(request.query_string())?;
    query.due_at(Utc::now())?;
    let priority = query.priority(job_type.spec().priority)?;
    require_json(&request)?;
    let body = read_json(&request, body, &state).await?;
    let spec = job_type.spec();
    let invalid = |violations| ApiError::Validation {
        job_type: spec.job_type.to_owned(),
        violations,
    };
    let Value::Array(items) = body else {
        return Err(invalid(vec![Violation {
            path: String::new(),
            message: "a batch is a JSON array of parameter objects".to_owned(),
        }]));
    };
    if items
        .iter()
        .any(|params| nesting_depth(params) > state.max_depth)
    {
        return Err(ApiError::TooDeep {
            limit: state.max_depth,
        });
    }
    let mut records = Vec::with_capacity(items.len());
    let mut violations = Vec::new();
    for (index, params) in items.iter().enumerate() {
        match job_type.validate(params) {
            Ok(params) => {
                let mut record = JobRecord::new(spec, params);
                record.priority = priority;
                records.push(record);
            }
            Err(found) => violations.extend(found.into_iter().map(|violation| Violation {
                path: format!("/{index}{}", violation.path),
                message: violation.message,
            })),
        }
    }
    if !violations.is_empty() {
        return Err(invalid(violations));
    }
    let run_at = query.due_at(Utc::now())?;
    let answers = state
        .backend
        .enqueue_of_type(spec, &records, run_at)
        .await?;
    let uuids: Vec<_> = records
        .iter()
        .zip(answers)
        .map(|(record, inserted)| match inserted {
            Inserted::New => record.uuid,
            Inserted::Duplicate(holder) => holder,
        })
        .collect();
    tracing::info!(
        jobs = uuids.len(),
        job.job_type = spec.job_type,
        "job batch accepted"
    );
    Ok(HttpResponse::Created().json(json!({ "uuids": uuids })))
}

/// Validates, persists and enqueues a job of `job_type`: the body of both
/// `POST /job/{jobType}` and the hierarchy's `POST /{path}/{leaf}/job`.
pub(super) async fn accept(
    request: &HttpRequest,
    job_type: &JobType,
    body: web::Payload,
    state: &ApiState,
) -> Result<HttpResponse, ApiError> {
    let query = SubmitQuery::parse(request.query_string())?;
    query.due_at(Utc::now())?;
    let priority = query.priority(job_type.spec().priority)?;
    require_json(request)?;
    let params = read_json(request, body, state).await?;
    if nesting_depth(&params) > state.max_depth {
        return Err(ApiError::TooDeep {
            limit: state.max_depth,
        });
    }
    let params = job_type
        .validate(&params)
        .map_err(|violations| ApiError::Validation {
            job_type: job_type.spec().job_type.to_owned(),
            violations,
        })?;
    let spec = job_type.spec();
    let mut record = JobRecord::new(spec, params);
    record.priority = priority;
    // Counted from the moment the job is accepted, after its body has arrived.
    let run_at = query.due_at(Utc::now())?;
    let answers = state
        .backend
        .enqueue_of_type(spec, std::slice::from_ref(&record), run_at)
        .await?;
    let mount = Mount::of(request);
    if let Some(&Inserted::Duplicate(holder)) = answers.first() {
        tracing::info!(job.uuid = %holder, job.job_type = spec.job_type, "duplicate of a unique job");
        return Ok(HttpResponse::Ok()
            .insert_header((header::LOCATION, mount.url(&format!("/progress/{holder}"))))
            .json(json!({ "uuid": holder, "duplicate": true })));
    }
    tracing::info!(job.uuid = %record.uuid, job.job_type = spec.job_type, "job accepted");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            mount.url(&format!("/progress/{}", record.uuid)),
        ))
        .json(json!({ "uuid": record.uuid })))
}

/// How deeply `value` nests arrays and objects: 0 for a scalar, 1 for `{}` or `[1]`.
pub(super) fn nesting_depth(value: &Value) -> usize {
    // Iterative, so that a hostile body cannot overflow the stack (serde_json already
    // refuses more than 128 levels, but the check should not depend on that).
    let mut deepest = 0;
    let mut pending = vec![(value, 0)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

pub(super) fn require_json(request: &HttpRequest) -> Result<(), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::UnsupportedMediaType)?;
    if super::guard::is_json(content_type) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

pub(super) async fn read_json(
    request: &HttpRequest,
    body: web::Payload,
    state: &ApiState,
) -> Result<Value, ApiError> {
    let limit = state.body_limit;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let timeout = state.body_timeout;
    let bytes = tokio::time::timeout(timeout, body.to_bytes_limited(limit))
        .await
        .map_err(|_| ApiError::BodyTimeout { timeout })?
        .map_err(|_| ApiError::PayloadTooLarge { limit })?
        .map_err(|error| body_error(request, error))?;
    serde_json::from_slice(&bytes).map_err(|error| ApiError::MalformedJson(error.to_string()))
}

/// Why a body could not be read, in words for the client: actix's own message for a
/// body that ends early names an internal `None`.
fn body_error(request: &HttpRequest, error: actix_web::Error) -> ApiError {
    let refused = request
        .conn_data::<Arc<ConnectionReport>>()
        .and_then(|report| report.body_error());
    match (refused, error.as_error::<PayloadError>()) {
        (Some(refused), _) => refused,
        (None, Some(PayloadError::Incomplete(_))) => ApiError::IncompleteBody,
        (None, _) => ApiError::MalformedRequest(format!("the body could not be read: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_arrays_and_objects() {
        assert_eq!(nesting_depth(&json!(1)), 0);
        assert_eq!(nesting_depth(&json!({})), 1);
        assert_eq!(nesting_depth(&json!({"a": [1, {"b": []}], "c": 2})), 4);
    }
}
