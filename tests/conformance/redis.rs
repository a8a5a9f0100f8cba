//! The backend conformance suite on Redis, a key prefix per test.

use zerog::backend::{RedisBackend, StoreError};
use zerog_tests::services;

use crate as conformance;
use crate::{Caps, Subject};

async fn open(test: &'static str) -> Option<Subject> {
    let isolated = services::redis(test).await?;
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

#[tokio::test]
async fn bad_prefixes_are_refused() {
    let refused = RedisBackend::connect("redis://127.0.0.1:6379/?prefix=a*b").await;
    assert!(matches!(refused, Err(StoreError::BadUrl { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_elsewhere_wakes_on_publish() {
    let Some(isolated) = services::redis("a_worker_elsewhere_wakes_on_publish").await else {
        return;
    };
    let elsewhere = zerog::backend::Backend::connect(&isolated.store_url)
        .await
        .unwrap();
    conformance::wakes_across_handles(elsewhere, isolated.backend).await;
    isolated.cleanup.await;
}
