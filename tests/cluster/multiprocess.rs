//! Many processes on one PostgreSQL schema: one `serve` and three `work` processes run
//! 2,000 jobs submitted over HTTP, each exactly once; and again with `kill -9` of a
//! worker mid-run, where nothing is lost and a job runs twice only when its record
//! says its worker died. The exactly-once run is repeated on Redis and on PostgreSQL
//! with beanstalkd delivering.

use std::time::{Duration, Instant};

use serde_json::json;
use zerog_tests::services::{self, Isolated, Service};
use zerog_tests::wait_for;

use crate::{Cluster, Settings, check_every_job, done_count, wait_done};

const JOBS: usize = 2000;

/// A store URL with its own schema and a pool fit for a busy worker.
fn store_url(test: &str) -> Option<String> {
    let url = services::require(Service::Postgres, test)?;
    let url = services::with_param(&url, "schema", &services::unique_name());
    Some(services::with_param(&url, "max_connections", "8"))
}

/// One `serve` and three `work` processes on `isolated`'s store (and queue) run
/// 2,000 jobs submitted over HTTP, each to completion exactly once.
async fn exactly_once(name: &str, isolated: Isolated) {
    let started = Instant::now();
    let mut cluster = Cluster::start(&Settings {
        store: &isolated.store_url,
        queue: isolated.queue_url.as_deref(),
        workers: 3,
        capacity: 8,
        lease: "30s",
    })
    .await;
    let submitted = cluster.submit(JOBS, &json!({"ms": 2}), 32).await;
    assert_eq!(submitted.accepted.len(), JOBS, "every job is accepted");
    wait_done(&isolated.backend, JOBS, Duration::from_secs(300)).await;
    let completions = cluster.completions();
    for uuid in &submitted.accepted {
        assert_eq!(
            completions.get(uuid),
            Some(&1),
            "job {uuid} ran to completion once"
        );
    }
    assert_eq!(completions.len(), JOBS);
    let tally = check_every_job(&cluster, &isolated.backend, &submitted.accepted).await;
    assert_eq!((tally.doubled, tally.restarted), (0, 0));
    cluster.assert_all_running();
    println!(
        "{name}, 1 server + 3 workers: {JOBS} jobs done exactly once in {:?}",
        started.elapsed()
    );
    drop(cluster);
    isolated.cleanup.await;
}

#[actix_web::test]
async fn postgres_serve_and_three_workers_run_2000_jobs_exactly_once() {
    let Some(store) = store_url("postgres_2000_jobs_exactly_once") else {
        return;
    };
    exactly_once("PostgreSQL", services::postgres_at(&store, None).await).await;
}

#[actix_web::test]
async fn redis_serve_and_three_workers_run_2000_jobs_exactly_once() {
    let Some(isolated) = services::redis("redis_2000_jobs_exactly_once").await else {
        return;
    };
    exactly_once("Redis", isolated).await;
}

#[actix_web::test]
async fn beanstalkd_serve_and_three_workers_run_2000_jobs_exactly_once() {
    let test = "beanstalkd_2000_jobs_exactly_once";
    let Some(mut isolated) = services::postgres_beanstalkd(test).await else {
        return;
    };
    isolated.store_url = services::with_param(&isolated.store_url, "max_connections", "8");
    exactly_once("PostgreSQL + beanstalkd", isolated).await;
}

/// How many jobs the kill -9 runs submit, and how long each works. Three workers of
/// capacity 8 take about 9 s for them, so when the victim dies, after a quarter are
/// done, a thousand are still queued and each of its slots holds a job for 100 ms: it
/// cannot be caught idle. With 20 ms jobs the cluster ran the queue dry in about 2 s,
/// and a kill could land after the victim's last job.
const KILL_JOBS: usize = JOBS;
/// See [`KILL_JOBS`].
const KILL_JOB_MS: u64 = 100;

/// The same with `kill -9` of one worker once a quarter of the jobs are done.
async fn kill_9(name: &str, isolated: Isolated) {
    let settings = Settings {
        store: &isolated.store_url,
        queue: isolated.queue_url.as_deref(),
        workers: 3,
        capacity: 8,
        lease: "2s",
    };
    // Every job is queued before the workers start, however slow the submissions.
    let mut cluster = Cluster::start_server(&settings).await;
    let submitted = cluster
        .submit(KILL_JOBS, &json!({ "ms": KILL_JOB_MS }), 32)
        .await;
    assert_eq!(submitted.accepted.len(), KILL_JOBS, "every job is accepted");
    cluster.start_workers(&settings);
    let backend = &isolated.backend;
    wait_for(
        "a quarter of the jobs to be done",
        Duration::from_secs(120),
        || async { (done_count(backend).await as usize >= KILL_JOBS / 4).then_some(()) },
    )
    .await;
    let mut victim = cluster.workers.remove(0);
    // On a loaded machine the victim may still be starting while the others work, so
    // wait until the directory shows it mid-run: the kill must catch it running jobs.
    let pid = victim.pid();
    wait_for(
        "the victim to run jobs",
        Duration::from_secs(60),
        || async {
            let workers = backend.list_workers().await.ok()?;
            workers
                .iter()
                .any(|w| w.pid == pid && !w.running.is_empty())
                .then_some(())
        },
    )
    .await;
    let done_at_kill = done_count(backend).await as usize;
    victim.kill9();
    assert!(
        done_at_kill < KILL_JOBS * 3 / 4,
        "the victim must die with work left: {done_at_kill} of {KILL_JOBS} were done"
    );
    wait_done(backend, KILL_JOBS, Duration::from_secs(300)).await;
    let tally = check_every_job(&cluster, backend, &submitted.accepted).await;
    assert!(tally.restarted > 0, "the victim died with jobs running");
    cluster.assert_all_running();
    println!(
        "{name}, kill -9 of 1 of 3 workers: {} jobs, 0 lost, {} taken back from the dead \
         worker, {} side effects repeated (each with a recorded restart)",
        tally.jobs, tally.restarted, tally.doubled
    );
    drop(cluster);
    isolated.cleanup.await;
}

#[actix_web::test]
async fn postgres_kill_9_of_a_worker_mid_run_loses_nothing() {
    let Some(store) = store_url("postgres_kill_9_of_a_worker") else {
        return;
    };
    kill_9("PostgreSQL", services::postgres_at(&store, None).await).await;
}

#[actix_web::test]
async fn redis_kill_9_of_a_worker_mid_run_loses_nothing() {
    let Some(isolated) = services::redis("redis_kill_9_of_a_worker").await else {
        return;
    };
    kill_9("Redis", isolated).await;
}

#[actix_web::test]
async fn beanstalkd_kill_9_of_a_worker_mid_run_loses_nothing() {
    let test = "beanstalkd_kill_9_of_a_worker";
    let Some(mut isolated) = services::postgres_beanstalkd(test).await else {
        return;
    };
    isolated.store_url = services::with_param(&isolated.store_url, "max_connections", "8");
    kill_9("PostgreSQL + beanstalkd", isolated).await;
}
