//! Claim ahead: a worker whose runs end faster than a reserve goes to the store and back
//! holds jobs ahead of its free slots, and gives back, unstarted and with no attempt
//! used, whatever it holds when it stops, drains, or has held a job too long.
//!
//! The store is SQLite behind a hook that makes every reserve take 10 ms, so that the
//! worker's pace asks for jobs ahead; the first reserve for more units than the worker
//! has slots is reported to the test, and may be held up longer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;
use zerog::backend::{Backend, SqliteBackend, WorkerCommand};
use zerog::worker::Worker;
use zerog::{JobRecord, Registry, Status};
use zerog_tests::hooked::{Call, Hooked};
use zerog_tests::wait_for;

/// The worker's capacity in every test here.
const CAPACITY: u32 = 2;

/// Does nothing.
#[derive(zerog::Job, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[job(type = "ahead_noop")]
struct AheadNoop {}

impl zerog::Run for AheadNoop {
    async fn run(&mut self, _: &mut zerog::JobContext) -> Result<zerog::Outcome, zerog::JobError> {
        Ok(zerog::Outcome::done(200))
    }
}

/// Makes [`AheadSlowable`] runs take a second.
static SLOW: AtomicBool = AtomicBool::new(false);

/// Does nothing, at once or, while [`SLOW`] is set, in a second.
#[derive(zerog::Job, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[job(type = "ahead_slowable")]
struct AheadSlowable {}

impl zerog::Run for AheadSlowable {
    async fn run(&mut self, _: &mut zerog::JobContext) -> Result<zerog::Outcome, zerog::JobError> {
        if SLOW.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(zerog::Outcome::done(200))
    }
}

/// A backend with `count` jobs of `J` queued, whose first reserve ahead of the free
/// slots is reported on the receiver and then takes `ahead_delay`.
async fn backlog<J: zerog::Job>(
    count: usize,
    ahead_delay: Duration,
) -> (Backend, Vec<Uuid>, mpsc::Receiver<u32>) {
    let sqlite = SqliteBackend::connect("sqlite::memory:").await.unwrap();
    let (seen, ahead) = mpsc::channel(1);
    let store = Hooked::new(Arc::new(sqlite), move |call| {
        let seen = seen.clone();
        Box::pin(async move {
            if let Call::Reserve { units } = call {
                if units > CAPACITY && seen.try_send(units).is_ok() {
                    tokio::time::sleep(ahead_delay).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            Ok(())
        })
    });
    let backend = Backend::new(Arc::new(store));
    let records: Vec<(JobRecord, u32)> = (0..count)
        .map(|_| (JobRecord::new(&J::SPEC, serde_json::json!({})), 1))
        .collect();
    backend.submit_many(&records).await.unwrap();
    let uuids = records.iter().map(|(record, _)| record.uuid).collect();
    (backend, uuids, ahead)
}

/// Waits for the worker's first reserve ahead of its free slots.
async fn reserved_ahead(ahead: &mut mpsc::Receiver<u32>) {
    let units = tokio::time::timeout(Duration::from_secs(30), ahead.recv())
        .await
        .expect("the worker reserves ahead of its free slots once its runs end fast")
        .expect("the hook lives as long as the store");
    assert!(units > CAPACITY);
}

/// The records of `uuids`, as the store has them now.
async fn records(backend: &Backend, uuids: &[Uuid]) -> Vec<JobRecord> {
    let mut records = Vec::with_capacity(uuids.len());
    for &uuid in uuids {
        records.push(backend.get(uuid).await.unwrap().expect("no job is lost"));
    }
    records
}

/// How many jobs are queued again after a reserve, having never run or used an
/// attempt: the jobs handed back.
fn handed_back(records: &[JobRecord]) -> usize {
    records
        .iter()
        .filter(|r| r.status == Status::Queued && r.started_at.is_some() && r.attempts == 0)
        .count()
}

/// Checks that every job is done or queued, a queued one with no attempt used and no
/// error, and returns how many were handed back.
fn settled(records: &[JobRecord]) -> usize {
    for record in records {
        match record.status {
            Status::Done => {}
            Status::Queued => {
                assert_eq!(record.attempts, 0, "a job handed back used no attempt");
                assert!(record.errors.is_empty(), "{:?}", record.errors);
            }
            other => panic!("job {} is {other}, not done or queued", record.uuid),
        }
    }
    handed_back(records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_held_ahead_go_back_unstarted_when_the_worker_stops() {
    let (backend, uuids, mut ahead) = backlog::<AheadNoop>(500, Duration::from_millis(300)).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(backend.clone(), Registry::new().register::<AheadNoop>())
        .capacity(CAPACITY)
        .poll_interval(Duration::from_millis(20));
    let worker = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));
    reserved_ahead(&mut ahead).await;
    // The reserve ahead is in flight: the stopping worker waits for it and hands back
    // what it brings, with whatever else it holds.
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    assert!(settled(&records(&backend, &uuids).await) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_held_ahead_go_back_unstarted_at_a_drain() {
    // Long enough for housekeeping to hear the drain while the reserve is in flight.
    let (backend, uuids, mut ahead) = backlog::<AheadNoop>(500, Duration::from_millis(2500)).await;
    let worker = Worker::new(backend.clone(), Registry::new().register::<AheadNoop>())
        .capacity(CAPACITY)
        .poll_interval(Duration::from_millis(20));
    let id = worker.id().to_owned();
    let worker = tokio::spawn(worker.run_until(std::future::pending()));
    reserved_ahead(&mut ahead).await;
    assert!(
        backend
            .command_worker(&id, WorkerCommand::DrainAndExit)
            .await
            .unwrap()
    );
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("a drained worker exits once nothing runs")
        .unwrap()
        .unwrap();
    assert!(settled(&records(&backend, &uuids).await) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_held_while_the_slots_stay_busy_goes_back_and_runs_later() {
    let (backend, uuids, mut ahead) =
        backlog::<AheadSlowable>(200, Duration::from_millis(10)).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(backend.clone(), Registry::new().register::<AheadSlowable>())
        .capacity(CAPACITY)
        .poll_interval(Duration::from_millis(20));
    let worker = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));
    reserved_ahead(&mut ahead).await;
    // From now on runs take a second: the jobs held behind them wait past the hold
    // limit, and go back to the queue rather than sit on their leases.
    SLOW.store(true, Ordering::SeqCst);
    wait_for(
        "a held job to go back to the queue",
        Duration::from_secs(20),
        || async { (handed_back(&records(&backend, &uuids).await) > 0).then_some(()) },
    )
    .await;
    SLOW.store(false, Ordering::SeqCst);
    // Each job runs once in the end, none with an attempt used.
    wait_for("every job to be done", Duration::from_secs(60), || async {
        for &uuid in &uuids {
            let record = backend.get(uuid).await.unwrap().unwrap();
            if record.status != Status::Done {
                return None;
            }
            assert_eq!(record.attempts, 0);
        }
        Some(())
    })
    .await;
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
