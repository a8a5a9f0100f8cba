//! [`Hooked`]: a store that passes every call on to another after a hook of the
//! test's, which may count the call, hold it up or fail it: a store in trouble, made
//! to order.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use zerog::backend::{Backend, SqliteBackend};
//! use zerog_tests::hooked::{Call, Hooked};
//!
//! let sqlite = SqliteBackend::connect("sqlite::memory:").await.unwrap();
//! // Heartbeats never answer; everything else is SQLite's.
//! let store = Hooked::new(Arc::new(sqlite), |call| {
//!     Box::pin(async move {
//!         if call == Call::HeartbeatWorker {
//!             std::future::pending::<()>().await;
//!         }
//!         Ok(())
//!     })
//! });
//! let backend = Backend::new(Arc::new(store));
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use zerog::Status;
use zerog::backend::{
    Change, Fire, Inserted, Lease, ListQuery, Listed, NewJob, Overview, PutSchedule, Reservation,
    ReserveRequest, RunSignal, Stats, Store, StoreError, Stored, UniqueKey, WorkerCommand,
    WorkerInfo, Write, WriteOutcome,
};
use zerog::schedule::{Schedule, ScheduleSource, ScheduleState};

/// A call of the [`Store`] trait, as the hook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Call {
    Insert,
    InsertUnique,
    /// A reserve, for `units` of capacity.
    Reserve {
        units: u32,
    },
    Get,
    /// A batch of fenced writes; `settles` when one of them ends a run.
    Write {
        settles: bool,
    },
    Signals,
    Expired,
    List,
    DeleteIfFinished,
    DeleteFinished,
    Stats,
    Overview,
    Ping,
    HeartbeatWorker,
    ListWorkers,
    CommandWorker,
    RemoveWorker,
    SetQueuePaused,
    PausedQueues,
    PutSchedule,
    ListSchedules,
    GetSchedule,
    DeleteSchedule,
    PauseSchedule,
    Fire,
}

/// What the hook answers: `Ok` lets the call through, an error is the call's answer.
pub type HookFuture = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

/// A store whose calls pass a hook first.
pub struct Hooked {
    inner: Arc<dyn Store>,
    hook: Box<dyn Fn(Call) -> HookFuture + Send + Sync>,
}

impl Hooked {
    /// `inner`, behind `hook`.
    pub fn new(
        inner: Arc<dyn Store>,
        hook: impl Fn(Call) -> HookFuture + Send + Sync + 'static,
    ) -> Self {
        Hooked {
            inner,
            hook: Box::new(hook),
        }
    }
}

#[async_trait::async_trait]
impl Store for Hooked {
    async fn insert(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        (self.hook)(Call::Insert).await?;
        self.inner.insert(jobs).await
    }
    async fn insert_unique(
        &self,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError> {
        (self.hook)(Call::InsertUnique).await?;
        self.inner.insert_unique(job, unique).await
    }
    fn atomic_inserts(&self) -> bool {
        self.inner.atomic_inserts()
    }
    async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Vec<Reservation>, StoreError> {
        (self.hook)(Call::Reserve {
            units: request.max_cost,
        })
        .await?;
        self.inner.reserve(request).await
    }
    async fn get(&self, uuid: Uuid) -> Result<Option<Stored>, StoreError> {
        (self.hook)(Call::Get).await?;
        self.inner.get(uuid).await
    }
    async fn write(&self, writes: &[Write<'_>]) -> Result<Vec<WriteOutcome>, StoreError> {
        let settles = writes
            .iter()
            .any(|write| matches!(write.change, Change::Settle(_)));
        (self.hook)(Call::Write { settles }).await?;
        self.inner.write(writes).await
    }
    async fn signals(&self, leases: &[Lease]) -> Result<Vec<RunSignal>, StoreError> {
        (self.hook)(Call::Signals).await?;
        self.inner.signals(leases).await
    }
    async fn expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Stored>, StoreError> {
        (self.hook)(Call::Expired).await?;
        self.inner.expired(now, limit).await
    }
    async fn list(
        &self,
        query: &ListQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Listed, StoreError> {
        (self.hook)(Call::List).await?;
        self.inner.list(query, after, limit).await
    }
    async fn delete_if_finished(&self, uuid: Uuid) -> Result<bool, StoreError> {
        (self.hook)(Call::DeleteIfFinished).await?;
        self.inner.delete_if_finished(uuid).await
    }
    async fn delete_finished(
        &self,
        statuses: &[Status],
        before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        (self.hook)(Call::DeleteFinished).await?;
        self.inner.delete_finished(statuses, before).await
    }
    async fn stats(&self, cap: u64) -> Result<Stats, StoreError> {
        (self.hook)(Call::Stats).await?;
        self.inner.stats(cap).await
    }
    async fn overview(&self, cap: u64, since: DateTime<Utc>) -> Result<Overview, StoreError> {
        (self.hook)(Call::Overview).await?;
        self.inner.overview(cap, since).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        (self.hook)(Call::Ping).await?;
        self.inner.ping().await
    }
    async fn wait_for_jobs(&self, timeout: Duration) {
        self.inner.wait_for_jobs(timeout).await;
    }
    async fn heartbeat_worker(
        &self,
        info: &WorkerInfo,
        ttl: Duration,
    ) -> Result<WorkerCommand, StoreError> {
        (self.hook)(Call::HeartbeatWorker).await?;
        self.inner.heartbeat_worker(info, ttl).await
    }
    async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        (self.hook)(Call::ListWorkers).await?;
        self.inner.list_workers().await
    }
    async fn command_worker(&self, id: &str, command: WorkerCommand) -> Result<bool, StoreError> {
        (self.hook)(Call::CommandWorker).await?;
        self.inner.command_worker(id, command).await
    }
    async fn remove_worker(&self, id: &str) -> Result<(), StoreError> {
        (self.hook)(Call::RemoveWorker).await?;
        self.inner.remove_worker(id).await
    }
    async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), StoreError> {
        (self.hook)(Call::SetQueuePaused).await?;
        self.inner.set_queue_paused(queue, paused).await
    }
    async fn paused_queues(&self) -> Result<BTreeSet<String>, StoreError> {
        (self.hook)(Call::PausedQueues).await?;
        self.inner.paused_queues().await
    }
    async fn put_schedule(
        &self,
        schedule: &Schedule,
        source: ScheduleSource,
        mode: PutSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        (self.hook)(Call::PutSchedule).await?;
        self.inner.put_schedule(schedule, source, mode, now).await
    }
    async fn list_schedules(&self) -> Result<Vec<ScheduleState>, StoreError> {
        (self.hook)(Call::ListSchedules).await?;
        self.inner.list_schedules().await
    }
    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleState>, StoreError> {
        (self.hook)(Call::GetSchedule).await?;
        self.inner.get_schedule(name).await
    }
    async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        (self.hook)(Call::DeleteSchedule).await?;
        self.inner.delete_schedule(name).await
    }
    async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        (self.hook)(Call::PauseSchedule).await?;
        self.inner.pause_schedule(name, paused, now).await
    }
    async fn fire(&self, fire: &Fire<'_>) -> Result<bool, StoreError> {
        (self.hook)(Call::Fire).await?;
        self.inner.fire(fire).await
    }
}
