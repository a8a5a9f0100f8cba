//! The scheduler in real `schedule` processes: two of them on one store fire each
//! tick of a per-second schedule exactly once, and go on without a gap or a repeat
//! when one is killed with `kill -9`; after a downtime, the missed ticks follow the
//! schedule's policy (`once`: one job for the stretch; `skip`: none).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use zerog::backend::{Backend, ListQuery};
use zerog_tests::process::ChildProcess;
use zerog_tests::services::{self, Isolated};
use zerog_tests::{sqlite_url, wait_for};

const SERVICE: &str = env!("CARGO_BIN_EXE_zerog-test-service");

/// Generous: each tick takes a second, and a loaded machine may start processes slowly.
const DEADLINE: Duration = Duration::from_secs(90);

/// A job of the schedule: its tick, and how long after the tick it was created.
#[derive(Debug, Clone, Copy)]
struct Fired {
    tick: DateTime<Utc>,
    lateness: chrono::Duration,
}

fn parse(time: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(time)
        .unwrap_or_else(|error| panic!("`{time}`: {error}"))
        .with_timezone(&Utc)
}

/// Every job of the schedule `every-second`, by tick.
async fn fired(backend: &Backend) -> Vec<Fired> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let query = ListQuery {
            job_type: Some("mark".to_owned()),
            limit: 500,
            after,
            ..ListQuery::default()
        };
        let page = backend.list(&query).await.expect("list");
        for job in page.jobs {
            let schedule = job.schedule.expect("a scheduled job names its schedule");
            assert_eq!(schedule.name, "every-second");
            let tick = parse(&schedule.tick);
            all.push(Fired {
                tick,
                lateness: parse(&job.created_at) - tick,
            });
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    all.sort_by_key(|fired| fired.tick);
    all
}

async fn wait_for_jobs(backend: &Backend, at_least: usize, what: &str) -> Vec<Fired> {
    wait_for(what, DEADLINE, || async {
        let fired = fired(backend).await;
        (fired.len() >= at_least).then_some(fired)
    })
    .await
}

/// Asserts that `fired` holds one job per second, with no repeat and no gap.
fn assert_consecutive(fired: &[Fired]) {
    for pair in fired.windows(2) {
        assert_eq!(
            pair[1].tick - pair[0].tick,
            chrono::Duration::seconds(1),
            "ticks repeat or leave a gap: {:?}",
            fired.iter().map(|f| f.tick).collect::<Vec<_>>()
        );
    }
}

fn scheduler(name: &str, store: &str, missed: &str, extra: &[&str]) -> ChildProcess {
    let mut args = vec!["schedule"];
    args.extend_from_slice(extra);
    ChildProcess::spawn(
        name,
        Path::new(SERVICE),
        &args,
        &[("ZEROG_STORE", store), ("ZEROG_TEST_SCHEDULE", missed)],
    )
}

async fn two_schedulers_fire_each_tick_once_and_survive_a_kill(store: &str, backend: &Backend) {
    let mut first = scheduler("scheduler-1", store, "once", &[]);
    let mut second = scheduler("scheduler-2", store, "once", &[]);
    let before = wait_for_jobs(backend, 8, "8 ticks fired by two schedulers").await;
    assert_consecutive(&before);
    first.kill9();
    let seen = before.len();
    let after = wait_for_jobs(backend, seen + 8, "8 more ticks after a kill -9").await;
    second.signal("TERM");
    second.wait_exit(Duration::from_secs(30)).await;
    let all = fired(backend).await;
    assert!(all.len() >= after.len());
    assert_consecutive(&all);
}

/// Runs one scheduler until it fired two ticks, stops it for over three seconds, and
/// starts another: the ticks fired before and after, with the stretch between.
async fn ticks_around_a_downtime(
    store: &str,
    backend: &Backend,
    missed: &str,
) -> (Vec<Fired>, Vec<Fired>) {
    // A one-second grace, so that a short downtime already has missed ticks.
    let grace = ["--schedule-grace", "1s"];
    let mut first = scheduler("before-downtime", store, missed, &grace);
    wait_for_jobs(backend, 2, "2 ticks before the downtime").await;
    first.kill9();
    let before = fired(backend).await;
    let last = before.last().expect("ticks before the downtime").tick;
    wait_for("the downtime to span missed ticks", DEADLINE, || async {
        (Utc::now() > last + chrono::Duration::seconds(4)).then_some(())
    })
    .await;
    let mut second = scheduler("after-downtime", store, missed, &grace);
    wait_for_jobs(backend, before.len() + 3, "3 jobs after the downtime").await;
    second.signal("TERM");
    second.wait_exit(Duration::from_secs(30)).await;
    let after: Vec<Fired> = fired(backend)
        .await
        .into_iter()
        .filter(|fired| fired.tick > last)
        .collect();
    assert_consecutive(&before);
    (before, after)
}

fn late(fired: &[Fired]) -> Vec<Fired> {
    fired
        .iter()
        .copied()
        .filter(|fired| fired.lateness >= chrono::Duration::seconds(1))
        .collect()
}

async fn missed_ticks_fire_once(store: &str, backend: &Backend) {
    let (before, after) = ticks_around_a_downtime(store, backend, "once").await;
    let last = before.last().unwrap().tick;
    let missed = late(&after);
    // One job for the whole stretch, for its latest tick, then the ticks on time.
    assert_eq!(missed.len(), 1, "one job for the missed stretch: {after:?}");
    assert_eq!(missed[0].tick, after[0].tick, "{after:?}");
    assert!(
        after[0].tick - last >= chrono::Duration::seconds(3),
        "the ticks before the latest missed one made no job: {after:?}"
    );
    assert_consecutive(&after);
}

async fn missed_ticks_are_skipped(store: &str, backend: &Backend) {
    let (before, after) = ticks_around_a_downtime(store, backend, "skip").await;
    let last = before.last().unwrap().tick;
    assert!(
        late(&after).is_empty(),
        "no job for a missed tick: {after:?}"
    );
    assert!(
        after[0].tick - last >= chrono::Duration::seconds(3),
        "the missed stretch made no job: {after:?}"
    );
    assert_consecutive(&after);
}

async fn on_sqlite(case: impl AsyncFnOnce(&str, &Backend)) {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let backend = Backend::connect(&store).await.unwrap();
    case(&store, &backend).await;
}

async fn on_postgres(test: &str, case: impl AsyncFnOnce(&str, &Backend)) {
    let Some(Isolated {
        backend,
        store_url,
        cleanup,
        ..
    }) = services::postgres(test).await
    else {
        return;
    };
    case(&store_url, &backend).await;
    cleanup.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_sqlite_fire_each_tick_once_and_survive_a_kill() {
    on_sqlite(two_schedulers_fire_each_tick_once_and_survive_a_kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_postgres_fire_each_tick_once_and_survive_a_kill() {
    on_postgres(
        "two_schedulers_on_postgres",
        two_schedulers_fire_each_tick_once_and_survive_a_kill,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_on_sqlite_fire_once_for_the_stretch() {
    on_sqlite(missed_ticks_fire_once).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_on_sqlite_are_skipped() {
    on_sqlite(missed_ticks_are_skipped).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_on_postgres_fire_once_for_the_stretch() {
    on_postgres("missed_ticks_once_on_postgres", missed_ticks_fire_once).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_on_postgres_are_skipped() {
    on_postgres("missed_ticks_skip_on_postgres", missed_ticks_are_skipped).await;
}
