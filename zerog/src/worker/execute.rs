//! One run of one job: spawn it, flush its progress, catch its panic, stop it at its
//! timeout, and write how it ended.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backend::{Backend, Reservation, RunSignal, StoreError, mark_cancelled};
use crate::context::{JobContext, Tracker};
use crate::job::{JobError, Outcome, RESULT_FAILED};
use crate::metrics::{self, RunOutcome};
use crate::record::{EVENT_FINISHED, EVENT_RESTARTING, JobRecord, Status, timestamp};
use crate::registry::{JobType, RunReport};

/// How often a running job's progress is written, at most.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

/// Runs the reserved job to its end and records the end. When `release` turns true
/// (the worker's shutdown deadline passed), the run is stopped and the job put back.
pub(crate) async fn execute(
    backend: Backend,
    job_type: JobType,
    reservation: Reservation,
    mut release: watch::Receiver<bool>,
) {
    let Reservation { record, lease, .. } = reservation;
    let uuid = record.uuid;
    let spec = job_type.spec();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let tracker = Arc::new(Tracker::new(record.clone(), backend.clone(), lease.clone()));
    let context = JobContext::new(&record, tracker.clone(), cancel_rx);
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
    let result = match ended {
        RunEnd::Returned(RunReport { params, result, .. }) => {
            if let Some(params) = params {
                record.params = params;
            }
            result
        }
        RunEnd::Panicked(message) => Err(JobError::retry(format!("panic: {message}"))),
        RunEnd::TimedOut(limit) => Err(JobError::retry(format!(
            "timed out after {}",
            humanize(limit)
        ))),
        RunEnd::LeaseLost => {
            handle.abort();
            tracing::warn!(job.uuid = %uuid, "lease lost (killed, or taken over after a stall); the run is dropped");
            return;
        }
        RunEnd::Released => {
            handle.abort();
            release_unfinished(&backend, &mut record, &tracker).await;
            return;
        }
    };
    let cancelled = *cancel_tx.borrow();
    if cancelled {
        // Cancel wins over whatever the run returned once it was asked to stop.
        if let Ok(Outcome::Done { data, .. }) = result {
            record.data = data;
        }
        mark_cancelled(&mut record, false);
        tracing::info!(job.uuid = %uuid, "job cancelled by user");
        metrics::observe_run(spec.job_type, started.elapsed(), RunOutcome::Cancelled);
        let written = with_retries(|| backend.queue().ack(tracker.lease(), &record)).await;
        if let Err(error) = written {
            tracing::error!(job.uuid = %uuid, %error, "could not record a cancel");
        }
        return;
    }
    let outcome = finish(&backend, job_type, &mut record, attempt, result, &tracker).await;
    metrics::observe_run(spec.job_type, started.elapsed(), outcome);
}

enum RunEnd {
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
) -> RunEnd {
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
                    Ok(report) => RunEnd::Returned(report),
                    Err(error) if error.is_panic() => RunEnd::Panicked(panic_message(error.into_panic())),
                    Err(_) => RunEnd::Panicked("the run was aborted".to_owned()),
                };
            }
            () = timed_out => {
                handle.abort();
                return RunEnd::TimedOut(deadline.map_or(Duration::ZERO, |(_, limit)| limit));
            }
            () = released(release) => return RunEnd::Released,
            _ = ticker.tick() => {
                let heartbeat = last_write.elapsed() >= heartbeat_every;
                match tracker.flush_or_heartbeat(heartbeat).await {
                    Ok(()) => last_write = tokio::time::Instant::now(),
                    Err(StoreError::LeaseLost(_)) => return RunEnd::LeaseLost,
                    Err(error) => tracing::warn!(%error, "progress write failed; will retry"),
                }
                match tracker.signal().await {
                    Ok(RunSignal::Cancel) => {
                        cancel.send_if_modified(|cancelled| !std::mem::replace(cancelled, true));
                    }
                    Ok(RunSignal::Continue) => {}
                    Err(StoreError::LeaseLost(_)) => return RunEnd::LeaseLost,
                    Err(error) => tracing::warn!(%error, "reading the run's signal failed; will retry"),
                }
            }
        }
    }
}

/// Applies how the run ended to the record and writes it, with the queue change;
/// how the run counts in the metrics.
async fn finish(
    backend: &Backend,
    job_type: JobType,
    record: &mut JobRecord,
    attempt: u32,
    result: Result<Outcome, JobError>,
    tracker: &Tracker,
) -> RunOutcome {
    let requeued = matches!(result, Ok(Outcome::Requeue { .. }));
    let now = Utc::now();
    record.touch();
    let run_after = match result {
        Ok(Outcome::Done { code, data }) => {
            record.status = Status::Done;
            record.result_code = code;
            record.completeness = 1.0;
            record.data = data;
            None
        }
        Ok(Outcome::Requeue { after }) => Some(after),
        Err(JobError::Fatal { code, message }) => {
            record.attempts = attempt;
            record.push_error(code, message, Some(attempt));
            record.push_event(EVENT_FINISHED);
            record.status = Status::Failed;
            record.result_code = code;
            None
        }
        Err(JobError::Retry(message)) => {
            record.attempts = attempt;
            record.push_error(RESULT_FAILED, message, Some(attempt));
            if record.attempts >= record.max_attempts {
                record.push_event(EVENT_FINISHED);
                record.status = Status::Failed;
                record.result_code = RESULT_FAILED;
                None
            } else {
                record.push_event(EVENT_RESTARTING);
                Some(job_type.spec().retry.delay_after(record.attempts))
            }
        }
    };
    let lease = tracker.lease();
    let written = match run_after {
        None => {
            record.finished_at = Some(timestamp(now));
            record.run_after = None;
            tracing::info!(job.uuid = %record.uuid, status = %record.status, result_code = record.result_code, "job finished");
            with_retries(|| backend.queue().ack(lease, record)).await
        }
        Some(after) => {
            let run_at = now + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
            record.status = Status::Waiting;
            record.run_after = Some(timestamp(run_at));
            with_retries(|| backend.queue().release_after(lease, record, run_at)).await
        }
    };
    if let Err(error) = written {
        // The job keeps its lease, so it runs again once the lease expires: nothing is lost.
        tracing::error!(job.uuid = %record.uuid, %error, "could not record the end of a run");
    }
    match record.status {
        Status::Done => RunOutcome::Done,
        Status::Waiting if requeued => RunOutcome::Requeued,
        Status::Waiting => RunOutcome::Retried,
        _ => RunOutcome::Failed,
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

/// Puts a run stopped at shutdown back in the queue, to run now, with no attempt used.
async fn release_unfinished(backend: &Backend, record: &mut JobRecord, tracker: &Tracker) {
    let now = Utc::now();
    record.touch();
    record.push_event("Worker stopping - released unfinished");
    record.status = Status::Queued;
    record.run_after = None;
    let lease = tracker.lease();
    match with_retries(|| backend.queue().release_after(lease, record, now)).await {
        Ok(()) => tracing::info!(job.uuid = %record.uuid, "released unfinished at shutdown"),
        Err(error) => {
            tracing::error!(job.uuid = %record.uuid, %error, "could not release at shutdown; the job runs again when its lease expires");
        }
    }
}

/// Retries a write through passing backend failures, for up to about a minute. A lost
/// lease is final.
async fn with_retries<F, Fut>(mut write: F) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    let mut delay = Duration::from_millis(100);
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match write().await {
            Err(StoreError::Backend(error)) if tokio::time::Instant::now() < give_up => {
                tracing::warn!(%error, "write failed; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            result => return result,
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

fn humanize(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}
