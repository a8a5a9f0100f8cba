//! `/schedules`: the recurring jobs, from code and from the API. Listing, reading,
//! creating, replacing, deleting, pausing and resuming one; the scheduler
//! ([`crate::scheduler`]) fires them.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::control::NoQuery;
use super::submit::{nesting_depth, read_json, require_json};
use super::{ApiError, ApiState, Mount};
use crate::record::timestamp;
use crate::schedule::{Missed, Schedule, ScheduleError, ScheduleSource, ScheduleState};
use crate::scheduler::{CheckError, check};

/// A schedule as the API serves it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ScheduleView {
    /// The schedule's name.
    name: String,
    /// The job type of the jobs it creates.
    job_type: String,
    /// The cron expression: 5 fields, 6 with seconds first, or a macro like `@hourly`.
    cron: String,
    /// The IANA time zone the expression is read in.
    timezone: String,
    /// The parameters of every job it creates.
    params: Value,
    /// What happens to ticks missed while no scheduler ran: `once` (one job for the
    /// whole stretch) or `skip` (none).
    missed: Missed,
    /// `code` (declared in the binary) or `api`.
    source: ScheduleSource,
    /// A paused schedule creates no job.
    paused: bool,
    /// Its next tick, RFC 3339; null while paused or when it has none left.
    next_run_at: Option<String>,
    /// The tick of the latest job it created, RFC 3339; null before the first.
    last_run_at: Option<String>,
}

impl ScheduleView {
    fn of(state: ScheduleState) -> Self {
        let next_run_at = if state.paused {
            None
        } else {
            let after = state.last_tick.max(Utc::now());
            state
                .schedule
                .timetable()
                .ok()
                .and_then(|table| table.next_after(after))
                .map(timestamp)
        };
        let schedule = state.schedule;
        ScheduleView {
            name: schedule.name,
            job_type: schedule.job_type,
            cron: schedule.cron,
            timezone: schedule.timezone,
            params: schedule.params,
            missed: schedule.missed,
            source: state.source,
            paused: state.paused,
            next_run_at,
            last_run_at: state.last_run_at.map(timestamp),
        }
    }
}

/// The body of `POST /schedules` and `PUT /schedules/{name}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ScheduleBody {
    /// The schedule's name, `[A-Za-z0-9_.-]`, 1 to 100 characters; on a `PUT`, the
    /// path's name, which the body may leave out.
    #[serde(default)]
    name: Option<String>,
    /// The job type of the jobs it creates.
    job_type: String,
    /// The cron expression: 5 fields, 6 with seconds first, or a macro like `@hourly`.
    cron: String,
    /// The IANA time zone the expression is read in (default `UTC`).
    #[serde(default)]
    timezone: Option<String>,
    /// The parameters of every job, validated against the job type's schema
    /// (default `{}`).
    #[serde(default)]
    params: Option<Value>,
    /// What happens to ticks missed while no scheduler ran (default `once`).
    #[serde(default)]
    missed: Option<Missed>,
}

/// The list of schedules.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct ScheduleList {
    /// Every schedule, sorted by name.
    schedules: Vec<ScheduleView>,
}

pub(super) async fn list(
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let schedules = state.backend.schedules().await?;
    Ok(HttpResponse::Ok().json(ScheduleList {
        schedules: schedules.into_iter().map(ScheduleView::of).collect(),
    }))
}

pub(super) async fn create(
    request: HttpRequest,
    _: web::Query<NoQuery>,
    body: web::Payload,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&request, body, &state).await?;
    let Some(name) = body.name.clone() else {
        return Err(ApiError::BadSchedule(
            "the body names no schedule: `name` is required".to_owned(),
        ));
    };
    let schedule = checked(name, body, &state)?;
    if !state.backend.create_schedule(&schedule).await? {
        return Err(ApiError::ScheduleExists(schedule.name));
    }
    tracing::info!(schedule = %schedule.name, "schedule created");
    let view = read_back(&state, &schedule.name).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            Mount::of(&request).url(&format!("/schedules/{}", schedule.name)),
        ))
        .json(view))
}

pub(super) async fn get(
    name: web::Path<String>,
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(read_back(&state, &name).await?))
}

pub(super) async fn replace(
    request: HttpRequest,
    name: web::Path<String>,
    _: web::Query<NoQuery>,
    body: web::Payload,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let body = read_body(&request, body, &state).await?;
    if let Some(other) = body.name.as_ref().filter(|other| **other != name) {
        return Err(ApiError::BadSchedule(format!(
            "the body names the schedule `{other}`, and the path `{name}`: a schedule cannot be renamed"
        )));
    }
    if state.backend.schedule(&name).await?.is_none() {
        return Err(ApiError::UnknownSchedule(name));
    }
    let schedule = checked(name, body, &state)?;
    if !state.backend.replace_schedule(&schedule).await? {
        return Err(ApiError::UnknownSchedule(schedule.name));
    }
    tracing::info!(schedule = %schedule.name, "schedule replaced");
    Ok(HttpResponse::Ok().json(read_back(&state, &schedule.name).await?))
}

pub(super) async fn delete(
    name: web::Path<String>,
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if !state.backend.delete_schedule(&name).await? {
        return Err(ApiError::UnknownSchedule(name));
    }
    tracing::info!(schedule = %name, "schedule deleted");
    Ok(HttpResponse::Ok().json(json!({ "name": name, "deleted": true })))
}

pub(super) async fn pause(
    name: web::Path<String>,
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    set_paused(&state, name.into_inner(), true).await
}

pub(super) async fn resume(
    name: web::Path<String>,
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    set_paused(&state, name.into_inner(), false).await
}

async fn set_paused(
    state: &ApiState,
    name: String,
    paused: bool,
) -> Result<HttpResponse, ApiError> {
    if !state.backend.pause_schedule(&name, paused).await? {
        return Err(ApiError::UnknownSchedule(name));
    }
    tracing::info!(schedule = %name, paused, "schedule paused or resumed");
    Ok(HttpResponse::Ok().json(read_back(state, &name).await?))
}

async fn read_back(state: &ApiState, name: &str) -> Result<ScheduleView, ApiError> {
    match state.backend.schedule(name).await? {
        Some(stored) => Ok(ScheduleView::of(stored)),
        None => Err(ApiError::UnknownSchedule(name.to_owned())),
    }
}

async fn read_body(
    request: &HttpRequest,
    body: web::Payload,
    state: &ApiState,
) -> Result<ScheduleBody, ApiError> {
    require_json(request)?;
    let body = read_json(request, body, state).await?;
    if nesting_depth(&body) > state.max_depth {
        return Err(ApiError::TooDeep {
            limit: state.max_depth,
        });
    }
    serde_json::from_value(body).map_err(|error| ApiError::BadSchedule(error.to_string()))
}

/// The schedule of `body` under `name`, checked as the scheduler will run it.
fn checked(name: String, body: ScheduleBody, state: &ApiState) -> Result<Schedule, ApiError> {
    let mut schedule = Schedule::new(name, body.job_type, body.cron);
    if let Some(timezone) = body.timezone {
        schedule = schedule.timezone(timezone);
    }
    if let Some(params) = body.params {
        schedule = schedule.params(params);
    }
    if let Some(missed) = body.missed {
        schedule = schedule.missed(missed);
    }
    match check(&schedule, &state.registry) {
        Ok(_) => Ok(schedule),
        Err(CheckError::Definition(ScheduleError::BadName(name))) => {
            Err(ApiError::BadScheduleName(name))
        }
        Err(CheckError::Definition(ScheduleError::BadTimezone(timezone))) => {
            Err(ApiError::BadTimezone(timezone))
        }
        Err(CheckError::Definition(error)) => Err(ApiError::BadCron(error.to_string())),
        Err(CheckError::UnknownJobType(job_type)) => Err(ApiError::UnknownJobType(job_type)),
        Err(CheckError::Validation {
            job_type,
            violations,
            ..
        }) => Err(ApiError::Validation {
            job_type,
            violations,
        }),
    }
}
