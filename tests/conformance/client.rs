//! The typed client on every backend: enqueue, a refusal with its paths, a batch, the
//! wait for the end and the typed data, cancel, kill and retry; and, on the stores
//! that have transactions, the enqueue inside one that commits or rolls back.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::backend::CancelOutcome;
use zerog::client::{Client, ClientError, Enqueued};
use zerog::worker::Worker;
use zerog::{Job, JobContext, JobError, Outcome, Registry, Status};

use super::Ctx;

/// Greets someone, as many times as asked.
#[derive(Job, Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[job(type = "greet", max_attempts = 1)]
pub struct Greet {
    /// Who to greet.
    #[schemars(length(min = 1))]
    pub name: String,
    /// How many times.
    #[schemars(range(min = 1, max = 10))]
    pub times: u32,
}

/// What a greet job gives back.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Greeting {
    /// The greeting.
    pub text: String,
}

impl zerog::Run for Greet {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        ctx.set_completeness(1.0);
        if self.name == "nobody" {
            return Err(JobError::fatal("nobody to greet"));
        }
        let text = vec![format!("hello {}", self.name); self.times as usize].join(", ");
        Ok(Outcome::done_with(200, Greeting { text }))
    }
}

/// Greets someone once, at most once per hour for the same name.
#[derive(Job, Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[job(type = "greet_once", unique_for = "1h")]
pub struct GreetOnce {
    /// Who to greet.
    pub name: String,
}

impl zerog::Run for GreetOnce {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

pub(crate) fn greet(name: &str, times: u32) -> Greet {
    Greet {
        name: name.to_owned(),
        times,
    }
}

/// How many jobs the store holds.
pub(crate) async fn job_count(backend: &zerog::backend::Backend) -> u64 {
    backend.stats().await.unwrap().jobs.values().sum()
}

const PATIENCE: Duration = Duration::from_secs(20);

pub async fn the_client_enqueues_typed_jobs_that_run_and_waits_for_their_data(ctx: Ctx) {
    let client = Client::new(ctx.backend.clone());
    let one = client.enqueue(greet("ada", 2)).await.unwrap();
    let many = client
        .enqueue_many([greet("bob", 1), greet("eve", 3), greet("nobody", 1)])
        .await
        .unwrap();
    assert_eq!(many.len(), 3);
    assert_eq!(client.progress(one).await.unwrap().status, Status::Queued);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(ctx.backend.clone(), Registry::new().register::<Greet>())
        .poll_interval(Duration::from_millis(50));
    let worker = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));

    let done = client.wait_for(one, PATIENCE).await.unwrap();
    assert_eq!(done.status, Status::Done);
    assert_eq!(done.result_code, 200);
    let greeting: Option<Greeting> = client.data_as(one).await.unwrap();
    assert_eq!(
        greeting,
        Some(Greeting {
            text: "hello ada, hello ada".to_owned()
        })
    );
    let progress = client.progress(one).await.unwrap();
    assert_eq!(
        (progress.status, progress.completeness),
        (Status::Done, 1.0)
    );
    assert_eq!(progress.job_type, "greet");

    let eve = client.wait_for(many[1], PATIENCE).await.unwrap();
    assert_eq!(eve.params["times"], 3);
    let failed = client.wait(many[2]).await.unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.errors[0].msg, "nobody to greet");
    let none: Option<Greeting> = client.data_as(many[2]).await.unwrap();
    assert_eq!(none, None, "a failed job has no data");
    let wrong = client.data_as::<Vec<u8>>(one).await.unwrap_err();
    assert!(
        matches!(wrong, ClientError::Data { uuid, .. } if uuid == one),
        "{wrong}"
    );

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}

pub async fn the_client_refuses_invalid_jobs_with_their_paths(ctx: Ctx) {
    let client = Client::new(ctx.backend.clone());
    let refused = client.enqueue(greet("", 11)).await.unwrap_err();
    let ClientError::Validation {
        job_type,
        index,
        violations,
    } = refused
    else {
        panic!("not a validation error: {refused}");
    };
    assert_eq!((job_type, index), ("greet", 0));
    let mut paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/name", "/times"]);

    let refused = client
        .enqueue_many([greet("a", 1), greet("b", 1), greet("c", 0)])
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ClientError::Validation { index: 2, violations, .. }
                 if violations[0].path == "/times"),
        "{refused}"
    );
    assert_eq!(
        job_count(&ctx.backend).await,
        0,
        "a refused batch enqueues nothing"
    );
}

pub async fn the_client_cancels_kills_retries_and_times_out(ctx: Ctx) {
    let client = Client::new(ctx.backend.clone()).wait_poll(Duration::from_millis(20));
    let job = client.enqueue(greet("ada", 1)).await.unwrap();

    let not_yet = client.data_as::<Greeting>(job).await.unwrap_err();
    assert!(
        matches!(
            not_yet,
            ClientError::NotFinished {
                status: Status::Queued,
                ..
            }
        ),
        "{not_yet}"
    );
    let timed_out = client
        .wait_for(job, Duration::from_millis(150))
        .await
        .unwrap_err();
    assert!(
        matches!(timed_out, ClientError::Timeout { uuid, status: Status::Queued, .. } if uuid == job),
        "{timed_out}"
    );

    let cancelled = client.cancel(job).await.unwrap();
    assert!(
        matches!(&cancelled, CancelOutcome::Cancelled(record) if record.status == Status::Cancelled)
    );
    assert_eq!(client.wait(job).await.unwrap().result_code, 410);
    let again = client.cancel(job).await.unwrap_err();
    assert!(
        matches!(
            again,
            ClientError::AlreadyFinished {
                status: Status::Cancelled,
                ..
            }
        ),
        "{again}"
    );

    let retried = client.retry(job).await.unwrap();
    assert_eq!(retried.status, Status::Queued);
    let not_retryable = client.retry(job).await.unwrap_err();
    assert!(
        matches!(
            not_retryable,
            ClientError::NotRetryable {
                status: Status::Queued,
                ..
            }
        ),
        "{not_retryable}"
    );
    let killed = client.kill(job).await.unwrap();
    assert!(
        matches!(&killed, CancelOutcome::Cancelled(record) if record.status == Status::Cancelled)
    );

    let unknown = uuid::Uuid::new_v4();
    for error in [
        client.info(unknown).await.unwrap_err(),
        client.cancel(unknown).await.unwrap_err(),
        client.wait(unknown).await.unwrap_err(),
    ] {
        assert!(
            matches!(error, ClientError::UnknownJob(uuid) if uuid == unknown),
            "{error}"
        );
    }
}

pub async fn the_client_answers_duplicates_of_unique_jobs(ctx: Ctx) {
    let client = Client::new(ctx.backend.clone());
    let first = client
        .enqueue_with(
            GreetOnce { name: "ada".into() },
            zerog::EnqueueOptions::new(),
        )
        .await
        .unwrap();
    let Enqueued::Created(uuid) = first else {
        panic!("the first is new: {first:?}");
    };
    let second = client
        .enqueue_with(
            GreetOnce { name: "ada".into() },
            zerog::EnqueueOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(second, Enqueued::Duplicate(uuid));
    assert!(second.is_duplicate());
    let other = client
        .enqueue(GreetOnce { name: "bob".into() })
        .await
        .unwrap();
    assert_ne!(other, uuid);
    assert_eq!(job_count(&ctx.backend).await, 2);
}
