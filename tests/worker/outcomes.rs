//! How each way a run can end is recorded: done, done with data, requeue, fatal,
//! retry, panic, and progress written while the job runs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zerog::backend::Backend;
use zerog::{Job, JobContext, JobError, Outcome, Registry};
use zerog_tests::{DEADLINE, Service, wait_for};

/// Fails for good with a code of its own.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "refuse")]
pub struct Refuse {}

impl zerog::Run for Refuse {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Err(JobError::fatal_with_code(422, "cannot do that"))
    }
}

/// Fails `failures` times, then succeeds with the attempts it saw.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(
    type = "flaky",
    max_attempts = 4,
    retry_backoff = "fixed",
    retry_delay = "10ms"
)]
pub struct Flaky {
    /// How many runs fail.
    pub failures: u32,
    /// Attempt numbers seen, kept across runs.
    #[serde(default)]
    #[schemars(skip)]
    pub seen: Vec<u32>,
}

impl zerog::Run for Flaky {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        self.seen.push(ctx.attempt());
        if ctx.attempt() <= self.failures {
            // Any std error converts into a retry.
            "not a number".parse::<u32>()?;
        }
        Ok(Outcome::done_with(200, &self.seen))
    }
}

/// Panics every time.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(
    type = "explode",
    max_attempts = 2,
    retry_backoff = "fixed",
    retry_delay = "10ms"
)]
pub struct Explode {}

impl zerog::Run for Explode {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        panic!("boom");
    }
}

/// Requeues itself for an hour after its first run.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "later")]
pub struct Later {
    /// Runs so far.
    #[serde(default)]
    pub runs: u32,
}

impl zerog::Run for Later {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        self.runs += 1;
        ctx.set_completeness(0.25);
        Ok(Outcome::requeue_after(Duration::from_secs(3600)))
    }
}

/// Reports progress, then waits to be cancelled or for `hold_ms`.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "report")]
pub struct Report {
    /// How long to hold after reporting.
    pub hold_ms: u64,
}

impl zerog::Run for Report {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        ctx.set_completeness(0.5);
        ctx.log_info("half way");
        ctx.log_warning("running low on patience");
        ctx.log_error(3, "a recoverable hiccup");
        tokio::time::sleep(Duration::from_millis(self.hold_ms)).await;
        ctx.add_to_completeness(0.7);
        Ok(Outcome::done_with(201, json!({"held": self.hold_ms})))
    }
}

async fn service() -> Service {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new()
        .register::<Refuse>()
        .register::<Flaky>()
        .register::<Explode>()
        .register::<Later>()
        .register::<Report>();
    Service::start(backend, registry, 4).await
}

#[actix_web::test]
async fn a_fatal_error_fails_at_once_with_its_code() {
    let service = service().await;
    let uuid = service.submit("refuse", &json!({})).await;
    let progress = service.wait_finished(&uuid).await;
    assert_eq!(progress["status"], "failed");
    assert_eq!(progress["resultCode"], 422);
    let (_, info) = service.get(&format!("/info/{uuid}")).await;
    assert_eq!(info["errors"].as_array().unwrap().len(), 1, "{info}");
    assert_eq!(info["errors"][0]["errorCode"], 422);
    assert_eq!(info["errors"][0]["msg"], "cannot do that");
    assert_eq!(info["events"][0]["msg"], "Error - finished");
    assert_eq!(info["attempts"], 1);
    service.stop().await;
}

#[actix_web::test]
async fn a_retryable_error_retries_within_max_attempts_with_the_state_kept() {
    let service = service().await;
    let uuid = service.submit("flaky", &json!({"failures": 2})).await;
    let progress = service.wait_finished(&uuid).await;
    assert_eq!(progress["status"], "done", "{progress}");
    let (_, data) = service.get(&format!("/data/{uuid}")).await;
    assert_eq!(
        data["data"],
        json!([1, 2, 3]),
        "state survived both retries"
    );
    let (_, info) = service.get(&format!("/info/{uuid}")).await;
    assert_eq!(info["attempts"], 2);
    let errors = info["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["attempt"], 1);
    assert_eq!(errors[1]["attempt"], 2);
    assert_eq!(errors[0]["errorCode"], 500);
    assert!(errors[0]["msg"].as_str().unwrap().contains("invalid digit"));
    let restarts = info["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["msg"] == "Error - restarting")
        .count();
    assert_eq!(restarts, 2);

    let uuid = service.submit("flaky", &json!({"failures": 9})).await;
    let progress = service.wait_finished(&uuid).await;
    assert_eq!(progress["status"], "failed");
    assert_eq!(progress["resultCode"], 500);
    let (_, info) = service.get(&format!("/info/{uuid}")).await;
    assert_eq!(info["attempts"], 4);
    assert_eq!(
        info["events"].as_array().unwrap().last().unwrap()["msg"],
        "Error - finished"
    );
    service.stop().await;
}

#[actix_web::test]
async fn a_panic_is_caught_recorded_and_retried() {
    let service = service().await;
    let uuid = service.submit("explode", &json!({})).await;
    let progress = service.wait_finished(&uuid).await;
    assert_eq!(progress["status"], "failed");
    assert_eq!(progress["resultCode"], 500);
    let (_, info) = service.get(&format!("/info/{uuid}")).await;
    let errors = info["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{info}");
    assert!(
        errors
            .iter()
            .all(|e| e["msg"] == "panic: boom" && e["errorCode"] == 500)
    );
    // The worker survived the panics and still runs jobs.
    let uuid = service.submit("flaky", &json!({"failures": 0})).await;
    assert_eq!(service.wait_finished(&uuid).await["status"], "done");
    service.stop().await;
}

#[actix_web::test]
async fn a_requeue_waits_with_run_after_and_keeps_the_state() {
    let service = service().await;
    let uuid = service.submit("later", &json!({})).await;
    let record = wait_for("the job to wait", DEADLINE, || async {
        let record = service.backend.get(uuid.parse().unwrap()).await.unwrap()?;
        (record.status == zerog::Status::Waiting).then_some(record)
    })
    .await;
    assert_eq!(record.params, json!({"runs": 1}));
    assert_eq!(record.attempts, 0, "a requeue uses no attempt");
    assert_eq!(record.completeness, 0.25);
    let run_after: DateTime<Utc> = record.run_after.unwrap().parse().unwrap();
    let updated: DateTime<Utc> = record.updated_at.parse().unwrap();
    let wait = (run_after - updated).num_seconds();
    assert!(
        (3590..=3600).contains(&wait),
        "runAfter is an hour on: {wait} s"
    );
    service.stop().await;
}

#[actix_web::test]
async fn progress_and_log_are_written_while_the_job_runs() {
    let service = service().await;
    let uuid = service.submit("report", &json!({"hold_ms": 3000})).await;
    let info = wait_for("progress to be written mid-run", DEADLINE, || async {
        let (_, info) = service.get(&format!("/info/{uuid}")).await;
        (info["completeness"] == 0.5 && info["status"] == "running").then_some(info)
    })
    .await;
    assert_eq!(info["events"][0]["msg"], "half way");
    assert_eq!(info["warnings"][0]["msg"], "running low on patience");
    assert_eq!(info["errors"][0]["errorCode"], 3);

    let progress = service.wait_finished(&uuid).await;
    assert_eq!(progress["status"], "done");
    assert_eq!(progress["resultCode"], 201);
    assert_eq!(progress["completeness"], 1.0);
    let (_, data) = service.get(&format!("/data/{uuid}")).await;
    assert_eq!(data["data"], json!({"held": 3000}));
    service.stop().await;
}
