//! `/health`, `/metrics`, the bearer token, the limits (body size, nesting depth), no
//! internal error text in 503s, and the access log.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::test::TestRequest;
use serde_json::json;
use zerog::Registry;
use zerog::backend::{Backend, SqliteBackend, StoreError};
use zerog::http::ApiState;
use zerog::metrics::{RunOutcome, observe_run};
use zerog_tests::api::{self, TestApp, call, get, post_json};
use zerog_tests::hooked::Hooked;
use zerog_tests::process::ChildProcess;
use zerog_tests::{DEADLINE, sqlite_url, wait_for};

use crate::waste_time;

const UUID: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
/// What the failing store says inside; no answer may repeat it.
const SECRET: &str = "disk /dev/sda3 on fire at 10.0.0.7";

fn registry() -> Registry {
    Registry::new().register::<waste_time::WasteTime>()
}

async fn app_with(configure: impl FnOnce(ApiState) -> ApiState) -> impl TestApp {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    api::mount(configure(ApiState::new(backend, registry()))).await
}

/// A store that fails every call, as a store whose server is down does.
async fn down_app() -> impl TestApp {
    let sqlite = SqliteBackend::connect("sqlite::memory:").await.unwrap();
    let down = Hooked::new(Arc::new(sqlite), |_| {
        Box::pin(async { Err(StoreError::Backend(SECRET.into())) })
    });
    let backend = Backend::new(Arc::new(down));
    api::mount(ApiState::new(backend, registry())).await
}

#[actix_web::test]
async fn health_answers_ok_after_a_round_trip_to_the_store() {
    let app = app_with(|state| state).await;
    let answer = call(&app, get("/health")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["status"], "ok");
    assert_eq!(answer.json["checks"]["store"]["status"], "ok");
    assert!(
        answer.json["checks"]["store"]["latencyMs"]
            .as_f64()
            .unwrap()
            >= 0.0
    );
    assert!(answer.json.get("error").is_none());
}

#[actix_web::test]
async fn an_sqlite_file_deleted_under_the_server_fails_health() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::connect(&sqlite_url(&dir)).await.unwrap();
    let app = api::mount(ApiState::new(backend, registry())).await;
    assert_eq!(call(&app, get("/health")).await.status, 200);
    // Writes to the open, unlinked file still succeed; its jobs would be gone at
    // the next start.
    std::fs::remove_dir_all(dir.path()).unwrap();
    let answer = call(&app, get("/health")).await;
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert_eq!(answer.json["checks"]["store"]["status"], "failing");
    assert_eq!(
        answer.json["checks"]["store"]["message"],
        "the store failed a write"
    );
}

#[actix_web::test]
async fn an_sqlite_file_replaced_under_the_server_fails_health() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let backend = Backend::connect(&url).await.unwrap();
    let app = api::mount(ApiState::new(backend, registry())).await;
    let path = url.strip_prefix("sqlite://").unwrap();
    std::fs::rename(path, format!("{path}.moved")).unwrap();
    std::fs::write(path, b"").unwrap();
    let answer = call(&app, get("/health")).await;
    assert_eq!(answer.status, 503, "{}", answer.text());
}

#[actix_web::test]
async fn a_store_that_cannot_be_written_is_refused_at_connect() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    drop(Backend::connect(&url).await.unwrap());
    let read_only = format!("{url}?mode=ro");
    let error = Backend::connect(&read_only).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Unwritable { .. }),
        "{read_only}: {error}"
    );
    let message = error.to_string();
    assert!(message.contains("cannot be written"), "{message}");
    assert!(message.contains("readonly"), "{message}");
}

#[actix_web::test]
async fn a_down_store_is_503_naming_the_part_without_its_internals() {
    let app = down_app().await;
    let answer = call(&app, get("/health")).await;
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert_eq!(answer.json["status"], "unavailable");
    assert_eq!(answer.json["error"], "backend_unavailable");
    assert_eq!(answer.json["checks"]["store"]["status"], "failing");
    assert!(!answer.text().contains(SECRET), "{}", answer.text());

    for request in [
        get("/jobs"),
        get("/metrics"),
        get(&format!("/progress/{UUID}")),
        get(&format!("/events/{UUID}")),
        get("/workers"),
        api::delete("/jobs?olderThan=1d"),
    ] {
        let answer = call(&app, request).await;
        answer.assert_error(503, "backend_unavailable");
        assert!(!answer.text().contains(SECRET), "{}", answer.text());
        assert!(!answer.text().contains("sda3"), "{}", answer.text());
    }
}

/// Checks the Prometheus text format: every sample belongs to a family declared by
/// `# TYPE`, and its value is a number.
fn check_exposition(text: &str) {
    let mut families = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["gauge", "counter", "histogram"].contains(&kind), "{line}");
            families.push(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok(), "not a number: {line}");
        let name = series.split('{').next().unwrap();
        assert!(
            families.iter().any(|family| name == family
                || [
                    family.clone() + "_bucket",
                    family.clone() + "_sum",
                    family.clone() + "_count"
                ]
                .contains(&name.to_owned())),
            "no # TYPE for {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
    }
}

#[actix_web::test]
async fn metrics_show_jobs_by_status_and_type_queue_depth_and_run_durations() {
    let app = app_with(|state| state).await;
    for _ in 0..3 {
        let answer = call(&app, post_json("/job/waste_time", &json!({"delay": 1}))).await;
        assert_eq!(answer.status, 201);
    }
    observe_run("metrics_probe", Duration::from_millis(40), RunOutcome::Done);
    observe_run("metrics_probe", Duration::from_secs(20), RunOutcome::Done);
    observe_run("metrics_probe", Duration::from_secs(1), RunOutcome::Retried);

    let answer = call(&app, get("/metrics")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = answer.text();
    check_exposition(&text);
    let has = |line: &str| text.lines().any(|l| l == line);
    for line in [
        r#"zerog_jobs{status="queued",job_type="waste_time"} 3"#,
        r#"zerog_jobs{status="done",job_type="waste_time"} 0"#,
        r#"zerog_jobs{status="failed",job_type="waste_time"} 0"#,
        r#"zerog_jobs_exact{status="done"} 1"#,
        r#"zerog_jobs_exact{status="queued"} 1"#,
        r#"zerog_queue_due_jobs{queue="waste_time"} 3"#,
        r#"zerog_queue_running_jobs{queue="waste_time"} 0"#,
        r#"zerog_job_run_duration_seconds_bucket{job_type="metrics_probe",outcome="done",le="0.05"} 1"#,
        r#"zerog_job_run_duration_seconds_bucket{job_type="metrics_probe",outcome="done",le="10"} 1"#,
        r#"zerog_job_run_duration_seconds_bucket{job_type="metrics_probe",outcome="done",le="30"} 2"#,
        r#"zerog_job_run_duration_seconds_bucket{job_type="metrics_probe",outcome="done",le="+Inf"} 2"#,
        r#"zerog_job_run_duration_seconds_count{job_type="metrics_probe",outcome="done"} 2"#,
        r#"zerog_job_run_duration_seconds_count{job_type="metrics_probe",outcome="retried"} 1"#,
        "# TYPE zerog_job_run_duration_seconds histogram",
    ] {
        assert!(has(line), "no `{line}` in\n{text}");
    }
    let lag = text
        .lines()
        .find_map(|l| l.strip_prefix(r#"zerog_queue_oldest_due_age_seconds{queue="waste_time"} "#))
        .unwrap_or_else(|| panic!("no queue lag in\n{text}"));
    assert!(lag.parse::<f64>().unwrap() >= 0.0);
}

#[actix_web::test]
async fn with_a_token_every_route_but_health_wants_it() {
    let app = app_with(|state| state.api_token("s3cret")).await;
    let routes = [
        ("GET", "/".to_owned()),
        ("GET", "/openapi.json".to_owned()),
        ("GET", "/schema/waste_time".to_owned()),
        ("POST", "/job/waste_time".to_owned()),
        ("GET", format!("/progress/{UUID}")),
        ("GET", format!("/info/{UUID}")),
        ("GET", format!("/data/{UUID}")),
        ("GET", format!("/events/{UUID}")),
        ("GET", "/jobs".to_owned()),
        ("DELETE", "/jobs?olderThan=1d".to_owned()),
        ("POST", format!("/cancel/{UUID}")),
        ("GET", "/workers".to_owned()),
        ("POST", "/workers/x/drain".to_owned()),
        ("GET", "/metrics".to_owned()),
        ("GET", "/branches".to_owned()),
        ("GET", "/examples/leaves".to_owned()),
        ("GET", "/examples/waste_time/post-schema".to_owned()),
        ("POST", "/examples/waste_time/job".to_owned()),
        ("GET", "/no/such/route".to_owned()),
    ];
    for (method, path) in &routes {
        let request = match *method {
            "GET" => get(path),
            "DELETE" => api::delete(path),
            _ => post_json(path, &json!({})),
        };
        let answer = call(&app, request).await;
        assert_eq!(answer.status, 401, "{method} {path}: {}", answer.text());
        answer.assert_error(401, "unauthorized");
        assert_eq!(answer.header("www-authenticate"), "Bearer");
    }
    let health = call(&app, get("/health")).await;
    assert_eq!(health.status, 200);

    for wrong in [
        "Bearer s3cre",
        "Bearer s3cret2",
        "Bearer S3CRET",
        "Basic s3cret",
        "Bearer",
        "s3cret",
        "",
    ] {
        let request = get("/").insert_header(("Authorization", wrong));
        assert_eq!(call(&app, request).await.status, 401, "{wrong:?}");
    }
    for right in ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret"] {
        let request = get("/").insert_header(("Authorization", right));
        assert_eq!(call(&app, request).await.status, 200, "{right:?}");
    }
    let request =
        post_json("/job/waste_time", &json!({})).insert_header(("Authorization", "Bearer s3cret"));
    assert_eq!(call(&app, request).await.status, 201);
}

#[actix_web::test]
async fn without_a_token_the_api_is_open() {
    for empty_token in [false, true] {
        let app = app_with(|state| {
            if empty_token {
                state.api_token("")
            } else {
                state
            }
        })
        .await;
        assert_eq!(call(&app, get("/")).await.status, 200);
        assert_eq!(call(&app, get("/jobs")).await.status, 200);
    }
}

fn nested(depth: usize) -> serde_json::Value {
    (1..depth).fold(json!([]), |inner, _| json!([inner]))
}

#[actix_web::test]
async fn bodies_past_the_limits_are_refused() {
    let app = app_with(|state| state.max_depth(4).body_limit(64)).await;
    // Depth 4 (the object and three arrays) passes the depth check and fails the schema.
    let answer = call(
        &app,
        post_json("/job/waste_time", &json!({"delay": nested(3)})),
    )
    .await;
    answer.assert_error(400, "validation");
    let answer = call(
        &app,
        post_json("/job/waste_time", &json!({"delay": nested(4)})),
    )
    .await;
    answer.assert_error(400, "too_deep");
    assert!(answer.json["message"].as_str().unwrap().contains('4'));
    let big = json!({"delay": 1, "padding": "x".repeat(100)});
    call(&app, post_json("/job/waste_time", &big))
        .await
        .assert_error(413, "payload_too_large");

    // The default depth is 32; serde_json itself refuses past 128.
    let app = app_with(|state| state).await;
    let answer = call(
        &app,
        post_json("/job/waste_time", &json!({"delay": nested(31)})),
    )
    .await;
    answer.assert_error(400, "validation");
    let answer = call(
        &app,
        post_json("/job/waste_time", &json!({"delay": nested(32)})),
    )
    .await;
    answer.assert_error(400, "too_deep");
    let deep = format!("{{\"delay\": {}1{}}}", "[".repeat(5000), "]".repeat(5000));
    let request = TestRequest::post()
        .uri("/job/waste_time")
        .insert_header(("Content-Type", "application/json"))
        .set_payload(deep);
    call(&app, request)
        .await
        .assert_error(400, "malformed_json");
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn each_request_is_logged_without_its_query_or_body() {
    use tracing_subscriber::util::SubscriberInitExt;
    let app = app_with(|state| state.api_token("t0ken")).await;
    let token = ("Authorization", "Bearer t0ken");
    let requests = || {
        [
            post_json("/job/waste_time", &json!({"delay": 4242})).insert_header(token),
            get("/jobs?jobType=hush_hush_7").insert_header(token),
            get("/metrics"),
        ]
    };
    // Tracing caches per call site whether anyone listens; a call site first reached
    // by another test's thread while this subscriber is being set could be cached as
    // unheard. Reaching every call site first, then setting the subscriber (which
    // recomputes the cache for the known call sites), rules that race out.
    for request in requests() {
        call(&app, request).await;
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let _guard = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
        .set_default();
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for request in requests() {
            statuses.push(call(&app, request).await.status);
        }
        statuses
    };
    assert_eq!(statuses, [201, 200, 401]);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let requests: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" request "))
        .collect();
    assert_eq!(requests.len(), 3, "{log}");
    for (line, expected) in requests.iter().zip([
        "method=POST path=/job/waste_time status=201",
        "method=GET path=/jobs status=200",
        "method=GET path=/metrics status=401",
    ]) {
        assert!(line.contains(expected), "`{line}` lacks `{expected}`");
        assert!(line.contains("duration_ms="), "{line}");
    }
    for secret in ["4242", "hush_hush_7", "t0ken"] {
        assert!(!log.contains(secret), "the log shows `{secret}`:\n{log}");
    }
}

/// `ZEROG_API_TOKEN` and `ZEROG_PRUNE_AFTER` reach the server that the CLI starts.
#[actix_web::test]
async fn the_cli_takes_the_token_and_the_pruning_age_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let (_service, base) = ChildProcess::spawn_server(
        "run",
        std::path::Path::new(env!("CARGO_BIN_EXE_zerog-test-service")),
        &["run"],
        &[
            ("ZEROG_STORE", &store),
            ("ZEROG_CAPACITY", "1"),
            ("ZEROG_API_TOKEN", "cli-t0ken"),
            ("ZEROG_PRUNE_AFTER", "1ms"),
        ],
    )
    .await;
    let client = awc::Client::new();
    let status = |path: &'static str, token: Option<&'static str>| {
        let client = &client;
        let base = &base;
        async move {
            let mut request = client.get(format!("{base}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let mut response = request.send().await.ok()?;
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            Some((response.status().as_u16(), body))
        }
    };
    wait_for("the service to answer /health", DEADLINE, || {
        status("/health", None)
    })
    .await;
    assert_eq!(status("/", None).await.unwrap().0, 401);
    let (code, discovery) = status("/", Some("cli-t0ken")).await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(discovery["service"]["name"], "zerog-test-service");

    let mut posted = client
        .post(format!("{base}/job/linger"))
        .bearer_auth("cli-t0ken")
        .send_json(&json!({"ms": 0}))
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 201);
    let uuid: serde_json::Value = posted.json().await.unwrap();
    wait_for("the finished job to be pruned", DEADLINE, || async {
        let (code, page) = status("/jobs", Some("cli-t0ken")).await?;
        assert_eq!(code, 200);
        let jobs = page["jobs"].as_array()?;
        assert!(jobs.len() <= 1, "{page}");
        jobs.is_empty().then_some(())
    })
    .await;
    let path = format!("{base}/info/{}", uuid["uuid"].as_str().unwrap());
    let response = client
        .get(path)
        .bearer_auth("cli-t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}
