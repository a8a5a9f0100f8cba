//! The OpenAPI operations of `/schedules` (module `http::schedules`).

use serde_json::{Value, json};

use super::{Components, answer, error, with_backend_errors};
use crate::http::ApiState;
use crate::http::schedules::{ScheduleBody, ScheduleList, ScheduleView};

fn name_parameter() -> Value {
    json!({
        "name": "name",
        "in": "path",
        "required": true,
        "description": "The schedule's name.",
        "schema": { "type": "string" },
    })
}

fn body(components: &mut Components) -> Value {
    let schema = components.of::<ScheduleBody>();
    json!({
        "required": true,
        "content": { "application/json": { "schema": schema } },
    })
}

const BODY_ERRORS: &str = "bad_cron, bad_timezone, bad_schedule_name, bad_schedule, validation, \
                           malformed_json, too_deep, bad_query";

pub(in crate::http) fn list_operation(components: &mut Components, _: &ApiState) -> Value {
    let list = components.of::<ScheduleList>();
    json!({
        "operationId": "listSchedules",
        "tags": ["schedules"],
        "summary": "Every schedule, from code and from the API",
        "responses": with_backend_errors(json!({
            "200": answer("Every schedule, sorted by name", list),
            "400": error("bad_query"),
        })),
    })
}

pub(in crate::http) fn create_operation(components: &mut Components, _: &ApiState) -> Value {
    let view = components.of::<ScheduleView>();
    json!({
        "operationId": "createSchedule",
        "tags": ["schedules"],
        "summary": "Store a new schedule; it fires from its next tick on",
        "requestBody": body(components),
        "responses": with_backend_errors(json!({
            "201": answer("The schedule, stored", view),
            "400": error(BODY_ERRORS),
            "404": error("unknown_job_type"),
            "409": error("schedule_exists"),
            "413": error("payload_too_large"),
            "415": error("unsupported_media_type"),
        })),
    })
}

pub(in crate::http) fn get_operation(components: &mut Components, _: &ApiState) -> Value {
    let view = components.of::<ScheduleView>();
    json!({
        "operationId": "getSchedule",
        "tags": ["schedules"],
        "summary": "One schedule",
        "parameters": [name_parameter()],
        "responses": with_backend_errors(json!({
            "200": answer("The schedule", view),
            "400": error("bad_query"),
            "404": error("unknown_schedule"),
        })),
    })
}

pub(in crate::http) fn replace_operation(components: &mut Components, _: &ApiState) -> Value {
    let view = components.of::<ScheduleView>();
    json!({
        "operationId": "replaceSchedule",
        "tags": ["schedules"],
        "summary": "Replace a schedule's definition; it keeps its pause and the ticks it fired",
        "parameters": [name_parameter()],
        "requestBody": body(components),
        "responses": with_backend_errors(json!({
            "200": answer("The schedule as replaced", view),
            "400": error(BODY_ERRORS),
            "404": error("unknown_schedule, unknown_job_type"),
            "413": error("payload_too_large"),
            "415": error("unsupported_media_type"),
        })),
    })
}

pub(in crate::http) fn delete_operation(_: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "deleteSchedule",
        "tags": ["schedules"],
        "summary": "Remove a schedule; the jobs it created stay",
        "parameters": [name_parameter()],
        "responses": with_backend_errors(json!({
            "200": answer("The schedule is gone", json!({
                "type": "object",
                "properties": {
                    "name": { "type": "string" },
                    "deleted": { "type": "boolean", "const": true },
                },
                "required": ["name", "deleted"],
            })),
            "400": error("bad_query"),
            "404": error("unknown_schedule"),
        })),
    })
}

pub(in crate::http) fn pause_operation(components: &mut Components, _: &ApiState) -> Value {
    let view = components.of::<ScheduleView>();
    json!({
        "operationId": "pauseSchedule",
        "tags": ["schedules"],
        "summary": "Pause a schedule: it creates no job until resumed",
        "parameters": [name_parameter()],
        "responses": with_backend_errors(json!({
            "200": answer("The schedule, paused", view),
            "400": error("bad_query"),
            "404": error("unknown_schedule"),
        })),
    })
}

pub(in crate::http) fn resume_operation(components: &mut Components, _: &ApiState) -> Value {
    let view = components.of::<ScheduleView>();
    json!({
        "operationId": "resumeSchedule",
        "tags": ["schedules"],
        "summary": "Resume a schedule from its next tick; ticks while it was paused create no job",
        "parameters": [name_parameter()],
        "responses": with_backend_errors(json!({
            "200": answer("The schedule, resumed", view),
            "400": error("bad_query"),
            "404": error("unknown_schedule"),
        })),
    })
}
