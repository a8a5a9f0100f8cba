//! [`ApiError`]: every way an HTTP request can fail, each with a fixed status and the
//! JSON body `{"error": "<kind>", "message": "...", "details": [...]?}`.
//!
//! Messages name what the client sent and never what broke inside: a backend failure
//! is logged, and the client only learns that the store is unavailable.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use schemars::JsonSchema;
use serde::Serialize;
use uuid::Uuid;

use crate::backend::StoreError;
use crate::record::Status;
use crate::validate::Violation;

/// A failed request.
///
/// A [`StoreError`] converts into the variant that says what it means to the client
/// (see the `From` impl), so a handler passes the store's errors on with `?`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The parameters break the job type's schema; one detail per violation.
    #[error("the parameters do not match the schema of job type `{job_type}`")]
    Validation {
        /// The job type posted to.
        job_type: String,
        /// Every violation, with its JSON pointer path.
        violations: Vec<Violation>,
    },
    /// The body is not JSON.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body nests arrays and objects deeper than the server accepts.
    #[error("the body nests arrays and objects deeper than {limit} levels")]
    TooDeep {
        /// The deepest nesting accepted.
        limit: usize,
    },
    /// The path names something that is not a UUID.
    #[error("`{0}` is not a UUID")]
    BadUuid(String),
    /// No job type has this name.
    #[error("unknown job type `{0}`")]
    UnknownJobType(String),
    /// No job has this uuid.
    #[error("no job has uuid {0}")]
    UnknownJob(Uuid),
    /// A `priority` that is not a whole number from 0 to 9.
    #[error("`{0}` is not a priority: expected a whole number from 0, the most urgent, to 9")]
    BadPriority(String),
    /// No queue has this name: no job type of the service names it, and the store has
    /// no job in it.
    #[error("no queue is named `{0}`")]
    UnknownQueue(String),
    /// No live worker has this id.
    #[error("no live worker has id `{0}`")]
    UnknownWorker(String),
    /// No schedule has this name.
    #[error("no schedule has the name `{0}`")]
    UnknownSchedule(String),
    /// A schedule has this name already.
    #[error("a schedule named `{0}` exists already; replace it with PUT /schedules/{0}")]
    ScheduleExists(String),
    /// A schedule's cron expression does not parse.
    #[error("{0}")]
    BadCron(String),
    /// A schedule's time zone is not an IANA name.
    #[error("`{0}` is not an IANA time zone, such as UTC or Europe/Paris")]
    BadTimezone(String),
    /// A schedule's name is not one the API takes.
    #[error(
        "`{0}` is not a schedule name: expected 1 to 100 characters of A-Z, a-z, 0-9, `_`, `.` and `-`"
    )]
    BadScheduleName(String),
    /// A schedule's body is not `{name, jobType, cron, params?, timezone?, missed?}`.
    #[error("the body is not a schedule: {0}")]
    BadSchedule(String),
    /// The job has finished, so it cannot be cancelled.
    #[error("job {uuid} has finished already; it is {status}")]
    AlreadyFinished {
        /// The job.
        uuid: Uuid,
        /// How it finished.
        status: Status,
    },
    /// The job is neither failed nor cancelled, so it cannot be retried.
    #[error("job {uuid} is {status}; only failed or cancelled jobs can be retried")]
    NotRetryable {
        /// The job.
        uuid: Uuid,
        /// Its status now.
        status: Status,
    },
    /// A `runAt` or `runAfter` that does not parse, is negative or too far ahead, or
    /// both given at once.
    #[error("{0}")]
    BadRunAt(String),
    /// No route matches.
    #[error("no route for {method} {path}")]
    NoRoute {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// The path exists, but not with this method.
    #[error("{method} is not allowed here; use {allow}")]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// The methods the path answers, comma-separated, as the `Allow` header says.
        allow: String,
    },
    /// The job has not finished: it has no output yet, and cannot be deleted.
    #[error("job {uuid} has not finished; it is {status}")]
    NotFinished {
        /// The job.
        uuid: Uuid,
        /// Its status now.
        status: Status,
    },
    /// The body is larger than the server accepts.
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body did not arrive within the time the server allows.
    #[error("the body did not arrive within {}s", timeout.as_secs_f64())]
    BodyTimeout {
        /// The time allowed.
        timeout: std::time::Duration,
    },
    /// The body ended before its declared length: the client closed the connection,
    /// or half-closed it, too early.
    #[error("the body ended before it was complete: the connection was closed too early")]
    IncompleteBody,
    /// The request's line, headers or chunked body are not valid HTTP/1.1.
    #[error("the request is not valid HTTP/1.1: {0}")]
    MalformedRequest(String),
    /// The request line and headers are over the server's limit.
    #[error("the request line and headers are larger than the limit of 128 KiB")]
    HeadTooLarge,
    /// The request line and headers did not arrive within the time the server allows.
    #[error("the request line and headers did not arrive within {}s", timeout.as_secs_f64())]
    HeadTimeout {
        /// The time allowed.
        timeout: std::time::Duration,
    },
    /// The body is not declared as JSON.
    #[error("the body must be JSON, sent with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// The query string does not parse, for example a repeated key.
    #[error("the query string does not parse: {0}")]
    BadQuery(String),
    /// A `status` filter names no status.
    #[error(
        "`{0}` is not a status: expected one of queued, running, waiting, done, failed, cancelled"
    )]
    BadStatus(String),
    /// A retention request names a status of jobs that have not finished.
    #[error(
        "only finished jobs can be deleted, and `{0}` is not a finished status: expected done, failed or cancelled"
    )]
    UnfinishedStatus(String),
    /// A `limit` that is not a whole number from 1 to the maximum.
    #[error("`{text}` is not a page size: expected a whole number from 1 to {max}")]
    BadLimit {
        /// What was sent.
        text: String,
        /// The largest page.
        max: u32,
    },
    /// An `after` that no listing handed out.
    #[error("`{0}` is not a listing cursor: pass the `next` of the previous page")]
    BadCursor(String),
    /// A parameter search (`GET /jobs?search=`) that is not one.
    #[error("`search` is not a parameter search: {0}")]
    BadSearch(String),
    /// The service is read-only (`ZEROG_UI=readonly`): it changes nothing over HTTP.
    #[error("this service is read-only: it answers reads only, and {0} changes state")]
    ReadOnly(String),
    /// An age that does not parse, such as `olderThan=soon`.
    #[error("`{0}` is not an age: expected a whole number and a unit, such as 30s, 15m, 12h or 7d")]
    BadAge(String),
    /// An age too long to mean anything, such as `olderThan=999999999d`.
    #[error(
        "`{text}` is too long an age: at most 5 digits of days, 7 of hours, 8 of minutes, \
         or 9 of seconds or milliseconds"
    )]
    AgeOutOfRange {
        /// What was sent.
        text: String,
    },
    /// A required query parameter is missing.
    #[error("the query parameter `{0}` is required")]
    MissingParameter(&'static str),
    /// No branch of the endpoint hierarchy has this path.
    #[error("no branch has the path `{0}`")]
    UnknownBranch(String),
    /// The path names a branch where a leaf (a job type) is expected.
    #[error("`{0}` is a branch, not a leaf; list its leaves with GET /{0}/leaves")]
    NotALeaf(String),
    /// The branch has no leaf of this name.
    #[error("the branch `{branch}` has no leaf `{leaf}`")]
    UnknownLeaf {
        /// The branch path (empty for the root).
        branch: String,
        /// The leaf asked for.
        leaf: String,
    },
    /// The path or the query holds a NUL character (`%00`), which no store keeps.
    #[error("the path and the query may not hold a NUL character (%00)")]
    NulCharacter,
    /// The `Host` names something other than this server, as a DNS-rebinding page
    /// would.
    #[error(
        "this server does not answer to the host `{0}`: use its address, or add the name \
         to ZEROG_ALLOWED_HOSTS"
    )]
    HostNotAllowed(String),
    /// A state-changing request from a page of another origin.
    #[error("requests that change state are refused from another origin, and `{0}` is one")]
    CrossOrigin(String),
    /// The request carries no valid bearer token, and the server requires one.
    #[error("a valid bearer token is required: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// The backend failed; the details go to the log, not to the client.
    #[error("the job store is unavailable; try again later")]
    Backend(#[source] StoreError),
}

impl From<StoreError> for ApiError {
    /// The store's refusals that the request caused keep their meaning (404, 409,
    /// 400), decided here once rather than in every handler; anything else is the
    /// store failing (503).
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(uuid) => ApiError::UnknownJob(uuid),
            StoreError::AlreadyFinished { uuid, status } => {
                ApiError::AlreadyFinished { uuid, status }
            }
            StoreError::NotRetryable { uuid, status } => ApiError::NotRetryable { uuid, status },
            StoreError::BadCursor(cursor) => ApiError::BadCursor(cursor),
            StoreError::NotFinished { uuid, status } => ApiError::NotFinished { uuid, status },
            error => ApiError::Backend(error),
        }
    }
}

impl ApiError {
    /// The `error` key of the body.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } => "validation",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::TooDeep { .. } => "too_deep",
            ApiError::BadUuid(_) => "bad_uuid",
            ApiError::UnknownJobType(_) => "unknown_job_type",
            ApiError::UnknownJob(_) => "unknown_job",
            ApiError::UnknownWorker(_) => "unknown_worker",
            ApiError::UnknownQueue(_) => "unknown_queue",
            ApiError::BadPriority(_) => "bad_priority",
            ApiError::UnknownSchedule(_) => "unknown_schedule",
            ApiError::ScheduleExists(_) => "schedule_exists",
            ApiError::BadCron(_) => "bad_cron",
            ApiError::BadTimezone(_) => "bad_timezone",
            ApiError::BadScheduleName(_) => "bad_schedule_name",
            ApiError::BadSchedule(_) => "bad_schedule",
            ApiError::AlreadyFinished { .. } => "already_finished",
            ApiError::NotRetryable { .. } => "not_retryable",
            ApiError::BadRunAt(_) => "bad_run_at",
            ApiError::NoRoute { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::NotFinished { .. } => "not_finished",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::BodyTimeout { .. } => "body_timeout",
            ApiError::IncompleteBody => "incomplete_body",
            ApiError::MalformedRequest(_) => "malformed_request",
            ApiError::HeadTooLarge => "head_too_large",
            ApiError::HeadTimeout { .. } => "head_timeout",
            ApiError::BadQuery(_) => "bad_query",
            ApiError::BadStatus(_) => "bad_status",
            ApiError::UnfinishedStatus(_) => "unfinished_status",
            ApiError::BadLimit { .. } => "bad_limit",
            ApiError::BadCursor(_) => "bad_cursor",
            ApiError::BadSearch(_) => "bad_search",
            ApiError::ReadOnly(_) => "read_only",
            ApiError::BadAge(_) | ApiError::AgeOutOfRange { .. } => "bad_age",
            ApiError::MissingParameter(_) => "missing_parameter",
            ApiError::UnknownBranch(_) => "unknown_branch",
            ApiError::NotALeaf(_) => "not_a_leaf",
            ApiError::UnknownLeaf { .. } => "unknown_leaf",
            ApiError::NulCharacter => "nul_character",
            ApiError::HostNotAllowed(_) => "host_not_allowed",
            ApiError::CrossOrigin(_) => "cross_origin",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Backend(_) => "backend_unavailable",
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct ErrorBody<'a> {
    /// What kind of error: `validation`, `unknown_job`, `bad_uuid`, ...
    pub(super) error: &'a str,
    /// What went wrong, for people.
    pub(super) message: String,
    /// Every violation of the job type's schema (only for `validation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) details: Option<&'a [Violation]>,
    /// The job's status (only for `not_finished`, `already_finished` and
    /// `not_retryable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<Status>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. }
            | ApiError::MalformedJson(_)
            | ApiError::TooDeep { .. }
            | ApiError::BadUuid(_)
            | ApiError::BadQuery(_)
            | ApiError::BadRunAt(_)
            | ApiError::BadStatus(_)
            | ApiError::UnfinishedStatus(_)
            | ApiError::BadLimit { .. }
            | ApiError::BadCursor(_)
            | ApiError::BadSearch(_)
            | ApiError::BadAge(_)
            | ApiError::AgeOutOfRange { .. }
            | ApiError::MissingParameter(_)
            | ApiError::NotALeaf(_)
            | ApiError::NulCharacter
            | ApiError::BadPriority(_)
            | ApiError::BadCron(_)
            | ApiError::BadTimezone(_)
            | ApiError::BadScheduleName(_)
            | ApiError::BadSchedule(_)
            | ApiError::IncompleteBody
            | ApiError::MalformedRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::HostNotAllowed(_) | ApiError::CrossOrigin(_) | ApiError::ReadOnly(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::BodyTimeout { .. } | ApiError::HeadTimeout { .. } => {
                StatusCode::REQUEST_TIMEOUT
            }
            ApiError::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::UnknownJobType(_)
            | ApiError::UnknownJob(_)
            | ApiError::UnknownWorker(_)
            | ApiError::UnknownQueue(_)
            | ApiError::UnknownSchedule(_)
            | ApiError::UnknownBranch(_)
            | ApiError::UnknownLeaf { .. }
            | ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotFinished { .. }
            | ApiError::ScheduleExists(_)
            | ApiError::AlreadyFinished { .. }
            | ApiError::NotRetryable { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Backend(error) = self {
            tracing::error!(%error, "backend failure while serving a request");
        }
        let body = ErrorBody {
            error: self.kind(),
            message: self.to_string(),
            details: match self {
                ApiError::Validation { violations, .. } => Some(violations),
                _ => None,
            },
            status: match self {
                ApiError::NotFinished { status, .. }
                | ApiError::AlreadyFinished { status, .. }
                | ApiError::NotRetryable { status, .. } => Some(*status),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            ApiError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        response.json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_refusals_keep_their_meaning_and_failures_are_503() {
        let uuid = Uuid::nil();
        let status = |error: StoreError| ApiError::from(error).status_code();
        assert_eq!(status(StoreError::NotFound(uuid)), StatusCode::NOT_FOUND);
        assert_eq!(
            status(StoreError::AlreadyFinished {
                uuid,
                status: Status::Done
            }),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(StoreError::BadCursor("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(StoreError::Duplicate(uuid)),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
