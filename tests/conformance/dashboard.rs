//! What the dashboard reads from every backend: listings filtered by queue and searched
//! by parameter values, and the overview's capped counts, throughput and oldest due job.

use chrono::Utc;
use serde_json::{Value, json};
use zerog::backend::{ListQuery, ParamSearch};
use zerog::{JobRecord, Status};

use crate::{Ask, Ctx, all_pages, done, enqueue, finish, record, reserve_within};

/// Enqueues a job of type `a` in `queue` with `params`.
async fn with_params(ctx: &Ctx, queue: &str, params: Value) -> JobRecord {
    let mut job = record("a", queue);
    job.params = params;
    ctx.backend.enqueue(&job, 1, Utc::now()).await.unwrap();
    job
}

fn search(text: &str) -> Option<ParamSearch> {
    Some(ParamSearch::parse(text).unwrap())
}

pub async fn listing_filters_by_queue_and_searches_parameters(ctx: Ctx) {
    let five = with_params(
        &ctx,
        "alpha",
        json!({"delay": 5, "name": "x", "flag": true}),
    )
    .await;
    let five_real = with_params(&ctx, "beta", json!({"delay": 5.0, "name": "y"})).await;
    let string_five = with_params(&ctx, "alpha", json!({"delay": "5", "flag": 1})).await;
    let nested = with_params(
        &ctx,
        "alpha",
        json!({"inner": {"mode": "fast", "level": 2}, "tags": ["red", "blue", 3], "none": null}),
    )
    .await;
    let query = |queue: Option<&str>, params: Option<ParamSearch>| ListQuery {
        queue: queue.map(str::to_owned),
        params,
        limit: 10,
        ..ListQuery::default()
    };
    let found = |query: ListQuery| all_pages(&ctx, query);

    assert_eq!(
        found(query(Some("beta"), None)).await,
        [five_real.uuid],
        "only the queue's jobs"
    );
    assert_eq!(
        found(query(None, search(r#"{"delay": 5}"#))).await,
        [five_real.uuid, five.uuid],
        "numbers match by value, and a string is not a number"
    );
    assert_eq!(
        found(query(Some("alpha"), search(r#"{"delay": 5}"#))).await,
        [five.uuid],
        "the search and the queue together"
    );
    assert_eq!(
        found(query(None, search(r#"{"delay": "5"}"#))).await,
        [string_five.uuid]
    );
    assert_eq!(
        found(query(None, search(r#"{"flag": true}"#))).await,
        [five.uuid],
        "a boolean is not a number"
    );
    assert_eq!(
        found(query(None, search(r#"{"name": "x", "delay": 5}"#))).await,
        [five.uuid],
        "every value must match"
    );
    assert_eq!(
        found(query(None, search(r#"{"inner": {"mode": "fast"}}"#))).await,
        [nested.uuid],
        "nested objects are searched inside"
    );
    assert_eq!(
        found(query(None, search(r#"{"tags": ["blue", 3]}"#))).await,
        [nested.uuid],
        "an array holds each element searched"
    );
    assert_eq!(
        found(query(None, search(r#"{"none": null}"#))).await,
        [nested.uuid]
    );
    for nothing in [
        r#"{"tags": ["green"]}"#,
        r#"{"tags": "red"}"#,
        r#"{"inner": {"mode": "slow"}}"#,
        r#"{"inner": "fast"}"#,
        r#"{"missing": 1}"#,
        r#"{"delay": 6}"#,
        r#"{"name": "X"}"#,
    ] {
        assert!(
            found(query(None, search(nothing))).await.is_empty(),
            "{nothing} matches nothing"
        );
    }
    // A search pages like any listing.
    let one_a_page = ListQuery {
        params: search(r#"{"delay": 5}"#),
        limit: 1,
        ..ListQuery::default()
    };
    assert_eq!(
        all_pages(&ctx, one_a_page).await,
        [five_real.uuid, five.uuid]
    );
    // And goes with the status and type filters.
    let queued_a = ListQuery {
        status: Some(Status::Queued),
        job_type: Some("a".to_owned()),
        params: search(r#"{"name": "y"}"#),
        limit: 10,
        ..ListQuery::default()
    };
    assert_eq!(all_pages(&ctx, queued_a).await, [five_real.uuid]);
    let running = ListQuery {
        status: Some(Status::Running),
        params: search(r#"{"name": "y"}"#),
        limit: 10,
        ..ListQuery::default()
    };
    assert!(all_pages(&ctx, running).await.is_empty());
}

/// A store that searches by scanning stops after a bounded scan and hands out a cursor
/// to go on from: a search that matches one old job among thousands still finds it,
/// page after page, and finds it once.
pub async fn a_search_that_matches_little_still_finds_every_match(ctx: Ctx) {
    let needle = with_params(&ctx, "alpha", json!({"needle": true})).await;
    let hay: Vec<_> = (0..2500)
        .map(|i| {
            let mut job = record("a", "alpha");
            job.params = json!({"hay": i});
            (job, 1)
        })
        .collect();
    ctx.backend.enqueue_many(&hay, Utc::now()).await.unwrap();
    let query = ListQuery {
        params: search(r#"{"needle": true}"#),
        limit: 20,
        ..ListQuery::default()
    };
    assert_eq!(all_pages(&ctx, query).await, [needle.uuid]);
}

pub async fn overview_counts_capped_and_finished_per_minute(ctx: Ctx) {
    let since = Utc::now() - chrono::Duration::minutes(5);
    let empty = ctx.backend.overview(100, since).await.unwrap();
    assert!(empty.statuses.values().all(|&count| count == 0));
    assert!(empty.finished.is_empty());
    assert_eq!(empty.oldest_due, None);
    assert!(empty.queues.is_empty());

    let first = enqueue(&ctx, "a", "alpha", 1).await;
    for _ in 0..3 {
        enqueue(&ctx, "a", "alpha", 1).await;
    }
    let later = record("a", "alpha");
    ctx.backend
        .enqueue(&later, 1, Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    let ask = Ask::new(&["alpha"], &["a"]);
    let mut ends = Vec::new();
    for (i, code) in [200, 200, 500].into_iter().enumerate() {
        let taken = reserve_within(&ctx, &ask, "a due job").await;
        if i == 0 {
            assert_eq!(taken.record.uuid, first.uuid, "the oldest first");
        }
        let mut end = done(taken.record, code);
        if code == 500 {
            end.status = Status::Failed;
        }
        ends.push((taken.lease, end));
    }
    for (lease, end) in ends {
        ctx.backend.settle_run(&lease, &finish(end)).await.unwrap();
    }
    let overview = ctx.backend.overview(100, since).await.unwrap();
    let count = |status| overview.statuses.get(&status).copied().unwrap_or(0);
    assert_eq!(count(Status::Queued), 1);
    assert_eq!(count(Status::Waiting), 1, "tomorrow's job waits");
    assert_eq!(count(Status::Done), 2);
    assert_eq!(count(Status::Failed), 1);
    assert_eq!(count(Status::Running), 0);
    let done: u64 = overview.finished.values().map(|minute| minute.done).sum();
    let failed: u64 = overview.finished.values().map(|minute| minute.failed).sum();
    assert_eq!((done, failed), (2, 1));
    let this_minute = Utc::now().timestamp().div_euclid(60);
    for minute in overview.finished.keys() {
        assert!(
            (this_minute - 1..=this_minute).contains(minute),
            "finished just now, not in minute {minute} (now {this_minute})"
        );
    }
    let due = overview.oldest_due.expect("one job is due");
    assert!(due <= Utc::now(), "the due job became due in the past");
    let alpha = &overview.queues["alpha"];
    assert_eq!((alpha.due, alpha.running, alpha.waiting), (1, 0, 1));
    assert!(alpha.oldest_due_age.is_some());
    assert_eq!(overview.queues.len(), 1, "only queues with unfinished jobs");

    let capped = ctx.backend.overview(1, since).await.unwrap();
    assert_eq!(capped.statuses[&Status::Done], 1, "counted up to the cap");
    assert_eq!(capped.statuses[&Status::Queued], 1);

    let future = ctx
        .backend
        .overview(100, Utc::now() + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert!(
        future.finished.is_empty(),
        "nothing finished after the start asked for"
    );
}

pub async fn a_finished_job_is_deleted_alone_and_an_unfinished_one_is_kept(ctx: Ctx) {
    let ask = Ask::new(&["alpha"], &["a"]);
    let finished = enqueue(&ctx, "a", "alpha", 1).await;
    let taken = reserve_within(&ctx, &ask, "the job just enqueued").await;
    let end = done(taken.record, 200);
    ctx.backend
        .settle_run(&taken.lease, &finish(end))
        .await
        .unwrap();
    let running = enqueue(&ctx, "a", "alpha", 1).await;
    let queued = enqueue(&ctx, "a", "alpha", 1).await;
    let leased = reserve_within(&ctx, &ask, "the second job").await;
    assert_eq!(leased.record.uuid, running.uuid);
    let store = ctx.backend.store();
    for unfinished in [&queued, &running] {
        assert!(!store.delete_if_finished(unfinished.uuid).await.unwrap());
        assert!(ctx.backend.get(unfinished.uuid).await.unwrap().is_some());
    }
    assert!(
        !store
            .delete_if_finished(record("a", "alpha").uuid)
            .await
            .unwrap()
    );
    assert!(store.delete_if_finished(finished.uuid).await.unwrap());
    assert_eq!(ctx.backend.get(finished.uuid).await.unwrap(), None);
    assert!(
        !store.delete_if_finished(finished.uuid).await.unwrap(),
        "once"
    );
    let listed = ctx
        .backend
        .list(&ListQuery {
            limit: 10,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.jobs.len(), 2, "gone from listings");
    let overview = ctx
        .backend
        .overview(100, Utc::now() - chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(overview.statuses[&Status::Done], 0, "and from the counts");
    // The store's primitive leaves the rest to Backend::delete_job.
    let kept = ctx.backend.delete_job(queued.uuid).await.unwrap_err();
    assert!(
        matches!(
            kept,
            zerog::backend::StoreError::NotFinished {
                status: Status::Queued,
                ..
            }
        ),
        "{kept}"
    );
    let gone = ctx.backend.delete_job(finished.uuid).await.unwrap_err();
    assert!(
        matches!(gone, zerog::backend::StoreError::NotFound(_)),
        "{gone}"
    );
}
