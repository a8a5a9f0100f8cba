//! Delayed submits (`runAt`, `runAfter`), batch submits, a user's retry, and the
//! refusal of query parameters that no route takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::test::TestRequest;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use zerog::backend::{Backend, SqliteBackend};
use zerog::http::ApiState;
use zerog::{JobRecord, Registry, lifecycle};
use zerog_tests::api::{self, TestApp, call, get, post_json};
use zerog_tests::hooked::{Call, Hooked};

use crate::waste_time;

const UNKNOWN: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";

async fn app_with(configure: impl FnOnce(ApiState) -> ApiState) -> (impl TestApp, Backend) {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new().register::<waste_time::WasteTime>();
    let state = configure(ApiState::new(backend.clone(), registry));
    (api::mount(state).await, backend)
}

async fn app() -> (impl TestApp, Backend) {
    app_with(|state| state).await
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn submit(app: &impl TestApp, path: &str, body: &Value) -> String {
    let answer = call(app, post_json(path, body)).await;
    assert_eq!(answer.status, 201, "{path}: {}", answer.text());
    answer.json["uuid"].as_str().unwrap().to_owned()
}

async fn progress(app: &impl TestApp, uuid: &str) -> Value {
    let answer = call(app, get(&format!("/progress/{uuid}"))).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json
}

async fn job_count(app: &impl TestApp) -> usize {
    let answer = call(app, get("/jobs")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json["jobs"].as_array().unwrap().len()
}

#[actix_web::test]
async fn run_after_and_run_at_make_a_waiting_job() {
    let (app, _) = app().await;
    let before = Utc::now();
    let uuid = submit(&app, "/job/waste_time?runAfter=90.5", &json!({"delay": 1})).await;
    let view = progress(&app, &uuid).await;
    assert_eq!(view["status"], "waiting", "{view}");
    let run_after = time(view["runAfter"].as_str().expect("runAfter is shown"));
    assert!(
        run_after >= before + chrono::Duration::milliseconds(90_500),
        "{run_after}"
    );
    assert!(
        run_after <= Utc::now() + chrono::Duration::milliseconds(90_501),
        "{run_after}"
    );
    let info = call(&app, get(&format!("/info/{uuid}"))).await;
    assert_eq!(info.json["runAfter"], view["runAfter"]);

    let at = (Utc::now() + chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let uuid = submit(&app, &format!("/job/waste_time?runAt={at}"), &json!({})).await;
    let view = progress(&app, &uuid).await;
    assert_eq!(view["status"], "waiting");
    assert_eq!(view["runAfter"], at.to_string());

    // An offset, its `+` sent as %2B.
    let uuid = submit(
        &app,
        "/job/waste_time?runAt=2099-01-01T12%3A00%3A00%2B02%3A00",
        &json!({}),
    )
    .await;
    assert_eq!(
        progress(&app, &uuid).await["runAfter"],
        "2099-01-01T10:00:00.000Z"
    );

    // A time that has come, or no delay, queues the job now.
    for query in ["runAt=2020-01-01T00:00:00Z", "runAfter=0", "runAfter=0.000"] {
        let uuid = submit(&app, &format!("/job/waste_time?{query}"), &json!({})).await;
        let view = progress(&app, &uuid).await;
        assert_eq!(view["status"], "queued", "{query}: {view}");
        assert!(view.get("runAfter").is_none(), "{query}: {view}");
    }
}

#[actix_web::test]
async fn the_hierarchy_takes_a_delay_too() {
    let (app, _) = app().await;
    let uuid = submit(&app, "/examples/waste_time/job?runAfter=30", &json!({})).await;
    let view = progress(&app, &uuid).await;
    assert_eq!(view["status"], "waiting");
    assert!(view["runAfter"].is_string());
    let answer = call(
        &app,
        post_json("/examples/waste_time/job?runAfter=-3", &json!({})),
    )
    .await;
    answer.assert_error(400, "bad_run_at");
    let answer = call(
        &app,
        post_json("/examples/waste_time/job?when=1", &json!({})),
    )
    .await;
    answer.assert_error(400, "bad_query");
}

#[actix_web::test]
async fn bad_delays_are_refused_and_nothing_is_enqueued() {
    let (app, _) = app().await;
    for query in [
        "runAt=tomorrow",
        "runAt=2026-12-01",
        "runAt=",
        "runAfter=-1",
        "runAfter=-0.5",
        "runAfter=soon",
        "runAfter=1e3",
        "runAfter=NaN",
        "runAfter=",
        "runAt=2030-01-01T00:00:00Z&runAfter=5",
        "runAfter=3155760001",
        "runAfter=99999999999999999999999999",
        "runAt=9999-12-31T23:59:59Z",
    ] {
        for path in ["/job/waste_time", "/job/waste_time/batch"] {
            let body = if path.ends_with("batch") {
                json!([{}])
            } else {
                json!({})
            };
            let answer = call(&app, post_json(&format!("{path}?{query}"), &body)).await;
            answer.assert_error(400, "bad_run_at");
        }
    }
    let message = call(&app, post_json("/job/waste_time?runAfter=-1", &json!({}))).await;
    assert!(
        message.json["message"]
            .as_str()
            .unwrap()
            .contains("negative")
    );
    assert_eq!(job_count(&app).await, 0);
}

#[actix_web::test]
async fn unknown_query_parameters_on_posts_are_refused() {
    let (app, backend) = app().await;
    let record = JobRecord::new(&<waste_time::WasteTime as zerog::Job>::SPEC, json!({}));
    backend.submit(&record, 1).await.unwrap();
    let uuid = record.uuid;
    for path in [
        "/job/waste_time?urgency=1".to_owned(),
        "/job/waste_time?runafter=1".to_owned(),
        "/job/waste_time?runAfter=1&runAfter=2".to_owned(),
        "/job/waste_time/batch?delay=1".to_owned(),
        format!("/cancel/{uuid}?force=true"),
        format!("/retry/{uuid}?now=1"),
        "/workers/nobody/drain?exit=true&soon=1".to_owned(),
    ] {
        let body = if path.contains("batch") {
            json!([])
        } else {
            json!({})
        };
        let answer = call(&app, post_json(&path, &body)).await;
        answer.assert_error(400, "bad_query");
        let message = answer.json["message"].as_str().unwrap();
        assert!(
            [
                "urgency", "runafter", "runAfter", "delay", "force", "now", "soon"
            ]
            .iter()
            .any(|name| message.contains(&format!("`{name}`"))),
            "{path}: the message names the parameter: {message}"
        );
    }
    assert_eq!(job_count(&app).await, 1, "nothing more was enqueued");
    assert_eq!(progress(&app, &uuid.to_string()).await["status"], "queued");
}

/// A store that counts its inserts and passes every call on to SQLite.
async fn counting_store(inserts: Arc<AtomicUsize>) -> Hooked {
    let sqlite = SqliteBackend::connect("sqlite::memory:").await.unwrap();
    Hooked::new(Arc::new(sqlite), move |call| {
        if matches!(call, Call::Insert | Call::InsertUnique) {
            inserts.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(async { Ok(()) })
    })
}

#[actix_web::test]
async fn a_batch_is_enqueued_in_one_write_in_input_order() {
    let inserts = Arc::new(AtomicUsize::new(0));
    let store = counting_store(inserts.clone()).await;
    let backend = Backend::new(Arc::new(store));
    let registry = Registry::new().register::<waste_time::WasteTime>();
    let app = api::mount(ApiState::new(backend, registry)).await;

    let body = json!([{"delay": 3}, {"delay": 1}, {}, {"delay": 2}]);
    let answer = call(&app, post_json("/job/waste_time/batch", &body)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(inserts.load(Ordering::SeqCst), 1, "one write for the batch");
    let uuids: Vec<String> = answer.json["uuids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|uuid| uuid.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(uuids.len(), 4);
    for uuid in &uuids {
        assert_eq!(progress(&app, uuid).await["status"], "queued");
    }
    assert_eq!(job_count(&app).await, 4);

    let answer = call(
        &app,
        post_json("/job/waste_time/batch?runAfter=60", &json!([{}, {}])),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    for uuid in answer.json["uuids"].as_array().unwrap() {
        let view = progress(&app, uuid.as_str().unwrap()).await;
        assert_eq!(view["status"], "waiting", "{view}");
    }
}

#[actix_web::test]
async fn a_batch_keeps_each_job_its_parameters_in_order() {
    let (app, backend) = app().await;
    let body = json!([{"delay": 3}, {"delay": 1}, {}, {"delay": 2}]);
    let answer = call(&app, post_json("/job/waste_time/batch", &body)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let uuids = answer.json["uuids"].as_array().unwrap();
    for (uuid, delay) in uuids.iter().zip([3, 1, 30, 2]) {
        let uuid = uuid.as_str().unwrap().parse().unwrap();
        let record = backend.get(uuid).await.unwrap().expect("stored");
        assert_eq!(record.params, json!({"delay": delay}), "in input order");
    }
}

#[actix_web::test]
async fn an_invalid_batch_names_each_violation_by_index_and_enqueues_nothing() {
    let (app, _) = app_with(|state| state.body_limit(256).max_depth(3)).await;
    let body = json!([{"delay": 1}, {"delay": "soon"}, {}, {"delay": -1, "speed": 2}]);
    let answer = call(&app, post_json("/job/waste_time/batch", &body)).await;
    answer.assert_error(400, "validation");
    let paths: Vec<&str> = answer.json["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/1/delay"), "{paths:?}");
    assert!(paths.contains(&"/3/delay"), "{paths:?}");
    assert!(paths.contains(&"/3"), "the unknown field: {paths:?}");
    assert!(
        !paths
            .iter()
            .any(|path| path.starts_with("/0") || path.starts_with("/2"))
    );

    let answer = call(
        &app,
        post_json("/job/waste_time/batch", &json!({"delay": 1})),
    )
    .await;
    answer.assert_error(400, "validation");
    assert_eq!(answer.json["details"][0]["path"], "");

    let deep = json!([{"delay": {"a": {"b": {"c": 1}}}}]);
    let answer = call(&app, post_json("/job/waste_time/batch", &deep)).await;
    answer.assert_error(400, "too_deep");

    let big = Value::Array((0..40).map(|_| json!({"delay": 1})).collect());
    let answer = call(&app, post_json("/job/waste_time/batch", &big)).await;
    answer.assert_error(413, "payload_too_large");

    let form = TestRequest::post()
        .uri("/job/waste_time/batch")
        .insert_header(("content-type", "text/plain"))
        .set_payload("[{}]");
    call(&app, form)
        .await
        .assert_error(415, "unsupported_media_type");
    let answer = call(&app, post_json("/job/nothing/batch", &json!([{}]))).await;
    answer.assert_error(404, "unknown_job_type");
    assert_eq!(job_count(&app).await, 0, "nothing was enqueued");
}

#[actix_web::test]
async fn retry_sends_a_cancelled_or_failed_job_back_and_refuses_the_rest() {
    let (app, backend) = app().await;
    let uuid = submit(&app, "/job/waste_time", &json!({})).await;
    let answer = call(&app, post_json(&format!("/retry/{uuid}"), &json!({}))).await;
    answer.assert_error(409, "not_retryable");
    assert_eq!(answer.json["status"], "queued");

    let cancelled = call(&app, post_json(&format!("/cancel/{uuid}"), &json!({}))).await;
    assert_eq!(cancelled.json["status"], "cancelled");
    let answer = call(&app, TestRequest::post().uri(&format!("/retry/{uuid}"))).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json["uuid"], uuid.as_str());
    assert_eq!(answer.json["status"], "queued");
    assert_eq!(answer.json["resultCode"], -1);
    assert_eq!(answer.json["result"], -1);
    let info = call(&app, get(&format!("/info/{uuid}"))).await;
    assert_eq!(info.json["status"], "queued");
    assert_eq!(info.json["attempts"], 0);
    let events: Vec<&str> = info.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["msg"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [lifecycle::EVENT_CANCELLED, lifecycle::EVENT_RETRIED],
        "the log is kept"
    );

    // A failed job, as a worker leaves it.
    let record = JobRecord::new(&<waste_time::WasteTime as zerog::Job>::SPEC, json!({}));
    backend.submit(&record, 1).await.unwrap();
    let ask = vec!["waste_time".to_owned()];
    let request = zerog::backend::ReserveRequest {
        worker: "host:1:test",
        queues: &ask,
        job_types: &ask,
        max_cost: 1,
        max_job_cost: 1,
        max_jobs: 1,
        lease: std::time::Duration::from_secs(30),
        queue_limits: &Default::default(),
        only: Some(record.uuid),
    };
    let taken = backend.reserve(&request).await.unwrap().pop().unwrap();
    let end = lifecycle::RunEnd::Returned(Err(zerog::JobError::fatal("broken")));
    let (failed, _) = lifecycle::run_ended(
        taken.record,
        &zerog::RetryPolicy::DEFAULT,
        end,
        false,
        lifecycle::Clock::now(),
    );
    backend.settle_run(&taken.lease, &failed).await.unwrap();
    let answer = call(
        &app,
        post_json(&format!("/retry/{}", record.uuid), &json!({})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json["status"], "queued");
    let info = call(&app, get(&format!("/info/{}", record.uuid))).await;
    assert_eq!(info.json["attempts"], 0);
    assert_eq!(info.json["errors"].as_array().unwrap().len(), 1);

    let answer = call(&app, post_json(&format!("/retry/{UNKNOWN}"), &json!({}))).await;
    answer.assert_error(404, "unknown_job");
    let answer = call(&app, post_json("/retry/not-a-uuid", &json!({}))).await;
    answer.assert_error(400, "bad_uuid");
    let answer = call(&app, get(&format!("/retry/{uuid}"))).await;
    answer.assert_error(405, "method_not_allowed");
    assert_eq!(answer.header("allow"), "POST");
}

#[actix_web::test]
async fn the_openapi_document_describes_delays_batches_and_retry() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new().register::<waste_time::WasteTime>();
    let document = zerog::http::openapi_document(&ApiState::new(backend, registry));
    let paths = &document["paths"];
    for (path, method) in [
        ("/job/waste_time", "post"),
        ("/job/waste_time/batch", "post"),
        ("/examples/waste_time/job", "post"),
    ] {
        let operation = &paths[path][method];
        let names: Vec<&str> = operation["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has parameters"))
            .iter()
            .map(|parameter| parameter["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["runAt", "runAfter", "priority"], "{path}");
        let bad = operation["responses"]["400"]["description"]
            .as_str()
            .unwrap();
        assert!(
            bad.contains("bad_run_at") && bad.contains("bad_priority") && bad.contains("bad_query"),
            "{path}: {bad}"
        );
    }
    let batch = &paths["/job/waste_time/batch"]["post"];
    assert_eq!(
        batch["requestBody"]["content"]["application/json"]["schema"]["items"]["$ref"],
        "#/components/schemas/waste_time"
    );
    assert!(batch["responses"]["413"].is_object());
    let retry = &paths["/retry/{uuid}"]["post"];
    assert_eq!(retry["operationId"], "retryJob");
    let conflict = retry["responses"]["409"]["description"].as_str().unwrap();
    assert!(conflict.contains("not_retryable"), "{conflict}");
    assert!(retry["responses"]["404"].is_object());
}

#[actix_web::test]
async fn the_rust_client_enqueues_now_later_and_in_batches() {
    use std::time::Duration;
    use waste_time::WasteTime;
    use zerog::Status;
    use zerog::client::{Client, ClientError, EnqueueOptions};

    let client = Client::connect("sqlite::memory:").await.unwrap();
    let backend = client.backend().clone();
    let stored = |uuid| {
        let backend = backend.clone();
        async move { backend.get(uuid).await.unwrap().expect("stored") }
    };

    let now = client.enqueue(WasteTime { delay: 1 }).await.unwrap();
    assert_eq!(stored(now).await.status, Status::Queued);
    let before = Utc::now();
    let later = client
        .enqueue_after(WasteTime { delay: 1 }, Duration::from_secs(30))
        .await
        .unwrap();
    let record = stored(later).await;
    assert_eq!(record.status, Status::Waiting);
    assert!(time(record.run_after.as_deref().unwrap()) >= before + chrono::Duration::seconds(30));
    let noon = time("2099-06-01T12:00:00Z");
    let at = client
        .enqueue_at(WasteTime { delay: 1 }, noon)
        .await
        .unwrap();
    assert_eq!(
        stored(at).await.run_after.as_deref(),
        Some("2099-06-01T12:00:00.000Z")
    );
    let past = client
        .enqueue_with(
            WasteTime { delay: 1 },
            EnqueueOptions::new().run_at(time("2020-01-01T00:00:00Z")),
        )
        .await
        .unwrap();
    assert!(!past.is_duplicate());
    assert_eq!(stored(past.uuid()).await.status, Status::Queued);
    let error = client
        .enqueue_after(WasteTime { delay: 1 }, Duration::from_secs(4_000_000_000))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::BadRunAt(_)), "{error}");

    let uuids = client
        .enqueue_many([3, 2, 1].map(|delay| WasteTime { delay }))
        .await
        .unwrap();
    for (uuid, delay) in uuids.iter().zip([3, 2, 1]) {
        assert_eq!(stored(*uuid).await.params, json!({ "delay": delay }));
    }

    // The schema's range holds in Rust too: one bad job enqueues none.
    let error = client
        .enqueue_many([1, 100_000, 2].map(|delay| WasteTime { delay }))
        .await
        .unwrap_err();
    match error {
        ClientError::Validation {
            index, violations, ..
        } => {
            assert_eq!(index, 1);
            assert_eq!(violations[0].path, "/delay");
        }
        error => panic!("{error}"),
    }
    let listed = backend
        .list(&zerog::backend::ListQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.jobs.len(), 7, "the bad batch enqueued nothing");
}

#[actix_web::test]
async fn a_submit_may_set_the_priority_and_a_bad_one_is_refused() {
    let (app, backend) = app().await;
    let stored = |uuid: String| {
        let backend = backend.clone();
        async move {
            backend
                .get(uuid.parse().unwrap())
                .await
                .unwrap()
                .unwrap()
                .priority
        }
    };
    let default = submit(&app, "/job/waste_time", &json!({"delay": 1})).await;
    assert_eq!(stored(default).await, 5, "the type's default");
    let urgent = submit(&app, "/job/waste_time?priority=0", &json!({"delay": 1})).await;
    assert_eq!(stored(urgent).await, 0);
    let hierarchy = submit(
        &app,
        "/examples/waste_time/job?priority=9&runAfter=60",
        &json!({"delay": 1}),
    )
    .await;
    assert_eq!(stored(hierarchy).await, 9);
    let batch = call(
        &app,
        post_json("/job/waste_time/batch?priority=1", &json!([{"delay": 1}])),
    )
    .await;
    assert_eq!(batch.status, 201, "{}", batch.text());
    let uuid = batch.json["uuids"][0].as_str().unwrap().to_owned();
    assert_eq!(stored(uuid).await, 1);
    let before = job_count(&app).await;
    for bad in ["10", "-1", "high", "1.5", ""] {
        call(
            &app,
            post_json(
                &format!("/job/waste_time?priority={bad}"),
                &json!({"delay": 1}),
            ),
        )
        .await
        .assert_error(400, "bad_priority");
    }
    assert_eq!(job_count(&app).await, before, "nothing was enqueued");
}

#[actix_web::test]
async fn single_submits_that_come_together_share_one_write_and_keep_their_answers() {
    let inserts = Arc::new(AtomicUsize::new(0));
    let store = counting_store(inserts.clone()).await;
    let backend = Backend::new(Arc::new(store));
    let spec = <waste_time::WasteTime as zerog::Job>::SPEC;
    let taken = JobRecord::new(&spec, json!({ "delay": 1 }));
    backend.submit(&taken, 1).await.unwrap();
    inserts.store(0, Ordering::SeqCst);

    // Forty submits at once, one of them with a uuid that is taken.
    let records: Vec<JobRecord> = (0..40)
        .map(|i| {
            if i == 17 {
                taken.clone()
            } else {
                JobRecord::new(&spec, json!({ "delay": i }))
            }
        })
        .collect();
    let answers =
        futures_util::future::join_all(records.iter().map(|record| backend.submit(record, 1)))
            .await;
    for (i, answer) in answers.iter().enumerate() {
        match (i, answer) {
            (17, Err(zerog::backend::StoreError::Duplicate(uuid))) => assert_eq!(*uuid, taken.uuid),
            (17, other) => panic!("the taken uuid was accepted: {other:?}"),
            (_, answer) => assert!(answer.is_ok(), "submit {i}: {answer:?}"),
        }
    }
    for record in records.iter().filter(|record| record.uuid != taken.uuid) {
        let stored = backend.get(record.uuid).await.unwrap();
        assert_eq!(
            stored.map(|stored| stored.params),
            Some(record.params.clone())
        );
    }
    // Without a taken uuid among them, forty submits are a write or two.
    inserts.store(0, Ordering::SeqCst);
    let fresh: Vec<JobRecord> = (0..40)
        .map(|i| JobRecord::new(&spec, json!({ "delay": i })))
        .collect();
    let answers =
        futures_util::future::join_all(fresh.iter().map(|record| backend.submit(record, 1))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let writes = inserts.load(Ordering::SeqCst);
    assert!(
        writes <= 2,
        "forty submits that came together took {writes} writes"
    );
}
