//! Delayed jobs and a user's retry, as seen through the store.

use chrono::Utc;
use zerog::backend::StoreError;
use zerog::lifecycle::{self, Clock, EVENT_RETRIED, RunEnd};
use zerog::{JobError, Status};

use super::{Ask, Ctx, SPEC, enqueue, get, record, reserve, reserve_within, timestamp};

pub async fn a_delayed_job_waits_until_its_time(ctx: Ctx) {
    let ask = Ask::new(&["alpha"], &["a"]);
    let job = record("a", "alpha");
    let run_at = Utc::now() + chrono::Duration::milliseconds(1500);
    ctx.backend.enqueue(&job, 1, run_at).await.unwrap();
    let batch: Vec<_> = (0..2).map(|_| (record("a", "alpha"), 1)).collect();
    ctx.backend.enqueue_many(&batch, run_at).await.unwrap();

    // The records say so: waiting, with the time they may start.
    let expected = timestamp(run_at + chrono::Duration::nanoseconds(999_999));
    for uuid in std::iter::once(job.uuid).chain(batch.iter().map(|(job, _)| job.uuid)) {
        let stored = ctx.backend.get(uuid).await.unwrap().expect("stored");
        assert_eq!(stored.status, Status::Waiting, "{uuid}");
        assert_eq!(stored.run_after.as_deref(), Some(expected.as_str()));
    }
    assert!(
        reserve(&ctx, &ask).await.is_none(),
        "reserved before its time"
    );

    let mut taken = Vec::new();
    for _ in 0..3 {
        let reservation = reserve_within(&ctx, &ask, "the delayed jobs to become due").await;
        assert!(Utc::now() >= run_at, "reserved before its run_at");
        assert_eq!(reservation.record.status, Status::Running);
        assert_eq!(reservation.record.run_after, None);
        taken.push(reservation.record.uuid);
    }
    taken.sort();
    let mut all = vec![job.uuid, batch[0].0.uuid, batch[1].0.uuid];
    all.sort();
    assert_eq!(taken, all);
}

pub async fn a_retried_job_runs_again_with_its_attempts_reset(ctx: Ctx) {
    let ask = Ask::new(&["alpha"], &["a"]);
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let taken = reserve(&ctx, &ask).await.expect("the job is due");
    let end = RunEnd::Returned(Err(JobError::fatal("the input is broken")));
    let (failed, _) = lifecycle::run_ended(
        taken.record.clone(),
        &SPEC.retry,
        end,
        false,
        Clock::at(Utc::now()),
    );
    ctx.backend.settle_run(&taken.lease, &failed).await.unwrap();
    assert_eq!(get(&ctx, &job).await.status, Status::Failed);
    assert_eq!(get(&ctx, &job).await.attempts, 1);

    let retried = ctx.backend.retry(job.uuid).await.unwrap();
    assert_eq!(retried.status, Status::Queued);
    assert_eq!(retried.attempts, 0);
    assert_eq!(retried.finished_at, None);
    assert_eq!(
        get(&ctx, &job).await,
        retried,
        "the retry is what is stored"
    );
    let events: Vec<&str> = retried.events.iter().map(|e| e.msg.as_str()).collect();
    assert_eq!(events.last(), Some(&EVENT_RETRIED), "{events:?}");
    assert_eq!(retried.errors.len(), 1, "the log is kept");

    let again = reserve_within(&ctx, &ask, "the retried job to be reserved again").await;
    assert_eq!(again.record.uuid, job.uuid);
    assert_eq!(again.record.attempts, 0);
    assert_eq!(again.record.status, Status::Running);

    // Running, it is not retryable; nor is an unknown job.
    let error = ctx.backend.retry(job.uuid).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::NotRetryable {
                status: Status::Running,
                ..
            }
        ),
        "{error}"
    );
    let unknown = record("a", "alpha").uuid;
    let error = ctx.backend.retry(unknown).await.unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound(uuid) if uuid == unknown),
        "{error}"
    );

    // A cancelled job comes back too, and a retry of a retried job is refused.
    let queued = enqueue(&ctx, "b", "beta", 1).await;
    ctx.backend.cancel(queued.uuid, false).await.unwrap();
    let retried = ctx.backend.retry(queued.uuid).await.unwrap();
    assert_eq!(retried.status, Status::Queued);
    let error = ctx.backend.retry(queued.uuid).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::NotRetryable {
                status: Status::Queued,
                ..
            }
        ),
        "{error}"
    );
    let beta = Ask::new(&["beta"], &["b"]);
    let again = reserve_within(&ctx, &beta, "the retried cancelled job to be reserved").await;
    assert_eq!(again.record.uuid, queued.uuid);
}
