//! The worker: reserves jobs that fit its free capacity, runs them, and records how each
//! run ended.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use zerog::{Registry, backend::Backend, worker::Worker};
//!
//! let backend = Backend::connect("sqlite://zerog.db").await?;
//! let worker = Worker::new(backend, Registry::from_inventory())
//!     .capacity(4)
//!     .queue_limit("emails", 2);
//! worker.run_until(zerog::cli::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
//!
//! # Semantics
//!
//! - Delivery is **at least once**. A run holds a lease (default 30 s) that the worker
//!   renews while the job goes. A worker that dies leaves its lease to expire; any other
//!   worker then takes the job back up, counting an attempt and recording the error
//!   "worker died while running" and the event "Worker died while running -
//!   restarting". A job whose attempts run out that way fails with "lease expired".
//! - **Fencing.** Every write of a run names its lease, so a worker that lost the lease
//!   (it stalled, and another worker took the job over) cannot overwrite the record; its
//!   run is dropped as soon as it notices.
//! - After every run the job struct is serialized back into the record's `params`, so a
//!   requeued or retried job resumes from its fields.
//! - `Outcome::done` finishes the job; `Outcome::requeue` puts it back with no attempt
//!   used; `JobError::Fatal` fails it now; `JobError::Retry`, a panic and a timeout each
//!   count one attempt and retry with backoff until `max_attempts` runs have failed.
//! - `attempts` counts runs that ended in an error (a returned error, a panic, a
//!   timeout, or a death of the worker), never requeues or releases.
//! - **Cancel.** A user's cancel reaches a running job within a quarter second:
//!   `JobContext::is_cancelled` turns true, `checkpoint` returns an error, and when `run`
//!   returns the job ends `cancelled` with result code 410. A kill drops the run at once.
//! - **Capacity.** A worker has capacity units (default: the CPU count) and reserves a
//!   job only when the job type's `cost` fits in what is free. A queue can be capped to a
//!   number of running jobs across all workers.
//! - **Claim ahead.** A worker whose runs end faster than a reserve goes to the backend
//!   and back holds jobs ahead of its free slots, leased to it as running jobs are (and
//!   counted against queue limits as running), so that a slot that frees starts the next
//!   job at once. It holds two round trips' worth at the pace runs end, at most
//!   [`Worker::prefetch`] units (default [`DEFAULT_PREFETCH`]); a worker of long runs
//!   holds none. A held job starts within a quarter second of its reserve, or goes back
//!   to the queue unstarted with no attempt used, as held jobs do at a drain or a
//!   shutdown. A worker that dies holding jobs leaves them to lease recovery.
//! - **Shutdown and drain.** When `shutdown` completes, or a drain is requested through
//!   the backend (`POST /workers/{id}/drain`), the worker stops reserving and lets its
//!   runs finish. At shutdown, runs still going after the deadline (default 30 s) are
//!   stopped and released back to the queue, unfinished, with no attempt used. A drain
//!   with `exit` makes [`Worker::run_until`] return once nothing runs.

mod ahead;
mod completer;
mod directory;
mod execute;
mod housekeeping;
mod tracker;
mod weights;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::{Id, JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;
use uuid::Uuid;

use crate::backend::{
    Backend, Reservation, ReserveRequest, StoreError, WorkerCommand, WorkerState,
};
use crate::registry::{DuplicateJobType, Registry};
use directory::{Identity, Snapshot};

/// The default lease on a running job.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How long an idle worker waits before it looks for due jobs again, when nothing wakes
/// it sooner.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The most capacity units a worker holds ahead of its free slots, by default.
pub const DEFAULT_PREFETCH: u32 = 500;

/// How long runs may go on after shutdown before they are released, by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a worker's housekeeping heartbeats, takes back expired leases and reads
/// the worker's commands.
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Why a worker could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// Two Rust types declare one job type.
    #[error(transparent)]
    DuplicateJobType(#[from] DuplicateJobType),
    /// The worker knows no job type, so it could never run anything.
    #[error("the worker knows no job type: register at least one")]
    NoJobTypes,
    /// A capacity of zero would never run a job.
    #[error("the capacity must be at least 1 unit")]
    ZeroCapacity,
    /// A lease of zero would end at once: other workers would take every run back.
    #[error("the lease must be longer than zero, like `30s`")]
    ZeroLease,
    /// A queue weighted zero would never be served.
    #[error("the weight of queue `{0}` must be at least 1")]
    ZeroWeight(String),
}

/// Runs jobs from a [`Backend`].
#[derive(Debug)]
pub struct Worker {
    backend: Backend,
    registry: Registry,
    name: String,
    id: String,
    capacity: u32,
    queues: Vec<String>,
    /// Each queue's weight, in weighted mode; empty otherwise.
    weights: BTreeMap<String, u32>,
    queue_limits: BTreeMap<String, u32>,
    lease: Duration,
    poll_interval: Duration,
    shutdown_timeout: Duration,
    prefetch: u32,
}

impl Worker {
    /// A worker for every job type of `registry`, with capacity for as many jobs as the
    /// machine has CPUs, serving every queue of those types.
    pub fn new(backend: Backend, registry: Registry) -> Self {
        let capacity = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let queues = registry.queues().into_iter().map(str::to_owned).collect();
        Worker {
            backend,
            registry,
            name: "worker".to_owned(),
            id: directory::worker_id("worker"),
            capacity,
            queues,
            weights: BTreeMap::new(),
            queue_limits: BTreeMap::new(),
            lease: DEFAULT_LEASE,
            poll_interval: DEFAULT_POLL_INTERVAL,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            prefetch: DEFAULT_PREFETCH,
        }
    }

    /// Sets the capacity, in units of job cost. A capacity of zero is refused when the
    /// worker starts ([`WorkerError::ZeroCapacity`]).
    pub fn capacity(mut self, units: u32) -> Self {
        self.capacity = units;
        self
    }

    /// Serves only these queues: due jobs of all of them by priority, then by due
    /// time, then in submit order, as if they were one.
    pub fn queues<I: IntoIterator<Item = S>, S: Into<String>>(mut self, queues: I) -> Self {
        self.queues = queues.into_iter().map(Into::into).collect();
        self.weights.clear();
        self
    }

    /// Serves only these queues, each in proportion to its weight (Sidekiq's weighted
    /// mode): every reserve tries the queues in an order drawn at random, a queue
    /// first with the probability of its share of the weights, and takes from the
    /// first that has jobs due. With a backlog in each, `critical:6, default:3, low:1`
    /// runs about 60, 30 and 10 jobs in every 100, and no queue with a weight waits
    /// for the others to empty. A weight of zero is refused when the worker starts
    /// ([`WorkerError::ZeroWeight`]).
    pub fn weighted_queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = (S, u32)>,
        S: Into<String>,
    {
        let weighted: Vec<(String, u32)> = queues
            .into_iter()
            .map(|(queue, w)| (queue.into(), w))
            .collect();
        self.queues = weighted.iter().map(|(queue, _)| queue.clone()).collect();
        self.weights = weighted.into_iter().collect();
        self
    }

    /// Caps how many jobs of `queue` run at once across all workers of the backend.
    pub fn queue_limit(mut self, queue: impl Into<String>, running: u32) -> Self {
        self.queue_limits.insert(queue.into(), running);
        self
    }

    /// Sets the lease on each run. A zero lease is refused when the worker starts
    /// ([`WorkerError::ZeroLease`]).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets how long an idle worker waits before it looks for due jobs again.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets how long runs may go on after shutdown before they are released.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets the most capacity units of jobs the worker holds ahead of its free slots
    /// (see "Claim ahead" above); 0 reserves only for slots that are free.
    pub fn prefetch(mut self, units: u32) -> Self {
        self.prefetch = units;
        self
    }

    /// Names the worker; its id is the host, the pid and this name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self.id = directory::worker_id(name);
        self
    }

    /// The worker's id, as `GET /workers` shows it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs jobs until `shutdown` completes, or until a drain with exit is requested
    /// and nothing runs any more.
    ///
    /// # Errors
    ///
    /// Fails at once if the registry is empty or declares a job type twice, or the
    /// lease is zero. Backend
    /// failures do not end the worker: it logs them and tries again.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future drops the runs it owns, which stay leased
    /// and run again once their leases expire. Complete `shutdown` to stop cleanly.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), WorkerError> {
        self.registry.check()?;
        if self.registry.is_empty() {
            return Err(WorkerError::NoJobTypes);
        }
        if self.lease.is_zero() {
            return Err(WorkerError::ZeroLease);
        }
        if self.capacity == 0 {
            return Err(WorkerError::ZeroCapacity);
        }
        if let Some((queue, _)) = self.weights.iter().find(|(_, weight)| **weight == 0) {
            return Err(WorkerError::ZeroWeight(queue.clone()));
        }
        for job_type in self.registry.iter() {
            let spec = job_type.spec();
            if spec.cost > self.capacity && self.queues.iter().any(|q| q == spec.queue) {
                tracing::warn!(
                    job_type = spec.job_type,
                    cost = spec.cost,
                    capacity = self.capacity,
                    "this worker can never run this job type: its cost exceeds the capacity"
                );
            }
        }
        tracing::info!(worker = %self.id, capacity = self.capacity, queues = ?self.queues, "worker started");
        let mut pool = Pool::new(self);
        let exit = pool.serve(shutdown).await;
        pool.stop(exit).await;
        Ok(())
    }
}

/// Why the main loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoopExit {
    Shutdown,
    Drained,
}

/// What a reserve in the background brings back: the jobs, or why none, and how long
/// the round trip took.
type Reserved = (Result<Vec<Reservation>, StoreError>, Duration);

/// The running state of a worker.
struct Pool {
    worker: Arc<Worker>,
    job_types: Arc<[String]>,
    runs: JoinSet<()>,
    /// Cost and job of each run's task, so capacity comes back even if a task dies.
    costs: HashMap<Id, (u32, Uuid)>,
    used: u32,
    /// The jobs held ahead of free slots.
    ahead: ahead::Ahead,
    /// The reserve in flight, and the units it asked for.
    reserving: Option<(JoinHandle<Reserved>, u32)>,
    /// The last reserve found fewer jobs than it asked for: the next waits for a wake,
    /// the poll interval or the end of a run.
    dry: bool,
    /// How long a dry worker waits before it looks again.
    wait: Duration,
    draining: bool,
    exit_when_drained: bool,
    release: watch::Sender<bool>,
    /// What housekeeping heartbeats.
    snapshot: watch::Sender<Snapshot>,
    /// What the directory asks of this worker, as housekeeping hears it.
    commands: watch::Receiver<WorkerCommand>,
    housekeeping: tokio::task::JoinHandle<()>,
    /// Writes the ends of runs, many at a time.
    completer: Option<(completer::Completer, tokio::task::JoinHandle<()>)>,
}

impl Pool {
    fn new(worker: Worker) -> Self {
        let job_types = worker
            .registry
            .job_types()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let (snapshot, snapshots) = watch::channel(Snapshot {
            state: WorkerState::Polling,
            running: Vec::new(),
            used: 0,
        });
        let (command_tx, commands) = watch::channel(WorkerCommand::None);
        let housekeeping = housekeeping::Housekeeping {
            backend: worker.backend.clone(),
            identity: Identity {
                id: worker.id.clone(),
                name: worker.name.clone(),
                capacity: worker.capacity,
                queues: worker.queues.clone(),
                queue_limits: worker.queue_limits.clone(),
                started_at: Utc::now(),
            },
            snapshot: snapshots,
            commands: command_tx,
        };
        let completer = Some(completer::Completer::start(worker.backend.clone()));
        Pool {
            completer,
            ahead: ahead::Ahead::new(worker.prefetch, ahead::hold_limit(worker.lease)),
            reserving: None,
            dry: false,
            wait: worker.poll_interval,
            job_types,
            runs: JoinSet::new(),
            costs: HashMap::new(),
            used: 0,
            draining: false,
            exit_when_drained: false,
            release: watch::channel(false).0,
            snapshot,
            commands,
            housekeeping: tokio::spawn(housekeeping.run()),
            worker: Arc::new(worker),
        }
    }

    async fn serve(&mut self, shutdown: impl Future<Output = ()>) -> LoopExit {
        tokio::pin!(shutdown);
        loop {
            self.start_held();
            if !self.draining && !self.dry {
                self.reserve_ahead();
            }
            self.publish();
            if self.exit_when_drained && self.runs.is_empty() && self.reserving.is_none() {
                return LoopExit::Drained;
            }
            let idle = !self.draining && self.dry && self.reserving.is_none();
            let expiry = self.ahead.next_expiry();
            tokio::select! {
                () = &mut shutdown => return LoopExit::Shutdown,
                Some(ended) = self.runs.join_next_with_id() => {
                    self.ended(ended);
                    let mut count = 1;
                    // Collect every run that has ended meanwhile, so that the next
                    // reserve takes one batch rather than a round trip per job.
                    while let Some(ended) = self.runs.try_join_next_with_id() {
                        self.ended(ended);
                        count += 1;
                    }
                    self.ahead.ended(count, Instant::now());
                    self.dry = false;
                }
                reserved = in_flight(&mut self.reserving) => {
                    let asked = self.reserving.take().map_or(0, |(_, units)| units);
                    self.reserved(reserved, asked).await;
                }
                // Wakes on an enqueue in this process, or in any process where the
                // backend can tell (LISTEN/NOTIFY, pub/sub); else after the wait.
                () = self.worker.backend.wait_for_jobs(self.wait), if idle => self.dry = false,
                () = sleep_until(expiry) => {
                    let expired = self.ahead.take_expired(Instant::now());
                    self.hand_back(expired).await;
                }
                Ok(()) = self.commands.changed() => {
                    let command = *self.commands.borrow_and_update();
                    self.obey(command);
                    if self.draining {
                        let held = self.ahead.take_all();
                        self.hand_back(held).await;
                    }
                }
            }
        }
    }

    /// Starts draining on a command from the directory.
    fn obey(&mut self, command: WorkerCommand) {
        if command == WorkerCommand::None {
            return;
        }
        if !self.draining {
            tracing::info!(worker = %self.worker.id, exit = command == WorkerCommand::DrainAndExit, "draining on request");
        }
        self.draining = true;
        self.exit_when_drained |= command == WorkerCommand::DrainAndExit;
    }

    /// Tells housekeeping what the worker is doing now.
    fn publish(&self) {
        let now = Snapshot {
            state: self.state(),
            running: self.costs.values().map(|&(_, uuid)| uuid).collect(),
            used: self.used,
        };
        self.snapshot.send_if_modified(|snapshot| {
            let changed = *snapshot != now;
            *snapshot = now;
            changed
        });
    }

    /// Starts held jobs while they fit in the free capacity.
    fn start_held(&mut self) {
        if self.draining {
            return;
        }
        while let Some(reservation) = self.ahead.take_fitting(self.worker.capacity - self.used) {
            self.start(reservation);
        }
    }

    /// Sends a reserve to the backend, in the background, for the free capacity and
    /// what the worker should hold ahead, less what it holds; unless one is in flight
    /// or nothing is wanted.
    fn reserve_ahead(&mut self) {
        if self.reserving.is_some() {
            return;
        }
        let wanted = self.worker.capacity - self.used + self.ahead.target(Instant::now());
        let Some(units) = wanted.checked_sub(self.ahead.cost()).filter(|&n| n > 0) else {
            return;
        };
        let task = tokio::spawn(reserve(self.worker.clone(), self.job_types.clone(), units));
        self.reserving = Some((task, units));
    }

    /// Takes in what a reserve for `asked` units brought back.
    async fn reserved(&mut self, joined: Result<Reserved, JoinError>, asked: u32) {
        let error = match joined {
            Ok((Ok(reservations), took)) => {
                self.ahead.reserved_in(took);
                let cost: u32 = reservations.iter().map(|r| r.cost).sum();
                // Fewer units than asked for were due and fit: asking again at once
                // would only find none.
                self.dry = cost < asked;
                self.wait = self.worker.poll_interval;
                if self.draining {
                    // They came in after the drain began: back they go.
                    self.hand_back(reservations).await;
                } else {
                    self.ahead.hold(reservations, Instant::now());
                }
                return;
            }
            Ok((Err(error), _)) => error,
            Err(error) => StoreError::Backend(format!("the reserve's task failed: {error}").into()),
        };
        log_backend_error("reserve", &error);
        self.dry = true;
        self.wait = (self.wait * 2).min(Duration::from_secs(5));
    }

    /// Puts held jobs back in the queue, unstarted, with no attempt used.
    async fn hand_back(&self, held: Vec<Reservation>) {
        let Some((completer, _)) = &self.completer else {
            return;
        };
        if !held.is_empty() {
            tracing::debug!(jobs = held.len(), "handing back jobs held ahead");
        }
        let now = Utc::now();
        for reservation in held {
            let transition = crate::lifecycle::handed_back(reservation.record, now);
            completer.hand_over(reservation.lease, transition).await;
        }
    }

    /// Spawns the run of a reserved job.
    fn start(&mut self, reservation: Reservation) {
        let Some(&job_type) = self.worker.registry.get(&reservation.record.job_type) else {
            // Reserve filters on job type, so this is a backend bug; the lease expires
            // and another worker takes the job.
            tracing::error!(job_type = %reservation.record.job_type, "reserved a job type this worker does not know");
            return;
        };
        let cost = reservation.cost;
        let uuid = reservation.record.uuid;
        let release = self.release.subscribe();
        let backend = self.worker.backend.clone();
        let Some((completer, _)) = &self.completer else {
            return;
        };
        let run = execute::execute(backend, completer.clone(), job_type, reservation, release);
        let task = self.runs.spawn(run);
        self.costs.insert(task.id(), (cost, uuid));
        self.used += cost;
    }

    fn ended(&mut self, ended: Result<(Id, ()), tokio::task::JoinError>) {
        let id = match ended {
            Ok((id, ())) => id,
            Err(error) => {
                tracing::error!(%error, "a run's task died; its job runs again when its lease expires");
                error.id()
            }
        };
        if let Some((cost, _)) = self.costs.remove(&id) {
            self.used -= cost;
        }
    }

    fn state(&self) -> WorkerState {
        if self.draining {
            WorkerState::Draining
        } else if self.runs.is_empty() {
            WorkerState::Polling
        } else {
            WorkerState::Running
        }
    }

    /// Hands back what it holds, lets the runs finish, up to the shutdown deadline,
    /// then releases the rest.
    async fn stop(mut self, exit: LoopExit) {
        self.draining = true;
        self.publish();
        if let Some((task, asked)) = self.reserving.take() {
            let joined = task.await;
            self.reserved(joined, asked).await;
        }
        let held = self.ahead.take_all();
        self.hand_back(held).await;
        if exit == LoopExit::Shutdown && !self.runs.is_empty() {
            tracing::info!(worker = %self.worker.id, running = self.runs.len(), "stopping; waiting for running jobs");
            let deadline = tokio::time::sleep(self.worker.shutdown_timeout);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    ended = self.runs.join_next_with_id() => match ended {
                        Some(ended) => {
                            self.ended(ended);
                            self.publish();
                        }
                        None => break,
                    },
                    () = &mut deadline => {
                        tracing::warn!(running = self.runs.len(), "shutdown deadline passed; releasing running jobs");
                        let _ = self.release.send(true);
                        break;
                    }
                }
            }
        }
        while let Some(ended) = self.runs.join_next_with_id().await {
            self.ended(ended);
        }
        // Every run has its answer; the completer ends with its last batch.
        if let Some((completer, task)) = self.completer.take() {
            drop(completer);
            let _ = task.await;
        }
        // Housekeeping may be waiting on a store that is down; the worker leaves
        // anyway, and a heartbeat cut short is cancel safe.
        self.housekeeping.abort();
        let _ = (&mut self.housekeeping).await;
        if let Err(error) = self
            .worker
            .backend
            .store()
            .remove_worker(&self.worker.id)
            .await
        {
            log_backend_error("leaving the worker directory", &error);
        }
        tracing::info!(worker = %self.worker.id, "worker stopped");
    }
}

/// Reserves `units` for `worker`, and times the round trip.
async fn reserve(worker: Arc<Worker>, job_types: Arc<[String]>, units: u32) -> Reserved {
    let started = Instant::now();
    let request = ReserveRequest {
        worker: &worker.id,
        queues: &worker.queues,
        job_types: &job_types,
        max_cost: units,
        max_job_cost: worker.capacity,
        max_jobs: units as usize,
        lease: worker.lease,
        queue_limits: &worker.queue_limits,
        only: None,
    };
    let reserved = if worker.weights.is_empty() {
        worker.backend.reserve(&request).await
    } else {
        weights::reserve(&worker.backend, &request, &worker.weights).await
    };
    (reserved, started.elapsed())
}

/// Completes with the reserve in flight; never, if there is none.
async fn in_flight(
    reserving: &mut Option<(JoinHandle<Reserved>, u32)>,
) -> Result<Reserved, JoinError> {
    match reserving {
        Some((task, _)) => task.await,
        None => std::future::pending().await,
    }
}

/// Completes at `at`; never, if there is no time.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub(super) fn log_backend_error(what: &str, error: &StoreError) {
    tracing::warn!(%error, "{what} failed; will try again");
}
