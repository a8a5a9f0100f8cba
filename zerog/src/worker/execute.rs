//! One run of one job: spawn it, flush its progress, catch its panic, stop it at its
//! timeout, and write how it ended.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::completer::Completer;
use super::tracker::Tracker;
use crate::backend::{Backend, Reservation, RunSignal, StoreError};
use crate::context::JobContext;
use crate::lifecycle::{self, Clock, Next, RunOutcome};
use crate::metrics;
use crate::registry::{JobType, RunReport};

/// How often a running job's progress is written, at most.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

/// Runs the reserved job to its end and records the end. When `release` turns true
/// (the worker's shutdown deadline passed), the run is stopped and the job put back.
pub(super) async fn execute(
    backend: Backend,
    completer: Completer,
    job_type: JobType,
    reservation: Reservation,
    mut release: watch::Receiver<bool>,
) {
    let Reservation { record, lease, .. } = reservation;
    let uuid = record.uuid;
    let spec = job_type.spec();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let tracker = Arc::new(Tracker::new(record.clone(), backend.clone(), lease));
    let context = JobContext::new(&record, tracker.progress(), tracker.clone(), cancel_rx);
    let attempt = record.attempts + 1;
    tracing::debug!(job.uuid = %uuid, job.job_type = spec.job_type, attempt, "run starts");

    let started = tokio::time::Instant::now();
    let mut handle = tokio::spawn(job_type.run(record.params.clone(), context));
    let ended = watch_run(
        &mut handle,
        &tracker,
        spec.timeout,
        &cancel_tx,
        &mut release,
    )
    .await;
    let mut record = tracker.take_record().await;
    let end = match ended {
        Watched::Returned(RunReport { params, result }) => {
            if let Some(params) = params {
                record.params = params;
            }
            lifecycle::RunEnd::Returned(result)
        }
        Watched::Panicked(message) => lifecycle::RunEnd::Panicked(message),
        Watched::TimedOut(limit) => lifecycle::RunEnd::TimedOut(limit),
        Watched::LeaseLost => {
            handle.abort();
            tracing::warn!(job.uuid = %uuid, "lease lost (killed, or taken over after a stall); the run is dropped");
            return;
        }
        Watched::Released => {
            handle.abort();
            let transition = lifecycle::released(record, Utc::now());
            match completer
                .complete(tracker.lease().clone(), transition)
                .await
            {
                Ok(()) => tracing::info!(job.uuid = %uuid, "released unfinished at shutdown"),
                Err(error) => {
                    tracing::error!(job.uuid = %uuid, %error, "could not release at shutdown; the job runs again when its lease expires");
                }
            }
            return;
        }
    };
    let cancelled = *cancel_tx.borrow();
    let (transition, outcome) =
        lifecycle::run_ended(record, &spec.retry, end, cancelled, Clock::now());
    match (outcome, transition.next) {
        (RunOutcome::Cancelled, _) => tracing::info!(job.uuid = %uuid, "job cancelled by user"),
        (_, Next::Finished) => {
            let record = &transition.record;
            tracing::info!(job.uuid = %uuid, status = %record.status, result_code = record.result_code, "job finished");
        }
        (_, Next::RunAt(_)) => {}
    }
    metrics::observe_run(spec.job_type, started.elapsed(), outcome);
    // The run is over, and its slot free, once its end is handed over: the completer
    // writes it, or logs why not, and the job keeps its lease until then.
    completer
        .hand_over(tracker.lease().clone(), transition)
        .await;
}

/// How the watch over a run ended.
enum Watched {
    Returned(RunReport),
    Panicked(String),
    TimedOut(Duration),
    LeaseLost,
    Released,
}

/// Waits for the run while flushing its progress, renewing its lease and listening
/// for a cancel, a kill or the worker's release.
async fn watch_run(
    handle: &mut JoinHandle<RunReport>,
    tracker: &Tracker,
    timeout: Option<Duration>,
    cancel: &watch::Sender<bool>,
    release: &mut watch::Receiver<bool>,
) -> Watched {
    let lease = tracker.lease().duration;
    let deadline = timeout.map(|limit| (tokio::time::Instant::now() + limit, limit));
    // The first tick comes a period in: a short run then costs no write and no read.
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + FLUSH_INTERVAL, FLUSH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Renew the lease well before it runs out, even if the job reports nothing.
    let heartbeat_every = lease / 3;
    let mut last_write = tokio::time::Instant::now();
    loop {
        let timed_out = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            joined = &mut *handle => {
                return match joined {
                    Ok(report) => Watched::Returned(report),
                    Err(error) if error.is_panic() => Watched::Panicked(panic_message(error.into_panic())),
                    Err(_) => Watched::Panicked("the run was aborted".to_owned()),
                };
            }
            () = timed_out => {
                handle.abort();
                return Watched::TimedOut(deadline.map_or(Duration::ZERO, |(_, limit)| limit));
            }
            () = released(release) => return Watched::Released,
            _ = ticker.tick() => {
                let heartbeat = last_write.elapsed() >= heartbeat_every;
                match tracker.flush_or_heartbeat(heartbeat).await {
                    Ok(()) => last_write = tokio::time::Instant::now(),
                    Err(StoreError::LeaseLost(_)) => return Watched::LeaseLost,
                    Err(error) => tracing::warn!(%error, "progress write failed; will retry"),
                }
                match tracker.signal().await {
                    Ok(RunSignal::Cancel) => {
                        cancel.send_if_modified(|cancelled| !std::mem::replace(cancelled, true));
                    }
                    Ok(RunSignal::Continue) => {}
                    Ok(RunSignal::LeaseLost) => return Watched::LeaseLost,
                    Err(error) => tracing::warn!(%error, "reading the run's signal failed; will retry"),
                }
            }
        }
    }
}

/// Completes when the worker releases its runs; never, if the worker is gone.
async fn released(release: &mut watch::Receiver<bool>) {
    loop {
        if *release.borrow_and_update() {
            return;
        }
        if release.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    }
}
