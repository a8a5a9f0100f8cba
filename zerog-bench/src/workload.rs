//! The workload every system runs, phase by phase, and the figures it yields.
//!
//! 1. **Enqueue, one at a time:** jobs `0..N`, each enqueue awaited before the next.
//! 2. **Enqueue, batched:** jobs `N..2N` in batches (zerog's `Backend::submit_many`,
//!    apalis' `push_bulk`).
//! 3. **End to end:** the worker starts with W concurrent runs, and the clock stops
//!    when the backend reports all 2N jobs done (not merely started).
//! 4. **Latency:** with the workers idle, jobs enqueued one at a time with a fixed gap;
//!    each job's latency runs from just before its enqueue call to the first line of
//!    its run (p50, p95, p99).
//!
//! No phase overlaps another, so each figure has the machine to itself.
//!
//! [`run_growth`] is the growth phase, run by a child of its own on fresh storage:
//! `F×2N` jobs enqueued in batches, then drained as in phase 3. A drain that passes
//! the deadline is reported as such, with how far it got, rather than failing the run;
//! the harness turns a growth child that fails into [`GrowthFigures::failed`].

use std::ops::Range;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::args::ChildArgs;
use crate::http_load::HttpFigures;
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
    /// 95th percentile enqueue→start latency, in milliseconds.
    #[serde(default)]
    pub latency_p95_ms: Option<f64>,
    /// 99th percentile enqueue→start latency, in milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// Peak resident set size of the child process, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// The HTTP phase's figures (zerog only), from a child of its own.
    #[serde(default)]
    pub http: Option<HttpFigures>,
    /// The growth runs, from a child each, in the order of `--growth`.
    #[serde(default)]
    pub growth: Vec<GrowthFigures>,
}

/// What one growth run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrowthFigures {
    /// The factor F: `F×2N` jobs were queued.
    pub factor: u64,
    /// Jobs queued and drained.
    pub jobs: u64,
    /// Jobs per second from the worker's start until all were done; `None` when the
    /// drain did not finish.
    pub end_to_end_per_s: Option<f64>,
    /// Why the drain has no figure, if it has none: the deadline passed first, or
    /// the run failed (apalis-redis, for one, fails to fetch from a large backlog).
    pub unfinished: Option<String>,
}

impl GrowthFigures {
    /// The figures of a growth run of `factor × jobs` jobs that failed with `error`.
    pub fn failed(factor: u64, jobs: u64, error: &BoxError) -> Self {
        GrowthFigures {
            factor,
            jobs,
            end_to_end_per_s: None,
            unfinished: Some(format!("the growth phase ×{factor} failed: {error}")),
        }
    }
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
    enqueue_batched(system, n..drained, args.batch).await?;
    let enqueue_batch_per_s = rate(n, clock.elapsed());

    let end_to_end_per_s =
        match drain(system, args.workers, drained, "the end-to-end phase").await? {
            Drain::Done(rate) => rate,
            Drain::Late(why) => return Err(why.into()),
        };

    let latency_seqs = drained..drained + args.latency_jobs;
    let gap = Duration::from_millis(args.latency_gap_ms);
    let mut next = tokio::time::Instant::now();
    for seq in latency_seqs.clone() {
        tokio::time::sleep_until(next).await;
        next += gap;
        probe::mark_enqueued(seq);
        system.enqueue_one(seq).await?;
    }
    let deadline = Instant::now() + PHASE_DEADLINE;
    if let Some(why) =
        wait_for_starts(system, latency_seqs.end, "the latency phase", deadline).await?
    {
        return Err(why.into());
    }
    let latencies = probe::latencies_ms(latency_seqs);

    system.stop().await?;
    Ok(Figures {
        enqueue_one_per_s,
        enqueue_batch_per_s,
        drained_jobs: drained,
        end_to_end_per_s,
        latency_p50_ms: percentile(&latencies, 50.0),
        latency_p95_ms: percentile(&latencies, 95.0),
        latency_p99_ms: percentile(&latencies, 99.0),
        peak_rss_kib: probe::peak_rss_kib(),
        http: None,
        growth: Vec::new(),
    })
}

/// Runs the growth phase on `system`: `factor × 2N` jobs enqueued in batches, then
/// drained by W concurrent runs, then stops it.
///
/// # Errors
///
/// The system's first error. A drain that passes its deadline is not an error: its
/// figures say so.
pub async fn run_growth(
    system: &mut impl SystemUnderTest,
    args: &ChildArgs,
) -> Result<GrowthFigures, BoxError> {
    let jobs = args.factor.saturating_mul(2 * args.jobs);
    probe::install(jobs);
    enqueue_batched(system, 0..jobs, args.batch).await?;
    let phase = format!("the growth phase ×{}", args.factor);
    let drained = drain(system, args.workers, jobs, &phase).await?;
    system.stop().await?;
    let (end_to_end_per_s, unfinished) = match drained {
        Drain::Done(rate) => (Some(rate), None),
        Drain::Late(why) => (None, Some(why)),
    };
    Ok(GrowthFigures {
        factor: args.factor,
        jobs,
        end_to_end_per_s,
        unfinished,
    })
}

/// Enqueues `seqs` in batches of `size`.
async fn enqueue_batched(
    system: &mut impl SystemUnderTest,
    seqs: Range<u64>,
    size: u64,
) -> Result<(), BoxError> {
    for batch in batches(seqs, size) {
        system.enqueue_batch(batch).await?;
    }
    Ok(())
}

/// How a drain ended.
pub enum Drain {
    /// Every job was done; jobs per second from the worker's start.
    Done(f64),
    /// The deadline passed first: how far the drain got.
    Late(String),
}

/// Starts the worker with `workers` concurrent runs and waits until the backend
/// reports `total` jobs done (not merely started). The jobs are `0..total` of the
/// probe, which must have room for them.
///
/// # Errors
///
/// The system's error, or the worker's if it ended on its own.
pub async fn drain(
    system: &mut impl SystemUnderTest,
    workers: u32,
    total: u64,
    phase: &str,
) -> Result<Drain, BoxError> {
    let clock = Instant::now();
    let deadline = clock + PHASE_DEADLINE;
    system.start_workers(workers).await?;
    if let Some(why) = wait_for_starts(system, total, phase, deadline).await? {
        return Ok(Drain::Late(why));
    }
    loop {
        let done = system.finished().await?;
        if done >= total {
            break;
        }
        if let Some(failure) = system.worker_failure().await {
            return Err(failure);
        }
        if Instant::now() > deadline {
            return Ok(Drain::Late(format!(
                "{phase}: only {done} of {total} jobs were done within {} s",
                PHASE_DEADLINE.as_secs()
            )));
        }
        tokio::time::sleep(FINISH_POLL).await;
    }
    Ok(Drain::Done(rate(total, clock.elapsed())))
}

/// Waits until `count` distinct jobs have started, or `deadline`; what the deadline
/// cut short, if it passed.
async fn wait_for_starts(
    system: &mut impl SystemUnderTest,
    count: u64,
    phase: &str,
    deadline: Instant,
) -> Result<Option<String>, BoxError> {
    while probe::started() < count {
        if let Some(failure) = system.worker_failure().await {
            let started = probe::started();
            return Err(
                format!("{phase}: {started} of {count} jobs started, then {failure}").into(),
            );
        }
        if Instant::now() > deadline {
            let started = probe::started();
            return Ok(Some(format!(
                "{phase}: only {started} of {count} jobs started within {} s",
                PHASE_DEADLINE.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(None)
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

    #[test]
    fn a_failed_growth_run_has_no_figure_and_says_why() {
        let error: BoxError = "the apalis child (growth phase) failed: exit status: 1".into();
        let figures = GrowthFigures::failed(10, 60_000, &error);
        assert_eq!((figures.factor, figures.jobs), (10, 60_000));
        assert_eq!(figures.end_to_end_per_s, None);
        let why = figures.unfinished.unwrap();
        assert!(
            why.starts_with("the growth phase ×10 failed: the apalis child"),
            "{why}"
        );
    }
}
