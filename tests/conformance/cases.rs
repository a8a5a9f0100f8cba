//! Enqueue, reservation, capacity, limits, finishing, requeue and retries, progress,
//! listing, retention and statistics.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use zerog::RetryPolicy;
use zerog::backend::{Inserted, ListQuery, NewJob, StoreError, UniqueKey};
use zerog::lifecycle::{self, Clock, EVENT_FINISHED, EVENT_RESTARTING, Next, RunEnd};
use zerog::{JobRecord, Status};

use super::{
    Ask, Ctx, done, enqueue, finish, get, record, requeue, reserve, reserve_many, reserve_within,
    run_to_end, timestamp,
};

pub async fn enqueue_stores_the_record_and_refuses_duplicates(ctx: Ctx) {
    let queue = &ctx.backend;
    let job = record("a", "alpha");
    queue.enqueue(&job, 1, Utc::now()).await.unwrap();
    // The record and the queue entry exist together: the record reads back as written
    // and the job can be reserved.
    assert_eq!(get(&ctx, &job).await, job);
    let mut again = job.clone();
    again.params = json!({"step": 99});
    let error = queue.enqueue(&again, 1, Utc::now()).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Duplicate(uuid) if uuid == job.uuid),
        "{error}"
    );
    assert_eq!(
        get(&ctx, &job).await,
        job,
        "a duplicate leaves the first alone"
    );
    let unknown = record("a", "alpha");
    assert_eq!(ctx.backend.get(unknown.uuid).await.unwrap(), None);
    let ask = Ask::new(&["alpha"], &["a"]);
    let taken = reserve(&ctx, &ask).await.expect("the job is queued");
    assert_eq!(taken.record.uuid, job.uuid);
    assert!(
        reserve(&ctx, &ask).await.is_none(),
        "queued once, not twice"
    );
}

pub async fn enqueue_many_stores_a_batch(ctx: Ctx) {
    let queue = &ctx.backend;
    let batch: Vec<_> = (0..3).map(|_| (record("a", "alpha"), 1)).collect();
    queue.enqueue_many(&batch, Utc::now()).await.unwrap();
    queue.enqueue_many(&[], Utc::now()).await.unwrap();
    for (job, _) in &batch {
        assert_eq!(get(&ctx, job).await, *job);
    }
    let ask = Ask::new(&["alpha"], &["a"]);
    for (job, _) in &batch {
        let taken = reserve(&ctx, &ask).await.expect("a job of the batch");
        assert_eq!(taken.record.uuid, job.uuid, "in the order of the batch");
    }

    // A batch with a taken uuid is refused.
    let fresh = record("b", "beta");
    let clash = vec![(fresh.clone(), 1), (batch[1].0.clone(), 1)];
    let error = queue.enqueue_many(&clash, Utc::now()).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Duplicate(uuid) if uuid == batch[1].0.uuid),
        "{error}"
    );
    let twice = record("b", "beta");
    let error = queue
        .enqueue_many(&[(twice.clone(), 1), (twice.clone(), 1)], Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Duplicate(uuid) if uuid == twice.uuid),
        "{error}"
    );
    if ctx.caps.atomic_batches {
        let store = &ctx.backend;
        assert_eq!(store.get(fresh.uuid).await.unwrap(), None, "all or nothing");
        assert_eq!(store.get(twice.uuid).await.unwrap(), None, "all or nothing");
    }
}

pub async fn reserve_takes_the_oldest_due_job(ctx: Ctx) {
    let first = enqueue(&ctx, "a", "alpha", 1).await;
    let second = enqueue(&ctx, "a", "alpha", 1).await;
    let third = enqueue(&ctx, "b", "beta", 1).await;
    let ask = Ask::new(&["alpha", "beta"], &["a", "b"]);
    let mut order = Vec::new();
    for _ in 0..3 {
        let taken = reserve(&ctx, &ask).await.expect("a due job");
        // The reservation is the record as stored: running, with its start time.
        assert_eq!(taken.record.status, Status::Running);
        assert!(taken.record.started_at.is_some());
        assert_eq!(taken.record.run_after, None);
        assert_eq!(get(&ctx, &taken.record).await, taken.record);
        assert_eq!(taken.lease.uuid, taken.record.uuid);
        assert_eq!(taken.lease.worker, ask.worker);
        assert_eq!(taken.lease.duration, ask.lease);
        order.push(taken.record.uuid);
    }
    assert_eq!(order, [first.uuid, second.uuid, third.uuid], "oldest first");
    assert!(reserve(&ctx, &ask).await.is_none());

    if ctx.caps.orders_by_run_at {
        // Due time comes before insertion order.
        let later = record("a", "alpha");
        let earlier = record("a", "alpha");
        let queue = &ctx.backend;
        queue.enqueue(&later, 1, Utc::now()).await.unwrap();
        let ago = Utc::now() - chrono::Duration::seconds(10);
        queue.enqueue(&earlier, 1, ago).await.unwrap();
        assert_eq!(reserve(&ctx, &ask).await.unwrap().record.uuid, earlier.uuid);
        assert_eq!(reserve(&ctx, &ask).await.unwrap().record.uuid, later.uuid);
    }
}

/// Due jobs start by priority, 0 first: a priority-0 job submitted after ten of
/// priority 9 is taken first, and keeps its priority when it is requeued; equal
/// priorities keep their order.
pub async fn reserve_takes_the_most_urgent_due_job_first(ctx: Ctx) {
    let queue = &ctx.backend;
    let mut patient = Vec::new();
    for _ in 0..10 {
        let mut job = record("a", "alpha");
        job.priority = 9;
        queue.enqueue(&job, 1, Utc::now()).await.unwrap();
        patient.push(job.uuid);
    }
    let mut urgent = record("a", "alpha");
    urgent.priority = 0;
    queue.enqueue(&urgent, 1, Utc::now()).await.unwrap();
    let ask = Ask::new(&["alpha"], &["a"]);
    let taken = reserve(&ctx, &ask).await.expect("a due job");
    assert_eq!(taken.record.uuid, urgent.uuid, "priority 0 first");
    assert_eq!(taken.record.priority, 0);
    // Requeued, it is still the most urgent.
    let again = Utc::now();
    let mut requeued = taken.record.clone();
    requeued.status = Status::Queued;
    ctx.backend
        .settle_run(&taken.lease, &requeue(requeued, again))
        .await
        .unwrap();
    let taken = reserve_within(&ctx, &ask, "the requeued urgent job").await;
    assert_eq!(taken.record.uuid, urgent.uuid, "it keeps its priority");
    let mut rest = Vec::new();
    for _ in 0..10 {
        rest.push(reserve(&ctx, &ask).await.expect("a due job").record.uuid);
    }
    if ctx.caps.orders_by_run_at {
        assert_eq!(rest, patient, "equal priorities in submit order");
    } else {
        let mut sorted = rest.clone();
        sorted.sort();
        let mut expected = patient.clone();
        expected.sort();
        assert_eq!(sorted, expected);
    }
}

pub async fn reserve_waits_for_run_at(ctx: Ctx) {
    let job = record("a", "alpha");
    // Far enough ahead that the "not due yet" check is done well before it.
    let run_at = Utc::now() + chrono::Duration::milliseconds(2500);
    ctx.backend.enqueue(&job, 1, run_at).await.unwrap();
    let ask = Ask::new(&["alpha"], &["a"]);
    assert!(reserve(&ctx, &ask).await.is_none(), "not due yet");
    let taken = reserve_within(&ctx, &ask, "the delayed job to become due").await;
    assert_eq!(taken.record.uuid, job.uuid);
    assert!(Utc::now() >= run_at, "reserved before its run_at");
}

pub async fn reserve_serves_only_the_requested_queues_and_types(ctx: Ctx) {
    let a = enqueue(&ctx, "a", "alpha", 1).await;
    let b = enqueue(&ctx, "b", "beta", 1).await;
    let c = enqueue(&ctx, "c", "alpha", 1).await;
    assert!(
        reserve(&ctx, &Ask::new(&["gamma"], &["a", "b", "c"]))
            .await
            .is_none()
    );
    let beta = reserve(&ctx, &Ask::new(&["beta"], &["a", "b", "c"]))
        .await
        .unwrap();
    assert_eq!(beta.record.uuid, b.uuid);
    // Only type c, though a is older in the same queue.
    let only_c = Ask::new(&["alpha"], &["c"]);
    let taken = reserve_within(&ctx, &only_c, "the job of type c").await;
    assert_eq!(taken.record.uuid, c.uuid);
    let only_a = Ask::new(&["alpha", "beta"], &["a"]);
    let taken = reserve_within(&ctx, &only_a, "the job of type a").await;
    assert_eq!(taken.record.uuid, a.uuid);
}

pub async fn reserve_takes_only_what_fits_the_free_capacity(ctx: Ctx) {
    let big = enqueue(&ctx, "a", "alpha", 5).await;
    let small = enqueue(&ctx, "a", "alpha", 1).await;
    let narrow = Ask::new(&["alpha"], &["a"]).max_cost(2);
    let taken = reserve_within(&ctx, &narrow, "the job that fits").await;
    assert_eq!((taken.record.uuid, taken.cost), (small.uuid, 1));
    assert!(
        reserve(&ctx, &narrow).await.is_none(),
        "cost 5 does not fit in 2"
    );
    let wide = Ask::new(&["alpha"], &["a"]).max_cost(5);
    let taken = reserve_within(&ctx, &wide, "the big job, once it fits").await;
    assert_eq!((taken.record.uuid, taken.cost), (big.uuid, 5));
}

pub async fn reserve_ahead_takes_no_job_costlier_than_one_may_be(ctx: Ctx) {
    let big = enqueue(&ctx, "a", "alpha", 3).await;
    let small = enqueue(&ctx, "a", "alpha", 1).await;
    let other = enqueue(&ctx, "a", "alpha", 2).await;
    // Ten units to fill, as a worker of capacity two holding jobs ahead asks.
    let ahead = Ask::new(&["alpha"], &["a"]).max_cost(10).max_job_cost(2);
    let batch = reserve_many(&ctx, &ahead, 10).await.unwrap();
    let taken: Vec<_> = batch.iter().map(|r| r.record.uuid).collect();
    assert_eq!(
        taken,
        [small.uuid, other.uuid],
        "cost 3 is more than one job may cost"
    );
    let wide = Ask::new(&["alpha"], &["a"]).max_cost(3);
    let taken = reserve_within(&ctx, &wide, "the big job, for a wider worker").await;
    assert_eq!(taken.record.uuid, big.uuid);
}

pub async fn queue_limits_cap_running_jobs_across_workers(ctx: Ctx) {
    let first = enqueue(&ctx, "a", "limited", 1).await;
    let second = enqueue(&ctx, "a", "limited", 1).await;
    let other = enqueue(&ctx, "b", "free", 1).await;
    let ask = Ask::new(&["limited", "free"], &["a", "b"]).limit("limited", 1);
    let one = reserve(&ctx, &ask).await.unwrap();
    assert_eq!(one.record.uuid, first.uuid);
    // Another worker, same limit: the limited queue is full, the other is not.
    let mut elsewhere = ask.clone();
    elsewhere.worker = "host:2:conformance".to_owned();
    let two = reserve_within(&ctx, &elsewhere, "the job of the unlimited queue").await;
    assert_eq!(two.record.uuid, other.uuid);
    assert!(
        reserve(&ctx, &elsewhere).await.is_none(),
        "one running is the limit"
    );
    let finished = done(one.record.clone(), 200);
    ctx.backend
        .settle_run(&one.lease, &finish(finished.clone()))
        .await
        .unwrap();
    let three = reserve_within(&ctx, &elsewhere, "a free slot in the limited queue").await;
    assert_eq!(three.record.uuid, second.uuid);
}

pub async fn reserve_many_takes_a_batch_that_fits(ctx: Ctx) {
    let mut jobs = Vec::new();
    for _ in 0..5 {
        jobs.push(enqueue(&ctx, "a", "alpha", 1).await.uuid);
    }
    let ask = Ask::new(&["alpha"], &["a"]).max_cost(3);
    let batch = reserve_many(&ctx, &ask, 10).await.unwrap();
    let taken: Vec<_> = batch.iter().map(|r| r.record.uuid).collect();
    assert_eq!(taken, jobs[..3], "three fit in three units, oldest first");
    let mut leases: Vec<_> = batch.iter().map(|r| r.lease.id).collect();
    leases.sort();
    leases.dedup();
    assert_eq!(leases.len(), 3, "one lease per job");
    let one = reserve_many(&ctx, &ask, 1).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].record.uuid, jobs[3]);
    // A limit holds within a batch too.
    for _ in 0..3 {
        enqueue(&ctx, "a", "limited", 1).await;
    }
    let limited = Ask::new(&["limited"], &["a"]).limit("limited", 2);
    let batch = reserve_many(&ctx, &limited, 10).await.unwrap();
    assert_eq!(batch.len(), 2, "two may run at once");
    assert!(reserve_many(&ctx, &limited, 10).await.unwrap().is_empty());
}

pub async fn ack_finishes_the_job_for_good(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let ask = Ask::new(&["alpha"], &["a"]);
    let taken = reserve(&ctx, &ask).await.unwrap();
    let mut finished = done(taken.record.clone(), 201);
    finished.data = json!({"answer": 42});
    ctx.backend
        .settle_run(&taken.lease, &finish(finished.clone()))
        .await
        .unwrap();
    let stored = get(&ctx, &job).await;
    assert_eq!(stored, finished);
    assert_eq!(stored.status, Status::Done);
    assert!(
        reserve(&ctx, &ask).await.is_none(),
        "a finished job never runs again"
    );
    let again = ctx
        .backend
        .settle_run(&taken.lease, &finish(finished.clone()))
        .await;
    assert!(
        matches!(again, Err(StoreError::LeaseLost(_))),
        "the run is over"
    );
}

/// A job's own text may hold NUL, which PostgreSQL's JSONB cannot: its run's end is
/// written all the same, in one batch and alone, and progress too.
pub async fn a_run_whose_text_holds_nul_is_written(ctx: Ctx) {
    let ask = Ask::new(&["alpha"], &["a"]);
    let kept = |text: &str, prefix: &str| {
        text.starts_with(prefix) && (text.ends_with("\0b") || text.ends_with("\u{FFFD}b"))
    };
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let taken = reserve(&ctx, &ask).await.unwrap();
    let mut running = taken.record.clone();
    running.push_event(Utc::now(), "progress a\0b");
    ctx.backend
        .save_progress(&taken.lease, &running)
        .await
        .expect("progress with NUL is written");
    let mut finished = done(running, 200);
    finished.push_event(Utc::now(), "log a\0b");
    finished.data = json!({"out": "data a\0b", "key\0": 1});
    ctx.backend
        .settle_runs(&[(&taken.lease, &finish(finished))])
        .await
        .expect("the batch is written")
        .into_iter()
        .for_each(|outcome| outcome.expect("the end of the run is written"));
    let stored = get(&ctx, &job).await;
    assert_eq!(stored.status, Status::Done);
    let messages: Vec<&str> = stored
        .events
        .iter()
        .map(|event| event.msg.as_str())
        .collect();
    assert!(
        messages.iter().any(|msg| kept(msg, "progress a")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|msg| kept(msg, "log a")),
        "{messages:?}"
    );
    assert!(
        kept(stored.data["out"].as_str().unwrap(), "data a"),
        "{}",
        stored.data
    );
}

/// A paused queue keeps its jobs and gives none out; the queues beside it are served;
/// a resume brings its jobs back. Queue backlogs count what is due and what waits.
pub async fn a_paused_queue_keeps_its_jobs_until_it_is_resumed(ctx: Ctx) {
    let store = ctx.backend.store();
    assert!(store.paused_queues().await.unwrap().is_empty());
    let held = enqueue(&ctx, "a", "alpha", 1).await;
    let other = enqueue(&ctx, "a", "beta", 1).await;
    let later = record("a", "alpha");
    ctx.backend
        .enqueue(&later, 1, Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    ctx.backend.set_queue_paused("alpha", true).await.unwrap();
    ctx.backend.set_queue_paused("alpha", true).await.unwrap();
    assert_eq!(
        store.paused_queues().await.unwrap(),
        ["alpha".to_owned()].into()
    );
    let both = Ask::new(&["alpha", "beta"], &["a"]);
    let taken = reserve(&ctx, &both).await.expect("beta is served");
    assert_eq!(taken.record.uuid, other.uuid);
    assert!(reserve(&ctx, &both).await.is_none(), "alpha is paused");
    assert!(
        reserve(&ctx, &Ask::new(&["alpha"], &["a"])).await.is_none(),
        "alpha is paused"
    );
    let stats = ctx.backend.stats().await.unwrap();
    let alpha = &stats.queues["alpha"];
    assert_eq!((alpha.due, alpha.waiting, alpha.running), (1, 1, 0));
    ctx.backend.set_queue_paused("alpha", false).await.unwrap();
    assert!(store.paused_queues().await.unwrap().is_empty());
    let taken = reserve(&ctx, &both).await.expect("alpha is resumed");
    assert_eq!(taken.record.uuid, held.uuid);
}

/// Twenty concurrent inserts under one key make one job, answered to the others; the
/// key passes on when its holder is cancelled, and when its hold ends.
pub async fn concurrent_unique_inserts_make_one_job(ctx: Ctx) {
    let params = json!({"report": "daily", "day": 3});
    let unique = UniqueKey::of("a", &params, Duration::from_secs(600), Utc::now());
    let attempts = (0..20).map(|_| {
        let backend = ctx.backend.clone();
        tokio::spawn(async move {
            let mut job = record("a", "alpha");
            job.params = json!({"report": "daily", "day": 3});
            let new = NewJob {
                record: &job,
                cost: 1,
                run_at: Utc::now(),
            };
            let inserted = backend.store().insert_unique(&new, &unique).await.unwrap();
            (job.uuid, inserted)
        })
    });
    let mut held = Vec::new();
    let mut answered = Vec::new();
    for attempt in futures_util::future::join_all(attempts).await {
        match attempt.unwrap() {
            (uuid, Inserted::New) => held.push(uuid),
            (_, Inserted::Duplicate(holder)) => answered.push(holder),
        }
    }
    assert_eq!(held.len(), 1, "one job holds the key: {held:?}");
    let holder = held[0];
    assert!(answered.iter().all(|&uuid| uuid == holder), "{answered:?}");
    let stats = ctx.backend.stats().await.unwrap();
    assert_eq!(stats.jobs.values().sum::<u64>(), 1, "one job is stored");
    assert!(ctx.backend.get(holder).await.unwrap().is_some());

    ctx.backend.cancel(holder, false).await.unwrap();
    let again = record("a", "alpha");
    let new = NewJob {
        record: &again,
        cost: 1,
        run_at: Utc::now(),
    };
    let inserted = ctx
        .backend
        .store()
        .insert_unique(&new, &unique)
        .await
        .unwrap();
    assert_eq!(inserted, Inserted::New, "a cancelled holder lets go");
    let inserted = ctx
        .backend
        .store()
        .insert_unique(
            &NewJob {
                record: &record("a", "alpha"),
                cost: 1,
                run_at: Utc::now(),
            },
            &unique,
        )
        .await
        .unwrap();
    assert_eq!(inserted, Inserted::Duplicate(again.uuid));

    let brief = UniqueKey::of(
        "a",
        &json!({"brief": true}),
        Duration::from_millis(300),
        Utc::now(),
    );
    let first = record("a", "alpha");
    let store = ctx.backend.store();
    let insert = |job: JobRecord| async move {
        let new = NewJob {
            record: &job,
            cost: 1,
            run_at: Utc::now(),
        };
        store.insert_unique(&new, &brief).await.unwrap()
    };
    assert_eq!(insert(first.clone()).await, Inserted::New);
    assert_eq!(
        insert(record("a", "alpha")).await,
        Inserted::Duplicate(first.uuid)
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        insert(record("a", "alpha")).await,
        Inserted::New,
        "the hold is over"
    );
}

pub async fn release_after_requeues_with_the_record_as_written(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let ask = Ask::new(&["alpha"], &["a"]);
    let taken = reserve(&ctx, &ask).await.unwrap();
    let run_at = Utc::now() + chrono::Duration::milliseconds(2500);
    let mut paused = taken.record.clone();
    paused.params = json!({"step": 1});
    paused.completeness = 0.25;
    paused.status = Status::Waiting;
    paused.run_after = Some(timestamp(run_at));
    ctx.backend
        .settle_run(&taken.lease, &requeue(paused.clone(), run_at))
        .await
        .unwrap();
    assert_eq!(get(&ctx, &job).await, paused);
    assert!(reserve(&ctx, &ask).await.is_none(), "not before its run_at");
    let resumed = reserve_within(&ctx, &ask, "the requeued job").await;
    assert!(Utc::now() >= run_at);
    assert_eq!(resumed.record.uuid, job.uuid);
    assert_eq!(
        resumed.record.params,
        json!({"step": 1}),
        "it resumes from its state"
    );
    assert_eq!(resumed.record.attempts, 0, "a requeue uses no attempt");
    assert_ne!(resumed.lease.id, taken.lease.id);
}

pub async fn retries_and_backoff_as_seen_through_the_store(ctx: Ctx) {
    let mut job = record("a", "alpha");
    job.max_attempts = 2;
    ctx.backend.enqueue(&job, 1, Utc::now()).await.unwrap();
    let ask = Ask::new(&["alpha"], &["a"]);
    let policy = RetryPolicy::Exponential {
        delay: Duration::from_millis(2500),
    };

    let retry = |record, message: &str| {
        let end = RunEnd::Returned(Err(zerog::JobError::retry(message)));
        lifecycle::run_ended(record, &policy, end, false, Clock::now()).0
    };

    // The first run fails: one attempt used, back after the backoff.
    let first = reserve(&ctx, &ask).await.unwrap();
    let failed = retry(first.record.clone(), "boom");
    let Next::RunAt(run_at) = failed.next else {
        panic!("a first failure of two attempts is retried");
    };
    ctx.backend.settle_run(&first.lease, &failed).await.unwrap();
    let stored = get(&ctx, &job).await;
    assert_eq!(stored, failed.record);
    assert_eq!((stored.status, stored.attempts), (Status::Waiting, 1));
    assert_eq!(stored.errors[0].msg, "boom");
    assert!(reserve(&ctx, &ask).await.is_none(), "backing off");

    // The retry fails too: the attempts are exhausted and the job fails for good.
    let second = reserve_within(&ctx, &ask, "the retry after the backoff").await;
    assert!(Utc::now() >= run_at, "retried before the backoff ended");
    assert_eq!(second.record.attempts, 1);
    let exhausted = retry(second.record.clone(), "boom again");
    assert_eq!(exhausted.next, Next::Finished);
    ctx.backend
        .settle_run(&second.lease, &exhausted)
        .await
        .unwrap();
    let exhausted = exhausted.record;
    let stored = get(&ctx, &job).await;
    assert_eq!(stored, exhausted);
    assert_eq!(stored.errors.len(), 2);
    let events: Vec<_> = stored.events.iter().map(|e| e.msg.as_str()).collect();
    assert_eq!(events, [EVENT_RESTARTING, EVENT_FINISHED]);
    assert!(
        reserve(&ctx, &ask).await.is_none(),
        "a failed job never runs again"
    );
}

pub async fn progress_and_log_persist_while_running(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let taken = reserve(&ctx, &Ask::new(&["alpha"], &["a"])).await.unwrap();
    let mut running = taken.record.clone();
    running.completeness = 0.5;
    running.push_event(Utc::now(), "halfway");
    running.push_error(Utc::now(), 404, "a missing page, skipped", Some(1));
    running.touch(Utc::now());
    let store = &ctx.backend;
    store.save_progress(&taken.lease, &running).await.unwrap();
    assert_eq!(get(&ctx, &job).await, running);
    running.completeness = 0.75;
    running.push_event(Utc::now(), "three quarters");
    store.save_progress(&taken.lease, &running).await.unwrap();
    let stored = get(&ctx, &job).await;
    assert_eq!(stored, running);
    assert_eq!(stored.status, Status::Running);
    assert_eq!(stored.events.len(), 2);
    assert_eq!(stored.errors[0].error_code, 404);
}

pub async fn listing_is_newest_first_with_keyset_pages(ctx: Ctx) {
    let mut jobs = Vec::new();
    for i in 0..5 {
        let job_type = if i % 2 == 0 { "a" } else { "b" };
        jobs.push(enqueue(&ctx, job_type, "alpha", 1).await.uuid);
    }
    let store = &ctx.backend;
    let page = |after: Option<String>| ListQuery {
        limit: 2,
        after,
        ..ListQuery::default()
    };
    let first = store.list(&page(None)).await.unwrap();
    let uuids =
        |page: &zerog::backend::JobPage| -> Vec<_> { page.jobs.iter().map(|j| j.uuid).collect() };
    assert_eq!(uuids(&first), [jobs[4], jobs[3]]);
    let second = store.list(&page(first.next.clone())).await.unwrap();
    assert_eq!(uuids(&second), [jobs[2], jobs[1]]);
    let third = store.list(&page(second.next.clone())).await.unwrap();
    assert_eq!(uuids(&third), [jobs[0]]);
    assert_eq!(third.next, None, "the last page");

    let of_type_a = ListQuery {
        job_type: Some("a".to_owned()),
        limit: 10,
        ..ListQuery::default()
    };
    assert_eq!(
        uuids(&store.list(&of_type_a).await.unwrap()),
        [jobs[4], jobs[2], jobs[0]]
    );
    let taken = reserve(&ctx, &Ask::new(&["alpha"], &["a", "b"]))
        .await
        .unwrap();
    assert_eq!(taken.record.uuid, jobs[0]);
    let running = ListQuery {
        status: Some(Status::Running),
        limit: 10,
        ..ListQuery::default()
    };
    let listed = store.list(&running).await.unwrap();
    assert_eq!(uuids(&listed), [jobs[0]]);
    assert_eq!(listed.jobs[0].status, Status::Running);
    let queued_b = ListQuery {
        status: Some(Status::Queued),
        job_type: Some("b".to_owned()),
        limit: 1,
        ..ListQuery::default()
    };
    let page_b = store.list(&queued_b).await.unwrap();
    assert_eq!(uuids(&page_b), [jobs[3]]);
    let rest_b = ListQuery {
        after: page_b.next,
        ..queued_b.clone()
    };
    assert_eq!(uuids(&store.list(&rest_b).await.unwrap()), [jobs[1]]);
    let bad = ListQuery {
        after: Some("not a cursor".to_owned()),
        limit: 10,
        ..ListQuery::default()
    };
    assert!(matches!(
        store.list(&bad).await,
        Err(StoreError::BadCursor(_))
    ));
}

pub async fn delete_finished_counts_per_status(ctx: Ctx) {
    let ask = Ask::new(&["alpha"], &["a"]);
    let mut finished = Vec::new();
    for code in [200, 200, 500] {
        let job = enqueue(&ctx, "a", "alpha", 1).await;
        let end = run_to_end(&ctx, &ask, code).await;
        assert_eq!(end.uuid, job.uuid, "the job just enqueued");
        finished.push(job);
    }
    let waiting = enqueue(&ctx, "a", "alpha", 1).await;
    let store = &ctx.backend;
    let past = Utc::now() - chrono::Duration::hours(1);
    let none = store
        .delete_finished(&[Status::Done, Status::Failed], past)
        .await
        .unwrap();
    assert_eq!(
        none.values().sum::<u64>(),
        0,
        "nothing finished an hour ago"
    );
    let soon = Utc::now() + chrono::Duration::seconds(1);
    let counts = store
        .delete_finished(&[Status::Done, Status::Failed, Status::Queued], soon)
        .await
        .unwrap();
    assert_eq!(counts.get(&Status::Done), Some(&2));
    assert_eq!(counts.get(&Status::Failed), Some(&1));
    assert_eq!(
        counts.get(&Status::Queued).copied().unwrap_or(0),
        0,
        "only finished jobs"
    );
    for job in &finished {
        assert_eq!(store.get(job.uuid).await.unwrap(), None);
    }
    assert_eq!(get(&ctx, &waiting).await.status, Status::Queued);
    let listed = store
        .list(&ListQuery {
            limit: 10,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed.jobs.len(),
        1,
        "deleted jobs are gone from listings too"
    );
}

pub async fn stats_count_by_status_type_and_queue(ctx: Ctx) {
    enqueue(&ctx, "a", "alpha", 1).await;
    enqueue(&ctx, "a", "alpha", 1).await;
    enqueue(&ctx, "b", "beta", 1).await;
    let later = record("b", "beta");
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    ctx.backend.enqueue(&later, 1, tomorrow).await.unwrap();
    reserve(&ctx, &Ask::new(&["alpha"], &["a"])).await.unwrap();
    let stats = ctx.backend.stats().await.unwrap();
    let count = |status: Status, job_type: &str| {
        stats
            .jobs
            .get(&(status, job_type.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(count(Status::Queued, "a"), 1);
    assert_eq!(count(Status::Running, "a"), 1);
    assert_eq!(count(Status::Queued, "b"), 1);
    assert_eq!(count(Status::Waiting, "b"), 1, "tomorrow's job waits");
    assert_eq!(count(Status::Done, "a"), 0);
    let alpha = &stats.queues["alpha"];
    assert_eq!((alpha.due, alpha.running), (1, 1));
    assert!(alpha.oldest_due_age.is_some());
    let beta = &stats.queues["beta"];
    assert_eq!(
        (beta.due, beta.running),
        (1, 0),
        "tomorrow's job is not due"
    );
}

pub async fn ends_of_runs_are_written_together_each_fenced_on_its_own(ctx: Ctx) {
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(enqueue(&ctx, "a", "alpha", 1).await);
    }
    let ask = Ask::new(&["alpha"], &["a"]);
    let mut taken = Vec::new();
    for _ in 0..3 {
        taken.push(reserve_within(&ctx, &ask, "a job of the three").await);
    }
    // The middle one is killed: its run's end must be refused, alone.
    let killed = taken[1].record.uuid;
    ctx.backend.cancel(killed, true).await.unwrap();
    let ends: Vec<_> = taken
        .iter()
        .map(|run| finish(done(run.record.clone(), 200)))
        .collect();
    let runs: Vec<_> = taken.iter().map(|run| &run.lease).zip(&ends).collect();
    let outcomes = ctx.backend.settle_runs(&runs).await.unwrap();
    assert_eq!(outcomes.len(), 3);
    for ((run, end), outcome) in taken.iter().zip(&ends).zip(&outcomes) {
        let stored = ctx.backend.get(run.record.uuid).await.unwrap().unwrap();
        if run.record.uuid == killed {
            assert!(
                matches!(outcome, Err(StoreError::LeaseLost(_))),
                "{outcome:?}"
            );
            assert_eq!(stored.status, Status::Cancelled, "the kill stands");
        } else {
            assert!(outcome.is_ok(), "{outcome:?}");
            assert_eq!(stored, end.record);
        }
    }
}
