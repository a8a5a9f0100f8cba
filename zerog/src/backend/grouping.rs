//! Group commit of single submits: jobs submitted one at a time, but at the same
//! moment (concurrent `POST /job/{jobType}` requests, or enqueues from many tasks),
//! are written by one [`Store::insert`], so that they share one commit (one sync of
//! the WAL on SQLite and PostgreSQL) instead of paying one each.
//!
//! A task per [`Backend`](super::Backend) takes every job that is waiting when it is
//! free, up to [`MAX_GROUP`], and inserts them together; while that write is in
//! flight the next group gathers. An idle backend adds no delay: a job that comes
//! alone is written alone, at once. Each submit still gets its own answer: if the
//! group is refused (one of its uuids is taken, or the store failed), nothing of it
//! was stored, and each job is inserted again on its own, so that only the job at
//! fault fails. Only a store whose inserts are all or none
//! ([`Store::atomic_inserts`]) has its submits grouped.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::{NewJob, Store, StoreError};
use crate::record::JobRecord;

/// The most jobs one insert takes.
pub(super) const MAX_GROUP: usize = 500;

/// How many submits may wait for the task before a submit waits to hand over.
const BACKLOG: usize = 4096;

/// One submit, waiting to be written.
struct Pending {
    record: JobRecord,
    cost: u32,
    run_at: DateTime<Utc>,
    answer: oneshot::Sender<Result<(), StoreError>>,
}

/// The submits of one backend, and the task that writes them.
#[derive(Default)]
pub(super) struct Grouping {
    submits: OnceLock<mpsc::Sender<Pending>>,
}

impl Grouping {
    /// Stores `record` with the submits that come at the same time.
    ///
    /// # Errors
    ///
    /// As [`Store::insert`] of this job alone.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::insert`]: once handed over, the job is written whether or not the
    /// caller waits, and a dropped call cannot tell whether it was.
    pub(super) async fn insert(
        &self,
        store: &Arc<dyn Store>,
        record: JobRecord,
        cost: u32,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let submits = self.submits.get_or_init(|| {
            let (submits, incoming) = mpsc::channel(BACKLOG);
            tokio::spawn(run(store.clone(), incoming));
            submits
        });
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            record,
            cost,
            run_at,
            answer,
        };
        match submits.send(pending).await {
            Ok(()) => answered.await.unwrap_or_else(|_| Err(stopped())),
            // The task is gone with the runtime that ran it: write this one directly.
            Err(mpsc::error::SendError(pending)) => {
                store.insert(std::slice::from_ref(&job(&pending))).await
            }
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the backend's insert task stopped before it answered".into())
}

async fn run(store: Arc<dyn Store>, mut incoming: mpsc::Receiver<Pending>) {
    let mut group = Vec::new();
    while let Some(first) = incoming.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match incoming.try_recv() {
                Ok(pending) => group.push(pending),
                Err(_) => break,
            }
        }
        write(&*store, std::mem::take(&mut group)).await;
    }
}

fn job(pending: &Pending) -> NewJob<'_> {
    NewJob {
        record: &pending.record,
        cost: pending.cost,
        run_at: pending.run_at,
    }
}

/// Inserts `group` in one write; if that is refused, each job on its own.
async fn write(store: &dyn Store, group: Vec<Pending>) {
    let jobs: Vec<NewJob<'_>> = group.iter().map(job).collect();
    let written = store.insert(&jobs).await;
    drop(jobs);
    match written {
        Ok(()) => {
            for pending in group {
                let _ = pending.answer.send(Ok(()));
            }
        }
        Err(error) if group.len() == 1 => {
            if let Some(pending) = group.into_iter().next() {
                let _ = pending.answer.send(Err(error));
            }
        }
        // All or none: nothing of the group was stored.
        Err(_) => {
            for pending in group {
                let written = store.insert(std::slice::from_ref(&job(&pending))).await;
                let _ = pending.answer.send(written);
            }
        }
    }
}
