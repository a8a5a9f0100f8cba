//! `serve` and `work` as separate processes, and several workers on one SQLite file;
//! what `serve` answers on a real socket, where the HTTP/1.1 framing is its own.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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

/// Sends `method path` over a connection of its own, as `curl -I` does for `HEAD`, and
/// reads until the server closes: the status line and headers, and what follows them.
async fn exchange(base: &str, method: &str, path: &str) -> (String, Vec<u8>) {
    let address = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: the server never closed"))
        .unwrap();
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no end of headers"));
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    (head, raw[end + 4..].to_vec())
}

/// The value of header `name` in `head`, the status line and headers of an answer.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[actix_web::test]
async fn serve_answers_head_with_the_headers_of_get_and_nothing_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let (_server, base) = ChildProcess::spawn_server(
        "serve",
        Path::new(SERVICE),
        &["serve"],
        &[("ZEROG_STORE", &store)],
    )
    .await;
    for path in ["/health", "/jobs", "/openapi.json", "/branches"] {
        let (get_head, get_body) = exchange(&base, "GET", path).await;
        let (head, body) = exchange(&base, "HEAD", path).await;
        assert!(
            get_head.starts_with("HTTP/1.1 200 "),
            "GET {path}: {get_head}"
        );
        assert!(head.starts_with("HTTP/1.1 200 "), "HEAD {path}: {head}");
        assert!(
            body.is_empty(),
            "HEAD {path} sent a body: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            header(&head, "content-type"),
            header(&get_head, "content-type"),
            "HEAD {path}"
        );
        let length = header(&head, "content-length")
            .unwrap_or_else(|| panic!("HEAD {path} has no Content-Length: {head}"));
        // `/health` measures its round trip, so its length may change between calls.
        if path != "/health" {
            assert_eq!(length, get_body.len().to_string(), "HEAD {path}");
        }
    }
    let (head, body) = exchange(
        &base,
        "HEAD",
        "/progress/6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    assert!(body.is_empty());
    let (head, body) = exchange(&base, "POST", "/health").await;
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    assert_eq!(header(&head, "allow"), Some("GET, HEAD"));
    assert!(!body.is_empty(), "a 405 to POST carries its JSON error");
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

#[actix_web::test]
async fn a_server_with_a_mount_path_serves_the_api_below_it_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let (_server, base) = ChildProcess::spawn_server(
        "serve",
        Path::new(SERVICE),
        &["serve"],
        &[("ZEROG_STORE", &store), ("ZEROG_MOUNT_PATH", "/ops/jobs/")],
    )
    .await;
    let root = base
        .strip_suffix("/ops/jobs")
        .unwrap_or_else(|| panic!("the banner names the mount: {base}"));
    let client = awc::Client::new();
    let get = |url: String| {
        let request = client.get(url);
        async move {
            let mut response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let (status, discovery) = get(format!("{base}/")).await;
    assert_eq!(status, 200, "{discovery}");
    assert_eq!(discovery["links"]["jobs"], "/ops/jobs/jobs");
    let (status, document) = get(format!("{base}/openapi.json")).await;
    assert_eq!(status, 200);
    assert_eq!(document["servers"][0]["url"], "/ops/jobs");
    let (status, health) = get(format!("{base}/health")).await;
    assert_eq!(status, 200, "{health}");
    // Outside the mount: the JSON 404 of a path that no route serves.
    let (status, outside) = get(format!("{root}/jobs")).await;
    assert_eq!(
        (status, outside["error"].as_str()),
        (404, Some("not_found"))
    );

    let refused = std::process::Command::new(SERVICE)
        .arg("serve")
        .env("ZEROG_STORE", &store)
        .env("ZEROG_MOUNT_PATH", "ops/{tenant}")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("is not a mount path"), "{stderr}");
}

#[actix_web::test]
async fn a_queue_paused_through_the_api_is_paused_for_a_worker_elsewhere() {
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
    let _worker = ChildProcess::spawn(
        "work",
        Path::new(SERVICE),
        &["work"],
        &[
            ("ZEROG_STORE", &store),
            ("ZEROG_WORKER_NAME", "elsewhere"),
            ("ZEROG_TEST_MARK_FILE", marks),
        ],
    );
    let client = awc::Client::new();
    let post = |path: String, body: serde_json::Value| {
        let request = client.post(format!("{base}{path}"));
        async move {
            let mut response = request.send_json(&body).await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let status_of = |uuid: String| {
        let request = client.get(format!("{base}/progress/{uuid}"));
        async move {
            let mut response = request.send().await.ok()?;
            let body: serde_json::Value = response.json().await.ok()?;
            body["status"].as_str().map(str::to_owned)
        }
    };
    let (status, queue) = post("/queues/mark/pause".to_owned(), json!({})).await;
    assert_eq!(status, 200, "{queue}");
    // The worker reads the paused queues at most a second old; wait that out, and
    // give it time to take the job if the pause did not hold.
    tokio::time::sleep(zerog::backend::PAUSE_REFRESH + Duration::from_millis(200)).await;
    let (status, submitted) = post("/job/mark".to_owned(), json!({"ms": 1})).await;
    assert_eq!(status, 201, "{submitted}");
    let uuid = submitted["uuid"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status_of(uuid.clone()).await.as_deref(), Some("queued"));
    let (status, queue) = post("/queues/mark/resume".to_owned(), json!({})).await;
    assert_eq!((status, &queue["paused"]), (200, &json!(false)), "{queue}");
    wait_for("the resumed job to finish", Duration::from_secs(30), || {
        let status = status_of(uuid.clone());
        async move { (status.await.as_deref() == Some("done")).then_some(()) }
    })
    .await;
}
