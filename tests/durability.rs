//! Nothing accepted is lost when the server and the worker go away: new ones on the
//! same SQLite file finish every job.

#[path = "../examples/jobs/waste_time.rs"]
mod waste_time;

use serde_json::json;
use zerog::Registry;
use zerog::backend::Backend;
use zerog_tests::{Service, sqlite_url};

fn registry() -> Registry {
    Registry::new().register::<waste_time::WasteTime>()
}

#[actix_web::test]
async fn accepted_jobs_survive_a_restart_of_server_and_worker() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);

    // One unit of capacity and one-second jobs: most are still queued at the stop.
    let first = Service::start(Backend::connect(&url).await.unwrap(), registry(), 1).await;
    let mut uuids = Vec::new();
    for _ in 0..6 {
        uuids.push(first.submit("waste_time", &json!({"delay": 1})).await);
    }
    first.stop().await;

    let backend = Backend::connect(&url).await.unwrap();
    let mut unfinished = 0;
    for uuid in &uuids {
        let record = backend.get(uuid.parse().unwrap()).await.unwrap().unwrap();
        unfinished += usize::from(!record.status.is_finished());
    }
    assert!(unfinished > 0, "the restart must find work left over");

    let second = Service::start(backend, registry(), 4).await;
    for uuid in &uuids {
        let progress = second.wait_finished(uuid).await;
        assert_eq!(progress["status"], "done", "{progress}");
        assert_eq!(progress["resultCode"], 200);
    }
    second.stop().await;
}
