//! The backend conformance suite on SQLite: a fresh database file per test.

#[macro_use]
mod conformance;

use conformance::{Caps, Subject};
use zerog::backend::Backend;

async fn open(_test: &'static str) -> Option<Subject> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let backend = Backend::connect(&zerog_tests::sqlite_url(&dir))
        .await
        .expect("SQLite opens");
    Some(Subject {
        backend,
        caps: Caps {
            orders_by_run_at: true,
            wakes_on_enqueue: false,
            atomic_batches: true,
        },
        cleanup: Some(Box::pin(async move { drop(dir) })),
    })
}

conformance_suite!(open);
