//! A real TCP port and a real worker: submit the examples and follow them to the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use zerog::Registry;
use zerog::backend::{Backend, SqliteBackend};
use zerog_tests::Service;
use zerog_tests::hooked::{Call, Hooked};

use crate::{prime_sieve, waste_time};

async fn service() -> Service {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new()
        .register::<waste_time::WasteTime>()
        .register::<prime_sieve::PrimeSieve>();
    Service::start(backend, registry, 2).await
}

#[actix_web::test]
async fn waste_time_runs_to_the_end_with_progress_and_log() {
    let service = service().await;
    let uuid = service.submit("waste_time", &json!({"delay": 1})).await;

    // Before it finished, there is no data to read.
    let (status, body) = service.get(&format!("/data/{uuid}")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "not_finished");
    assert!(["queued", "running"].contains(&body["status"].as_str().unwrap()));

    let progress = service.wait_finished(&uuid).await;
    assert_eq!(progress["status"], "done", "{progress}");
    assert_eq!(progress["resultCode"], 200);
    assert_eq!(progress["result"], 200);
    assert_eq!(progress["completeness"], 1.0);

    let (status, info) = service.get(&format!("/info/{uuid}")).await;
    assert_eq!(status, 200);
    let events = info["events"].as_array().unwrap();
    assert!(events.len() >= 5, "about ten log lines: {info}");
    assert!(events.iter().all(|e| {
        e["msg"].as_str().unwrap().ends_with("seconds remaining") && e["timeStamp"].is_string()
    }));
    assert_eq!(info["errors"], json!([]));
    assert_eq!(info["attempts"], 0);
    assert!(info["startedAt"].is_string() && info["finishedAt"].is_string());

    let (status, data) = service.get(&format!("/data/{uuid}")).await;
    assert_eq!(status, 200);
    assert_eq!(data, json!({"uuid": uuid, "resultCode": 200, "data": null}));

    // The worker fed the run-duration histogram that /metrics serves.
    let metrics = awc::Client::new()
        .get(format!("{}/metrics", service.base_url))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    let count = r#"zerog_job_run_duration_seconds_count{job_type="waste_time",outcome="done"} 1"#;
    assert!(metrics.contains(count), "{metrics}");
    service.stop().await;
}

/// π(n), counted by trial division: independent of the sieve under test.
fn count_primes_below(limit: u64) -> (u64, u64) {
    let is_prime = |n: u64| {
        n >= 2
            && (2..)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
    };
    let primes: Vec<u64> = (2..limit).filter(|&n| is_prime(n)).collect();
    (primes.len() as u64, *primes.last().unwrap())
}

#[actix_web::test]
async fn prime_sieve_resumes_from_its_state_and_returns_its_result() {
    let service = service().await;
    let limit = 250_000;
    let uuid = service
        .submit("prime_sieve", &json!({"limit": limit, "segment": 40_000}))
        .await;
    let progress = service.wait_finished(&uuid).await;
    assert_eq!(progress["status"], "done", "{progress}");

    let (count, largest) = count_primes_below(limit);
    let (status, data) = service.get(&format!("/data/{uuid}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        data["data"],
        json!({"limit": limit, "count": count, "largest": largest, "runs": 7})
    );
    // Requeues use no attempt, and each run logged its step.
    let (_, info) = service.get(&format!("/info/{uuid}")).await;
    assert_eq!(info["attempts"], 0);
    assert_eq!(info["events"].as_array().unwrap().len(), 7, "{info}");
    service.stop().await;
}

#[actix_web::test]
async fn the_sieve_state_is_not_a_parameter() {
    let service = service().await;
    let (status, body) = service
        .post("/job/prime_sieve", &json!({"limit": 100, "count": 5}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("count")
    );
    service.stop().await;
}

/// Does nothing: a job type of this test's own, so that its runs count in no other
/// test's histogram.
#[derive(zerog::Job, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[job(type = "housekeeping_noop")]
struct HousekeepingNoop {}

impl zerog::Run for HousekeepingNoop {
    async fn run(&mut self, _: &mut zerog::JobContext) -> Result<zerog::Outcome, zerog::JobError> {
        Ok(zerog::Outcome::done(200))
    }
}

#[actix_web::test]
async fn a_store_that_hangs_in_housekeeping_never_stops_the_runs() {
    // Housekeeping's calls (lease recovery, heartbeats) never answer, as a store in
    // trouble's can; every other call goes to SQLite.
    let entered = Arc::new(AtomicUsize::new(0));
    let sqlite = SqliteBackend::connect("sqlite::memory:").await.unwrap();
    let counted = entered.clone();
    let store = Hooked::new(Arc::new(sqlite), move |call| {
        let counted = counted.clone();
        Box::pin(async move {
            if matches!(call, Call::Expired | Call::HeartbeatWorker) {
                counted.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    });
    let registry = Registry::new().register::<HousekeepingNoop>();
    let service = Service::start(Backend::new(Arc::new(store)), registry, 2).await;
    let mut uuids = Vec::new();
    for _ in 0..6 {
        uuids.push(service.submit("housekeeping_noop", &json!({})).await);
    }
    for uuid in &uuids {
        let progress = service.wait_finished(uuid).await;
        assert_eq!(progress["status"], "done", "{progress}");
    }
    assert!(
        entered.load(Ordering::SeqCst) > 0,
        "housekeeping called the store and was left hanging"
    );
    service.stop().await;
}

#[actix_web::test]
async fn a_worker_with_a_zero_lease_refuses_to_start() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new().register::<HousekeepingNoop>();
    let worker = zerog::worker::Worker::new(backend, registry).lease(Duration::ZERO);
    let error = worker
        .run_until(std::future::ready(()))
        .await
        .expect_err("a zero lease is refused");
    assert!(
        matches!(error, zerog::worker::WorkerError::ZeroLease),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "the lease must be longer than zero, like `30s`"
    );
}

/// A job submitted with `runAfter=2` waits in `waiting` and starts only once its time
/// has come, with a worker idle and polling all along.
#[actix_web::test]
async fn a_delayed_job_does_not_start_before_its_time() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new().register::<crate::jobs::Linger>();
    let service = Service::start(backend, registry, 2).await;
    let (status, body) = service
        .post("/job/linger?runAfter=2", &json!({"ms": 10}))
        .await;
    assert_eq!(status, 201, "{body}");
    let uuid = body["uuid"].as_str().unwrap().to_owned();
    let (_, progress) = service.get(&format!("/progress/{uuid}")).await;
    assert_eq!(progress["status"], "waiting", "{progress}");

    let finished = service.wait_finished(&uuid).await;
    assert_eq!(finished["status"], "done", "{finished}");
    let (_, info) = service.get(&format!("/info/{uuid}")).await;
    let at = |key: &str| {
        let text = info[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {info}"));
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    };
    assert!(
        at("startedAt") >= at("createdAt") + chrono::Duration::seconds(2),
        "started before its time: {info}"
    );
    service.stop().await;
}
