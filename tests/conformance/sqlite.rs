//! The backend conformance suite on SQLite: a fresh database file per test.

use zerog::backend::Backend;

use crate::{Caps, Subject};

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

/// A `serve` and a `work` process started together on a new file both open it and
/// migrate it, and every opening succeeds: the one that loses the race to switch the
/// file to WAL opens again, and a second run of a migration would fail its `CREATE
/// TABLE`. Several rounds, because the race is over the first moments of the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opens_of_a_new_file_all_succeed() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = zerog_tests::sqlite_url(&dir);
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Backend::connect(&url).await })
            })
            .collect();
        for open in opens {
            open.await.unwrap().expect("every opening succeeds");
        }
    }
}
