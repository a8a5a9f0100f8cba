//! A run's slot is free once its end is handed to the completer: while the write of
//! one end is held up, the worker's only slot already runs the next job, and the held
//! end is written once the store lets it, with nothing lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use zerog::backend::{Backend, SqliteBackend};
use zerog::worker::Worker;
use zerog::{JobRecord, Registry, Status};
use zerog_tests::hooked::{Call, Hooked};
use zerog_tests::wait_for;

/// Does nothing: a job type of this test's own.
#[derive(zerog::Job, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[job(type = "held_end_noop")]
struct HeldEndNoop {}

impl zerog::Run for HeldEndNoop {
    async fn run(&mut self, _: &mut zerog::JobContext) -> Result<zerog::Outcome, zerog::JobError> {
        Ok(zerog::Outcome::done(200))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_job_runs_while_the_end_of_the_last_is_written() {
    // SQLite, but the ends of runs wait for a permit of `ends` before they are written.
    let ends = Arc::new(Semaphore::new(0));
    let sqlite = SqliteBackend::connect("sqlite::memory:").await.unwrap();
    let held = ends.clone();
    let store = Hooked::new(Arc::new(sqlite), move |call| {
        let held = held.clone();
        Box::pin(async move {
            if call == (Call::Write { settles: true }) {
                held.acquire()
                    .await
                    .expect("the semaphore stays open")
                    .forget();
            }
            Ok(())
        })
    });
    let backend = Backend::new(Arc::new(store));
    let spec = <HeldEndNoop as zerog::Job>::SPEC;
    let first = JobRecord::new(&spec, serde_json::json!({}));
    let second = JobRecord::new(&spec, serde_json::json!({}));
    backend.submit(&first, 1).await.unwrap();
    backend.submit(&second, 1).await.unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(backend.clone(), Registry::new().register::<HeldEndNoop>())
        .capacity(1)
        // Nothing held ahead: the second job is taken because the slot came back.
        .prefetch(0)
        .poll_interval(Duration::from_millis(20));
    let worker = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));

    // With one slot and the first end held, both jobs are taken: the slot came back
    // when the first run ended, not when its end was written.
    let status = |uuid| {
        let backend = backend.clone();
        async move { backend.get(uuid).await.unwrap().unwrap().status }
    };
    wait_for(
        "both jobs to be taken by the one slot",
        Duration::from_secs(20),
        || async {
            (status(first.uuid).await == Status::Running
                && status(second.uuid).await == Status::Running)
                .then_some(())
        },
    )
    .await;

    // Once the store takes the ends, both are written; nothing was lost on the way.
    ends.add_permits(100);
    wait_for(
        "both ends to be written",
        Duration::from_secs(20),
        || async {
            (status(first.uuid).await == Status::Done && status(second.uuid).await == Status::Done)
                .then_some(())
        },
    )
    .await;
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
