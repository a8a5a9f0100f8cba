//! Timeouts, retry backoff, capacity and cost, queue limits, and a poison job that
//! does not stop the others.

use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zerog::backend::Backend;
use zerog::worker::Worker;
use zerog::{Job, JobContext, JobError, JobRecord, Outcome, Registry, Status};
use zerog_tests::{DEADLINE, Service, wait_for};

/// Sleeps far past its timeout.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(
    type = "overrun",
    timeout = "200ms",
    max_attempts = 2,
    retry_backoff = "fixed",
    retry_delay = "10ms"
)]
pub struct Overrun {}

impl zerog::Run for Overrun {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(Outcome::done(200))
    }
}

/// Always fails, backing off exponentially from one second.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "backoff_exp", max_attempts = 3, retry_delay = "1s")]
pub struct BackoffExp {}

impl zerog::Run for BackoffExp {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Err(JobError::retry("not yet"))
    }
}

/// Always fails, backing off by a fixed 2 s: long enough for a poll to see it waiting.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(
    type = "backoff_fixed",
    max_attempts = 3,
    retry_backoff = "fixed",
    retry_delay = "2s"
)]
pub struct BackoffFixed {}

impl zerog::Run for BackoffFixed {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Err(JobError::retry("not yet"))
    }
}

/// Takes two capacity units for a while.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "heavy", cost = 2)]
pub struct Heavy {}

impl zerog::Run for Heavy {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(Outcome::done(200))
    }
}

/// Runs a while in a queue capped to one running job.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "serial", queue = "capped")]
pub struct Serial {}

impl zerog::Run for Serial {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(Outcome::done(200))
    }
}

/// Panics every time.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(
    type = "poison",
    max_attempts = 3,
    retry_backoff = "fixed",
    retry_delay = "10ms"
)]
pub struct Poison {}

impl zerog::Run for Poison {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        panic!("poisoned");
    }
}

/// Finishes at once.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "quick")]
pub struct Quick {}

impl zerog::Run for Quick {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

/// Finishes at once, in the queue `critical`.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "urgent_quick", queue = "critical")]
pub struct UrgentQuick {}

impl zerog::Run for UrgentQuick {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

/// Finishes at once, in the queue `low`.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "idle_quick", queue = "low")]
pub struct IdleQuick {}

impl zerog::Run for IdleQuick {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

fn registry() -> Registry {
    Registry::new()
        .register::<Overrun>()
        .register::<BackoffExp>()
        .register::<BackoffFixed>()
        .register::<Heavy>()
        .register::<Serial>()
        .register::<Poison>()
        .register::<Quick>()
        .register::<UrgentQuick>()
        .register::<IdleQuick>()
}

async fn record(service: &Service, uuid: &str) -> JobRecord {
    service
        .backend
        .get(uuid.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

fn at(text: &Option<String>) -> DateTime<Utc> {
    text.as_deref().expect("a timestamp").parse().unwrap()
}

#[actix_web::test]
async fn a_run_past_its_timeout_is_stopped_and_retried() {
    let service = Service::start(
        Backend::connect("sqlite::memory:").await.unwrap(),
        registry(),
        2,
    )
    .await;
    let uuid = service.submit("overrun", &json!({})).await;
    let progress = service.wait_finished(&uuid).await;
    assert_eq!(progress["status"], "failed");
    let record = record(&service, &uuid).await;
    assert_eq!(record.attempts, 2);
    assert_eq!(record.errors.len(), 2);
    assert!(
        record
            .errors
            .iter()
            .all(|e| e.msg == "timed out after 200ms"),
        "{:?}",
        record.errors
    );
    service.stop().await;
}

/// Waits until the job waits after `attempts` failed runs, and returns how long after
/// its last update it is due again.
async fn retry_delay(service: &Service, uuid: &str, attempts: u32) -> f64 {
    let record = wait_for(
        &format!("attempt {attempts} of {uuid} to fail"),
        DEADLINE,
        || async {
            let record = record(service, uuid).await;
            (record.status == Status::Waiting && record.attempts == attempts).then_some(record)
        },
    )
    .await;
    let updated: DateTime<Utc> = record.updated_at.parse().unwrap();
    (at(&record.run_after) - updated).num_milliseconds() as f64 / 1000.0
}

#[actix_web::test]
async fn retries_back_off_exponentially_or_by_a_fixed_delay() {
    let service = Service::start(
        Backend::connect("sqlite::memory:").await.unwrap(),
        registry(),
        2,
    )
    .await;
    let exponential = service.submit("backoff_exp", &json!({})).await;

    let first = retry_delay(&service, &exponential, 1).await;
    assert!(
        (1.0..=1.11).contains(&first),
        "1 s plus up to 10% jitter: {first}"
    );
    let second = retry_delay(&service, &exponential, 2).await;
    assert!(
        (2.0..=2.21).contains(&second),
        "2 s plus up to 10% jitter: {second}"
    );
    // Read while the third run is still 4 s away.
    let record = record(&service, &exponential).await;
    assert_eq!(
        record.errors.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        [Some(1), Some(2)]
    );
    let fixed = service.submit("backoff_fixed", &json!({})).await;
    for attempts in [1, 2] {
        let delay = retry_delay(&service, &fixed, attempts).await;
        assert!((1.99..=2.01).contains(&delay), "fixed 2 s: {delay}");
    }
    service.stop().await;
}

/// Whether the runs of these records overlapped more than `allowed` at a time.
fn max_overlap(records: &[JobRecord]) -> usize {
    let spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = records
        .iter()
        .map(|r| (at(&r.started_at), at(&r.finished_at)))
        .collect();
    spans
        .iter()
        .map(|&(start, _)| {
            spans
                .iter()
                .filter(|&&(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[actix_web::test]
async fn a_worker_reserves_only_what_fits_its_free_capacity() {
    // Capacity 3 and cost 2: never two heavy jobs at once.
    let service = Service::start(
        Backend::connect("sqlite::memory:").await.unwrap(),
        registry(),
        3,
    )
    .await;
    let mut uuids = Vec::new();
    for _ in 0..4 {
        uuids.push(service.submit("heavy", &json!({})).await);
    }
    let mut records = Vec::new();
    for uuid in &uuids {
        assert_eq!(service.wait_finished(uuid).await["status"], "done");
        records.push(record(&service, uuid).await);
    }
    assert_eq!(max_overlap(&records), 1, "cost 2 twice exceeds capacity 3");
    service.stop().await;
}

#[actix_web::test]
async fn a_queue_limit_holds_across_workers() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let service = Service::api_only(backend.clone(), registry()).await;
    let mut workers = Vec::new();
    for name in ["a", "b"] {
        let worker = Worker::new(backend.clone(), registry())
            .name(name)
            .capacity(4)
            .queue_limit("capped", 1)
            .poll_interval(Duration::from_millis(20));
        workers.push(tokio::spawn(worker.run_until(std::future::pending())));
    }
    let mut uuids = Vec::new();
    for _ in 0..5 {
        uuids.push(service.submit("serial", &json!({})).await);
    }
    let mut records = Vec::new();
    for uuid in &uuids {
        assert_eq!(service.wait_finished(uuid).await["status"], "done");
        records.push(record(&service, uuid).await);
    }
    assert_eq!(
        max_overlap(&records),
        1,
        "one running job at a time in the capped queue"
    );
    for worker in workers {
        worker.abort();
    }
    service.stop().await;
}

#[actix_web::test]
async fn a_job_that_always_panics_fails_while_the_others_flow() {
    let service = Service::start(
        Backend::connect("sqlite::memory:").await.unwrap(),
        registry(),
        2,
    )
    .await;
    let poison = service.submit("poison", &json!({})).await;
    let mut others = Vec::new();
    for _ in 0..30 {
        others.push(service.submit("quick", &json!({})).await);
    }
    for uuid in &others {
        assert_eq!(service.wait_finished(uuid).await["status"], "done");
    }
    assert_eq!(service.wait_finished(&poison).await["status"], "failed");
    let record = record(&service, &poison).await;
    assert_eq!(record.attempts, 3);
    assert_eq!(record.errors.len(), 3);
    assert!(
        record
            .errors
            .iter()
            .all(|e| e.msg == "panic: poisoned" && e.error_code == 500)
    );
    service.stop().await;
}

#[actix_web::test]
async fn a_worker_serves_only_its_queues() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let service = Service::api_only(backend.clone(), registry()).await;
    // Serves every queue but `capped`.
    let queues: Vec<&str> = registry()
        .queues()
        .into_iter()
        .filter(|q| *q != "capped")
        .collect();
    let worker = Worker::new(backend.clone(), registry())
        .queues(queues)
        .poll_interval(Duration::from_millis(20));
    let worker = tokio::spawn(worker.run_until(std::future::pending()));
    let skipped = service.submit("serial", &json!({})).await;
    let served = service.submit("quick", &json!({})).await;
    assert_eq!(service.wait_finished(&served).await["status"], "done");
    // The worker has polled since it finished `quick`, and still left `serial` alone.
    let seen = record(&service, &served).await;
    wait_for("the worker to poll again", DEADLINE, || async {
        let workers = backend.list_workers().await.unwrap();
        let beat: DateTime<Utc> = workers.first()?.last_heartbeat.parse().unwrap();
        (beat > at(&seen.finished_at)).then_some(())
    })
    .await;
    assert_eq!(record(&service, &skipped).await.status, Status::Queued);
    worker.abort();
    service.stop().await;
}

#[actix_web::test]
async fn weighted_queues_are_served_in_proportion_and_none_starves() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let backlog = |spec: &'static zerog::JobSpec| -> Vec<(JobRecord, u32)> {
        (0..700)
            .map(|_| (JobRecord::new(spec, json!({})), 1))
            .collect()
    };
    for spec in [
        &<UrgentQuick as zerog::Job>::SPEC,
        &<Quick as zerog::Job>::SPEC,
        &<IdleQuick as zerog::Job>::SPEC,
    ] {
        backend.submit_many(&backlog(spec)).await.unwrap();
    }
    // The queue order is drawn from this thread's generator, which the worker's task
    // shares on this single-threaded runtime.
    fastrand::seed(20261201);
    let worker = Worker::new(backend.clone(), registry())
        .weighted_queues([("critical", 6), ("quick", 3), ("low", 1)])
        .capacity(1)
        .poll_interval(Duration::from_millis(20));
    let running = tokio::spawn(worker.run_until(std::future::pending()));
    let done = |stats: &zerog::backend::Stats, job_type: &str| {
        stats
            .jobs
            .get(&(zerog::Status::Done, job_type.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    let stats = wait_for("1,000 jobs to finish", Duration::from_secs(120), || {
        let backend = backend.clone();
        async move {
            let stats = backend.stats().await.ok()?;
            let total: u64 = ["urgent_quick", "quick", "idle_quick"]
                .iter()
                .map(|job_type| done(&stats, job_type))
                .sum();
            (total >= 1000).then_some(stats)
        }
    })
    .await;
    running.abort();
    let total: u64 = ["urgent_quick", "quick", "idle_quick"]
        .iter()
        .map(|job_type| done(&stats, job_type))
        .sum();
    for (job_type, weight) in [("urgent_quick", 0.6), ("quick", 0.3), ("idle_quick", 0.1)] {
        let share = done(&stats, job_type) as f64 / total as f64;
        assert!(
            (share - weight).abs() < 0.05,
            "{job_type} got {share:.3} of {total} jobs, not about {weight}"
        );
    }
}
