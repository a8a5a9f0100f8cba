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

/// Starts the service binary with `env`, expecting it to refuse at once; its stderr.
fn refused_at_start(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zerog-test-service"))
        .arg("run")
        .env("ZEROG_STORE", zerog_tests::sqlite_url(&dir))
        .env("ZEROG_BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the service binary starts");
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > give_up {
            child.kill().unwrap();
            panic!("the service started with {env:?}; it should have refused");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{env:?} exited 0: {stderr}");
    stderr
}

#[test]
fn settings_that_would_fail_silently_are_refused_at_start() {
    let empty = refused_at_start(&[("ZEROG_API_TOKEN", "")]);
    assert!(empty.contains("leave the API open"), "{empty}");
    let spaced = refused_at_start(&[("ZEROG_API_TOKEN", " s3cret ")]);
    assert!(spaced.contains("spaces around it"), "{spaced}");
    assert!(
        !spaced.contains("s3cret"),
        "the token is not printed: {spaced}"
    );
    let idle = refused_at_start(&[("ZEROG_CAPACITY", "0")]);
    assert!(idle.contains("--capacity"), "{idle}");
    let closed = refused_at_start(&[("ZEROG_MAX_CONNECTIONS", "0")]);
    assert!(closed.contains("--max-connections"), "{closed}");
    let hasty = refused_at_start(&[("ZEROG_BODY_TIMEOUT", "0s")]);
    assert!(
        hasty.contains("--body-timeout") && hasty.contains("longer than zero"),
        "{hasty}"
    );
    let no_path = refused_at_start(&[("ZEROG_STORE", "sqlite://")]);
    assert!(no_path.contains("sqlite://PATH"), "{no_path}");
    let missing = refused_at_start(&[("ZEROG_STORE", "sqlite:///no/such/dir/jobs.db")]);
    assert!(missing.contains("/no/such/dir/jobs.db"), "{missing}");
    // The port is taken for as long as this listener lives.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let busy = refused_at_start(&[("ZEROG_BIND", &address)]);
    assert!(busy.contains(&address) && busy.contains("--bind"), "{busy}");
    assert!(busy.contains("ZEROG_BIND"), "{busy}");
}

#[test]
fn passwords_in_store_urls_are_never_printed_and_the_wrong_parameter_is_named() {
    for (store, names) in [
        ("nosuch://app:hunter2@127.0.0.1/jobs", "nosuch://app:***@"),
        (
            "postgres://app:hunter2@127.0.0.1:5432/test?max_connections=many",
            "`max_connections`",
        ),
        (
            "postgres://app:hunter2@127.0.0.1:5432/test?schema=Robert');DROP",
            "`schema`",
        ),
        ("redis://:hunter2@127.0.0.1:6379/?prefix=a*b", "`prefix`"),
    ] {
        let stderr = refused_at_start(&[("ZEROG_STORE", store)]);
        assert!(!stderr.contains("hunter2"), "{store}: {stderr}");
        assert!(stderr.contains(names), "{store} names {names}: {stderr}");
    }
    // clap prints each setting's environment value in the help, unless told not to.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_zerog-test-service"))
        .args(["run", "--help"])
        .env("ZEROG_STORE", "postgres://app:hunter2@127.0.0.1/test")
        .env("ZEROG_QUEUE", "beanstalkd://hunter2@127.0.0.1:11300")
        .output()
        .expect("the service binary starts");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("ZEROG_STORE"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
}

#[actix_web::test]
async fn an_open_server_answers_only_to_its_address_and_the_allowed_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let (_server, base) = ChildProcess::spawn_server(
        "serve",
        Path::new(SERVICE),
        &["serve"],
        &[
            ("ZEROG_STORE", &store),
            ("ZEROG_ALLOWED_HOSTS", "jobs.example"),
        ],
    )
    .await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let client = awc::Client::new();
    let status = |host: String| {
        let request = client
            .get(format!("{base}/jobs"))
            .insert_header((awc::http::header::HOST, host));
        async move {
            let mut response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (
                status,
                body["error"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    assert_eq!(status(format!("127.0.0.1:{port}")).await.0, 200);
    assert_eq!(status(format!("localhost:{port}")).await.0, 200);
    assert_eq!(status(format!("jobs.example:{port}")).await.0, 200);
    assert_eq!(
        status(format!("rebound.example:{port}")).await,
        (403, "host_not_allowed".to_owned())
    );
}
