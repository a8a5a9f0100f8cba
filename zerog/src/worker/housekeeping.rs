//! Housekeeping, a task of its own beside a worker's runs: it takes back expired
//! leases, heartbeats the worker's state into the directory, and passes the
//! directory's commands (drain, drain and exit) to the run loop over a channel.
//!
//! A store that hangs here (an outage, each call waiting out its timeout) slows only
//! housekeeping: the run loop goes on reserving and joining runs meanwhile.

use chrono::Utc;
use tokio::sync::watch;

use super::directory::{self, Identity, Snapshot};
use super::{HOUSEKEEPING_INTERVAL, log_backend_error};
use crate::backend::{Backend, WorkerCommand, WorkerState};

/// The housekeeping of one worker.
pub(super) struct Housekeeping {
    pub(super) backend: Backend,
    pub(super) identity: Identity,
    /// What the run loop is doing.
    pub(super) snapshot: watch::Receiver<Snapshot>,
    /// The directory's latest command for this worker.
    pub(super) commands: watch::Sender<WorkerCommand>,
}

impl Housekeeping {
    /// Runs until the run loop drops its side of the snapshot channel.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each step is a recovery or a heartbeat, both cancel safe; the
    /// worker aborts this task when it stops.
    pub(super) async fn run(mut self) {
        let mut ticker = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut said_draining = false;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    self.recover().await;
                    self.heartbeat().await;
                }
                changed = self.snapshot.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let draining = self.snapshot.borrow().state == WorkerState::Draining;
                    if draining && !said_draining {
                        // Say so at once, rather than a heartbeat later.
                        said_draining = true;
                        self.heartbeat().await;
                    }
                }
            }
        }
    }

    async fn recover(&self) {
        match self.backend.recover_expired(Utc::now()).await {
            Ok(recovered) if !recovered.requeued.is_empty() || !recovered.failed.is_empty() => {
                tracing::warn!(requeued = ?recovered.requeued, failed = ?recovered.failed, "took back jobs from workers whose leases expired");
            }
            Ok(_) => {}
            Err(error) => log_backend_error("lease recovery", &error),
        }
    }

    async fn heartbeat(&self) {
        let info = self.identity.info(&self.snapshot.borrow().clone());
        match self
            .backend
            .store()
            .heartbeat_worker(&info, directory::TTL)
            .await
        {
            Ok(WorkerCommand::None) => {}
            Ok(command) => {
                self.commands.send_if_modified(|current| {
                    let changed = *current != command;
                    *current = command;
                    changed
                });
            }
            Err(error) => log_backend_error("heartbeat", &error),
        }
    }
}
