//! What the dashboard stands on: its pages at every view's path, open without the
//! token while the API stays guarded, the read-only service, `GET /jobs/stats`, and
//! the `queue` and `search` filters of `GET /jobs`, with every error row.

use std::time::Duration;

use actix_web::test::TestRequest;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog::worker::Worker;
use zerog::{JobContext, JobError, Outcome, Registry};
use zerog_tests::api::{self, TestApp, call, delete, get, post_json};
use zerog_tests::{DEADLINE, sqlite_url, wait_for};

/// Finishes at once, or fails when asked.
#[derive(zerog::Job, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[job(type = "tally", queue = "counting")]
pub struct Tally {
    /// A label, to tell jobs apart.
    #[serde(default)]
    pub n: u32,
    /// Labels, to search within.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether to fail.
    #[serde(default)]
    pub fail: bool,
}

impl zerog::Run for Tally {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        if self.fail {
            return Err(JobError::fatal("failing on purpose"));
        }
        Ok(Outcome::done(200))
    }
}

const VIEWS: [&str; 7] = [
    "/ui",
    "/ui/jobs",
    "/ui/jobs/5f0a8c8e-6f7e-4b8e-9d8e-0c1f2a3b4c5d",
    "/ui/submit/tally",
    "/ui/workers",
    "/ui/schedules",
    "/ui/queues",
];

const TOKEN: &str = "dashboard-token";

async fn state(dir: &tempfile::TempDir) -> ApiState {
    let backend = Backend::connect(&sqlite_url(dir)).await.unwrap();
    ApiState::new(backend, Registry::new().register::<Tally>())
}

async fn submit(app: &impl TestApp, body: Value) -> String {
    let answer = call(app, post_json("/job/tally", &body)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json["uuid"].as_str().unwrap().to_owned()
}

fn uuids(answer: &api::Answer) -> Vec<String> {
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["uuid"].as_str().unwrap().to_owned())
        .collect()
}

/// `GET /jobs?search=` with the search percent-encoded.
fn search(params: &str) -> String {
    let encoded: String = params
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect();
    format!("/jobs?search={encoded}")
}

fn with_token(request: TestRequest) -> TestRequest {
    request.insert_header(("Authorization", format!("Bearer {TOKEN}")))
}

#[actix_web::test]
async fn every_view_answers_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let app = api::mount(state(&dir).await).await;
    for view in VIEWS {
        let page = call(&app, get(view)).await;
        assert_eq!(page.status, 200, "{view}");
        assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
        let html = page.text();
        assert!(html.starts_with("<!doctype html>"), "{view}");
        assert!(html.contains(r#"data-token="none" data-read-only="false""#));
        assert!(html.contains("<main id=\"main\""), "{view}");
        assert!(
            page.header("content-security-policy")
                .contains("connect-src 'self'"),
            "nothing is fetched from elsewhere"
        );
        let head = call(
            &app,
            TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(view),
        )
        .await;
        assert_eq!(head.status, 200, "{view}");
        assert!(head.bytes.is_empty());
    }
    // Small, and the same page for every view.
    let page = call(&app, get("/ui")).await;
    assert!(page.bytes.len() < 128 * 1024, "{} bytes", page.bytes.len());
    assert_eq!(page.bytes, call(&app, get("/ui/queues")).await.bytes);
    for not_a_view in ["/ui/other", "/ui/jobs/a/b", "/ui/submit"] {
        let answer = call(&app, get(not_a_view)).await;
        assert_eq!(answer.status, 404, "{not_a_view}: {}", answer.text());
    }
    let answer = call(&app, post_json("/ui", &json!({}))).await;
    answer.assert_error(405, "method_not_allowed");
}

#[actix_web::test]
async fn the_pages_are_open_with_a_token_and_the_api_stays_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let app = api::mount(state(&dir).await.api_token(TOKEN)).await;
    for view in VIEWS {
        let page = call(&app, get(view)).await;
        assert_eq!(page.status, 200, "{view}: {}", page.text());
        assert!(page.text().contains(r#"data-token="required""#));
    }
    let uuid = "5f0a8c8e-6f7e-4b8e-9d8e-0c1f2a3b4c5d";
    let guarded = [
        get("/"),
        get("/jobs"),
        get("/jobs/stats"),
        get(&format!("/events/{uuid}")),
        get(&format!("/info/{uuid}")),
        get("/queues"),
        get("/workers"),
        get("/schedules"),
        get("/schema/tally"),
        get("/ui/other"),
        get("/uix"),
        post_json("/ui", &json!({})),
        post_json("/job/tally", &json!({})),
        post_json(&format!("/cancel/{uuid}"), &json!({})),
        delete("/jobs?olderThan=1d"),
    ];
    for request in guarded {
        let answer = call(&app, request).await;
        answer.assert_error(401, "unauthorized");
    }
    let wrong = get("/jobs").insert_header(("Authorization", "Bearer nope"));
    call(&app, wrong).await.assert_error(401, "unauthorized");
    let listed = call(&app, with_token(get("/jobs"))).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let stats = call(&app, with_token(get("/jobs/stats"))).await;
    assert_eq!(stats.status, 200, "{}", stats.text());
}

#[actix_web::test]
async fn a_read_only_service_refuses_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let writable = api::mount(state(&dir).await).await;
    let uuid = submit(&writable, json!({})).await;
    let app = api::mount(state(&dir).await.ui_read_only(true)).await;
    let page = call(&app, get("/ui/jobs")).await;
    assert!(page.text().contains(r#"data-read-only="true""#));
    let writes = [
        post_json("/job/tally", &json!({})),
        post_json("/job/tally/batch", &json!([{}])),
        post_json(&format!("/cancel/{uuid}"), &json!({})),
        post_json(&format!("/cancel/{uuid}?kill=true"), &json!({})),
        post_json(&format!("/retry/{uuid}"), &json!({})),
        post_json("/queues/counting/pause", &json!({})),
        post_json("/workers/some-worker/drain", &json!({})),
        post_json(
            "/schedules",
            &json!({"name": "s", "jobType": "tally", "cron": "@hourly", "params": {}}),
        ),
        delete("/schedules/s"),
        delete("/jobs?olderThan=0s"),
        delete(&format!("/jobs/{uuid}")),
        TestRequest::put()
            .uri("/schedules/s")
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{}"),
    ];
    for request in writes {
        call(&app, request).await.assert_error(403, "read_only");
    }
    let progress = call(&app, get(&format!("/progress/{uuid}"))).await;
    assert_eq!(progress.status, 200);
    assert_eq!(progress.json["status"], "queued", "the cancel was refused");
    assert_eq!(uuids(&call(&app, get("/jobs")).await), [uuid]);
    // The document says so.
    let document = call(&app, get("/openapi.json")).await.json;
    let refusal = document["paths"]["/job/tally"]["post"]["responses"]["403"]["description"]
        .as_str()
        .unwrap();
    assert!(refusal.contains("read_only"), "{refusal}");
    let open = call(&writable, get("/openapi.json")).await.json;
    let refusal = open["paths"]["/job/tally"]["post"]["responses"]["403"]["description"]
        .as_str()
        .unwrap();
    assert!(!refusal.contains("read_only"), "{refusal}");
}

#[actix_web::test]
async fn jobs_filter_by_queue_and_search_by_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let app = api::mount(state(&dir).await).await;
    let one = submit(&app, json!({"n": 1, "tags": ["red"]})).await;
    let two = submit(&app, json!({"n": 2, "tags": ["red", "blue"]})).await;
    let three = submit(&app, json!({"n": 3})).await;

    assert_eq!(
        uuids(&call(&app, get("/jobs?queue=counting")).await),
        [three.clone(), two.clone(), one.clone()]
    );
    assert!(uuids(&call(&app, get("/jobs?queue=elsewhere")).await).is_empty());
    assert_eq!(
        uuids(&call(&app, get(&search(r#"{"n":2}"#))).await),
        [two.as_str()]
    );
    assert_eq!(
        uuids(&call(&app, get(&search(r#"{"tags":["red"]}"#))).await),
        [two.clone(), one.clone()]
    );
    assert_eq!(
        uuids(
            &call(
                &app,
                get(&format!(
                    "{}&queue=counting&status=queued&jobType=tally",
                    search(r#"{"tags":["blue"]}"#)
                ))
            )
            .await
        ),
        [two.as_str()]
    );
    assert!(uuids(&call(&app, get(&search(r#"{"n":"2"}"#))).await).is_empty());
    // Pages by the cursor.
    let first = call(
        &app,
        get(&format!("{}&limit=1", search(r#"{"tags":["red"]}"#))),
    )
    .await;
    assert_eq!(uuids(&first), [two]);
    let next = first.json["next"].as_str().unwrap();
    let second = call(
        &app,
        get(&format!(
            "{}&limit=1&after={next}",
            search(r#"{"tags":["red"]}"#)
        )),
    )
    .await;
    assert_eq!(uuids(&second), [one]);
}

#[actix_web::test]
async fn a_finished_job_is_deleted_by_its_uuid() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir).await;
    let backend = state_backend(&dir).await;
    let app = api::mount(state).await;
    let finished = submit(&app, json!({"n": 1})).await;
    run_to_the_end(&app, &backend, std::slice::from_ref(&finished)).await;
    let queued = submit(&app, json!({"n": 2})).await;

    let deleted = call(&app, delete(&format!("/jobs/{finished}"))).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(
        deleted.json,
        json!({"uuid": finished, "status": "done", "deleted": true})
    );
    call(&app, get(&format!("/progress/{finished}")))
        .await
        .assert_error(404, "unknown_job");
    call(&app, delete(&format!("/jobs/{finished}")))
        .await
        .assert_error(404, "unknown_job");
    let refused = call(&app, delete(&format!("/jobs/{queued}"))).await;
    refused.assert_error(409, "not_finished");
    assert_eq!(refused.json["status"], "queued");
    assert_eq!(uuids(&call(&app, get("/jobs")).await), [queued.as_str()]);
    call(&app, delete("/jobs/not-a-uuid"))
        .await
        .assert_error(400, "bad_uuid");
    call(&app, delete(&format!("/jobs/{queued}?force=true")))
        .await
        .assert_error(400, "bad_query");
    // `stats` is not a uuid: its path answers GET only.
    call(&app, delete("/jobs/stats"))
        .await
        .assert_error(405, "method_not_allowed");
}

#[actix_web::test]
async fn a_search_that_is_not_one_is_a_400_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let app = api::mount(state(&dir).await).await;
    submit(&app, json!({"n": 1})).await;
    let long = format!(r#"{{"n":"{}"}}"#, "x".repeat(5000));
    for (bad, says) in [
        ("", "JSON object"),
        ("5", "JSON object of parameter values"),
        ("[1]", "JSON object of parameter values"),
        ("{", "JSON object"),
        ("{}", "at least one"),
        (r#"{"n":{}}"#, "/n: an empty object"),
        (r#"{"tags":[]}"#, "/tags: an empty array"),
        (r#"{"tags":[{"a":1}]}"#, "/tags: the elements"),
        (r#"{"a\"b":1}"#, "quote"),
        (long.as_str(), "4096 bytes"),
    ] {
        let answer = call(&app, get(&search(bad))).await;
        answer.assert_error(400, "bad_search");
        let message = answer.json["message"].as_str().unwrap();
        assert!(message.contains(says), "{bad:?}: {message}");
    }
}

#[actix_web::test]
async fn stats_count_by_status_and_minute() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir).await;
    let backend = state_backend(&dir).await;
    let app = api::mount(state).await;
    let empty = call(&app, get("/jobs/stats")).await;
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert_eq!(empty.json["countCap"], 10_000);
    assert_eq!(empty.json["oldestDueSeconds"], Value::Null);
    let statuses = empty.json["statuses"].as_object().unwrap();
    assert_eq!(statuses.len(), 6);
    for (status, count) in statuses {
        assert_eq!(*count, json!({"count": 0, "capped": false}), "{status}");
    }
    let jobs = [
        submit(&app, json!({"n": 1})).await,
        submit(&app, json!({"n": 2})).await,
        submit(&app, json!({"fail": true})).await,
    ];
    let queued = call(&app, get("/jobs/stats")).await;
    assert_eq!(queued.json["statuses"]["queued"]["count"], 3);
    assert!(queued.json["oldestDueSeconds"].as_f64().unwrap() >= 0.0);
    let queues = queued.json["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 1, "{queues:?}");
    assert_eq!(queues[0]["name"], "counting");
    assert_eq!(
        (
            &queues[0]["due"],
            &queues[0]["running"],
            &queues[0]["paused"]
        ),
        (&json!(3), &json!(0), &json!(false))
    );

    run_to_the_end(&app, &backend, &jobs).await;
    let stats = call(&app, get("/jobs/stats")).await;
    assert_eq!(stats.json["statuses"]["done"]["count"], 2);
    assert_eq!(stats.json["statuses"]["failed"]["count"], 1);
    assert_eq!(stats.json["statuses"]["queued"]["count"], 0);
    assert_eq!(stats.json["oldestDueSeconds"], Value::Null);
    assert_eq!(
        stats.json["queues"],
        json!([]),
        "no queue has unfinished jobs"
    );
    let minutes = stats.json["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let total = |key: &str| {
        minutes
            .iter()
            .map(|m| m[key].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!((total("done"), total("failed")), (2, 1));
    let starts: Vec<&str> = minutes
        .iter()
        .map(|m| m["start"].as_str().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|pair| pair[0] < pair[1]),
        "oldest first"
    );
    assert!(
        starts.iter().all(|start| start.ends_with(":00.000Z")),
        "{starts:?}"
    );

    call(&app, get("/jobs/stats?cap=5"))
        .await
        .assert_error(400, "bad_query");
    // It is in the table: documented, and linked from discovery.
    let document = call(&app, get("/openapi.json")).await.json;
    assert!(document["paths"]["/jobs/stats"]["get"].is_object());
    assert!(document["paths"]["/ui/jobs/{uuid}"]["get"].is_object());
    let discovery = call(&app, get("/")).await.json;
    assert_eq!(discovery["links"]["stats"], "/jobs/stats");
    assert_eq!(discovery["links"]["ui"], "/ui");
}

async fn state_backend(dir: &tempfile::TempDir) -> Backend {
    Backend::connect(&sqlite_url(dir)).await.unwrap()
}

/// Runs a worker until every job in `uuids` has finished.
async fn run_to_the_end(app: &impl TestApp, backend: &Backend, uuids: &[String]) {
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(backend.clone(), Registry::new().register::<Tally>())
        .capacity(4)
        .poll_interval(Duration::from_millis(20));
    let worker = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));
    wait_for("every job finishing", DEADLINE, || async {
        for uuid in uuids {
            let progress = call(app, get(&format!("/progress/{uuid}"))).await;
            if !["done", "failed"].contains(&progress.json["status"].as_str()?) {
                return None;
            }
        }
        Some(())
    })
    .await;
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
