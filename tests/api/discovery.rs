//! `GET /`, `GET /schema/{jobType}` and the Spacewalk endpoint hierarchy, every answer
//! and error row; a client that walks the tree as a Spacewalk client would; and the
//! derive's reserved words held to the routes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog::{Job, JobContext, JobError, Outcome, Registry};
use zerog_tests::api::{self, TestApp, call, get, post_json};

use crate::{prime_sieve, waste_time};

/// Resizes an image (a job two branches deep).
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(
    type = "resize",
    path = "images/tools",
    queue = "images",
    cost = 2,
    name = "Resize an image"
)]
pub struct Resize {
    /// Target width in pixels.
    #[schemars(range(min = 1, max = 10000))]
    pub width: u32,
}

impl zerog::Run for Resize {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

/// Answers at once (a job at the root of the tree).
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "ping")]
pub struct Ping {}

impl zerog::Run for Ping {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

async fn app() -> impl TestApp {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new()
        .register::<waste_time::WasteTime>()
        .register::<prime_sieve::PrimeSieve>()
        .register::<Resize>()
        .register::<Ping>();
    api::mount(ApiState::new(backend, registry).service_info("demo", "9.9.9")).await
}

#[actix_web::test]
async fn discovery_lists_the_service_every_job_type_and_the_monitoring_links() {
    let app = app().await;
    let answer = call(&app, get("/")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = &answer.json;
    assert_eq!(body["service"], json!({"name": "demo", "version": "9.9.9"}));
    let types: Vec<&str> = body["jobTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["jobType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ping", "prime_sieve", "resize", "waste_time"]);
    let waste_time = &body["jobTypes"][3];
    assert_eq!(
        *waste_time,
        json!({
            "jobType": "waste_time",
            "name": "Waste time",
            "description": "Wastes the given number of seconds, reporting progress as it goes.",
            "queue": "waste_time",
            "cost": 1,
            "path": "examples",
            "post": "/job/waste_time",
            "hierarchyPost": "/examples/waste_time/job",
            "schema": "/schema/waste_time",
            "example": {"delay": 30},
        })
    );
    let resize = &body["jobTypes"][2];
    assert_eq!(resize["queue"], "images");
    assert_eq!(resize["cost"], 2);
    assert_eq!(resize["example"], json!({"width": 1}));
    for (link, path) in [
        ("openapi", "/openapi.json"),
        ("jobs", "/jobs"),
        ("progress", "/progress/{uuid}"),
        ("info", "/info/{uuid}"),
        ("data", "/data/{uuid}"),
        ("events", "/events/{uuid}"),
        ("workers", "/workers"),
        ("health", "/health"),
        ("metrics", "/metrics"),
        ("branches", "/branches"),
    ] {
        assert_eq!(body["links"][link], path, "link {link}");
    }
    // Every example body is accepted, at the advertised POST path.
    for job_type in body["jobTypes"].as_array().unwrap() {
        let post = job_type["post"].as_str().unwrap();
        let answer = call(&app, post_json(post, &job_type["example"])).await;
        assert_eq!(answer.status, 201, "{post}: {}", answer.text());
    }
}

#[actix_web::test]
async fn the_schema_is_served_as_schema_json_with_docs_defaults_and_ranges() {
    let app = app().await;
    let answer = call(&app, get("/schema/waste_time")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), "application/schema+json");
    let schema = &answer.json;
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "Waste time");
    assert_eq!(schema["additionalProperties"], false);
    let delay = &schema["properties"]["delay"];
    assert_eq!(delay["description"], "Seconds to waste.");
    assert_eq!(delay["default"], 30);
    assert_eq!(delay["minimum"], 0);
    assert_eq!(delay["maximum"], 86400);
    assert_eq!(
        *schema,
        *zerog::Registry::new()
            .register::<waste_time::WasteTime>()
            .get("waste_time")
            .unwrap()
            .schema()
    );

    let answer = call(&app, get("/schema/no_such_type")).await;
    answer.assert_error(404, "unknown_job_type");
}

#[actix_web::test]
async fn branches_and_leaves_describe_the_tree() {
    let app = app().await;
    let cases: [(&str, Value); 7] = [
        (
            "/branches",
            json!([
                {"path": "/examples", "name": "Examples", "description": "2 job types and 0 branches under `examples`"},
                {"path": "/images", "name": "Images", "description": "0 job types and 1 branch under `images`"},
            ]),
        ),
        (
            "/images/branches",
            json!([{"path": "/images/tools", "name": "Tools", "description": "1 job type and 0 branches under `images/tools`"}]),
        ),
        ("/images/tools/branches", json!([])),
        ("/examples/branches", json!([])),
        (
            "/leaves",
            json!([{"path": "/ping", "jobType": "ping", "name": "Ping", "description": "Answers at once (a job at the root of the tree)."}]),
        ),
        ("/images/leaves", json!([])),
        (
            "/images/tools/leaves",
            json!([{"path": "/images/tools/resize", "jobType": "resize", "name": "Resize an image", "description": "Resizes an image (a job two branches deep)."}]),
        ),
    ];
    for (path, expected) in cases {
        let answer = call(&app, get(path)).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        assert_eq!(answer.json, expected, "{path}");
    }
    let leaves = call(&app, get("/examples/leaves")).await.json;
    let names: Vec<&str> = leaves
        .as_array()
        .unwrap()
        .iter()
        .map(|leaf| leaf["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/examples/prime_sieve", "/examples/waste_time"]);
}

#[actix_web::test]
async fn a_leaf_serves_its_schema_and_takes_jobs_that_the_aliases_follow() {
    let app = app().await;
    let answer = call(&app, get("/examples/waste_time/post-schema")).await;
    assert_eq!(answer.status, 200);
    let schema = call(&app, get("/schema/waste_time")).await.json;
    assert_eq!(answer.json, json!({ "postSchema": schema }));
    assert_eq!(call(&app, get("/ping/post-schema")).await.status, 200);

    let answer = call(
        &app,
        post_json("/examples/waste_time/job", &json!({"delay": 1})),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let uuid = answer.json["uuid"].as_str().unwrap();
    assert_eq!(answer.header("location"), format!("/progress/{uuid}"));
    let flat = call(&app, get(&format!("/progress/{uuid}"))).await;
    let alias = call(&app, get(&format!("/examples/progress/{uuid}"))).await;
    assert_eq!((alias.status, &alias.json), (200, &flat.json));
    assert_eq!(flat.json["jobType"], "waste_time");
    let info = call(&app, get(&format!("/examples/info/{uuid}"))).await;
    assert_eq!(info.status, 200);
    assert_eq!(info.json["status"], "queued");
    call(&app, get(&format!("/examples/data/{uuid}")))
        .await
        .assert_error(409, "not_finished");
    // A nested branch has the aliases too, and a bad body is refused as on the flat route.
    let alias = call(&app, get(&format!("/images/tools/progress/{uuid}"))).await;
    assert_eq!(alias.status, 200);
    call(
        &app,
        post_json("/images/tools/resize/job", &json!({"width": 0})),
    )
    .await
    .assert_error(400, "validation");
}

#[actix_web::test]
async fn every_hierarchy_error_row() {
    let app = app().await;
    let uuid = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
    for (method, path, status, kind) in [
        ("GET", "/nope/branches".to_owned(), 404, "unknown_branch"),
        ("GET", "/nope/leaves".to_owned(), 404, "unknown_branch"),
        (
            "GET",
            "/images/nope/leaves".to_owned(),
            404,
            "unknown_branch",
        ),
        (
            "GET",
            "/nope/waste_time/post-schema".to_owned(),
            404,
            "unknown_branch",
        ),
        (
            "GET",
            "/examples/nope/post-schema".to_owned(),
            404,
            "unknown_leaf",
        ),
        // A job type, but on another branch.
        (
            "GET",
            "/images/waste_time/post-schema".to_owned(),
            404,
            "unknown_leaf",
        ),
        ("POST", "/examples/nope/job".to_owned(), 404, "unknown_leaf"),
        // A branch where a leaf is expected.
        (
            "GET",
            "/images/tools/post-schema".to_owned(),
            400,
            "not_a_leaf",
        ),
        ("GET", "/examples/post-schema".to_owned(), 400, "not_a_leaf"),
        ("POST", "/images/job".to_owned(), 400, "not_a_leaf"),
        (
            "GET",
            format!("/nope/progress/{uuid}"),
            404,
            "unknown_branch",
        ),
        (
            "GET",
            "/examples/info/not-a-uuid".to_owned(),
            400,
            "bad_uuid",
        ),
        ("GET", format!("/examples/data/{uuid}"), 404, "unknown_job"),
        ("GET", "/examples".to_owned(), 404, "not_found"),
        ("GET", "/examples/waste_time".to_owned(), 404, "not_found"),
        ("GET", "//branches".to_owned(), 404, "not_found"),
        ("GET", "/examples/branches/".to_owned(), 404, "not_found"),
        (
            "GET",
            "/examples/waste_time/job".to_owned(),
            405,
            "method_not_allowed",
        ),
        (
            "POST",
            "/examples/leaves".to_owned(),
            405,
            "method_not_allowed",
        ),
    ] {
        let request = match method {
            "GET" => get(&path),
            _ => post_json(&path, &json!({})),
        };
        let answer = call(&app, request).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text());
        answer.assert_error(status, kind);
    }
    let answer = call(&app, get("/examples/waste_time/job")).await;
    assert_eq!(answer.header("allow"), "POST");
}

#[actix_web::test]
async fn flat_routes_are_never_shadowed_and_answer_405_with_allow() {
    let app = app().await;
    assert_eq!(call(&app, get("/jobs")).await.status, 200);
    assert_eq!(call(&app, get("/health")).await.status, 200);
    for (request, allow) in [
        (get("/job/waste_time"), "POST"),
        (post_json("/jobs", &json!({})), "GET, HEAD, DELETE"),
        (post_json("/progress/x", &json!({})), "GET, HEAD"),
        (api::delete("/health"), "GET, HEAD"),
        (get("/cancel/x"), "POST"),
        (api::delete("/workers"), "GET, HEAD"),
        (post_json("/openapi.json", &json!({})), "GET, HEAD"),
    ] {
        let answer = call(&app, request).await;
        answer.assert_error(405, "method_not_allowed");
        assert_eq!(answer.header("allow"), allow);
    }
}

/// `#[derive(Job)]` refuses job types and branch segments spelled like a route word,
/// from a list of its own (a proc-macro crate can export no data): that list must hold
/// the first segment of every route the server has.
#[test]
fn the_derive_reserves_every_route_word() {
    let reserved: Vec<&str> = include_str!("../../zerog-derive/src/route_words.txt")
        .lines()
        .map(str::trim)
        .filter(|word| !word.is_empty())
        .collect();
    let words = zerog::http::route_words();
    assert!(words.contains(&"progress") && words.contains(&"leaves"));
    for word in words {
        // Job types and branch segments are `[a-z][a-z0-9_-]*`, so a segment with any
        // other character, such as `openapi.json`, can never collide with one.
        let could_be_a_name = word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        assert!(
            !could_be_a_name || reserved.contains(&word),
            "the route word `{word}` is missing from zerog-derive/src/route_words.txt"
        );
    }
}

/// A client written for Spacewalk's API: walk the tree from `/branches`, read every
/// leaf's schema, post its example body, and follow the job through the aliases.
#[actix_web::test]
async fn a_spacewalk_client_walks_the_tree_posts_and_follows() {
    let app = app().await;
    // As Spacewalk's clients do: every path is from the root, and the client appends
    // `/branches`, `/leaves`, `/post-schema` or `/job` to it.
    let mut pending = vec![String::new()];
    let mut leaves = Vec::new();
    while let Some(prefix) = pending.pop() {
        let children = call(&app, get(&format!("{prefix}/branches"))).await;
        assert_eq!(children.status, 200);
        for child in children.json.as_array().unwrap() {
            pending.push(child["path"].as_str().unwrap().to_owned());
        }
        let found = call(&app, get(&format!("{prefix}/leaves"))).await;
        for leaf in found.json.as_array().unwrap() {
            leaves.push((prefix.clone(), leaf["path"].as_str().unwrap().to_owned()));
        }
    }
    leaves.sort();
    let paths: Vec<&str> = leaves.iter().map(|(_, path)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/ping",
            "/examples/prime_sieve",
            "/examples/waste_time",
            "/images/tools/resize"
        ]
    );
    for (prefix, leaf) in &leaves {
        let schema = call(&app, get(&format!("{leaf}/post-schema"))).await;
        let body = zerog::validate::example_params(&schema.json["postSchema"]);
        let posted = call(&app, post_json(&format!("{leaf}/job"), &body)).await;
        assert_eq!(posted.status, 201, "{leaf}: {}", posted.text());
        let uuid = posted.json["uuid"].as_str().unwrap();
        let progress = call(&app, get(&format!("{prefix}/progress/{uuid}"))).await;
        assert_eq!(progress.status, 200, "{leaf}");
        assert_eq!(progress.json["status"], "queued");
        assert_eq!(progress.json["result"], -1);
    }
}
