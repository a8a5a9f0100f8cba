//! Outages: the connections of a whole cluster (one `serve`, two `work` processes) to
//! PostgreSQL, Redis or beanstalkd go through a proxy that the test cuts mid-run. The
//! processes report errors without crashing, `/health` answers 503 while the service
//! is away, everything recovers when it is back, and no accepted job is lost.

use std::time::Duration;

use serde_json::json;
use zerog::backend::Backend;
use zerog_tests::proxy::Proxy;
use zerog_tests::services::{self, Service};
use zerog_tests::wait_for;

use crate::{Cluster, Settings, check_every_job, done_count, wait_done};

/// Jobs submitted before, during and after the outage.
const BEFORE: usize = 120;
const DURING: usize = 16;
const AFTER: usize = 60;

/// How long the service stays away: three times the workers' lease.
const OUTAGE: Duration = Duration::from_secs(6);

/// Runs a cluster whose `store` and `queue` URLs go through `proxy`, cuts the proxy
/// mid-run, restores it, and checks every accepted job. `backend` reaches the store
/// without the proxy, to watch.
async fn outage(name: &str, proxy: &Proxy, store: &str, queue: Option<&str>, backend: &Backend) {
    let mut cluster = Cluster::start(&Settings {
        store,
        queue,
        workers: 2,
        capacity: 4,
        lease: "2s",
    })
    .await;
    let mut accepted = Vec::new();
    let before = cluster.submit(BEFORE, &json!({"ms": 150}), 16).await;
    assert_eq!(
        before.accepted.len(),
        BEFORE,
        "every job is accepted before the outage"
    );
    accepted.extend(before.accepted);
    wait_for("some jobs to be done", Duration::from_secs(60), || async {
        (done_count(backend).await >= 10).then_some(())
    })
    .await;

    proxy.cut();
    wait_for("/health to answer 503", Duration::from_secs(60), || async {
        (cluster.health().await == Some(503)).then_some(())
    })
    .await;
    let during = cluster.submit(DURING, &json!({"ms": 10}), 8).await;
    // A job is accepted only once it is stored; during the outage none can be.
    assert_eq!(
        during.refused, DURING,
        "no job is accepted while {name} is away"
    );
    // The outage lasts three leases, so that runs in flight lose their leases and the
    // workers go through failed reservations, heartbeats and acks.
    let outage_ends = tokio::time::Instant::now() + OUTAGE;
    while tokio::time::Instant::now() < outage_ends {
        assert_eq!(
            cluster.health().await,
            Some(503),
            "/health while {name} is away"
        );
        cluster.assert_all_running();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    proxy.restore();
    wait_for(
        "/health to answer 200 again",
        Duration::from_secs(60),
        || async { (cluster.health().await == Some(200)).then_some(()) },
    )
    .await;
    let after = cluster.submit(AFTER, &json!({"ms": 10}), 16).await;
    assert_eq!(
        after.accepted.len(),
        AFTER,
        "every job is accepted after the outage"
    );
    accepted.extend(after.accepted);
    wait_done(backend, accepted.len(), Duration::from_secs(180)).await;
    let tally = check_every_job(&cluster, backend, &accepted).await;
    cluster.assert_all_running();
    assert!(
        proxy.accepted() > 0,
        "the cluster reached {name} through the proxy"
    );
    println!(
        "{name} outage: {} jobs accepted, {} refused while down, 0 lost, {} taken back after \
         their leases ran out, {} side effects repeated (each with a recorded restart)",
        tally.jobs, DURING, tally.restarted, tally.doubled
    );
}

#[actix_web::test]
async fn postgres_outage() {
    let Some(url) = services::require(Service::Postgres, "postgres_outage") else {
        return;
    };
    let url = services::with_param(&url, "schema", &services::unique_name());
    let direct = services::postgres_at(&url, None).await;
    let proxy = Proxy::start(&Service::Postgres.address()).await;
    let through = services::with_address(&url, &proxy.address().to_string());
    outage("PostgreSQL", &proxy, &through, None, &direct.backend).await;
    direct.cleanup.await;
}

#[actix_web::test]
async fn redis_outage() {
    let Some(url) = services::require(Service::Redis, "redis_outage") else {
        return;
    };
    let url = services::with_param(&url, "prefix", &services::unique_name());
    let direct = services::redis_at(&url).await;
    let proxy = Proxy::start(&Service::Redis.address()).await;
    let through = services::with_address(&url, &proxy.address().to_string());
    outage("Redis", &proxy, &through, None, &direct.backend).await;
    direct.cleanup.await;
}

#[actix_web::test]
async fn beanstalkd_outage() {
    let Some(store) = services::require(Service::Postgres, "beanstalkd_outage") else {
        return;
    };
    let Some(queue) = services::require(Service::Beanstalkd, "beanstalkd_outage") else {
        return;
    };
    let name = services::unique_name();
    let store = services::with_param(&store, "schema", &name);
    let direct = services::postgres_at(&store, None).await;
    let proxy = Proxy::start(&Service::Beanstalkd.address()).await;
    let queue = services::with_param(&queue, "tube_prefix", &name);
    let through = services::with_address(&queue, &proxy.address().to_string());
    outage(
        "beanstalkd",
        &proxy,
        &store,
        Some(&through),
        &direct.backend,
    )
    .await;
    direct.cleanup.await;
    services::purge_tubes(&name).await;
}
