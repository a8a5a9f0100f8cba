//! The submit operations: `POST /job/{jobType}`, its hierarchy twin and
//! `POST /job/{jobType}/batch`, each with the job type's schema as its body and the
//! `runAt` / `runAfter` of a delayed start.

use serde_json::{Value, json};

use super::{Components, error, operation_id, with_backend_errors};
use crate::http::ApiState;
use crate::registry::JobType;
use crate::validate::example_params;

/// What a submit's 400 may be.
const BAD_SUBMIT: &str = "validation (one detail per violation), malformed_json, too_deep, \
    incomplete_body, bad_run_at (runAt or runAfter unparsable, negative, both given, or more \
    than 100 years ahead), bad_priority (not a whole number from 0 to 9) or bad_query (any \
    other query parameter)";

/// How a delayed start is described.
const DELAYED: &str = "With `runAt` or `runAfter` the job is stored `waiting`, with \
    `runAfter` set, and no worker starts it before that time; a time that has come \
    queues it now.";

/// `runAt`, `runAfter` and `priority`, the query of every submit.
fn delay_parameters() -> Value {
    json!([
        {
            "name": "runAt", "in": "query",
            "description": "Start no earlier than this RFC 3339 time (send `+` as `%2B`); \
                at most 100 years ahead. Not with `runAfter`.",
            "schema": { "type": "string", "format": "date-time" },
        },
        {
            "name": "runAfter", "in": "query",
            "description": "Start no earlier than this many seconds from now, whole or \
                decimal (`90`, `1.5`); at most 100 years. Not with `runAt`.",
            "schema": { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$" },
        },
        {
            "name": "priority", "in": "query",
            "description": "How urgent the job is, in place of its type's: 0, the most, to \
                9, the least. Due jobs of a queue start by priority, then by due time, \
                then in submit order.",
            "schema": { "type": "integer", "minimum": 0, "maximum": 9 },
        },
    ])
}

/// `POST /job/{jobType}` for `job_type`.
pub(in crate::http) fn submit_flat_operation(
    components: &mut Components,
    job_type: &JobType,
    state: &ApiState,
) -> Value {
    submit_operation(components, job_type, "", state.max_depth)
}

/// `POST /job/{jobType}`, or its hierarchy twin `POST /{leaf}/job` when `leaf` is given.
pub(super) fn submit_operation(
    components: &mut Components,
    job_type: &JobType,
    leaf: &str,
    max_depth: usize,
) -> Value {
    let spec = job_type.spec();
    let (id, tag) = if leaf.is_empty() {
        (format!("submit_{}", spec.job_type), "jobs")
    } else {
        (operation_id("hierarchy_submit", leaf), "hierarchy")
    };
    let mut description = spec.description.to_owned();
    if !description.is_empty() {
        description.push_str("\n\n");
    }
    description.push_str(&format!(
        "The body is the job's parameters; unknown fields are {}. Arrays and objects may \
         nest at most {max_depth} levels deep. Queue `{}`, cost {}. {DELAYED}",
        if spec.allow_unknown_fields {
            "kept"
        } else {
            "refused"
        },
        spec.queue,
        spec.cost,
    ));
    if let Some(window) = spec.unique_for {
        description.push_str(&format!(
            " Unique for {} s: a submit of the same parameters as a job of that window \
             that has not failed or been cancelled answers 200 with that job and \
             creates nothing.",
            window.as_secs_f64()
        ));
    }
    let mut operation = json!({
        "operationId": id,
        "tags": [tag],
        "summary": format!("Submit a {} job", spec.name),
        "description": description,
        "parameters": delay_parameters(),
        "requestBody": {
            "required": true,
            "content": { "application/json": {
                "schema": components.params_of(job_type),
                "example": example_params(job_type.schema()),
            } },
        },
        "responses": with_backend_errors(json!({
            "201": {
                "description": "Accepted: validated, stored and queued",
                "headers": {
                    "Location": {
                        "description": "The job's `/progress/{uuid}`",
                        "schema": { "type": "string" },
                    },
                },
                "content": { "application/json": { "schema": {
                    "type": "object",
                    "properties": { "uuid": { "type": "string", "format": "uuid" } },
                    "required": ["uuid"],
                } } },
                "links": {
                    "progress": { "operationId": "getProgress", "parameters": { "uuid": "$response.body#/uuid" } },
                    "info": { "operationId": "getInfo", "parameters": { "uuid": "$response.body#/uuid" } },
                    "data": { "operationId": "getData", "parameters": { "uuid": "$response.body#/uuid" } },
                    "cancel": { "operationId": "cancelJob", "parameters": { "uuid": "$response.body#/uuid" } },
                },
            },
            "400": error(BAD_SUBMIT),
            "408": error("body_timeout: the body did not arrive in time"),
            "413": error("payload_too_large"),
            "415": error("unsupported_media_type: the body is not sent as JSON"),
        })),
    });
    if spec.unique_for.is_some() {
        operation["responses"]["200"] = json!({
            "description": "A duplicate of a unique job: nothing was created",
            "content": { "application/json": { "schema": {
                "type": "object",
                "properties": {
                    "uuid": { "type": "string", "format": "uuid", "description": "The job that stands for this submit." },
                    "duplicate": { "const": true },
                },
                "required": ["uuid", "duplicate"],
            } } },
        });
    }
    operation
}

/// `POST /job/{jobType}/batch` for `job_type`.
pub(in crate::http) fn batch_operation(
    components: &mut Components,
    job_type: &JobType,
    state: &ApiState,
) -> Value {
    let spec = job_type.spec();
    let params = components.params_of(job_type);
    json!({
        "operationId": format!("submit_batch_{}", spec.job_type),
        "tags": ["jobs"],
        "summary": format!("Submit many {} jobs at once", spec.name),
        "description": format!(
            "The body is a JSON array of parameter objects, each as `POST /job/{}` takes \
             it. The batch is validated as a whole: if any job is invalid, the answer \
             has every violation, each path under the job's index (`/3/delay`), and \
             nothing is enqueued. Otherwise every job is enqueued in one write of the \
             store (one transaction where the backend allows), all with the same \
             start. Each object may nest at most {} levels deep. {DELAYED}",
            spec.job_type, state.max_depth,
        ),
        "parameters": delay_parameters(),
        "requestBody": {
            "required": true,
            "content": { "application/json": {
                "schema": { "type": "array", "items": params },
                "example": [example_params(job_type.schema())],
            } },
        },
        "responses": with_backend_errors(json!({
            "201": {
                "description": "Accepted: every job validated, stored and queued",
                "content": { "application/json": { "schema": {
                    "type": "object",
                    "properties": { "uuids": {
                        "type": "array",
                        "description": "The jobs' uuids, in the order of the body.",
                        "items": { "type": "string", "format": "uuid" },
                    } },
                    "required": ["uuids"],
                } } },
            },
            "400": error(BAD_SUBMIT),
            "404": error("unknown_job_type"),
            "408": error("body_timeout: the body did not arrive in time"),
            "413": error("payload_too_large"),
            "415": error("unsupported_media_type: the body is not sent as JSON"),
        })),
    })
}
