//! A run's slot is free once its end is handed to the completer: while the write of
//! one end is held up, the worker's only slot already runs the next job, and the held
//! end is written once the store lets it, with nothing lost.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use zerog::backend::{
    Backend, Change, Fire, Inserted, Lease, ListQuery, Listed, NewJob, Overview, PutSchedule,
    Reservation, ReserveRequest, RunSignal, Stats, Store, StoreError, Stored, UniqueKey,
    WorkerCommand, WorkerInfo, Write, WriteOutcome,
};
use zerog::schedule::{Schedule, ScheduleSource, ScheduleState};
use zerog::worker::Worker;
use zerog::{JobRecord, Registry, Status};
use zerog_tests::wait_for;

/// SQLite, but the ends of runs wait for a permit of `ends` before they are written.
struct HeldEnds {
    inner: zerog::backend::SqliteBackend,
    ends: Semaphore,
}

#[async_trait::async_trait]
impl Store for HeldEnds {
    async fn insert(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        self.inner.insert(jobs).await
    }
    async fn insert_unique(
        &self,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError> {
        self.inner.insert_unique(job, unique).await
    }
    async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Vec<Reservation>, StoreError> {
        self.inner.reserve(request).await
    }
    async fn get(&self, uuid: uuid::Uuid) -> Result<Option<Stored>, StoreError> {
        self.inner.get(uuid).await
    }
    async fn write(&self, writes: &[Write<'_>]) -> Result<Vec<WriteOutcome>, StoreError> {
        if writes
            .iter()
            .any(|write| matches!(write.change, Change::Settle(_)))
        {
            let permit = self.ends.acquire().await.expect("the semaphore stays open");
            permit.forget();
        }
        self.inner.write(writes).await
    }
    async fn signals(&self, leases: &[Lease]) -> Result<Vec<RunSignal>, StoreError> {
        self.inner.signals(leases).await
    }
    async fn expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Stored>, StoreError> {
        self.inner.expired(now, limit).await
    }
    async fn list(
        &self,
        query: &ListQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Listed, StoreError> {
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
    async fn overview(&self, cap: u64, since: DateTime<Utc>) -> Result<Overview, StoreError> {
        self.inner.overview(cap, since).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn heartbeat_worker(
        &self,
        info: &WorkerInfo,
        ttl: Duration,
    ) -> Result<WorkerCommand, StoreError> {
        self.inner.heartbeat_worker(info, ttl).await
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
    async fn paused_queues(&self) -> Result<BTreeSet<String>, StoreError> {
        self.inner.paused_queues().await
    }
    async fn put_schedule(
        &self,
        schedule: &Schedule,
        source: ScheduleSource,
        mode: PutSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.put_schedule(schedule, source, mode, now).await
    }
    async fn list_schedules(&self) -> Result<Vec<ScheduleState>, StoreError> {
        self.inner.list_schedules().await
    }
    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleState>, StoreError> {
        self.inner.get_schedule(name).await
    }
    async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.delete_schedule(name).await
    }
    async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.pause_schedule(name, paused, now).await
    }
    async fn fire(&self, fire: &Fire<'_>) -> Result<bool, StoreError> {
        self.inner.fire(fire).await
    }
}

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
    let store = Arc::new(HeldEnds {
        inner: zerog::backend::SqliteBackend::connect("sqlite::memory:")
            .await
            .unwrap(),
        ends: Semaphore::new(0),
    });
    let backend = Backend::new(store.clone());
    let spec = <HeldEndNoop as zerog::Job>::SPEC;
    let first = JobRecord::new(&spec, serde_json::json!({}));
    let second = JobRecord::new(&spec, serde_json::json!({}));
    backend.submit(&first, 1).await.unwrap();
    backend.submit(&second, 1).await.unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(backend.clone(), Registry::new().register::<HeldEndNoop>())
        .capacity(1)
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
    store.ends.add_permits(100);
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
