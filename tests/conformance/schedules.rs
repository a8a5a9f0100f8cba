//! Cases of the suite for schedules: storing them, and `fire`, which must create one
//! job per tick whatever number of schedulers fire it.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::json;
use zerog::JobRecord;
use zerog::backend::{Backend, ListQuery};
use zerog::record::ScheduleTick;
use zerog::schedule::{Missed, Schedule, ScheduleSource};

use super::{Ctx, SPEC, timestamp};

/// A whole second, `seconds` after the next one.
fn tick(seconds: i64) -> DateTime<Utc> {
    Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap() + TimeDelta::seconds(1 + seconds)
}

/// A new record for `tick` of the schedule `name`, as a scheduler builds it.
fn tick_record(name: &str, tick: DateTime<Utc>) -> JobRecord {
    let mut record = JobRecord::new(&SPEC, json!({ "step": 0 }));
    record.schedule = Some(ScheduleTick {
        name: name.to_owned(),
        tick: timestamp(tick),
    });
    record
}

/// The jobs of the suite's job type, oldest first.
async fn jobs(backend: &Backend) -> Vec<JobRecord> {
    let query = ListQuery {
        job_type: Some(SPEC.job_type.to_owned()),
        limit: 100,
        ..ListQuery::default()
    };
    let mut jobs = backend.list(&query).await.expect("list").jobs;
    jobs.reverse();
    jobs
}

async fn fire(backend: &Backend, name: &str, tick: DateTime<Utc>) -> bool {
    let record = tick_record(name, tick);
    backend
        .fire(name, tick, Some((&record, 1)))
        .await
        .expect("fire")
}

async fn create(backend: &Backend, name: &str) {
    let schedule = Schedule::new(name, SPEC.job_type, "* * * * * *");
    assert!(backend.create_schedule(&schedule).await.expect("create"));
}

/// Eight schedulers fire the same tick at once: one job, and the cursor at the tick.
pub async fn concurrent_fires_of_one_tick_create_one_job(ctx: Ctx) {
    create(&ctx.backend, "every-second").await;
    let at = tick(0);
    let fires: Vec<_> = (0..8)
        .map(|_| {
            let backend = ctx.backend.clone();
            tokio::spawn(async move { fire(&backend, "every-second", at).await })
        })
        .collect();
    let mut fired = 0;
    for each in fires {
        fired += usize::from(each.await.expect("a fire's task"));
    }
    assert_eq!(fired, 1, "one of the concurrent fires writes");
    let jobs = jobs(&ctx.backend).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        jobs[0].schedule,
        Some(ScheduleTick {
            name: "every-second".to_owned(),
            tick: timestamp(at),
        })
    );
    let state = ctx.backend.schedule("every-second").await.unwrap().unwrap();
    assert_eq!(state.last_tick, at);
    assert_eq!(state.last_run_at, Some(at));
}

/// A later tick creates another job; a tick at or before the cursor creates none; a
/// skipped tick moves the cursor with no job.
pub async fn a_later_tick_fires_again_and_a_stale_one_does_not(ctx: Ctx) {
    create(&ctx.backend, "s").await;
    let (first, second) = (tick(0), tick(1));
    assert!(fire(&ctx.backend, "s", first).await);
    assert!(fire(&ctx.backend, "s", second).await, "a later tick fires");
    assert!(
        !fire(&ctx.backend, "s", second).await,
        "the same tick again"
    );
    assert!(!fire(&ctx.backend, "s", first).await, "an earlier tick");
    let skipped = tick(5);
    assert!(ctx.backend.fire("s", skipped, None).await.unwrap());
    assert!(
        !fire(&ctx.backend, "s", tick(4)).await,
        "a tick before a skip"
    );
    let ticks: Vec<_> = jobs(&ctx.backend)
        .await
        .into_iter()
        .map(|job| job.schedule.expect("a schedule's job names it").tick)
        .collect();
    assert_eq!(ticks, [timestamp(first), timestamp(second)]);
    let state = ctx.backend.schedule("s").await.unwrap().unwrap();
    assert_eq!(state.last_tick, skipped);
    assert_eq!(state.last_run_at, Some(second), "a skip creates no run");
    // A schedule that does not exist fires nothing.
    assert!(!fire(&ctx.backend, "gone", tick(9)).await);
    assert_eq!(jobs(&ctx.backend).await.len(), 2);
}

/// Schedules are created once, replaced, declared, listed, paused (and then fire
/// nothing), resumed from now, and deleted.
pub async fn schedules_are_stored_paused_and_deleted(ctx: Ctx) {
    let backend = &ctx.backend;
    let before = Utc::now() - TimeDelta::milliseconds(5);
    create(backend, "b").await;
    let again = Schedule::new("b", SPEC.job_type, "@daily");
    assert!(
        !backend.create_schedule(&again).await.unwrap(),
        "name taken"
    );
    let replaced = again.clone().timezone("Europe/Paris").missed(Missed::Skip);
    assert!(backend.replace_schedule(&replaced).await.unwrap());
    let missing = Schedule::new("missing", SPEC.job_type, "@daily");
    assert!(!backend.replace_schedule(&missing).await.unwrap());
    backend
        .declare_schedule(&Schedule::new("a", SPEC.job_type, "@hourly").params(json!({"step": 1})))
        .await
        .unwrap();
    let all = backend.schedules().await.unwrap();
    let names: Vec<_> = all.iter().map(|s| s.schedule.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(all[0].source, ScheduleSource::Code);
    assert_eq!(all[0].schedule.params, json!({"step": 1}));
    assert_eq!(all[1].source, ScheduleSource::Api);
    assert_eq!(all[1].schedule, replaced);
    assert!(all[1].last_tick >= before, "a new schedule starts from now");
    assert_eq!(all[1].last_run_at, None);

    assert!(backend.pause_schedule("b", true).await.unwrap());
    assert!(backend.schedule("b").await.unwrap().unwrap().paused);
    assert!(
        !fire(backend, "b", tick(0)).await,
        "a paused schedule fires nothing"
    );
    let resumed_at = Utc::now() - TimeDelta::milliseconds(5);
    assert!(backend.pause_schedule("b", false).await.unwrap());
    let state = backend.schedule("b").await.unwrap().unwrap();
    assert!(!state.paused);
    assert!(
        state.last_tick >= resumed_at,
        "resuming moves the cursor to now"
    );
    assert!(!backend.pause_schedule("missing", true).await.unwrap());

    assert!(backend.delete_schedule("b").await.unwrap());
    assert!(backend.schedule("b").await.unwrap().is_none());
    assert!(!backend.delete_schedule("b").await.unwrap());
    assert_eq!(backend.schedules().await.unwrap().len(), 1);
    assert!(jobs(backend).await.is_empty());
}
