//! `GET /openapi.json`: the document describes the API the server serves.
//!
//! - each job type's schema is its POST's request body, and every `$ref` resolves;
//! - every documented path answers its documented methods, and 405 with `Allow` to
//!   the others;
//! - real answers, errors included, validate against the documented response schemas;
//! - with a token, every operation but `/health` documents the bearer scheme and 401;
//! - every closed set of strings is an `enum`, never a `oneOf` of `const`s.
//!
//! `.ci/run` also checks the document with `openapi-spec-validator`, fuzzes the
//! server with schemathesis, and follows a job with a client generated from the
//! document (`.ci/generated-client`).

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::test::TestRequest;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use zerog::backend::Backend;
use zerog::http::{ApiState, openapi_document};
use zerog::worker::Worker;
use zerog::{Job, JobContext, JobError, Outcome, Registry};
use zerog_tests::api::{self, Answer, TestApp, call, get, post_json};
use zerog_tests::{DEADLINE, sqlite_url, wait_for};

use crate::{prime_sieve, waste_time};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn registry() -> Registry {
    Registry::new()
        .register::<waste_time::WasteTime>()
        .register::<prime_sieve::PrimeSieve>()
}

async fn document(state: &ApiState, app: &impl TestApp) -> Value {
    let answer = call(app, get("/openapi.json")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json, openapi_document(state));
    answer.json
}

/// The value at a `#/...` reference in `document`.
fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    document.pointer(reference.strip_prefix('#')?)
}

fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match value {
                    Value::String(reference) if key == "$ref" => found.push(reference.clone()),
                    value => refs(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

/// A validator for `schema`, a schema of the document that may refer to its components.
fn validator(document: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = match schema {
        Value::Object(object) => object.clone(),
        Value::Bool(true) => Default::default(),
        other => panic!("unexpected schema {other}"),
    };
    root.insert("components".into(), document["components"].clone());
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .unwrap_or_else(|error| panic!("{schema} does not compile: {error}"))
}

#[actix_web::test]
async fn each_job_types_schema_is_its_request_body_and_every_ref_resolves() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let state = ApiState::new(backend, registry()).service_info("demo", "1.0.0");
    let app = api::mount(state.clone()).await;
    let document = document(&state, &app).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "demo");
    assert_eq!(document["info"]["version"], "1.0.0");
    assert!(document.get("security").is_none());

    for job_type in ["waste_time", "prime_sieve"] {
        let served = call(&app, get(&format!("/schema/{job_type}"))).await.json;
        for path in [
            format!("/job/{job_type}"),
            format!("/examples/{job_type}/job"),
        ] {
            let body = &document["paths"][&path]["post"]["requestBody"];
            assert_eq!(body["required"], true, "{path}");
            let media = &body["content"]["application/json"];
            let reference = media["schema"]["$ref"].as_str().unwrap();
            assert_eq!(reference, format!("#/components/schemas/{job_type}"));
            let mut component = resolve(&document, reference).unwrap().clone();
            component["$schema"] = served["$schema"].clone();
            assert_eq!(component, served, "{path}");
            // The documented example is a body the server takes.
            let answer = call(&app, post_json(&path, &media["example"])).await;
            assert_eq!(answer.status, 201, "{path}: {}", answer.text());
            let responses = &document["paths"][&path]["post"]["responses"];
            for status in ["201", "400", "413", "415", "503"] {
                assert!(responses.get(status).is_some(), "{path} documents {status}");
            }
        }
    }

    let mut found = Vec::new();
    refs(&document, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        assert!(
            resolve(&document, &reference).is_some(),
            "{reference} does not resolve"
        );
    }
    for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
        let _ = validator(
            &document,
            &json!({ "$ref": format!("#/components/schemas/{name}") }),
        );
        assert!(schema.is_object(), "{name}");
    }

    let mut ids = BTreeSet::new();
    for item in document["paths"].as_object().unwrap().values() {
        for (method, operation) in item.as_object().unwrap() {
            // No `head`: it goes with every `get` without being documented.
            assert!(METHODS.contains(&method.as_str()), "{method} is documented");
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty())
            );
        }
    }
}

/// A concrete path for a documented template.
fn concrete(template: &str) -> String {
    template
        .replace("{uuid}", "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")
        .replace("{jobType}", "waste_time")
        .replace("{id}", "nobody")
}

#[actix_web::test]
async fn documented_methods_are_served_and_the_others_answer_405_with_allow() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let state = ApiState::new(backend, registry());
    let app = api::mount(state.clone()).await;
    let document = document(&state, &app).await;
    for (template, item) in document["paths"].as_object().unwrap() {
        let documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|method| method.to_uppercase())
            .collect();
        // HTTP gives every GET a HEAD (RFC 9110 §9.3.2); the document leaves it implied.
        let mut served = documented.clone();
        if documented.iter().any(|method| method == "GET") {
            served.push("HEAD".to_owned());
        }
        let path = concrete(template);
        let methods = METHODS.map(str::to_uppercase).into_iter();
        for method in methods.chain(["HEAD".to_owned()]) {
            let request = TestRequest::default()
                .method(method.parse().unwrap())
                .uri(&path)
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{}");
            let answer = call(&app, request).await;
            if served.contains(&method) {
                assert_ne!(answer.status, 405, "{method} {path}: {}", answer.text());
                assert_ne!(answer.json["error"], "not_found", "{method} {path}");
            } else if method == "HEAD" {
                assert_eq!(answer.status, 405, "{method} {path}");
            } else {
                answer.assert_error(405, "method_not_allowed");
            }
            if answer.status == 405 {
                let allowed: BTreeSet<&str> = answer.header("allow").split(", ").collect();
                let expected: BTreeSet<&str> = served.iter().map(String::as_str).collect();
                assert_eq!(allowed, expected, "{method} {path}");
            }
            if method == "HEAD" {
                assert!(
                    answer.bytes.is_empty(),
                    "{method} {path}: {}",
                    answer.text()
                );
            }
        }
    }
}

/// Asserts that `answer` is documented for `method template` with its status, content
/// type and (for JSON) body schema.
fn assert_documented(document: &Value, method: &str, template: &str, answer: &Answer) {
    let operation = &document["paths"][template][method];
    assert!(
        operation.is_object(),
        "{method} {template} is not documented"
    );
    let response = &operation["responses"][answer.status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template} does not document {}: {}",
        answer.status,
        answer.text()
    );
    let content_type = answer.header("content-type");
    let essence = content_type.split(';').next().unwrap().trim();
    let media = &response["content"][essence];
    assert!(
        media.is_object(),
        "{method} {template} {} does not document {essence}",
        answer.status
    );
    if essence.ends_with("json") {
        let validator = validator(document, &media["schema"]);
        let errors: Vec<String> = validator
            .iter_errors(&answer.json)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {}: {} does not match: {errors:?}",
            answer.status,
            answer.text()
        );
    }
    for (name, _) in response["headers"].as_object().into_iter().flatten() {
        assert!(
            !answer.header(name).is_empty(),
            "{method} {template}: no {name} header"
        );
    }
}

#[actix_web::test]
async fn real_answers_match_their_documented_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::connect(&sqlite_url(&dir)).await.unwrap();
    let state = ApiState::new(backend.clone(), registry());
    let app = api::mount(state.clone()).await;
    let document = document(&state, &app).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(backend.clone(), registry())
        .capacity(2)
        .poll_interval(Duration::from_millis(20));
    let worker = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));

    let done = call(&app, post_json("/job/waste_time", &json!({"delay": 0}))).await;
    assert_documented(&document, "post", "/job/waste_time", &done);
    let done = done.json["uuid"].as_str().unwrap().to_owned();
    let sieve = call(
        &app,
        post_json("/examples/prime_sieve/job", &json!({"limit": 100})),
    )
    .await;
    assert_documented(&document, "post", "/examples/prime_sieve/job", &sieve);
    let sieve = sieve.json["uuid"].as_str().unwrap().to_owned();
    for uuid in [&done, &sieve] {
        wait_for("the job finishing", DEADLINE, || async {
            let answer = call(&app, get(&format!("/progress/{uuid}"))).await;
            (answer.json["status"] == "done").then_some(())
        })
        .await;
    }
    let (worker_id, _) = wait_for("the worker to be listed", DEADLINE, || async {
        let answer = call(&app, get("/workers")).await;
        let id = answer.json["workers"][0]["id"].as_str()?.to_owned();
        Some((id, answer))
    })
    .await;

    let posted = |body: Value| post_json("/job/waste_time", &body);
    let unknown = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
    let cases: Vec<(&str, &str, TestRequest)> = vec![
        ("get", "/", get("/")),
        ("get", "/openapi.json", get("/openapi.json")),
        ("get", "/schema/{jobType}", get("/schema/waste_time")),
        ("get", "/schema/{jobType}", get("/schema/nope")),
        ("post", "/job/waste_time", posted(json!({"delay": -1}))),
        (
            "post",
            "/job/waste_time",
            TestRequest::post()
                .uri("/job/waste_time")
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{"),
        ),
        (
            "post",
            "/job/waste_time",
            TestRequest::post()
                .uri("/job/waste_time")
                .insert_header(("Content-Type", "text/plain"))
                .set_payload("{}"),
        ),
        (
            "post",
            "/job/waste_time",
            posted(json!({"delay": "x".repeat(2 << 20)})),
        ),
        ("get", "/progress/{uuid}", get(&format!("/progress/{done}"))),
        ("get", "/progress/{uuid}", get("/progress/nope")),
        (
            "get",
            "/progress/{uuid}",
            get(&format!("/progress/{unknown}")),
        ),
        ("get", "/info/{uuid}", get(&format!("/info/{done}"))),
        ("get", "/data/{uuid}", get(&format!("/data/{done}"))),
        ("get", "/data/{uuid}", get(&format!("/data/{sieve}"))),
        ("get", "/events/{uuid}", get(&format!("/events/{done}"))),
        ("get", "/events/{uuid}", get(&format!("/events/{unknown}"))),
        ("get", "/jobs", get("/jobs?limit=1")),
        ("get", "/jobs", get("/jobs?status=never")),
        ("delete", "/jobs", api::delete("/jobs?olderThan=1d")),
        (
            "delete",
            "/jobs",
            api::delete("/jobs?status=queued&olderThan=1d"),
        ),
        (
            "post",
            "/cancel/{uuid}",
            TestRequest::post().uri(&format!("/cancel/{done}")),
        ),
        (
            "post",
            "/cancel/{uuid}",
            TestRequest::post().uri(&format!("/cancel/{unknown}")),
        ),
        ("get", "/workers", get("/workers")),
        (
            "post",
            "/workers/{id}/drain",
            TestRequest::post().uri(&format!("/workers/{worker_id}/drain")),
        ),
        (
            "post",
            "/workers/{id}/drain",
            TestRequest::post().uri("/workers/nobody/drain"),
        ),
        ("get", "/health", get("/health")),
        ("get", "/metrics", get("/metrics")),
        ("get", "/branches", get("/branches")),
        ("get", "/leaves", get("/leaves")),
        ("get", "/examples/branches", get("/examples/branches")),
        ("get", "/examples/leaves", get("/examples/leaves")),
        (
            "get",
            "/examples/waste_time/post-schema",
            get("/examples/waste_time/post-schema"),
        ),
        (
            "get",
            "/examples/progress/{uuid}",
            get(&format!("/examples/progress/{sieve}")),
        ),
        (
            "get",
            "/examples/data/{uuid}",
            get(&format!("/examples/data/{sieve}")),
        ),
        ("get", "/examples/info/{uuid}", get("/examples/info/nope")),
    ];
    let mut statuses = BTreeSet::new();
    for (method, template, request) in cases {
        let answer = call(&app, request).await;
        assert_documented(&document, method, template, &answer);
        statuses.insert(answer.status);
    }
    // With the POSTs above, the cases cover every kind of answer.
    assert_eq!(statuses, BTreeSet::from([200, 400, 404, 409, 413, 415]));
    // A job still queued has no data yet.
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    let queued = call(&app, post_json("/job/waste_time", &json!({"delay": 60}))).await;
    let uuid = queued.json["uuid"].as_str().unwrap();
    let answer = call(&app, get(&format!("/data/{uuid}"))).await;
    answer.assert_error(409, "not_finished");
    assert_documented(&document, "get", "/data/{uuid}", &answer);
}

#[actix_web::test]
async fn with_a_token_the_document_requires_bearer_auth_except_for_health_and_the_pages() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let state = ApiState::new(backend, registry()).api_token("s3cret");
    let document = openapi_document(&state);
    assert_eq!(
        document["components"]["securitySchemes"]["bearerAuth"],
        json!({"type": "http", "scheme": "bearer"})
    );
    assert_eq!(document["security"], json!([{"bearerAuth": []}]));
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if path == "/health" || path == "/ui" || path.starts_with("/ui/") {
                assert_eq!(operation["security"], json!([]), "{path}");
                assert!(operation["responses"].get("401").is_none());
            } else {
                let unauthorized = &operation["responses"]["401"];
                assert!(unauthorized.is_object(), "{method} {path} documents 401");
            }
        }
    }
    let app = api::mount(state).await;
    let answer = call(&app, get("/openapi.json")).await;
    answer.assert_error(401, "unauthorized");
    assert_documented(&document, "get", "/openapi.json", &answer);
}

/// Resizes an image, for a parameter that is a closed set of documented strings.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "resize")]
pub struct Resize {
    /// How the image meets the box.
    pub mode: Mode,
}

/// How an image meets its box.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Keep the ratio, inside the box.
    Fit,
    /// Stretch to the box.
    Fill,
}

impl zerog::Run for Resize {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

/// Every `oneOf` and `anyOf` in `value` that lists a `const`, by its JSON pointer.
fn alternatives_of_consts(value: &Value, pointer: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for key in ["oneOf", "anyOf"] {
                let listed = object.get(key).and_then(Value::as_array);
                if listed.is_some_and(|items| items.iter().any(|item| item.get("const").is_some()))
                {
                    found.push(format!("{pointer}/{key}"));
                }
            }
            for (key, value) in object {
                let key = key.replace('~', "~0").replace('/', "~1");
                alternatives_of_consts(value, &format!("{pointer}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                alternatives_of_consts(item, &format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Asserts that `schema` is the closed set `values`, each described in its description.
fn assert_string_enum(schema: &Value, values: &[&str]) {
    assert_eq!(schema["type"], "string", "{schema}");
    assert_eq!(schema["enum"], json!(values), "{schema}");
    let description = schema["description"].as_str().unwrap_or_default();
    for value in values {
        let bullet = format!("\n- `{value}`: ");
        assert!(description.contains(&bullet), "{value} in {description}");
    }
}

/// Code generators read `enum`, and some take a `oneOf` of `const`s for its first
/// value only: openapi-python-client's parser of `Status` accepted `queued` and failed
/// on the first running job. `.ci/generated-client` runs such a client.
#[actix_web::test]
async fn every_closed_set_of_strings_is_an_enum_with_its_values_described() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let state = ApiState::new(backend, registry().register::<Resize>());
    let app = api::mount(state.clone()).await;
    let document = document(&state, &app).await;
    let mut found = Vec::new();
    alternatives_of_consts(&document, "", &mut found);
    assert!(found.is_empty(), "alternatives of consts at {found:?}");

    let schemas = &document["components"]["schemas"];
    let statuses = [
        "queued",
        "running",
        "waiting",
        "done",
        "failed",
        "cancelled",
    ];
    assert_string_enum(&schemas["Status"], &statuses);
    assert_string_enum(&schemas["WorkerState"], &["polling", "running", "draining"]);
    // A job type's parameters, as the document and `/schema` publish them.
    assert_string_enum(&schemas["resize.Mode"], &["fit", "fill"]);
    let served = call(&app, get("/schema/resize")).await.json;
    assert_string_enum(&served["$defs"]["Mode"], &["fit", "fill"]);

    // The server takes each value, and names the set when refusing another.
    let answer = call(&app, post_json("/job/resize", &json!({"mode": "fill"}))).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let answer = call(&app, post_json("/job/resize", &json!({"mode": "crop"}))).await;
    answer.assert_error(400, "validation");
    assert_eq!(
        answer.json["details"][0]["path"],
        "/mode",
        "{}",
        answer.text()
    );
}
