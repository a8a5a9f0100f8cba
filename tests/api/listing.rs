//! `GET /jobs` (filters, newest first, keyset pagination), `DELETE /jobs` (retention,
//! counts per status) and the automatic pruner, with every error row.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog::pruner::Pruner;
use zerog::worker::Worker;
use zerog::{Job, JobContext, JobError, Outcome, Registry};
use zerog_tests::api::{self, TestApp, call, delete, get, post_json};
use zerog_tests::{DEADLINE, sqlite_url, wait_for};

/// Finishes at once.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "quick")]
pub struct Quick {
    /// A label, to tell jobs apart.
    #[serde(default)]
    pub n: u32,
}

impl zerog::Run for Quick {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done_with(200, self.n))
    }
}

/// Fails at once, for good.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "broken")]
pub struct Broken {}

impl zerog::Run for Broken {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Err(JobError::fatal("broken on purpose"))
    }
}

fn registry() -> Registry {
    Registry::new().register::<Quick>().register::<Broken>()
}

async fn backend(dir: &tempfile::TempDir) -> Backend {
    Backend::connect(&sqlite_url(dir)).await.unwrap()
}

async fn submit(app: &impl TestApp, job_type: &str, body: Value) -> String {
    let answer = call(app, post_json(&format!("/job/{job_type}"), &body)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json["uuid"].as_str().unwrap().to_owned()
}

fn uuids(answer: &Value) -> Vec<String> {
    answer["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["uuid"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs a worker until every job in `uuids` has finished.
async fn run_to_the_end(app: &impl TestApp, backend: &Backend, uuids: &[String]) {
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(backend.clone(), registry())
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

#[actix_web::test]
async fn pages_are_newest_first_and_link_by_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let app = api::mount(ApiState::new(backend(&dir).await, registry())).await;
    let mut submitted = Vec::new();
    for n in 0..7 {
        submitted.push(submit(&app, "quick", json!({ "n": n })).await);
    }
    submitted.reverse();

    let all = call(&app, get("/jobs")).await;
    assert_eq!(all.status, 200);
    assert_eq!(uuids(&all.json), submitted);
    assert_eq!(all.json["next"], Value::Null);
    let first = &all.json["jobs"][0];
    assert_eq!(
        first.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "completeness",
            "createdAt",
            "jobType",
            "result",
            "resultCode",
            "status",
            "updatedAt",
            "uuid"
        ]
    );
    // The times are the record's, so that a list can show each job's age.
    let record = call(&app, get(&format!("/info/{}", submitted[0]))).await;
    assert_eq!(first["createdAt"], record.json["createdAt"]);
    assert_eq!(first["updatedAt"], record.json["updatedAt"]);

    let mut pages = Vec::new();
    let mut path = "/jobs?limit=3".to_owned();
    loop {
        let page = call(&app, get(&path)).await;
        assert_eq!(page.status, 200, "{}", page.text());
        pages.push(uuids(&page.json));
        match page.json["next"].as_str() {
            Some(next) => path = format!("/jobs?limit=3&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(pages.concat(), submitted);

    // A job that arrives between pages does not shift the pages after it.
    let second_page = format!(
        "/jobs?limit=3&after={}",
        call(&app, get("/jobs?limit=3")).await.json["next"]
            .as_str()
            .unwrap()
    );
    submit(&app, "quick", json!({})).await;
    assert_eq!(
        uuids(&call(&app, get(&second_page)).await.json),
        submitted[3..6]
    );
}

#[actix_web::test]
async fn filters_by_status_and_job_type() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir).await;
    let app = api::mount(ApiState::new(backend.clone(), registry())).await;
    let quick = vec![
        submit(&app, "quick", json!({"n": 1})).await,
        submit(&app, "quick", json!({"n": 2})).await,
    ];
    let broken = vec![submit(&app, "broken", json!({})).await];
    let everything = [quick.clone(), broken.clone()].concat();
    run_to_the_end(&app, &backend, &everything).await;
    let waiting = submit(&app, "quick", json!({"n": 3})).await;

    let list = |query: &str| {
        let app = &app;
        let path = format!("/jobs?{query}");
        async move {
            let answer = call(app, get(&path)).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.text());
            let mut found = uuids(&answer.json);
            found.sort();
            found
        }
    };
    let sorted = |mut uuids: Vec<String>| {
        uuids.sort();
        uuids
    };
    assert_eq!(list("status=done").await, sorted(quick.clone()));
    assert_eq!(list("status=failed").await, broken);
    assert_eq!(list("status=queued").await, std::slice::from_ref(&waiting));
    assert_eq!(list("status=running").await, Vec::<String>::new());
    assert_eq!(list("jobType=broken").await, broken);
    assert_eq!(
        list("jobType=quick").await,
        sorted([quick.clone(), vec![waiting.clone()]].concat())
    );
    assert_eq!(list("jobType=quick&status=done").await, sorted(quick));
    assert_eq!(list("jobType=no_such_type").await, Vec::<String>::new());
    let failed = call(&app, get("/jobs?status=failed")).await;
    assert_eq!(failed.json["jobs"][0]["resultCode"], 500);
    assert_eq!(failed.json["jobs"][0]["result"], 500);
}

#[actix_web::test]
async fn every_listing_error_row() {
    let dir = tempfile::tempdir().unwrap();
    let app = api::mount(ApiState::new(backend(&dir).await, registry())).await;
    for (query, kind) in [
        ("status=finished", "bad_status"),
        ("status=", "bad_status"),
        ("status=DONE", "bad_status"),
        ("limit=0", "bad_limit"),
        ("limit=501", "bad_limit"),
        ("limit=-1", "bad_limit"),
        ("limit=+5", "bad_limit"),
        ("limit=2.5", "bad_limit"),
        ("limit=ten", "bad_limit"),
        ("limit=", "bad_limit"),
        ("after=abc", "bad_cursor"),
        ("after=-5", "bad_cursor"),
        ("after=", "bad_cursor"),
        ("after=1234567890123456789", "bad_cursor"),
        ("limit=1&limit=2", "bad_query"),
    ] {
        let answer = call(&app, get(&format!("/jobs?{query}"))).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.text());
        answer.assert_error(400, kind);
    }
    for query in [
        "limit=1",
        "limit=500",
        "after=0",
        "after=999999999999999999",
    ] {
        let answer = call(&app, get(&format!("/jobs?{query}"))).await;
        assert_eq!(answer.status, 200, "{query}: {}", answer.text());
    }
}

#[actix_web::test]
async fn retention_deletes_old_finished_jobs_and_counts_them_per_status() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir).await;
    let app = api::mount(ApiState::new(backend.clone(), registry())).await;
    let quick = vec![
        submit(&app, "quick", json!({})).await,
        submit(&app, "quick", json!({})).await,
    ];
    let broken = vec![submit(&app, "broken", json!({})).await];
    run_to_the_end(&app, &backend, &[quick.clone(), broken.clone()].concat()).await;
    let queued = submit(&app, "quick", json!({})).await;

    // Nothing finished a day ago.
    let answer = call(&app, delete("/jobs?status=done&olderThan=1d")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json["deleted"], json!({"done": 0}));
    assert_eq!(answer.json["total"], 0);
    assert!(answer.json["finishedBefore"].as_str().is_some());
    let answer = call(&app, delete("/jobs?olderThan=7d")).await;
    assert_eq!(
        answer.json["deleted"],
        json!({"done": 0, "failed": 0, "cancelled": 0})
    );

    // Everything finished before now, counted per status; a job that finished in this
    // very millisecond is not older than 0s yet, so ask until all are counted.
    let deleted = std::cell::RefCell::new(json!({"done": 0, "failed": 0}));
    wait_for("the finished jobs to be deleted", DEADLINE, || async {
        let answer = call(&app, delete("/jobs?status=done,failed&olderThan=0s")).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let mut deleted = deleted.borrow_mut();
        for status in ["done", "failed"] {
            let count = answer.json["deleted"][status].as_u64().unwrap();
            deleted[status] = json!(deleted[status].as_u64().unwrap() + count);
        }
        (*deleted == json!({"done": 2, "failed": 1})).then_some(())
    })
    .await;
    let left = call(&app, get("/jobs")).await;
    assert_eq!(uuids(&left.json), [queued]);
    for uuid in quick.iter().chain(&broken) {
        call(&app, get(&format!("/info/{uuid}")))
            .await
            .assert_error(404, "unknown_job");
    }
}

#[actix_web::test]
async fn every_retention_error_row() {
    let dir = tempfile::tempdir().unwrap();
    let app = api::mount(ApiState::new(backend(&dir).await, registry())).await;
    for (query, kind) in [
        ("status=running&olderThan=1d", "unfinished_status"),
        ("status=queued&olderThan=1d", "unfinished_status"),
        ("status=done,waiting&olderThan=1d", "unfinished_status"),
        ("status=gone&olderThan=1d", "bad_status"),
        ("status=&olderThan=1d", "bad_status"),
        ("status=done", "missing_parameter"),
        ("", "missing_parameter"),
        ("olderThan=7", "bad_age"),
        ("olderThan=7w", "bad_age"),
        ("olderThan=soon", "bad_age"),
        ("olderThan=-1d", "bad_age"),
        ("olderThan=1000000000d", "bad_age"),
        // Grammatical, but its cutoff would be no RFC 3339 time at all.
        ("olderThan=999999999d", "bad_age"),
        ("olderThan=100000d", "bad_age"),
        ("olderThan=1d&olderThan=2d", "bad_query"),
    ] {
        let answer = call(&app, delete(&format!("/jobs?{query}"))).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.text());
        answer.assert_error(400, kind);
    }
    for age in ["250ms", "30s", "15m", "12h", "99999d", "99999999m"] {
        let answer = call(&app, delete(&format!("/jobs?olderThan={age}"))).await;
        assert_eq!(answer.status, 200, "{age}: {}", answer.text());
        let before = answer.json["finishedBefore"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(before).is_ok(),
            "{age}: finishedBefore {before} is not RFC 3339"
        );
    }
}

#[actix_web::test]
async fn the_pruner_deletes_finished_jobs_older_than_its_age() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir).await;
    let app = api::mount(ApiState::new(backend.clone(), registry())).await;
    let finished = vec![
        submit(&app, "quick", json!({})).await,
        submit(&app, "broken", json!({})).await,
    ];
    run_to_the_end(&app, &backend, &finished).await;
    let queued = submit(&app, "quick", json!({})).await;

    // An age no job has reached deletes nothing.
    let counts = Pruner::new(backend.clone(), Duration::from_secs(3600))
        .prune_once()
        .await
        .unwrap();
    assert_eq!(counts.values().sum::<u64>(), 0);

    let (stop, stopped) = oneshot::channel::<()>();
    let pruner = Pruner::new(backend.clone(), Duration::ZERO).every(Duration::from_millis(20));
    let pruner = tokio::spawn(pruner.run_until(async {
        let _ = stopped.await;
    }));
    wait_for(
        "the pruner to delete the finished jobs",
        DEADLINE,
        || async {
            let left = call(&app, get("/jobs")).await;
            (uuids(&left.json) == [queued.clone()]).then_some(())
        },
    )
    .await;
    let _ = stop.send(());
    pruner.await.unwrap();
}
