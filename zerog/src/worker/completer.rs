//! The completer: the ends of a worker's runs, written many at a time.
//!
//! A run that ends hands its transition to the completer and is over: its slot is free
//! for the next job while the end is written, as River's completer frees it. (The
//! release of a run at shutdown waits for its answer instead.) The completer takes
//! every end that has come in meanwhile and writes them with one
//! call of the store ([`Backend::settle_runs`]: one statement on PostgreSQL, one
//! transaction on SQLite, one script on Redis). While a write is in flight, the next
//! ends gather, so under load the batches grow by themselves and an idle worker adds
//! no delay at all (group commit).
//!
//! Fencing holds row by row: an end whose lease is no longer the job's is refused
//! alone, and logged with its job's uuid (or told to the run that waits for it), and
//! the rest of the batch is written. A batch the store fails to take is retried for
//! about a minute; after that it is logged, and its jobs, still leased, run again once
//! the leases expire. Nothing is lost: until its end is written, a job is its run's,
//! and a worker that dies with ends unwritten leaves their jobs to lease recovery.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::backend::{Backend, Lease, StoreError};
use crate::lifecycle::Transition;

/// The most ends one write takes.
const MAX_BATCH: usize = 1000;

/// How many ends may wait for the completer before a run that ends waits too.
const BACKLOG: usize = 10_000;

/// How long a batch is retried through backend failures before its runs are told.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// One run's end, waiting to be written.
struct Completion {
    lease: Lease,
    transition: Transition,
    /// Where the answer goes; `None` for an end handed over, whose failure the
    /// completer logs itself.
    written: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// Where runs send their ends. Cloning is cheap; the completer stops once every clone
/// is dropped and the last batch is written.
#[derive(Debug, Clone)]
pub(super) struct Completer {
    ends: mpsc::Sender<Completion>,
}

impl Completer {
    /// Starts the completer of a worker on `backend`.
    pub(super) fn start(backend: Backend) -> (Self, JoinHandle<()>) {
        let (ends, incoming) = mpsc::channel(BACKLOG);
        (Completer { ends }, tokio::spawn(run(backend, incoming)))
    }

    /// Writes the end of the run holding `lease`, with the ends of other runs.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] if the lease is no longer the job's, or the backend's
    /// error once the batch has been retried for about a minute.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: once handed over, the end is written whether or not anyone
    /// waits for the answer.
    pub(super) async fn complete(
        &self,
        lease: Lease,
        transition: Transition,
    ) -> Result<(), StoreError> {
        let (written, answer) = oneshot::channel();
        let completion = Completion {
            lease,
            transition,
            written: Some(written),
        };
        if self.ends.send(completion).await.is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Hands over the end of the run holding `lease`, to be written with the ends of
    /// other runs, and returns without waiting for the write: a refusal or failure is
    /// logged with the job's uuid, and leaves the job to lease recovery.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before the hand-over, the end is not written and the job
    /// keeps its lease, to run again once it expires; after it, the end is written.
    pub(super) async fn hand_over(&self, lease: Lease, transition: Transition) {
        let uuid = lease.uuid;
        let completion = Completion {
            lease,
            transition,
            written: None,
        };
        if self.ends.send(completion).await.is_err() {
            tracing::error!(job.uuid = %uuid, "the completer has stopped; the job runs again when its lease expires");
        }
    }
}

/// Gives `outcome` to the run waiting for it, or logs a failure that none waits for.
fn answer(completion: Completion, outcome: Result<(), StoreError>) {
    match (completion.written, outcome) {
        (Some(written), outcome) => {
            let _ = written.send(outcome);
        }
        (None, Ok(())) => {}
        (None, Err(error @ StoreError::LeaseLost(_))) => {
            tracing::warn!(job.uuid = %completion.lease.uuid, %error, "the end of a run was refused: the job is another owner's now");
        }
        (None, Err(error)) => {
            tracing::error!(job.uuid = %completion.lease.uuid, %error, "could not record the end of a run; the job runs again when its lease expires");
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the worker's completer has stopped".into())
}

async fn run(backend: Backend, mut incoming: mpsc::Receiver<Completion>) {
    let mut batch = Vec::new();
    while let Some(first) = incoming.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match incoming.try_recv() {
                Ok(completion) => batch.push(completion),
                Err(_) => break,
            }
        }
        write(&backend, std::mem::take(&mut batch)).await;
    }
}

/// Writes `batch`, retrying through passing backend failures, and answers each run.
async fn write(backend: &Backend, batch: Vec<Completion>) {
    let mut delay = Duration::from_millis(100);
    let give_up = tokio::time::Instant::now() + GIVE_UP_AFTER;
    let runs: Vec<(&Lease, &Transition)> = batch
        .iter()
        .map(|completion| (&completion.lease, &completion.transition))
        .collect();
    let outcomes = loop {
        match backend.settle_runs(&runs).await {
            Ok(outcomes) => break Ok(outcomes),
            Err(StoreError::Backend(error)) if tokio::time::Instant::now() < give_up => {
                tracing::warn!(%error, runs = runs.len(), "writing the ends of runs failed; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => break Err(error.to_string()),
        }
    };
    drop(runs);
    match outcomes {
        Ok(outcomes) => {
            for (completion, outcome) in batch.into_iter().zip(outcomes) {
                answer(completion, outcome);
            }
        }
        Err(error) => {
            for completion in batch {
                answer(completion, Err(StoreError::Backend(error.clone().into())));
            }
        }
    }
}
