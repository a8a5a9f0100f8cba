//! The backend conformance suite on PostgreSQL, a schema per test; and what only
//! PostgreSQL does: enqueue inside the caller's transaction, and migrations that two
//! processes may race to apply.

use chrono::Utc;
use zerog::backend::{PostgresBackend, Store, StoreError};
use zerog_tests::services::{self, Service};

use crate as conformance;
use crate::{Caps, Subject};

async fn open(test: &'static str) -> Option<Subject> {
    let isolated = services::postgres(test).await?;
    Some(Subject {
        backend: isolated.backend,
        caps: Caps {
            orders_by_run_at: true,
            wakes_on_enqueue: true,
            atomic_batches: true,
        },
        cleanup: Some(isolated.cleanup),
    })
}

conformance_suite!(open);

/// A backend of its own schema, and the URL that names it.
async fn backend(test: &str) -> Option<(PostgresBackend, String)> {
    let url = services::require(Service::Postgres, test)?;
    let url = services::with_param(&url, "schema", &services::unique_name());
    let backend = PostgresBackend::connect(&url)
        .await
        .expect("PostgreSQL connects");
    Some((backend, url))
}

#[tokio::test]
async fn enqueue_in_the_callers_transaction_commits_or_rolls_back_with_it() {
    let Some((backend, _)) = backend("enqueue_in_the_callers_transaction").await else {
        return;
    };
    let rolled_back = conformance::record("a", "alpha");
    let mut tx = backend.pool().begin().await.unwrap();
    backend
        .enqueue_in(&mut tx, &rolled_back, 1, Utc::now())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let store: &dyn zerog::backend::Store = &backend;
    assert_eq!(store.get(rolled_back.uuid).await.unwrap(), None);

    let committed = conformance::record("a", "alpha");
    let mut tx = backend.pool().begin().await.unwrap();
    backend
        .enqueue_in(&mut tx, &committed, 1, Utc::now())
        .await
        .unwrap();
    let duplicate = backend.enqueue_in(&mut tx, &committed, 1, Utc::now()).await;
    assert!(matches!(duplicate, Err(StoreError::Duplicate(_))));
    // Invisible to others until the commit.
    assert_eq!(store.get(committed.uuid).await.unwrap(), None);
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .get(committed.uuid)
            .await
            .unwrap()
            .map(|stored| stored.record),
        Some(committed.clone())
    );
    let ask = conformance::Ask::new(&["alpha"], &["a"]);
    let taken = backend
        .reserve(&ask.request(1))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(taken.record.uuid, committed.uuid);
    backend.drop_schema().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    let Some((first, url)) = backend("concurrent_starts_migrate_once").await else {
        return;
    };
    first.drop_schema().await.unwrap();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresBackend::connect(&url).await })
        })
        .collect();
    for start in starts {
        start.await.unwrap().expect("every start succeeds");
    }
    let (applied, versions): (i64, i64) = sqlx_count(&first).await;
    assert!(versions > 0, "migrated");
    assert_eq!(applied, versions, "each migration applied once");
    first.drop_schema().await.unwrap();
}

async fn sqlx_count(backend: &PostgresBackend) -> (i64, i64) {
    let sql = format!(
        "SELECT count(*), count(DISTINCT version) FROM \"{}\".zerog_migrations",
        backend.schema()
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(backend.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_urls_are_refused() {
    for url in [
        "postgres://postgres@127.0.0.1/test?schema=Robert');DROP",
        "postgres://postgres@127.0.0.1/test?max_connections=many",
    ] {
        let refused = PostgresBackend::connect(url).await;
        assert!(matches!(refused, Err(StoreError::BadUrl { .. })), "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_elsewhere_wakes_on_notify() {
    let Some(isolated) = services::postgres("a_worker_elsewhere_wakes_on_notify").await else {
        return;
    };
    let elsewhere = zerog::backend::Backend::connect(&isolated.store_url)
        .await
        .unwrap();
    conformance::wakes_across_handles(elsewhere, isolated.backend).await;
    isolated.cleanup.await;
}

#[tokio::test]
async fn a_read_only_database_is_refused_at_connect() {
    let Some(isolated) = services::postgres("a_read_only_database_is_refused").await else {
        return;
    };
    isolated.backend.ping().await.unwrap();
    let read_only = services::with_param(
        &isolated.store_url,
        "options",
        "-c%20default_transaction_read_only%3Don",
    );
    let refused = zerog::backend::Backend::connect(&read_only).await;
    let message = refused
        .expect_err("a read-only database is refused")
        .to_string();
    assert!(message.contains("read-only transaction"), "{message}");
    isolated.cleanup.await;
}

/// A burst of jobs into a new table has the backend analyze it, so that the planner
/// reserves through the index of due jobs rather than sorting them all, without
/// waiting for autovacuum.
#[tokio::test]
async fn a_burst_of_inserts_is_analyzed_without_waiting_for_autovacuum() {
    let Some((backend, _)) = backend("a_burst_of_inserts_is_analyzed").await else {
        return;
    };
    let store: &dyn Store = &backend;
    let analyzed = |backend: PostgresBackend| async move {
        let count: Option<i64> = sqlx::query_scalar(
            "SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables
             WHERE schemaname = $1 AND relname = 'zerog_jobs'",
        )
        .bind(backend.schema())
        .fetch_optional(backend.pool())
        .await
        .unwrap();
        count.unwrap_or(0)
    };
    let before = analyzed(backend.clone()).await;
    let records: Vec<_> = (0..1200)
        .map(|_| conformance::record("a", "alpha"))
        .collect();
    let jobs: Vec<_> = records
        .iter()
        .map(|record| zerog::backend::NewJob {
            record,
            cost: 1,
            run_at: Utc::now(),
        })
        .collect();
    store.insert(&jobs).await.unwrap();
    zerog_tests::wait_for(
        "the jobs table to be analyzed after 1,200 inserts",
        std::time::Duration::from_secs(20),
        || {
            let backend = backend.clone();
            async move { (analyzed(backend).await > before).then_some(()) }
        },
    )
    .await;
    backend.drop_schema().await.unwrap();
}
