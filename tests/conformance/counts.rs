//! What `/metrics`, `/queues` and `GET /jobs` read on every backend, where a store of
//! millions of jobs must not be read whole: unfinished jobs counted exactly, finished
//! ones exactly up to a cap and marked past it, and listings with any mix of filters
//! paged by cursor.

use std::collections::BTreeMap;

use zerog::backend::{Counted, ListQuery, Stats};
use zerog::{JobRecord, Status};

use crate::{Ask, Ctx, all_pages, enqueue, reserve_within, run_to_end};

fn count(stats: &Stats, status: Status, job_type: &str) -> u64 {
    stats
        .jobs
        .get(&(status, job_type.to_owned()))
        .copied()
        .unwrap_or(0)
}

pub async fn stats_count_finished_jobs_exactly_up_to_the_cap(ctx: Ctx) {
    let alpha = Ask::new(&["alpha"], &["a", "b"]);
    for job_type in ["a", "a", "a", "a", "b"] {
        enqueue(&ctx, job_type, "alpha", 1).await;
    }
    for _ in 0..5 {
        run_to_end(&ctx, &alpha, 200).await;
    }
    enqueue(&ctx, "a", "alpha", 1).await;
    run_to_end(&ctx, &alpha, 500).await;
    for _ in 0..3 {
        enqueue(&ctx, "a", "alpha", 1).await;
    }
    enqueue(&ctx, "c", "beta", 1).await;
    reserve_within(&ctx, &Ask::new(&["beta"], &["c"]), "the job of beta").await;

    let truth = [
        (Status::Done, "a", 4),
        (Status::Done, "b", 1),
        (Status::Failed, "a", 1),
        (Status::Queued, "a", 3),
        (Status::Running, "c", 1),
    ];
    let exact = ctx.backend.stats_capped_at(100).await.unwrap();
    assert!(exact.counted.is_empty(), "{:?}", exact.counted);
    let expected: BTreeMap<(Status, String), u64> = truth
        .iter()
        .map(|&(status, job_type, n)| ((status, job_type.to_owned()), n))
        .collect();
    let found: BTreeMap<_, _> = exact
        .jobs
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(key, n)| (key.clone(), *n))
        .collect();
    assert_eq!(found, expected, "below the cap every count is exact");

    // Past the cap of 2: the five done jobs are not counted one by one; the one failed
    // job, the cancelled (none), the queued and the running ones still are.
    let capped = ctx.backend.stats_capped_at(2).await.unwrap();
    for status in [
        Status::Failed,
        Status::Cancelled,
        Status::Queued,
        Status::Running,
    ] {
        assert_eq!(capped.counted(status), Counted::Exact, "{status}");
    }
    assert_eq!(count(&capped, Status::Failed, "a"), 1);
    assert_eq!(
        count(&capped, Status::Queued, "a"),
        3,
        "unfinished jobs past the cap"
    );
    assert_eq!(count(&capped, Status::Running, "c"), 1);
    let done_a = count(&capped, Status::Done, "a");
    let done_b = count(&capped, Status::Done, "b");
    match capped.counted(Status::Done) {
        // A store that keeps its counts as jobs change (Redis) has no need to stop.
        Counted::Exact => assert_eq!((done_a, done_b), (4, 1)),
        Counted::AtLeast => {
            assert!(
                done_a <= 4 && done_b <= 1,
                "lower bounds: {done_a}, {done_b}"
            );
            assert_eq!(done_a + done_b, 3, "the newest cap + 1 jobs, counted");
        }
        Counted::Estimated => assert!(
            done_a + done_b >= 3,
            "an estimate is at least what was seen: {done_a} + {done_b}"
        ),
        other => panic!("unexpected {other:?}"),
    }
    // Queue backlogs are never capped.
    for stats in [&exact, &capped] {
        let alpha = &stats.queues["alpha"];
        assert_eq!((alpha.due, alpha.running, alpha.waiting), (3, 0, 0));
        assert!(alpha.oldest_due_age.is_some());
        let beta = &stats.queues["beta"];
        assert_eq!((beta.due, beta.running), (0, 1));
        assert_eq!(stats.queues.len(), 2, "only queues with unfinished jobs");
    }
}

pub async fn listing_pages_through_every_mix_of_filters(ctx: Ctx) {
    let ask = Ask::new(&["alpha", "beta"], &["a", "b"]);
    let mut jobs = Vec::new();
    for (job_type, queue) in [
        ("a", "alpha"),
        ("b", "alpha"),
        ("a", "beta"),
        ("b", "beta"),
        ("a", "alpha"),
        ("a", "beta"),
    ] {
        jobs.push(enqueue(&ctx, job_type, queue, 1).await);
    }
    // The three oldest finish: a backlog of newer queued jobs sits above them.
    let mut ended = Vec::new();
    for _ in 0..3 {
        ended.push(run_to_end(&ctx, &ask, 200).await.uuid);
    }
    for (job_type, queue) in [("b", "alpha"), ("a", "alpha"), ("b", "beta")] {
        jobs.push(enqueue(&ctx, job_type, queue, 1).await);
    }
    let status_of = |job: &JobRecord| {
        if ended.contains(&job.uuid) {
            Status::Done
        } else {
            Status::Queued
        }
    };
    for status in [None, Some(Status::Queued), Some(Status::Done)] {
        for job_type in [None, Some("a")] {
            for queue in [None, Some("beta")] {
                let expected: Vec<_> = jobs
                    .iter()
                    .rev()
                    .filter(|job| status.is_none_or(|status| status_of(job) == status))
                    .filter(|job| job_type.is_none_or(|t| job.job_type == t))
                    .filter(|job| queue.is_none_or(|q| job.queue == q))
                    .map(|job| job.uuid)
                    .collect();
                let query = ListQuery {
                    status,
                    job_type: job_type.map(str::to_owned),
                    queue: queue.map(str::to_owned),
                    limit: 2,
                    ..ListQuery::default()
                };
                assert_eq!(
                    all_pages(&ctx, query).await,
                    expected,
                    "status {status:?}, type {job_type:?}, queue {queue:?}"
                );
            }
        }
    }
}
