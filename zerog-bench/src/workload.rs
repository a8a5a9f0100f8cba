//! The workload every system runs, phase by phase, and the figures it yields.
//!
//! 1. **Enqueue, one at a time:** jobs `0..N`, each enqueue awaited before the next.
//! 2. **Enqueue, batched:** jobs `N..2N` in batches (zerog's `Backend::submit_many`,
//!    apalis' `push_bulk`).
//! 3. **End to end:** the worker starts with W concurrent runs, and the clock stops
//!    when the backend reports all 2N jobs done (not merely started).
//! 4. **Latency:** with the workers idle, jobs enqueued one at a time with a fixed gap;
//!    each job's latency runs from just before its enqueue call to the first line of
//!    its run.
//!
//! No phase overlaps another, so each figure has the machine to itself.

use std::ops::Range;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::args::ChildArgs;
use crate::probe;
use crate::stats::{percentile, rate};

/// An error in a child, reported on its stderr.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a phase may take before the run is abandoned.
const PHASE_DEADLINE: Duration = Duration::from_secs(600);

/// How often the end of the drain is checked in the backend, once every job started.
const FINISH_POLL: Duration = Duration::from_millis(5);

/// One system on one backend, as the workload drives it.
pub trait SystemUnderTest {
    /// Enqueues the no-op job `seq`.
    async fn enqueue_one(&mut self, seq: u64) -> Result<(), BoxError>;

    /// Enqueues the no-op jobs `seqs` as one batch.
    async fn enqueue_batch(&mut self, seqs: Range<u64>) -> Result<(), BoxError>;

    /// Starts the worker with `concurrency` runs at once.
    async fn start_workers(&mut self, concurrency: u32) -> Result<(), BoxError>;

    /// How many jobs the backend records as done.
    async fn finished(&mut self) -> Result<u64, BoxError>;

    /// Stops the worker.
    async fn stop(&mut self) -> Result<(), BoxError>;

    /// The error of a worker that has ended on its own, before [`Self::stop`].
    async fn worker_failure(&mut self) -> Option<BoxError>;
}

/// A running worker: the sender that stops it, and its task.
pub type Running<E> = (oneshot::Sender<()>, JoinHandle<Result<(), E>>);

/// Stops the worker, if it runs, and waits for it to end.
///
/// # Errors
///
/// The worker's own error, or its task's panic.
pub async fn stop_worker<E>(worker: &mut Option<Running<E>>) -> Result<(), BoxError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    if let Some((stop, task)) = worker.take() {
        let _ = stop.send(());
        task.await??;
    }
    Ok(())
}

/// How the worker ended, if it ended on its own (it never should before it is told).
pub async fn worker_failure<E>(worker: &mut Option<Running<E>>) -> Option<BoxError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    if !worker.as_ref()?.1.is_finished() {
        return None;
    }
    let (_, task) = worker.take()?;
    Some(match task.await {
        Ok(Ok(())) => "the worker stopped on its own".into(),
        Ok(Err(error)) => format!("the worker failed: {error}").into(),
        Err(error) => format!("the worker's task failed: {error}").into(),
    })
}

/// What one run of one system measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Jobs per second, enqueued one at a time.
    pub enqueue_one_per_s: f64,
    /// Jobs per second, enqueued in batches.
    pub enqueue_batch_per_s: f64,
    /// Jobs drained in the end-to-end phase.
    pub drained_jobs: u64,
    /// Jobs per second from the worker's start until all were done.
    pub end_to_end_per_s: f64,
    /// Median enqueue→start latency, in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile enqueue→start latency, in milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// Peak resident set size of the child process, in KiB.
    pub peak_rss_kib: Option<u64>,
}

/// Runs the four phases on `system`, then stops it.
///
/// # Errors
///
/// The system's first error, or a phase that passed its deadline.
pub async fn run(system: &mut impl SystemUnderTest, args: &ChildArgs) -> Result<Figures, BoxError> {
    let n = args.jobs;
    let drained = 2 * n;
    probe::install(drained + args.latency_jobs);

    let clock = Instant::now();
    for seq in 0..n {
        system.enqueue_one(seq).await?;
    }
    let enqueue_one_per_s = rate(n, clock.elapsed());

    let clock = Instant::now();
    for batch in batches(n..drained, args.batch) {
        system.enqueue_batch(batch).await?;
    }
    let enqueue_batch_per_s = rate(n, clock.elapsed());

    let clock = Instant::now();
    system.start_workers(args.workers).await?;
    wait_for_starts(system, drained, "the end-to-end phase").await?;
    let deadline = clock + PHASE_DEADLINE;
    loop {
        let done = system.finished().await?;
        if done >= drained {
            break;
        }
        if let Some(failure) = system.worker_failure().await {
            return Err(failure);
        }
        if Instant::now() > deadline {
            return Err(format!("only {done} of {drained} jobs were done in time").into());
        }
        tokio::time::sleep(FINISH_POLL).await;
    }
    let end_to_end_per_s = rate(drained, clock.elapsed());

    let latency_seqs = drained..drained + args.latency_jobs;
    let gap = Duration::from_millis(args.latency_gap_ms);
    let mut next = tokio::time::Instant::now();
    for seq in latency_seqs.clone() {
        tokio::time::sleep_until(next).await;
        next += gap;
        probe::mark_enqueued(seq);
        system.enqueue_one(seq).await?;
    }
    wait_for_starts(system, latency_seqs.end, "the latency phase").await?;
    let latencies = probe::latencies_ms(latency_seqs);

    system.stop().await?;
    Ok(Figures {
        enqueue_one_per_s,
        enqueue_batch_per_s,
        drained_jobs: drained,
        end_to_end_per_s,
        latency_p50_ms: percentile(&latencies, 50.0),
        latency_p99_ms: percentile(&latencies, 99.0),
        peak_rss_kib: probe::peak_rss_kib(),
    })
}

/// Waits until `count` distinct jobs have started.
async fn wait_for_starts(
    system: &mut impl SystemUnderTest,
    count: u64,
    phase: &str,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + PHASE_DEADLINE;
    while probe::started() < count {
        if let Some(failure) = system.worker_failure().await {
            let started = probe::started();
            return Err(
                format!("{phase}: {started} of {count} jobs started, then {failure}").into(),
            );
        }
        if Instant::now() > deadline {
            let started = probe::started();
            return Err(format!("{phase}: only {started} of {count} jobs started in time").into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Splits `seqs` into consecutive ranges of at most `size` (at least 1).
pub fn batches(seqs: Range<u64>, size: u64) -> impl Iterator<Item = Range<u64>> {
    let size = size.max(1);
    let end = seqs.end;
    (seqs.start..end)
        .step_by(usize::try_from(size).unwrap_or(usize::MAX))
        .map(move |start| start..start.saturating_add(size).min(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_the_range_in_order() {
        let all: Vec<_> = batches(10..35, 10).collect();
        assert_eq!(all, [10..20, 20..30, 30..35]);
        let one: Vec<_> = batches(0..3, 5).collect();
        assert_eq!((one.len(), one[0].clone()), (1, 0..3));
        assert_eq!(batches(5..5, 5).count(), 0);
        assert_eq!(batches(0..2, 0).collect::<Vec<_>>(), [0..1, 1..2]);
    }
}
