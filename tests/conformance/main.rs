//! The backend conformance suite: every behaviour of the `Store` and `Queue` traits
//! that the worker, the API and the operators rely on, written once and run against
//! every backend with the same assertions.
//!
//! One test binary holds the suite and a module per backend (`sqlite`, `postgres`,
//! `redis`, `pg_beanstalkd`), so the suite's tests of each backend have names of their
//! own, like `sqlite::reserve_waits_for_run_at`. A backend's module opens its backend
//! and lists the suite:
//!
//! ```ignore
//! async fn open(test: &'static str) -> Option<crate::Subject> { ... }
//!
//! conformance_suite!(open);
//! ```
//!
//! `conformance_suite!` makes one `#[tokio::test]` per behaviour. Each opens a fresh,
//! isolated backend (its own schema, key prefix or tube prefix), runs the case on a
//! task of its own, and removes what it made whether the case passed or not.

#![allow(dead_code)]

mod cases;
mod client;
mod counts;
mod dashboard;
mod leases;
mod schedules;
mod scheduling;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use zerog::backend::{Backend, ListQuery, Reservation, ReserveRequest};
use zerog::lifecycle::{self, Clock, Next, RunEnd, Transition};
use zerog::{JobRecord, JobSpec, Outcome, RetryPolicy, Status};
use zerog_tests::services::Cleanup;
use zerog_tests::wait_for;

pub(crate) use cases::*;
pub(crate) use client::*;
pub(crate) use counts::*;
pub(crate) use dashboard::*;
pub(crate) use leases::*;
pub(crate) use schedules::*;
pub(crate) use scheduling::*;

/// What a backend can and cannot do, where backends differ by design.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Jobs are taken in order of due time, then insertion; otherwise only in order of
    /// insertion (beanstalkd: by the order of puts, a delayed job joining when ready).
    pub orders_by_run_at: bool,
    /// `Queue::wait_for_jobs` wakes on an enqueue, in any process; otherwise it sleeps.
    pub wakes_on_enqueue: bool,
    /// `Queue::enqueue_many` stores the whole batch or none of it; otherwise the jobs
    /// before a failure stay.
    pub atomic_batches: bool,
}

/// A backend under test.
pub struct Subject {
    /// The backend, fresh and isolated.
    pub backend: Backend,
    /// What it can do.
    pub caps: Caps,
    /// Removes what the test made.
    pub cleanup: Option<Cleanup>,
}

/// What a case gets.
#[derive(Clone)]
pub struct Ctx {
    /// The backend.
    pub backend: Backend,
    /// What it can do.
    pub caps: Caps,
}

/// Opens a subject, runs `case` on its own task, cleans up, and passes a failure on.
pub async fn run<O, OF, C, CF>(test: &'static str, open: O, case: C)
where
    O: FnOnce(&'static str) -> OF,
    OF: Future<Output = Option<Subject>>,
    C: FnOnce(Ctx) -> CF,
    CF: Future<Output = ()> + Send + 'static,
{
    let Some(Subject {
        backend,
        caps,
        cleanup,
    }) = open(test).await
    else {
        return;
    };
    let outcome = tokio::spawn(case(Ctx { backend, caps })).await;
    // The backend is gone with the case's task, and its connections with it.
    if let Some(cleanup) = cleanup {
        cleanup.await;
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// One `#[tokio::test]` per case of the suite, each opening its backend with `$open`.
macro_rules! conformance_suite {
    ($open:path) => {
        conformance_suite!(@cases $open;
            enqueue_stores_the_record_and_refuses_duplicates,
            enqueue_many_stores_a_batch,
            reserve_takes_the_oldest_due_job,
            reserve_takes_the_most_urgent_due_job_first,
            reserve_waits_for_run_at,
            reserve_serves_only_the_requested_queues_and_types,
            reserve_takes_only_what_fits_the_free_capacity,
            reserve_ahead_takes_no_job_costlier_than_one_may_be,
            queue_limits_cap_running_jobs_across_workers,
            reserve_many_takes_a_batch_that_fits,
            ack_finishes_the_job_for_good,
            a_run_whose_text_holds_nul_is_written,
            a_paused_queue_keeps_its_jobs_until_it_is_resumed,
            concurrent_unique_inserts_make_one_job,
            ends_of_runs_are_written_together_each_fenced_on_its_own,
            release_after_requeues_with_the_record_as_written,
            retries_and_backoff_as_seen_through_the_store,
            progress_and_log_persist_while_running,
            expired_leases_are_recovered_with_an_attempt_counted,
            a_job_whose_leases_keep_expiring_fails,
            live_leases_are_not_recovered,
            a_stale_lease_cannot_write,
            cancel_a_queued_job,
            cancel_a_running_job_signals_its_worker,
            kill_a_running_job_takes_its_lease,
            cancel_a_finished_job_is_refused,
            listing_is_newest_first_with_keyset_pages,
            delete_finished_counts_per_status,
            stats_count_by_status_type_and_queue,
            worker_directory_with_heartbeats_and_commands,
            idle_workers_wake_on_enqueue,
            a_submit_between_two_waits_is_not_lost,
            a_delayed_job_waits_until_its_time,
            a_retried_job_runs_again_with_its_attempts_reset,
            concurrent_fires_of_one_tick_create_one_job,
            a_later_tick_fires_again_and_a_stale_one_does_not,
            schedules_are_stored_paused_and_deleted,
            the_client_enqueues_typed_jobs_that_run_and_waits_for_their_data,
            the_client_refuses_invalid_jobs_with_their_paths,
            the_client_cancels_kills_retries_and_times_out,
            the_client_answers_duplicates_of_unique_jobs,
            listing_filters_by_queue_and_searches_parameters,
            a_search_that_matches_little_still_finds_every_match,
            overview_counts_capped_and_finished_per_minute,
            a_finished_job_is_deleted_alone_and_an_unfinished_one_is_kept,
            stats_count_finished_jobs_exactly_up_to_the_cap,
            listing_pages_through_every_mix_of_filters,
        );
    };
    (@cases $open:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::run(stringify!($case), $open, crate::$case).await;
            }
        )*
    };
}

// After the macro, which they expand.
mod pg_beanstalkd;
mod postgres;
mod redis;
mod sqlite;
mod transactions;

pub(crate) const SPEC: JobSpec = JobSpec {
    job_type: "conformance",
    rust_type: "Conformance",
    queue: "conformance",
    cost: 1,
    max_attempts: 3,
    priority: 5,
    timeout: None,
    retry: RetryPolicy::Fixed {
        delay: Duration::from_secs(1),
    },
    description: "",
    name: "",
    path: "",
    allow_unknown_fields: false,
    unique_for: None,
};

/// A new, queued record of `job_type` in `queue`.
pub fn record(job_type: &str, queue: &str) -> JobRecord {
    let mut record = JobRecord::new(&SPEC, json!({"step": 0}));
    record.job_type = job_type.to_owned();
    record.queue = queue.to_owned();
    record
}

/// Enqueues a new record of `job_type` in `queue` to run now, with `cost`.
pub async fn enqueue(ctx: &Ctx, job_type: &str, queue: &str, cost: u32) -> JobRecord {
    let record = record(job_type, queue);
    ctx.backend
        .enqueue(&record, cost, Utc::now())
        .await
        .expect("enqueue");
    record
}

/// What a worker asks for.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The worker id.
    pub worker: String,
    /// Its queues.
    pub queues: Vec<String>,
    /// Its job types.
    pub job_types: Vec<String>,
    /// Its free capacity.
    pub max_cost: u32,
    /// The most one job may cost; the free capacity unless set.
    pub max_job_cost: Option<u32>,
    /// The lease it takes.
    pub lease: Duration,
    /// Queue limits.
    pub limits: BTreeMap<String, u32>,
}

impl Ask {
    /// A worker for `queues` and `job_types` with ten units free and a 30 s lease.
    pub fn new(queues: &[&str], job_types: &[&str]) -> Self {
        Ask {
            worker: "host:1:conformance".to_owned(),
            queues: queues.iter().map(|&q| q.to_owned()).collect(),
            job_types: job_types.iter().map(|&t| t.to_owned()).collect(),
            max_cost: 10,
            max_job_cost: None,
            lease: Duration::from_secs(30),
            limits: BTreeMap::new(),
        }
    }

    /// The same with `max_cost` units free.
    pub fn max_cost(mut self, units: u32) -> Self {
        self.max_cost = units;
        self
    }

    /// The same with no job costing more than `units`, whatever is free.
    pub fn max_job_cost(mut self, units: u32) -> Self {
        self.max_job_cost = Some(units);
        self
    }

    /// The same with a lease of `lease`.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The same with at most `cap` running jobs of `queue`.
    pub fn limit(mut self, queue: &str, cap: u32) -> Self {
        self.limits.insert(queue.to_owned(), cap);
        self
    }

    /// The request, for at most `max_jobs` jobs.
    pub fn request(&self, max_jobs: usize) -> ReserveRequest<'_> {
        ReserveRequest {
            worker: &self.worker,
            queues: &self.queues,
            job_types: &self.job_types,
            max_cost: self.max_cost,
            max_job_cost: self.max_job_cost.unwrap_or(self.max_cost),
            max_jobs,
            lease: self.lease,
            queue_limits: &self.limits,
            only: None,
        }
    }
}

/// Reserves one job.
pub async fn reserve(ctx: &Ctx, ask: &Ask) -> Option<Reservation> {
    let mut taken = ctx.backend.reserve(&ask.request(1)).await.expect("reserve");
    assert!(taken.len() <= 1, "asked for one job, got {}", taken.len());
    taken.pop()
}

/// Reserves up to `max_jobs` jobs in one call.
pub async fn reserve_many(
    ctx: &Ctx,
    ask: &Ask,
    max_jobs: usize,
) -> Result<Vec<Reservation>, zerog::backend::StoreError> {
    ctx.backend.reserve(&ask.request(max_jobs)).await
}

/// Every job that `query` lists, following `next` to the last page.
pub async fn all_pages(ctx: &Ctx, query: ListQuery) -> Vec<uuid::Uuid> {
    let mut found = Vec::new();
    let mut query = query;
    for _ in 0..100 {
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

/// Runs the next due job that `ask` takes and ends it `done` with `code`, or `failed`
/// when the code is 500.
pub async fn run_to_end(ctx: &Ctx, ask: &Ask, code: i64) -> JobRecord {
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

/// Reserves until a job comes, for up to the test deadline. Backends that hand a job
/// back to their queue with a delay (beanstalkd) offer it again only after that.
pub async fn reserve_within(ctx: &Ctx, ask: &Ask, what: &str) -> Reservation {
    wait_for(what, Duration::from_secs(15), || reserve(ctx, ask)).await
}

/// The stored record.
pub async fn get(ctx: &Ctx, record: &JobRecord) -> JobRecord {
    ctx.backend
        .get(record.uuid)
        .await
        .expect("get")
        .expect("the record exists")
}

/// The record as a worker writes it when the run is done with `code`: what
/// [`lifecycle::run_ended`] makes of `Outcome::done(code)`.
pub fn done(record: JobRecord, code: i64) -> JobRecord {
    let end = RunEnd::Returned(Ok(Outcome::done(code)));
    let (transition, _) =
        lifecycle::run_ended(record, &SPEC.retry, end, false, Clock::at(Utc::now()));
    transition.record
}

/// A transition that finishes the job with exactly `record`.
pub fn finish(record: JobRecord) -> Transition {
    Transition {
        record,
        next: Next::Finished,
    }
}

/// A transition that queues the job again from `run_at`, with exactly `record`.
pub fn requeue(record: JobRecord, run_at: DateTime<Utc>) -> Transition {
    Transition {
        record,
        next: Next::RunAt(run_at),
    }
}

/// A time as records store it: RFC 3339 in UTC, with milliseconds.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An idle worker waiting on `waiter` wakes when a job is enqueued through `enqueuer`,
/// a separate handle with connections of its own, as in another process.
pub async fn wakes_across_handles(waiter: Backend, enqueuer: Backend) {
    settle_waiter(&waiter).await;
    let waiting = tokio::spawn(async move {
        waiter.store().wait_for_jobs(Duration::from_secs(60)).await;
    });
    let ctx = Ctx {
        backend: enqueuer,
        caps: Caps {
            orders_by_run_at: true,
            wakes_on_enqueue: true,
            atomic_batches: true,
        },
    };
    // The waiter may not be listening yet when the first job comes; it must wake on
    // one of them, long before its minute is up.
    wait_for(
        "a waiter to wake on another handle's enqueue",
        Duration::from_secs(10),
        || async {
            enqueue(&ctx, "a", "alpha", 1).await;
            waiting.is_finished().then_some(())
        },
    )
    .await;
}

/// Lets `backend`'s wake-up channel connect: a listener that (re)connects wakes every
/// waiter once, since jobs may have come while it was away. After this, a waiter
/// wakes only on a job.
pub async fn settle_waiter(backend: &Backend) {
    let quiet = Duration::from_millis(200);
    wait_for(
        "the wake-up channel to connect",
        Duration::from_secs(10),
        || async {
            let started = tokio::time::Instant::now();
            backend.store().wait_for_jobs(quiet).await;
            (started.elapsed() >= quiet).then_some(())
        },
    )
    .await;
}
