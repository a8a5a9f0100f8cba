//! `serve` and `work` as separate processes, and several workers on one SQLite file.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use zerog_tests::process::ChildProcess;
use zerog_tests::{sqlite_url, wait_for};

const SERVICE: &str = env!("CARGO_BIN_EXE_zerog-test-service");

#[actix_web::test]
async fn serve_and_work_processes_share_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let marks = dir.path().join("marks");
    let marks = marks.to_str().unwrap();
    let (_server, base) = ChildProcess::spawn_server(
        "serve",
        Path::new(SERVICE),
        &["serve"],
        &[("ZEROG_STORE", &store)],
    )
    .await;
    let mut workers = Vec::new();
    for name in ["w1", "w2", "w3"] {
        workers.push(ChildProcess::spawn(
            name,
            Path::new(SERVICE),
            &["work"],
            &[
                ("ZEROG_STORE", &store),
                ("ZEROG_CAPACITY", "4"),
                ("ZEROG_WORKER_NAME", name),
                ("ZEROG_TEST_MARK_FILE", marks),
            ],
        ));
    }
    // `spawn_server` returns once the server's banner shows it listening.
    let client = awc::Client::new();

    let mut uuids = Vec::new();
    for _ in 0..150 {
        let mut response = client
            .post(format!("{base}/job/mark"))
            .send_json(&json!({"ms": fastrand::u64(0..20)}))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let body: serde_json::Value = response.json().await.unwrap();
        uuids.push(body["uuid"].as_str().unwrap().to_owned());
    }
    let is_done = |uuid: String| {
        let client = &client;
        let base = &base;
        async move {
            let mut response = client
                .get(format!("{base}/progress/{uuid}"))
                .send()
                .await
                .ok()?;
            let body: serde_json::Value = response.json().await.ok()?;
            Some(body["status"] == "done")
        }
    };
    wait_for("every job to finish", Duration::from_secs(60), || async {
        for uuid in &uuids {
            if is_done(uuid.clone()).await != Some(true) {
                return None;
            }
        }
        Some(())
    })
    .await;
    let mut completions: HashMap<String, usize> = HashMap::new();
    for line in std::fs::read_to_string(marks).unwrap().lines() {
        *completions.entry(line.to_owned()).or_default() += 1;
    }
    for uuid in &uuids {
        assert_eq!(
            completions.get(uuid),
            Some(&1),
            "job {uuid} ran to completion once"
        );
    }
    drop(workers);
}
