//! Fresh planner statistics after a burst of inserts.
//!
//! The reserve statement is fast only on the partial index of due jobs, read in
//! order and stopped at its `LIMIT`. PostgreSQL picks that plan when its statistics
//! say how many jobs are due; with stale ones (a new table, or a burst of jobs into
//! an empty queue) it takes a bitmap scan of every due job and a sort instead: 50 ms
//! for 12,000 queued jobs against 0.2 ms, on every reserve, until autovacuum analyzes
//! the table, which may be a minute later. So the backend analyzes the table itself
//! once it has inserted as many jobs as the table held at its last count (and at
//! least [`MIN_INSERTS`]), in the background and at most every [`MIN_INTERVAL`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::PostgresBackend;

/// Fewer inserts than this since the last analysis never start another.
pub(super) const MIN_INSERTS: u64 = 1000;

/// The shortest time between two analyses of one process.
pub(super) const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// What decides when to analyze: inserts since the last analysis, and the table's
/// size then.
#[derive(Debug)]
pub(super) struct Freshness {
    inserted: AtomicU64,
    /// Rows the table had at the last analysis.
    rows: AtomicU64,
    running: AtomicBool,
    last: Mutex<Option<Instant>>,
}

impl Freshness {
    pub(super) fn new() -> Self {
        Freshness {
            inserted: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            running: AtomicBool::new(false),
            last: Mutex::new(None),
        }
    }

    /// Counts `rows` inserted; whether an analysis should start now, in which case
    /// the caller is its only starter until [`Freshness::done`].
    fn inserted(&self, rows: u64) -> bool {
        let inserted = self.inserted.fetch_add(rows, Ordering::Relaxed) + rows;
        let due = inserted >= MIN_INSERTS.max(self.rows.load(Ordering::Relaxed));
        if !due {
            return false;
        }
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_some_and(|at| at.elapsed() < MIN_INTERVAL) {
            return false;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        *last = Some(Instant::now());
        self.inserted.store(0, Ordering::Relaxed);
        true
    }

    /// An analysis ended, finding `rows` in the table (if it could tell).
    fn done(&self, rows: Option<u64>) {
        if let Some(rows) = rows {
            self.rows.store(rows, Ordering::Relaxed);
        }
        self.running.store(false, Ordering::Release);
    }
}

impl PostgresBackend {
    /// Notes `rows` jobs inserted, and analyzes the jobs table in the background when
    /// enough have been since the last time.
    pub(super) fn inserted(&self, rows: u64) {
        if !self.inner.freshness.inserted(rows) {
            return;
        }
        let backend = self.clone();
        tokio::spawn(async move {
            let rows = backend.analyze().await;
            backend.inner.freshness.done(rows);
        });
    }

    /// Analyzes the jobs table; the rows it then holds, as the planner now sees them.
    async fn analyze(&self) -> Option<u64> {
        let analyzed = sqlx::query(self.sql("ANALYZE {jobs}"))
            .execute(&self.inner.pool)
            .await;
        if let Err(error) = analyzed {
            tracing::debug!(%error, "analyzing the jobs table failed; autovacuum will");
            return None;
        }
        let rows: Option<f32> = sqlx::query_scalar(
            self.sql("SELECT reltuples FROM pg_class WHERE oid = to_regclass('{jobs}')"),
        )
        .fetch_optional(&self.inner.pool)
        .await
        .ok()
        .flatten();
        rows.map(|rows| rows.max(0.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_analysis_starts_after_enough_inserts_and_one_at_a_time() {
        let freshness = Freshness::new();
        assert!(!freshness.inserted(MIN_INSERTS - 1));
        assert!(
            freshness.inserted(1),
            "the table was empty: a thousand is enough"
        );
        assert!(!freshness.inserted(MIN_INSERTS * 5), "one runs already");
        freshness.done(Some(50_000));
        // Within the interval, and then short of the table's size, nothing starts.
        assert!(!freshness.inserted(MIN_INSERTS));
        *freshness.last.lock().unwrap() = Some(Instant::now() - MIN_INTERVAL);
        assert!(!freshness.inserted(40_000), "46,000 of 50,000 is short");
        assert!(freshness.inserted(10_000));
    }
}
