//! Retention: deleting finished jobs once they are old enough.
//!
//! `DELETE /jobs?status=done&olderThan=7d` does it on request; a [`Pruner`] does it on
//! its own, every so often, for every finished status. The CLI starts one with
//! `--prune-after 7d` or `ZEROG_PRUNE_AFTER=7d`:
//!
//! ```no_run
//! # async fn demo(backend: zerog::backend::Backend) {
//! use std::time::Duration;
//! use zerog::pruner::Pruner;
//!
//! let pruner = Pruner::new(backend, zerog::duration::parse("7d").unwrap());
//! pruner.run_until(zerog::cli::shutdown_signal()).await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::{Backend, StoreError};
use crate::record::Status;

/// The statuses of jobs that have ended: the only ones retention deletes.
pub const FINISHED: [Status; 3] = [Status::Done, Status::Failed, Status::Cancelled];

/// The moment `age` before `now`: jobs that finished before it are old enough.
pub fn cutoff(now: DateTime<Utc>, age: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Deletes finished jobs older than an age, every so often.
#[derive(Debug, Clone)]
pub struct Pruner {
    backend: Backend,
    older_than: Duration,
    every: Duration,
}

impl Pruner {
    /// A pruner of finished jobs that finished more than `older_than` ago. It runs every
    /// tenth of that age, at least every hour and at most every second.
    pub fn new(backend: Backend, older_than: Duration) -> Self {
        let every = (older_than / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        Pruner {
            backend,
            older_than,
            every,
        }
    }

    /// Sets how often it runs.
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = interval.max(Duration::from_millis(10));
        self
    }

    /// Deletes the finished jobs old enough now, and counts them per status.
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::delete_finished`](crate::backend::Store::delete_finished): the
    /// delete happens whole or not at all.
    pub async fn prune_once(&self) -> Result<BTreeMap<Status, u64>, StoreError> {
        let before = cutoff(Utc::now(), self.older_than);
        self.backend.delete_finished(&FINISHED, before).await
    }

    /// Prunes now and then every interval, until `shutdown` completes. A failing store
    /// is logged and tried again at the next interval.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: each pass deletes whole or not at all.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let mut ticker = tokio::time::interval(self.every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => {}
            }
            match self.prune_once().await {
                Ok(counts) => {
                    let deleted: u64 = counts.values().sum();
                    if deleted > 0 {
                        tracing::info!(deleted, ?counts, "pruned finished jobs");
                    }
                }
                Err(error) => tracing::warn!(%error, "pruning finished jobs failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_never_overflows() {
        let now = Utc::now();
        assert_eq!(cutoff(now, Duration::ZERO), now);
        assert!(cutoff(now, Duration::from_secs(999_999 * 86_400)) < now);
        assert_eq!(cutoff(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
    }
}
