//! Every transition of a job's life, with no backend.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::spec::tests::SPEC;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn running(attempts: u32) -> JobRecord {
    let mut record = reserved(JobRecord::new_at(&SPEC, json!({"n": 1}), now()), now());
    record.attempts = attempts;
    record
}

fn end(record: JobRecord, end: RunEnd) -> (Transition, RunOutcome) {
    let policy = RetryPolicy::Fixed {
        delay: Duration::from_secs(5),
    };
    run_ended(record, &policy, end, false, Clock::at(now()))
}

fn messages(record: &JobRecord) -> Vec<&str> {
    record.events.iter().map(|e| e.msg.as_str()).collect()
}

#[test]
fn a_reservation_starts_the_run() {
    let mut waiting = JobRecord::new_at(&SPEC, json!({}), now());
    waiting.status = Status::Waiting;
    waiting.run_after = Some(timestamp(now()));
    let record = reserved(waiting, now());
    assert_eq!(record.status, Status::Running);
    assert_eq!(
        record.started_at.as_deref(),
        Some("2026-12-01T10:00:00.000Z")
    );
    assert_eq!(record.run_after, None);
}

#[test]
fn done_finishes_with_the_code_and_data() {
    let (t, outcome) = end(
        running(0),
        RunEnd::Returned(Ok(Outcome::done_with(201, "out"))),
    );
    assert_eq!(outcome, RunOutcome::Done);
    assert_eq!(t.next, Next::Finished);
    assert_eq!(t.record.status, Status::Done);
    assert_eq!(t.record.result_code, 201);
    assert_eq!(t.record.completeness, 1.0);
    assert_eq!(t.record.data, json!("out"));
    assert_eq!(
        t.record.finished_at.as_deref(),
        Some("2026-12-01T10:00:00.000Z")
    );
    assert_eq!(t.record.attempts, 0);
}

#[test]
fn requeue_waits_with_no_attempt_used() {
    let after = Duration::from_secs(90);
    let (t, outcome) = end(
        running(1),
        RunEnd::Returned(Ok(Outcome::requeue_after(after))),
    );
    assert_eq!(outcome, RunOutcome::Requeued);
    let at = now() + chrono::Duration::seconds(90);
    assert_eq!(t.next, Next::RunAt(at));
    assert_eq!(t.record.status, Status::Waiting);
    assert_eq!(t.record.run_after, Some(timestamp(at)));
    assert_eq!(t.record.attempts, 1);
    assert!(t.record.errors.is_empty());
}

#[test]
fn a_retryable_error_counts_an_attempt_and_backs_off() {
    let (t, outcome) = end(running(0), RunEnd::Returned(Err(JobError::retry("flaky"))));
    assert_eq!(outcome, RunOutcome::Retried);
    assert_eq!(t.record.status, Status::Waiting);
    assert_eq!(t.record.attempts, 1);
    assert_eq!(t.next, Next::RunAt(now() + chrono::Duration::seconds(5)));
    assert_eq!(t.record.errors[0].msg, "flaky");
    assert_eq!(t.record.errors[0].error_code, RESULT_FAILED);
    assert_eq!(t.record.errors[0].attempt, Some(1));
    assert_eq!(messages(&t.record), [EVENT_RESTARTING]);
}

#[test]
fn exponential_backoff_takes_the_clock_jitter() {
    let policy = RetryPolicy::Exponential {
        delay: Duration::from_secs(10),
    };
    let clock = Clock {
        now: now(),
        jitter: 0.5,
    };
    let (t, _) = run_ended(
        running(1),
        &policy,
        RunEnd::Returned(Err(JobError::retry("again"))),
        false,
        clock,
    );
    // The second failure: 10 s × 2, plus half of the 10% jitter.
    assert_eq!(t.next, Next::RunAt(now() + chrono::Duration::seconds(21)));
}

#[test]
fn the_last_attempt_fails_the_job() {
    let (t, outcome) = end(running(2), RunEnd::Returned(Err(JobError::retry("again"))));
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(t.next, Next::Finished);
    assert_eq!(t.record.status, Status::Failed);
    assert_eq!(t.record.result_code, RESULT_FAILED);
    assert_eq!(t.record.attempts, 3);
    assert_eq!(messages(&t.record), [EVENT_FINISHED]);
}

#[test]
fn a_fatal_error_fails_now_with_its_code() {
    let error = JobError::fatal_with_code(422, "bad input");
    let (t, outcome) = end(running(0), RunEnd::Returned(Err(error)));
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(t.record.status, Status::Failed);
    assert_eq!(t.record.result_code, 422);
    assert_eq!(t.record.attempts, 1);
    assert_eq!(t.record.errors[0].error_code, 422);
    assert_eq!(messages(&t.record), [EVENT_FINISHED]);
}

#[test]
fn a_panic_and_a_timeout_are_retried() {
    let (t, outcome) = end(running(0), RunEnd::Panicked("oops".into()));
    assert_eq!(outcome, RunOutcome::Retried);
    assert_eq!(t.record.errors[0].msg, "panic: oops");
    let (t, outcome) = end(running(0), RunEnd::TimedOut(Duration::from_secs(30)));
    assert_eq!(outcome, RunOutcome::Retried);
    assert_eq!(t.record.errors[0].msg, "timed out after 30s");
    let (t, _) = end(running(0), RunEnd::TimedOut(Duration::from_millis(1500)));
    assert_eq!(t.record.errors[0].msg, "timed out after 1500ms");
}

#[test]
fn a_cancel_requested_during_the_run_wins_over_its_result() {
    let policy = RetryPolicy::DEFAULT;
    let result = RunEnd::Returned(Ok(Outcome::done_with(200, 7)));
    let (t, outcome) = run_ended(running(0), &policy, result, true, Clock::at(now()));
    assert_eq!(outcome, RunOutcome::Cancelled);
    assert_eq!(t.next, Next::Finished);
    assert_eq!(t.record.status, Status::Cancelled);
    assert_eq!(t.record.result_code, RESULT_KILLED);
    assert_eq!(t.record.data, json!(7), "the data of done_with is kept");
    assert_eq!(messages(&t.record), [EVENT_CANCELLED]);
    assert!(t.record.errors.is_empty(), "a cancel is not an error");
}

#[test]
fn an_expired_lease_counts_an_attempt_and_runs_again_now() {
    let t = lease_expired(running(0), now());
    assert_eq!(t.next, Next::RunAt(now()));
    assert_eq!(t.record.status, Status::Waiting);
    assert_eq!(t.record.attempts, 1);
    assert_eq!(t.record.errors[0].msg, WORKER_DIED_ERROR);
    assert_eq!(messages(&t.record), [WORKER_DIED_EVENT]);
}

#[test]
fn leases_that_keep_expiring_fail_the_job() {
    let t = lease_expired(running(2), now());
    assert_eq!(t.next, Next::Finished);
    assert_eq!(t.record.status, Status::Failed);
    assert_eq!(t.record.result_code, RESULT_FAILED);
    let errors: Vec<_> = t.record.errors.iter().map(|e| e.msg.as_str()).collect();
    assert_eq!(errors, [WORKER_DIED_ERROR, LEASE_EXPIRED_ERROR]);
    assert_eq!(messages(&t.record), [EVENT_FINISHED]);
}

#[test]
fn cancel_ends_a_waiting_job_and_signals_a_running_one() {
    let queued = JobRecord::new_at(&SPEC, json!({}), now());
    let Cancel::Now(t) = cancel(queued, false, now()) else {
        panic!("a queued job is cancelled at once");
    };
    assert_eq!(t.record.status, Status::Cancelled);
    assert_eq!(t.record.result_code, RESULT_KILLED);
    assert_eq!(t.next, Next::Finished);
    assert!(t.record.errors.is_empty());
    assert_eq!(cancel(running(0), false, now()), Cancel::Signal);
}

#[test]
fn kill_ends_a_running_job_with_an_error() {
    let Cancel::Now(t) = cancel(running(1), true, now()) else {
        panic!("a kill ends the job at once");
    };
    assert_eq!(t.record.status, Status::Cancelled);
    assert_eq!(t.record.errors[0].msg, KILLED_ERROR);
    assert_eq!(t.record.errors[0].error_code, RESULT_KILLED);
    assert_eq!(t.record.errors[0].attempt, Some(2));
}

#[test]
fn a_finished_job_cannot_be_cancelled() {
    let (done, _) = end(running(0), RunEnd::Returned(Ok(Outcome::done(200))));
    assert_eq!(
        cancel(done.record, true, now()),
        Cancel::Refused(Status::Done)
    );
}

#[test]
fn a_release_puts_the_run_back_unfinished() {
    let mut record = running(1);
    record.completeness = 0.5;
    let t = released(record, now());
    assert_eq!(t.next, Next::RunAt(now()));
    assert_eq!(t.record.status, Status::Queued);
    assert_eq!(t.record.attempts, 1, "no attempt used");
    assert_eq!(t.record.completeness, 0.5, "progress kept");
    assert_eq!(messages(&t.record), [EVENT_RELEASED]);
}

#[test]
fn a_job_handed_back_unstarted_is_queued_as_it_was() {
    let record = running(1);
    let events = record.events.len();
    let t = handed_back(record, now());
    assert_eq!(t.next, Next::RunAt(now()));
    assert_eq!(t.record.status, Status::Queued);
    assert_eq!(t.record.attempts, 1, "no attempt used");
    assert_eq!(
        t.record.events.len(),
        events,
        "it never ran: nothing to log"
    );
}

#[test]
fn a_retry_queues_a_failed_job_afresh_and_keeps_its_log() {
    let (failed, _) = end(running(2), RunEnd::Returned(Err(JobError::retry("x"))));
    let t = retried(failed.record, now()).expect("a failed job is retryable");
    assert_eq!(t.next, Next::RunAt(now()));
    assert_eq!(t.record.status, Status::Queued);
    assert_eq!(t.record.attempts, 0);
    assert_eq!(t.record.result_code, crate::spec::NO_RESULT);
    assert_eq!(t.record.finished_at, None);
    assert_eq!(t.record.errors.len(), 1, "the log is kept");
    assert_eq!(messages(&t.record), [EVENT_FINISHED, EVENT_RETRIED]);
    assert_eq!(
        retried(running(0), now()),
        Err(NotRetryable(Status::Running))
    );
}

#[test]
fn a_requeue_past_the_end_of_time_waits_until_then() {
    let (t, _) = end(
        running(0),
        RunEnd::Returned(Ok(Outcome::requeue_after(Duration::MAX))),
    );
    assert_eq!(t.next, Next::RunAt(DateTime::<Utc>::MAX_UTC));
}

#[test]
fn a_job_accepted_for_later_waits_with_its_run_after() {
    let record = JobRecord::new_at(&SPEC, json!({}), now());
    let later = now() + chrono::Duration::microseconds(2_000_400);
    let delayed = accepted(&record, later, now());
    assert_eq!(delayed.status, Status::Waiting);
    // Rounded up, never before the time asked for.
    assert_eq!(
        delayed.run_after.as_deref(),
        Some("2026-12-01T10:00:02.001Z")
    );
    assert_eq!(delayed.uuid, record.uuid);
    assert_eq!(delayed.params, record.params);
}

#[test]
fn a_job_accepted_for_now_or_the_past_is_stored_as_given() {
    let record = JobRecord::new_at(&SPEC, json!({}), now());
    for at in [now(), now() - chrono::Duration::hours(1)] {
        let stored = accepted(&record, at, now());
        assert!(matches!(stored, std::borrow::Cow::Borrowed(_)));
        assert_eq!(stored.status, Status::Queued);
        assert_eq!(stored.run_after, None);
    }
}
