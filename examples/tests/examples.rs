//! The examples, run as a user runs them. `embedded`, on a real port: its own `/signup`
//! route enqueues a job that its worker finishes, zerog's API answers under `/zerog`
//! and not outside it, and a bad address is refused by the job's schema. `enqueue`,
//! beside a `waste_time` worker: it waits for its job and prints the result.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use zerog_tests::process::ChildProcess;

/// The example's binary, which `cargo test` builds beside this test's.
fn example(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test knows its path");
    // target/debug/deps/examples-HASH -> target/debug/examples/NAME
    let profile = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test sits in target/PROFILE/deps");
    let binary = profile.join("examples").join(name);
    assert!(
        binary.exists(),
        "{} is missing: `cargo test -p zerog-examples` builds it",
        binary.display()
    );
    binary
}

async fn call(request: awc::ClientRequest, body: Option<&Value>) -> (u16, Value) {
    let response = match body {
        Some(body) => request.send_json(body).await,
        None => request.send().await,
    };
    let mut response = response.expect("the example answers");
    let status = response.status().as_u16();
    let bytes = response.body().await.expect("a body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn a_signup_creates_a_welcome_mail_that_the_worker_sends() {
    let dir = tempfile::tempdir().unwrap();
    let store = zerog_tests::sqlite_url(&dir);
    let (_process, mounted) = ChildProcess::spawn_server(
        "embedded",
        &example("embedded"),
        &[],
        &[("ZEROG_STORE", &store)],
    )
    .await;
    let base = mounted
        .strip_suffix("/zerog")
        .expect("the banner names the mount");
    let client = awc::Client::new();

    let (status, body) = call(
        client.post(format!("{base}/signup")),
        Some(&json!({ "email": "ada@example.com" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let progress = body["progress"].as_str().unwrap().to_owned();
    assert!(progress.starts_with("/zerog/progress/"), "{progress}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let finished = loop {
        let (status, body) = call(client.get(format!("{base}{progress}")), None).await;
        assert_eq!(status, 200, "{body}");
        if body["status"] == "done" {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the welcome mail was never sent: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(finished["resultCode"], 200);
    let uuid = finished["uuid"].as_str().unwrap();
    let (status, data) = call(client.get(format!("{base}/zerog/data/{uuid}")), None).await;
    assert_eq!(status, 200, "{data}");
    assert_eq!(
        data["data"],
        json!({ "to": "ada@example.com", "subject": "Welcome aboard" })
    );

    // zerog's routes answer only under the mount, and say where they are.
    let (status, discovery) = call(client.get(format!("{base}/zerog/")), None).await;
    assert_eq!(status, 200, "{discovery}");
    assert_eq!(discovery["jobTypes"][0]["post"], "/zerog/job/send_welcome");
    let (status, _) = call(client.get(format!("{base}/progress/{uuid}")), None).await;
    assert_eq!(status, 404, "zerog answers outside its mount");

    // The job's schema checks the address, in the app's own route too.
    let (status, refused) = call(
        client.post(format!("{base}/signup")),
        Some(&json!({ "email": "not an address" })),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["details"][0]["path"], "/email");
    let (_, jobs) = call(client.get(format!("{base}/zerog/jobs?limit=10")), None).await;
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(1), "{jobs}");
}

#[actix_web::test]
async fn the_enqueue_program_waits_for_the_job_that_a_worker_elsewhere_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = zerog_tests::sqlite_url(&dir);
    let _worker = ChildProcess::spawn(
        "waste_time work",
        &example("waste_time"),
        &["work"],
        &[("ZEROG_STORE", &store)],
    );
    let output = std::process::Command::new(example("enqueue"))
        .arg("1")
        .env("ZEROG_STORE", &store)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("is done: result code 200"), "{stdout}");

    let refused = std::process::Command::new(example("enqueue"))
        .arg("100000")
        .env("ZEROG_STORE", &store)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("`/delay`"), "{stderr}");
}
