//! `GET /openapi.json`: the whole API as OpenAPI 3.1, built from the registry.
//!
//! OpenAPI 3.1 schemas *are* JSON Schema draft 2020-12, which is what schemars writes
//! and what each job type publishes, so the document is assembled with `serde_json`
//! rather than with utoipa: utoipa would describe the flat routes from annotations,
//! but not the per-job-type operations and hierarchy paths that only the registry
//! knows at run time, and its OpenAPI 3.0-era schema model would sit between schemars
//! and the document. Every body the server sends is a Rust type deriving `JsonSchema`,
//! so the documented schemas are generated from the same types that serialize the
//! answers.
//!
//! The document has:
//! - one `POST /job/{jobType}` and one `POST /job/{jobType}/batch` per job type, with
//!   the job type's schema as the request body (under `components.schemas.<jobType>`),
//!   and its hierarchy twin (module `submit`);
//! - every flat route, every branch's `branches`, `leaves` and monitoring aliases, and
//!   every leaf's `post-schema`;
//! - for each operation, every answer it gives, errors included (`ErrorBody`);
//! - the bearer scheme, when the server requires a token.
//!
//! A closed set of strings, such as `Status`, is an `enum` with each value's description
//! listed in the schema's, as in each job type's schema: client generators read `enum`.

pub(super) mod schedules;
mod submit;

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::error::ErrorBody;
use super::events::{EVENT_STREAM_MEDIA_TYPE, ProgressEvent};
use super::health::Health;
use super::hierarchy::{self, Branch, Leaf};
use super::listing::{AGE_PATTERN, CURSOR_PATTERN, DEFAULT_LIMIT, Deleted, JobList, MAX_LIMIT};
use super::monitor::{DataView, ProgressView};
use super::schema::SCHEMA_MEDIA_TYPE;
use super::{ApiState, DEFAULT_EVENTS_POLL_INTERVAL};
use crate::backend::{MAX_SEARCH_BYTES, WorkerInfo};
use crate::record::{JobRecord, Status};
use crate::registry::JobType;
use crate::validate::StringEnums;

pub(super) use submit::{batch_operation, submit_flat_operation};

/// How a route of the table is documented.
#[derive(Clone, Copy)]
pub(super) enum Operation {
    /// One operation, on the route's path as written.
    Single(fn(&mut Components, &ApiState) -> Value),
    /// One operation per job type, on the path with `{jobType}` replaced by its name:
    /// each job type has a request body of its own.
    PerJobType(fn(&mut Components, &JobType, &ApiState) -> Value),
}

/// The OpenAPI 3.1 document of the API that `state` serves, with the flat routes'
/// paths from `flat_paths`, which documents them in the same components.
pub(super) fn document(
    state: &ApiState,
    flat_paths: impl FnOnce(&mut Components, &mut Map<String, Value>),
) -> Value {
    let mut components = Components::new();
    let mut paths = Map::new();
    let secured = state.token.is_some();
    flat_paths(&mut components, &mut paths);
    hierarchy_paths(&mut paths, &mut components, state);
    if secured {
        require_token(&mut paths);
    }
    guard_answers(&mut paths, state.hosts.is_some(), state.read_only);

    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": &*state.service_name,
            "version": &*state.service_version,
            "description": DESCRIPTION,
        },
        "tags": [
            { "name": "jobs", "description": "Submitting and watching jobs." },
            { "name": "discovery", "description": "What the service accepts." },
            { "name": "hierarchy", "description": "The Spacewalk endpoint tree." },
            { "name": "operations", "description": "Workers, retention, health and metrics." },
        ],
        "paths": paths,
        "components": components.finish(),
    });
    if secured {
        document["components"]["securitySchemes"] = json!({
            "bearerAuth": { "type": "http", "scheme": "bearer" }
        });
        document["security"] = json!([{ "bearerAuth": [] }]);
    }
    document
}

const DESCRIPTION: &str = "Jobs with published JSON Schemas: POST a job type's \
parameters, then follow the job by its uuid. Every error answers \
`{\"error\": \"<kind>\", \"message\": \"...\", \"details\": [...]?}`.";

/// Adds the 401 answer to every operation but the open `/health` and the dashboard's
/// pages.
fn require_token(paths: &mut Map<String, Value>) {
    let operations = paths
        .iter_mut()
        .filter(|(path, _)| path.as_str() != "/health" && !super::ui::is_page(path))
        .filter_map(|(_, item)| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        operation["responses"]["401"] = json!({
            "description": "`unauthorized`: no valid bearer token",
            "headers": { "WWW-Authenticate": { "schema": { "type": "string" } } },
            "content": { "application/json": { "schema": error_ref() } },
        });
    }
}

/// Adds the answers of the request guards (see `guard`) to every operation: 400
/// `nul_character` wherever a path or query parameter is taken, 403 `cross_origin`
/// and 415 on state-changing operations (and 403 `read_only` on them when the service
/// is read-only), and 403 `host_not_allowed` on every
/// operation but `/health` when the `Host` check is on.
fn guard_answers(paths: &mut Map<String, Value>, host_check: bool, read_only: bool) {
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let takes_parameters = path.contains('{')
                || operation
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|parameters| !parameters.is_empty());
            let responses = &mut operation["responses"];
            if takes_parameters {
                match responses.get_mut("400") {
                    Some(bad) => {
                        let kinds = bad["description"].as_str().unwrap_or_default();
                        bad["description"] = Value::from(format!("{kinds}; `nul_character`"));
                    }
                    None => responses["400"] = error("nul_character"),
                }
            }
            let mut forbidden = Vec::new();
            if !matches!(method.as_str(), "get" | "head" | "options") {
                forbidden.push("cross_origin");
                if read_only {
                    forbidden.push("read_only");
                }
                if responses.get("415").is_none() {
                    responses["415"] = error("unsupported_media_type: a body must be sent as JSON");
                }
            }
            if host_check && path != "/health" {
                forbidden.push("host_not_allowed");
            }
            if !forbidden.is_empty() {
                responses["403"] = error(&forbidden.join(" or "));
            }
        }
    }
}

/// The `components.schemas` being gathered: the answers' types (from schemars) and the
/// job types' parameter schemas.
pub(super) struct Components {
    generator: SchemaGenerator,
    params: Map<String, Value>,
}

impl Components {
    fn new() -> Self {
        let generator = SchemaSettings::draft2020_12()
            .with(|settings| {
                settings.definitions_path = "/components/schemas".into();
                settings.meta_schema = None;
            })
            .with_transform(StringEnums)
            .for_serialize()
            .into_generator();
        Components {
            generator,
            params: Map::new(),
        }
    }

    /// A `$ref` to the schema of `T`, adding it to the components.
    pub(in crate::http) fn of<T: JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    /// A `$ref` to the parameter schema of `job_type`, adding it (and its `$defs`,
    /// renamed `<jobType>.<Def>`) to the components.
    fn params_of(&mut self, job_type: &JobType) -> Value {
        let name = job_type.spec().job_type;
        if !self.params.contains_key(name) {
            let mut schema = job_type.schema().clone();
            if let Value::Object(object) = &mut schema {
                object.remove("$schema");
                if let Some(Value::Object(defs)) = object.remove("$defs") {
                    for (def, mut def_schema) in defs {
                        rewrite_refs(&mut def_schema, name);
                        self.params.insert(format!("{name}.{def}"), def_schema);
                    }
                }
            }
            rewrite_refs(&mut schema, name);
            self.params.insert(name.to_owned(), schema);
        }
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    fn finish(mut self) -> Value {
        let _ = self.of::<ErrorBody<'static>>();
        // `/info` serves the record without `params` and `data`.
        let _ = self.of::<JobRecord>();
        let mut schemas = self.generator.take_definitions(true);
        if let Some(mut info) = schemas.remove("JobRecord") {
            for key in ["params", "data"] {
                if let Some(Value::Object(properties)) = info.get_mut("properties") {
                    properties.remove(key);
                }
                if let Some(Value::Array(required)) = info.get_mut("required") {
                    required.retain(|name| name != key);
                }
            }
            if let Some(Value::Object(properties)) = info.get_mut("properties") {
                properties.insert(
                    "result".into(),
                    json!({
                        "type": "integer",
                        "format": "int64",
                        "description": "`resultCode` again, under the key that ZeroG and Spacewalk clients read.",
                    }),
                );
            }
            if let Some(Value::Array(required)) = info.get_mut("required") {
                required.push(json!("result"));
            }
            info["description"] =
                json!("A job's record without `params` and `data`, with `result`.");
            schemas.insert("JobInfo".into(), info);
        }
        schemas.extend(self.params);
        json!({ "schemas": schemas })
    }
}

/// Points the `#/$defs/X` references of a job type's schema at `#/components/schemas/<jobType>.X`.
fn rewrite_refs(schema: &mut Value, job_type: &str) {
    match schema {
        Value::Object(object) => {
            for (key, value) in object.iter_mut() {
                match value {
                    Value::String(reference) if key == "$ref" => {
                        if let Some(def) = reference.strip_prefix("#/$defs/") {
                            *reference = format!("#/components/schemas/{job_type}.{def}");
                        }
                    }
                    value => rewrite_refs(value, job_type),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_refs(item, job_type)),
        _ => {}
    }
}

fn error_ref() -> Value {
    json!({ "$ref": "#/components/schemas/ErrorBody" })
}

/// A JSON answer with `schema`.
pub(super) fn answer(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// An error answer: the `ErrorBody` with its `error` kinds named.
pub(in crate::http) fn error(kinds: &str) -> Value {
    answer(&format!("`{kinds}`"), error_ref())
}

/// Adds the error answers that every store-backed operation can give.
pub(in crate::http) fn with_backend_errors(mut responses: Value) -> Value {
    responses["503"] = error("backend_unavailable: the job store cannot be reached");
    responses
}

fn uuid_parameter() -> Value {
    json!({
        "name": "uuid",
        "in": "path",
        "required": true,
        "description": "The job's uuid, as `POST /job/{jobType}` answered it.",
        "schema": { "type": "string", "format": "uuid", "pattern": UUID_PATTERN },
    })
}

/// The hyphenated form: the only one the server reads.
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

fn operation_id(prefix: &str, path: &str) -> String {
    let words: Vec<&str> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    if words.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}_{}", words.join("_"))
    }
}

pub(super) fn openapi_operation(_: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "openapi",
        "tags": ["discovery"],
        "summary": "This document",
        "responses": { "200": answer("OpenAPI 3.1", json!({ "type": "object" })) },
    })
}

pub(super) fn schema_operation(_: &mut Components, state: &ApiState) -> Value {
    let names: Vec<&str> = state.registry.job_types();
    let mut name_schema = json!({ "type": "string" });
    if !names.is_empty() {
        name_schema["enum"] = json!(names);
    }
    json!({
        "operationId": "getSchema",
        "tags": ["discovery"],
        "summary": "A job type's parameter JSON Schema (draft 2020-12)",
        "parameters": [{
            "name": "jobType", "in": "path", "required": true,
            "description": "The job type.", "schema": name_schema,
        }],
        "responses": {
            "200": {
                "description": "The schema that every POST of this job type is validated against",
                "content": { SCHEMA_MEDIA_TYPE: { "schema": { "type": "object" } } },
            },
            "404": error("unknown_job_type"),
        },
    })
}

/// `GET /progress/{uuid}`.
pub(super) fn progress_operation(components: &mut Components, _: &ApiState) -> Value {
    view_operation(
        components,
        "progress",
        "A job's status and completeness",
        "",
    )
}

/// `GET /info/{uuid}`.
pub(super) fn info_operation(components: &mut Components, _: &ApiState) -> Value {
    view_operation(
        components,
        "info",
        "A job's log, attempts and timestamps",
        "",
    )
}

/// `GET /data/{uuid}`.
pub(super) fn data_operation(components: &mut Components, _: &ApiState) -> Value {
    view_operation(components, "data", "A finished job's output", "")
}

/// `GET /{word}/{uuid}`, or its alias under `branch`.
fn view_operation(components: &mut Components, word: &str, summary: &str, branch: &str) -> Value {
    let body = match word {
        "progress" => components.of::<ProgressView>(),
        "info" => json!({ "$ref": "#/components/schemas/JobInfo" }),
        _ => components.of::<DataView>(),
    };
    let id = if branch.is_empty() {
        let mut word = word.to_owned();
        word[..1].make_ascii_uppercase();
        format!("get{word}")
    } else {
        operation_id(&format!("hierarchy_{word}"), branch)
    };
    let mut responses = json!({
        "200": answer(summary, body),
        "400": error("bad_uuid"),
        "404": error("unknown_job"),
    });
    if word == "data" {
        responses["409"] = error("not_finished, with the job's `status`");
    }
    json!({
        "operationId": id,
        "tags": [if branch.is_empty() { "jobs" } else { "hierarchy" }],
        "summary": summary,
        "parameters": [uuid_parameter()],
        "responses": with_backend_errors(responses),
    })
}

pub(super) fn events_operation(components: &mut Components, _: &ApiState) -> Value {
    let event = components.of::<ProgressEvent>();
    json!({
        "operationId": "streamEvents",
        "tags": ["jobs"],
        "summary": "A job's progress as Server-Sent Events",
        "description": format!(
            "Polls the job's record every {} ms. Sends `event: progress` at once and on \
             every change (status, completeness, `updatedAt`, new log lines), then \
             `event: finished` when the job has finished, and closes. The data of both \
             is a `ProgressEvent` ({}). `event: gone` means the job was deleted.",
            DEFAULT_EVENTS_POLL_INTERVAL.as_millis(),
            event["$ref"].as_str().unwrap_or_default(),
        ),
        "parameters": [uuid_parameter()],
        "responses": with_backend_errors(json!({
            "200": {
                "description": "The event stream",
                "content": { EVENT_STREAM_MEDIA_TYPE: { "schema": { "type": "string" } } },
            },
            "400": error("bad_uuid"),
            "404": error("unknown_job"),
        })),
    })
}

fn status_schema() -> Value {
    json!({ "type": "string", "enum": Status::ALL.map(Status::as_str) })
}

pub(super) fn list_operation(components: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "listJobs",
        "tags": ["jobs"],
        "summary": "Jobs, newest first, a page at a time",
        "parameters": [
            { "name": "status", "in": "query", "description": "Only jobs with this status.", "schema": status_schema() },
            { "name": "jobType", "in": "query", "description": "Only jobs of this type.", "schema": { "type": "string" } },
            { "name": "queue", "in": "query", "description": "Only jobs of this queue.", "schema": { "type": "string" } },
            {
                "name": "search", "in": "query",
                "description": "Only jobs whose parameters contain this JSON object, as PostgreSQL's `@>` means it: \
                    `{\"delay\":5}` finds jobs whose `delay` is 5, `{\"tags\":[\"a\"]}` those whose `tags` hold \
                    \"a\"; nested objects are searched inside. A search that matches few jobs may answer a page with \
                    fewer jobs than `limit`, and a `next` to go on from where it looked.",
                "schema": { "type": "string", "maxLength": MAX_SEARCH_BYTES },
            },
            {
                "name": "limit", "in": "query", "description": "Jobs per page.",
                "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT },
            },
            {
                "name": "after", "in": "query",
                "description": "The `next` of the previous page.",
                "schema": { "type": "string", "pattern": CURSOR_PATTERN },
            },
        ],
        "responses": with_backend_errors(json!({
            "200": answer("One page; `next` is null on the last", components.of::<JobList>()),
            "400": error("bad_status, bad_limit, bad_cursor, bad_search or bad_query"),
        })),
    })
}

pub(super) fn delete_operation(components: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "deleteJobs",
        "tags": ["operations"],
        "summary": "Delete finished jobs older than an age",
        "parameters": [
            {
                "name": "status", "in": "query",
                "description": "Finished statuses to delete, comma-separated (default: all three).",
                "style": "form", "explode": false,
                "schema": {
                    "type": "array", "minItems": 1,
                    "items": { "type": "string", "enum": ["done", "failed", "cancelled"] },
                },
            },
            {
                "name": "olderThan", "in": "query", "required": true,
                "description": "Delete jobs that finished longer ago than this: 30s, 15m, 12h, 7d.",
                "schema": { "type": "string", "pattern": AGE_PATTERN },
            },
        ],
        "responses": with_backend_errors(json!({
            "200": answer("How many jobs were deleted, per status", components.of::<Deleted>()),
            "400": error("unfinished_status, bad_status, bad_age, missing_parameter or bad_query"),
        })),
    })
}

pub(super) fn cancel_operation(_: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "cancelJob",
        "tags": ["jobs"],
        "summary": "Cancel a job",
        "description": "A queued or waiting job is cancelled at once. A running job is \
            signalled and becomes `cancelled` when its run returns or at its next \
            checkpoint; with `kill=true` it is stopped now (error 410 \"Killed by user\").",
        "parameters": [
            uuid_parameter(),
            { "name": "kill", "in": "query", "description": "Abort a running job now.", "schema": { "type": "boolean", "default": false } },
        ],
        "responses": with_backend_errors(json!({
            "200": answer("The job's status after the request", json!({
                "type": "object",
                "properties": {
                    "uuid": { "type": "string", "format": "uuid" },
                    "status": status_schema(),
                    "resultCode": { "type": "integer" },
                    "cancelRequested": {
                        "type": "boolean",
                        "description": "Whether the job runs on and was only signalled.",
                    },
                },
                "required": ["uuid", "status", "resultCode", "cancelRequested"],
            })),
            "400": error("bad_uuid or bad_query"),
            "404": error("unknown_job"),
            "409": error("already_finished, with the job's `status`"),
        })),
    })
}

pub(super) fn retry_operation(components: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "retryJob",
        "tags": ["jobs"],
        "summary": "Send a failed or cancelled job back to the queue",
        "description": "The job is `queued` again, due now, with its attempts reset, its \
            result and output cleared and its log kept, and the event \"Retried by user\". \
            The change is fenced on the record read, so it holds across processes.",
        "parameters": [uuid_parameter()],
        "responses": with_backend_errors(json!({
            "200": answer("The job's progress after the retry", components.of::<ProgressView>()),
            "400": error("bad_uuid or bad_query"),
            "404": error("unknown_job"),
            "409": error("not_retryable: the job is neither failed nor cancelled; with its `status`"),
        })),
    })
}

pub(super) fn workers_operation(components: &mut Components, _: &ApiState) -> Value {
    let worker = components.of::<WorkerInfo>();
    json!({
        "operationId": "listWorkers",
        "tags": ["operations"],
        "summary": "Live workers",
        "responses": with_backend_errors(json!({
            "200": answer("Workers whose heartbeat has not expired", json!({
                "type": "object",
                "properties": { "workers": { "type": "array", "items": worker } },
                "required": ["workers"],
            })),
        })),
    })
}

pub(super) fn drain_operation(_: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "drainWorker",
        "tags": ["operations"],
        "summary": "Drain a worker: it takes no new job and finishes what it runs",
        "parameters": [
            { "name": "id", "in": "path", "required": true, "description": "The worker's id, from `GET /workers`.", "schema": { "type": "string" } },
            { "name": "exit", "in": "query", "description": "Exit once drained (ZeroG's retire).", "schema": { "type": "boolean", "default": false } },
        ],
        "responses": with_backend_errors(json!({
            "200": answer("The command left for the worker", json!({
                "type": "object",
                "properties": {
                    "id": { "type": "string" },
                    "command": { "type": "string", "enum": ["drain", "drainAndExit"] },
                },
                "required": ["id", "command"],
            })),
            "400": error("bad_query"),
            "404": error("unknown_worker"),
        })),
    })
}

pub(super) fn health_operation(components: &mut Components, state: &ApiState) -> Value {
    let secured = state.token.is_some();
    let health = components.of::<Health>();
    let mut operation = json!({
        "operationId": "health",
        "tags": ["operations"],
        "summary": "Liveness and a round trip to the store that writes; needs no token",
        "responses": {
            "200": answer("Every check passed", health.clone()),
            "503": answer("A check failed; `checks` says which", health),
        },
    });
    if secured {
        operation["security"] = json!([]);
    }
    operation
}

pub(super) fn metrics_operation(_: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "metrics",
        "tags": ["operations"],
        "summary": "Prometheus metrics",
        "description": "`zerog_jobs{status,job_type}`, `zerog_queue_due_jobs{queue}`, \
            `zerog_queue_running_jobs{queue}`, `zerog_queue_oldest_due_age_seconds{queue}` \
            and the histogram `zerog_job_run_duration_seconds{job_type,outcome}`.",
        "responses": with_backend_errors(json!({
            "200": {
                "description": "The Prometheus text format, version 0.0.4",
                "content": { "text/plain": { "schema": { "type": "string" } } },
            },
        })),
    })
}

/// Every path of the endpoint hierarchy, spelled out branch by branch.
fn hierarchy_paths(paths: &mut Map<String, Value>, components: &mut Components, state: &ApiState) {
    let registry = &state.registry;
    let branch_list = json!({ "type": "array", "items": components.of::<Branch>() });
    let leaf_list = json!({ "type": "array", "items": components.of::<Leaf>() });
    let mut branches = vec![""];
    branches.extend(hierarchy::branches(registry));
    for branch in branches {
        let prefix = if branch.is_empty() {
            String::new()
        } else {
            format!("/{branch}")
        };
        let label = if branch.is_empty() {
            "the root"
        } else {
            branch
        };
        for (word, list, summary) in [
            (
                hierarchy::BRANCHES,
                &branch_list,
                format!("The branches under {label}"),
            ),
            (
                hierarchy::LEAVES,
                &leaf_list,
                format!("The job types on {label}"),
            ),
        ] {
            paths.insert(
                format!("{prefix}/{word}"),
                json!({ "get": {
                    "operationId": operation_id(&format!("hierarchy_{word}"), branch),
                    "tags": ["hierarchy"],
                    "summary": summary,
                    "responses": { "200": answer(&summary, list.clone()) },
                } }),
            );
        }
        if !branch.is_empty() {
            for (word, summary) in [
                (
                    "progress",
                    "A job's status and completeness (alias of /progress)",
                ),
                ("info", "A job's log and timestamps (alias of /info)"),
                ("data", "A finished job's output (alias of /data)"),
            ] {
                let operation = view_operation(components, word, summary, branch);
                paths.insert(
                    format!("{prefix}/{word}/{{uuid}}"),
                    json!({ "get": operation }),
                );
            }
        }
        for job_type in registry.iter().filter(|t| t.spec().path == branch) {
            let leaf = format!("{}/{}", prefix, job_type.spec().job_type);
            let schema = components.params_of(job_type);
            paths.insert(
                format!("{leaf}/post-schema"),
                json!({ "get": {
                    "operationId": operation_id("hierarchy_post_schema", &leaf),
                    "tags": ["hierarchy"],
                    "summary": format!("The parameter schema of {}", job_type.spec().name),
                    "responses": { "200": answer("`postSchema`: the JSON Schema", json!({
                        "type": "object",
                        "properties": { "postSchema": { "type": "object", "description": format!("As {}", schema["$ref"].as_str().unwrap_or_default()) } },
                        "required": ["postSchema"],
                    })) },
                } }),
            );
            let operation = submit::submit_operation(components, job_type, &leaf, state.max_depth);
            paths.insert(format!("{leaf}/job"), json!({ "post": operation }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_to_defs_point_into_the_components() {
        let mut schema = json!({
            "properties": { "mode": { "$ref": "#/$defs/Mode" }, "other": { "$ref": "#/x" } },
            "items": [{ "$ref": "#/$defs/Item" }],
        });
        rewrite_refs(&mut schema, "resize");
        assert_eq!(
            schema["properties"]["mode"]["$ref"],
            "#/components/schemas/resize.Mode"
        );
        assert_eq!(schema["properties"]["other"]["$ref"], "#/x");
        assert_eq!(
            schema["items"][0]["$ref"],
            "#/components/schemas/resize.Item"
        );
    }

    #[test]
    fn operation_ids_are_made_of_words() {
        assert_eq!(operation_id("hierarchy_leaves", ""), "hierarchy_leaves");
        assert_eq!(
            operation_id("hierarchy_submit", "/a/b_c"),
            "hierarchy_submit_a_b_c"
        );
    }
}
