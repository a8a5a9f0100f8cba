//! What `GET /jobs` reads on every backend, where a store of millions of jobs must not
//! be read whole: listings with any mix of filters, paged by cursor.

use zerog::backend::ListQuery;
use zerog::{JobRecord, Status};

use crate::{Ask, Ctx, done, enqueue, finish, reserve_within};

/// Runs the next due job that `ask` takes and ends it `done` with `code`, or `failed`
/// when the code is 500.
async fn run_to_end(ctx: &Ctx, ask: &Ask, code: i64) -> JobRecord {
    let taken = reserve_within(ctx, ask, "a due job").await;
    let mut end = done(taken.record, code);
    if code == 500 {
        end.status = Status::Failed;
    }
    ctx.backend
        .settle_run(&taken.lease, &finish(end.clone()))
        .await
        .unwrap();
    end
}

/// Every job that `query` lists, a page of two at a time.
async fn paged(ctx: &Ctx, mut query: ListQuery) -> Vec<uuid::Uuid> {
    let mut found = Vec::new();
    for _ in 0..50 {
        let page = ctx.backend.list(&query).await.unwrap();
        assert!(page.jobs.len() <= query.limit as usize);
        found.extend(page.jobs.iter().map(|job| job.uuid));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return found,
        }
    }
    panic!("the listing never reached its last page");
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
                    paged(&ctx, query).await,
                    expected,
                    "status {status:?}, type {job_type:?}, queue {queue:?}"
                );
            }
        }
    }
}
