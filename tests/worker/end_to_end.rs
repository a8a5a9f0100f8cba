//! A real TCP port and a real worker: submit the examples and follow them to the end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use zerog::backend::{
    Backend, Lease, ListQuery, NewJob, Reservation, ReserveRequest, RunSignal, Stats, Store,
    StoreError, Stored, WorkerCommand, WorkerInfo, Write, WriteOutcome,
};
use zerog::{Registry, Status};
use zerog_tests::Service;

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

/// A store whose housekeeping calls (lease recovery, heartbeats) never answer, as a
/// store in trouble can; every other call goes to SQLite.
struct HangsInHousekeeping {
    inner: zerog::backend::SqliteBackend,
    entered: std::sync::atomic::AtomicUsize,
}

impl HangsInHousekeeping {
    async fn hang<T>(&self) -> T {
        self.entered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::pending().await
    }
}

#[async_trait::async_trait]
impl Store for HangsInHousekeeping {
    async fn insert(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        self.inner.insert(jobs).await
    }
    async fn insert_unique(
        &self,
        job: &NewJob<'_>,
        unique: &zerog::backend::UniqueKey,
    ) -> Result<zerog::backend::Inserted, StoreError> {
        self.inner.insert_unique(job, unique).await
    }
    async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Vec<Reservation>, StoreError> {
        self.inner.reserve(request).await
    }
    async fn get(&self, uuid: uuid::Uuid) -> Result<Option<Stored>, StoreError> {
        self.inner.get(uuid).await
    }
    async fn write(&self, writes: &[Write<'_>]) -> Result<Vec<WriteOutcome>, StoreError> {
        self.inner.write(writes).await
    }
    async fn signals(&self, leases: &[Lease]) -> Result<Vec<RunSignal>, StoreError> {
        self.inner.signals(leases).await
    }
    async fn expired(&self, _: DateTime<Utc>, _: usize) -> Result<Vec<Stored>, StoreError> {
        self.hang().await
    }
    async fn list(
        &self,
        query: &ListQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<zerog::backend::Listed, StoreError> {
        self.inner.list(query, after, limit).await
    }
    async fn delete_if_finished(&self, uuid: uuid::Uuid) -> Result<bool, StoreError> {
        self.inner.delete_if_finished(uuid).await
    }
    async fn delete_finished(
        &self,
        statuses: &[Status],
        before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        self.inner.delete_finished(statuses, before).await
    }
    async fn stats(&self) -> Result<Stats, StoreError> {
        self.inner.stats().await
    }
    async fn overview(
        &self,
        cap: u64,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<zerog::backend::Overview, StoreError> {
        self.inner.overview(cap, since).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn heartbeat_worker(
        &self,
        _: &WorkerInfo,
        _: Duration,
    ) -> Result<WorkerCommand, StoreError> {
        self.hang().await
    }
    async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        self.inner.list_workers().await
    }
    async fn command_worker(&self, id: &str, command: WorkerCommand) -> Result<bool, StoreError> {
        self.inner.command_worker(id, command).await
    }
    async fn remove_worker(&self, id: &str) -> Result<(), StoreError> {
        self.inner.remove_worker(id).await
    }
    async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), StoreError> {
        self.inner.set_queue_paused(queue, paused).await
    }
    async fn paused_queues(&self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        self.inner.paused_queues().await
    }

    async fn put_schedule(
        &self,
        schedule: &zerog::schedule::Schedule,
        source: zerog::schedule::ScheduleSource,
        mode: zerog::backend::PutSchedule,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, zerog::backend::StoreError> {
        self.inner.put_schedule(schedule, source, mode, now).await
    }
    async fn list_schedules(
        &self,
    ) -> Result<Vec<zerog::schedule::ScheduleState>, zerog::backend::StoreError> {
        self.inner.list_schedules().await
    }
    async fn get_schedule(
        &self,
        name: &str,
    ) -> Result<Option<zerog::schedule::ScheduleState>, zerog::backend::StoreError> {
        self.inner.get_schedule(name).await
    }
    async fn delete_schedule(&self, name: &str) -> Result<bool, zerog::backend::StoreError> {
        self.inner.delete_schedule(name).await
    }
    async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, zerog::backend::StoreError> {
        self.inner.pause_schedule(name, paused, now).await
    }
    async fn fire(
        &self,
        fire: &zerog::backend::Fire<'_>,
    ) -> Result<bool, zerog::backend::StoreError> {
        self.inner.fire(fire).await
    }
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
    let store = Arc::new(HangsInHousekeeping {
        inner: zerog::backend::SqliteBackend::connect("sqlite::memory:")
            .await
            .unwrap(),
        entered: Default::default(),
    });
    let registry = Registry::new().register::<HousekeepingNoop>();
    let service = Service::start(Backend::new(store.clone()), registry, 2).await;
    let mut uuids = Vec::new();
    for _ in 0..6 {
        uuids.push(service.submit("housekeeping_noop", &json!({})).await);
    }
    for uuid in &uuids {
        let progress = service.wait_finished(uuid).await;
        assert_eq!(progress["status"], "done", "{progress}");
    }
    assert!(
        store.entered.load(std::sync::atomic::Ordering::SeqCst) > 0,
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
