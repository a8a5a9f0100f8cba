//! `GET /jobs`: jobs newest first, filtered by status, job type, queue and parameter
//! values (`search`, a JSON object the parameters contain: see [`ParamSearch`]), a
//! page at a time; `DELETE /jobs/{uuid}`: one finished job;
//! and `DELETE /jobs?status=done&olderThan=7d`: retention (m01.remote's `removeJobs`).
//!
//! Pages are keyset-paginated: each answer's `next` is the `after` of the next page,
//! and `null` on the last page, so a page never repeats or skips a job when new jobs
//! arrive in between.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use serde_json::{Value, json};

use super::control::NoQuery;
use super::monitor::ProgressView;
use super::openapi::{Components, answer, error, with_backend_errors};
use super::{ApiError, ApiState, parse_uuid};
use crate::backend::{ListQuery, ParamSearch};
use crate::duration;
use crate::pruner::{FINISHED, cutoff};
use crate::record::{Status, timestamp};

/// The page size when `limit` is not given.
pub(super) const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
pub(super) const MAX_LIMIT: u32 = 500;
/// The form of a listing cursor: a decimal number of at most 18 digits.
pub(super) const CURSOR_PATTERN: &str = "^[0-9]{1,18}$";
/// The form of an age: the duration grammar, with fewer digits for the longer units,
/// so that every age ends within the range of RFC 3339 years (at most 99999d, about
/// 273 years). The server reads exactly this form, so that the published pattern and
/// the server agree.
pub(super) const AGE_PATTERN: &str = "^([0-9]{1,9}(ms|s)|[0-9]{1,8}m|[0-9]{1,7}h|[0-9]{1,5}d)$";

/// The most digits an age may have, by unit: what [`AGE_PATTERN`] allows.
const AGE_DIGITS: [(&str, usize); 5] = [("ms", 9), ("s", 9), ("m", 8), ("h", 7), ("d", 5)];

/// The query of `GET /jobs`, as sent.
#[derive(Debug, Deserialize)]
pub(super) struct ListParams {
    status: Option<String>,
    #[serde(rename = "jobType")]
    job_type: Option<String>,
    queue: Option<String>,
    search: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// One page of jobs.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct JobList {
    /// The jobs, newest first, as `/progress` shows each, with their times.
    jobs: Vec<ListedJob>,
    /// The `after` of the next page, or null on the last page.
    next: Option<String>,
}

/// A job in a listing: its `/progress` view, plus when it was created and last
/// changed, so that a list can show each job's age without reading each record.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListedJob {
    /// The job's progress, as `/progress` shows it.
    #[serde(flatten)]
    progress: ProgressView,
    /// When the job was submitted (RFC 3339).
    created_at: String,
    /// When its record last changed (RFC 3339).
    updated_at: String,
}

impl ListedJob {
    fn of(record: &crate::record::JobRecord) -> Self {
        ListedJob {
            progress: ProgressView::of(record),
            created_at: record.created_at.clone(),
            updated_at: record.updated_at.clone(),
        }
    }
}

/// The query of `DELETE /jobs`, as sent.
#[derive(Debug, Deserialize)]
pub(super) struct DeleteParams {
    status: Option<String>,
    #[serde(rename = "olderThan")]
    older_than: Option<String>,
}

/// What `DELETE /jobs` deleted.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Deleted {
    /// How many jobs were deleted, per status asked for.
    deleted: BTreeMap<Status, u64>,
    /// How many in all.
    total: u64,
    /// Jobs that finished before this time (RFC 3339) were deleted.
    finished_before: String,
}

pub(super) async fn list(
    params: web::Query<ListParams>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let query = ListQuery {
        status: params.status.as_deref().map(parse_status).transpose()?,
        job_type: params.job_type,
        queue: params.queue,
        params: params
            .search
            .as_deref()
            .map(ParamSearch::parse)
            .transpose()
            .map_err(|error| ApiError::BadSearch(error.to_string()))?,
        limit: params
            .limit
            .as_deref()
            .map_or(Ok(DEFAULT_LIMIT), parse_limit)?,
        after: params.after.map(check_cursor).transpose()?,
    };
    let page = state.backend.list(&query).await?;
    Ok(HttpResponse::Ok().json(JobList {
        jobs: page.jobs.iter().map(ListedJob::of).collect(),
        next: page.next,
    }))
}

pub(super) async fn delete(
    params: web::Query<DeleteParams>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let statuses = match params.status.as_deref() {
        Some(list) => list
            .split(',')
            .map(parse_finished_status)
            .collect::<Result<Vec<_>, _>>()?,
        None => FINISHED.to_vec(),
    };
    let older_than = params
        .older_than
        .ok_or(ApiError::MissingParameter("olderThan"))?;
    let age = parse_age(&older_than)?;
    let before = cutoff(Utc::now(), age);
    let deleted = state.backend.delete_finished(&statuses, before).await?;
    let total = deleted.values().sum();
    tracing::info!(total, ?deleted, %older_than, "deleted finished jobs");
    Ok(HttpResponse::Ok().json(Deleted {
        deleted,
        total,
        finished_before: timestamp(before),
    }))
}

/// What `DELETE /jobs/{uuid}` deleted.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeletedJob {
    /// The job.
    uuid: uuid::Uuid,
    /// The status it had.
    status: Status,
    /// Always true.
    deleted: bool,
}

/// `DELETE /jobs/{uuid}`: a finished job, record and all.
pub(super) async fn delete_one(
    uuid: web::Path<String>,
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let uuid = parse_uuid(&uuid)?;
    let record = state.backend.delete_job(uuid).await?;
    tracing::info!(job.uuid = %uuid, status = %record.status, "deleted a finished job");
    Ok(HttpResponse::Ok().json(DeletedJob {
        uuid,
        status: record.status,
        deleted: true,
    }))
}

pub(super) fn delete_one_operation(components: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "deleteJob",
        "tags": ["operations"],
        "summary": "Delete one finished job",
        "parameters": [{
            "name": "uuid", "in": "path", "required": true,
            "description": "The job's uuid.",
            "schema": { "type": "string", "format": "uuid", "pattern": UUID_PATTERN },
        }],
        "responses": with_backend_errors(json!({
            "200": answer("The job is deleted", components.of::<DeletedJob>()),
            "400": error("bad_uuid or bad_query"),
            "404": error("unknown_job"),
            "409": error("not_finished: only a done, failed or cancelled job can be deleted"),
        })),
    })
}

/// The hyphenated form of a uuid: the only one the server reads.
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

fn parse_status(text: &str) -> Result<Status, ApiError> {
    text.parse()
        .map_err(|_| ApiError::BadStatus(text.to_owned()))
}

fn parse_finished_status(text: &str) -> Result<Status, ApiError> {
    let status = parse_status(text)?;
    if status.is_finished() {
        Ok(status)
    } else {
        Err(ApiError::UnfinishedStatus(text.to_owned()))
    }
}

fn parse_limit(text: &str) -> Result<u32, ApiError> {
    let bad = || ApiError::BadLimit {
        text: text.to_owned(),
        max: MAX_LIMIT,
    };
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(bad()),
    }
}

/// Parses an age of the form [`AGE_PATTERN`]: the duration grammar, whose zero is an
/// age (`olderThan=0s` deletes every finished job), with at most [`AGE_DIGITS`].
fn parse_age(text: &str) -> Result<Duration, ApiError> {
    let age = duration::parse(text).map_err(|_| ApiError::BadAge(text.to_owned()))?;
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let unit = &text[digits..];
    // Past these, the cutoff would leave the range of RFC 3339 years.
    let within = AGE_DIGITS
        .iter()
        .any(|&(name, most)| name == unit && digits <= most);
    if !within {
        return Err(ApiError::AgeOutOfRange {
            text: text.to_owned(),
        });
    }
    Ok(age)
}

/// Checks the form of a cursor before the backend reads it, so that every backend
/// refuses the same malformed cursors.
fn check_cursor(text: String) -> Result<String, ApiError> {
    let well_formed = (1..=18).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    if well_formed {
        Ok(text)
    } else {
        Err(ApiError::BadCursor(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_whole_numbers_in_range() {
        assert_eq!(parse_limit("1").unwrap(), 1);
        assert_eq!(parse_limit("500").unwrap(), 500);
        assert_eq!(parse_limit("050").unwrap(), 50);
        for bad in ["", "0", "501", "+5", "-1", "1.5", "abc", "0500", " 5"] {
            assert!(parse_limit(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn retention_refuses_unfinished_statuses() {
        assert_eq!(parse_finished_status("done").unwrap(), Status::Done);
        assert!(matches!(
            parse_finished_status("running"),
            Err(ApiError::UnfinishedStatus(_))
        ));
        assert!(matches!(
            parse_finished_status("nope"),
            Err(ApiError::BadStatus(_))
        ));
    }

    #[test]
    fn ages_have_the_published_form() {
        assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_age("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_age("99999d").unwrap(),
            Duration::from_secs(99_999 * 86_400)
        );
        assert!(parse_age("999999999s").is_ok() && parse_age("9999999h").is_ok());
        // Grammatical, but beyond any job's age: the cutoff would leave RFC 3339.
        for long in ["100000d", "999999999d", "99999999h", "999999999m"] {
            assert!(
                matches!(parse_age(long), Err(ApiError::AgeOutOfRange { .. })),
                "{long}"
            );
        }
        for bad in [
            "",
            "d",
            "7",
            " 7d",
            "7d ",
            "7w",
            "-7d",
            "1000000000s",
            "7D",
            "7٧",
        ] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors_are_decimal() {
        assert!(check_cursor("123".into()).is_ok());
        for bad in ["", "x1", "-1", "1234567890123456789", "12\n"] {
            assert!(check_cursor(bad.into()).is_err(), "{bad:?}");
        }
    }
}
