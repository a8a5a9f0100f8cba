//! The backend conformance suite on PostgreSQL as the store and beanstalkd as the
//! queue: a schema and a tube prefix per test.

use zerog_tests::services;

use crate::{Caps, Subject};

async fn open(test: &'static str) -> Option<Subject> {
    let isolated = services::postgres_beanstalkd(test).await?;
    Some(Subject {
        backend: isolated.backend,
        caps: Caps {
            orders_by_run_at: false,
            wakes_on_enqueue: true,
            atomic_batches: false,
        },
        cleanup: Some(isolated.cleanup),
    })
}

conformance_suite!(open);
