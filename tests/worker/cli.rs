//! The binary's client commands (`submit`, `watch`, `jobs`, `info`, `schema`,
//! `cancel`, `retry`) run as a user runs them: the real binary against a real server
//! on a socket, their output read from pipes (not a terminal), their exit codes
//! checked against the published ones.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use zerog_tests::process::ChildProcess;
use zerog_tests::sqlite_url;

const SERVICE: &str = env!("CARGO_BIN_EXE_zerog-test-service");

/// What one client command did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn expect(self, code: i32, what: &str) -> Self {
        assert_eq!(
            self.code, code,
            "{what}: exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs the service binary with `args` as a client of the API at `url`, for up to a
/// minute, with no token unless the args give one.
fn client(url: &str, args: &[&str]) -> Ran {
    let mut child = Command::new(SERVICE)
        .args(args)
        .env("ZEROG_URL", url)
        .env_remove("ZEROG_API_TOKEN")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the service binary starts");
    let give_up = Instant::now() + Duration::from_secs(60);
    while child
        .try_wait()
        .expect("the client can be waited on")
        .is_none()
    {
        if Instant::now() > give_up {
            let _ = child.kill();
            panic!("`{}` did not end within a minute", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child
        .wait_with_output()
        .expect("the client's output is read");
    Ran {
        code: status
            .code()
            .expect("the client exits, not killed by a signal"),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// A server of the test service on a fresh SQLite file: `run` (with a worker) or
/// `serve` (none, so that jobs stay where they are put).
async fn server(role: &str, env: &[(&str, &str)]) -> (ChildProcess, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let mut env = env.to_vec();
    env.push(("ZEROG_STORE", &store));
    let (process, url) = ChildProcess::spawn_server(role, Path::new(SERVICE), &[role], &env).await;
    (process, url, dir)
}

fn no_escape_codes(text: &str) {
    assert!(
        !text.contains('\x1b'),
        "escape codes in output that is not a terminal:\n{text}"
    );
}

#[actix_web::test]
async fn submit_watch_jobs_info_and_schema_against_a_running_service() {
    let (_server, url, _dir) = server("run", &[]).await;

    let ran = client(
        &url,
        &["submit", "waste_time", r#"{"delay": 1}"#, "--watch"],
    )
    .expect(0, "a job that ends done 200 under --watch");
    no_escape_codes(&ran.stdout);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    let uuid = lines[0];
    uuid::Uuid::parse_str(uuid).unwrap_or_else(|_| panic!("the first line is the uuid: {uuid}"));
    assert!(
        lines.iter().any(|line| line.contains("running")),
        "a line shows the job running:\n{}",
        ran.stdout
    );
    assert!(
        lines
            .iter()
            .any(|line| line.trim().starts_with("info: ") && line.contains("seconds remaining")),
        "the job's log lines are printed:\n{}",
        ran.stdout
    );
    assert_eq!(
        lines[lines.len() - 2..],
        ["done: result code 200", "data: null"]
    );

    // A job that fails: `mark` has no file to mark in this server.
    let failed = client(&url, &["submit", "mark", "{}", "--watch"])
        .expect(1, "a job that fails under --watch");
    assert!(
        failed.stdout.contains("failed: result code 500"),
        "{}",
        failed.stdout
    );
    assert!(failed.stdout.contains("no mark file"), "{}", failed.stdout);
    // Watching it again, once finished, ends the same way.
    let failed_uuid = failed.stdout.lines().next().unwrap().to_owned();
    client(&url, &["watch", &failed_uuid]).expect(1, "watching a failed job");

    let table = client(&url, &["jobs"]).expect(0, "jobs");
    let mut table_lines = table.stdout.lines();
    let header = table_lines.next().unwrap();
    for column in ["UUID", "TYPE", "STATUS", "PROGRESS", "RESULT", "AGE"] {
        assert!(header.contains(column), "{header}");
    }
    for line in table.stdout.lines() {
        assert!(
            line.chars().count() <= 100,
            "wider than 100 columns: {line}"
        );
    }
    let row = table
        .stdout
        .lines()
        .find(|line| line.starts_with(uuid))
        .unwrap_or_else(|| panic!("the table lists {uuid}:\n{}", table.stdout));
    assert!(
        row.contains("waste_time") && row.contains("done") && row.contains("200"),
        "{row}"
    );

    // A reader that goes away at once (`| head`) ends the command quietly.
    let mut gone = Command::new(SERVICE)
        .args(["jobs"])
        .env("ZEROG_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(gone.stdout.take());
    let gone = gone.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(gone.status.code(), Some(0), "{stderr}");

    let listed = client(
        &url,
        &["jobs", "--json", "--type", "waste_time", "--limit", "5"],
    )
    .expect(0, "jobs --json");
    let listed: Value = serde_json::from_str(&listed.stdout).expect("jobs --json prints JSON");
    assert_eq!(listed["jobs"][0]["uuid"], uuid, "{listed}");
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{listed}");

    let info = client(&url, &["info", uuid]).expect(0, "info");
    assert!(
        info.stdout.contains("done, result code 200"),
        "{}",
        info.stdout
    );
    assert!(info.stdout.contains("seconds remaining"), "{}", info.stdout);
    let info = client(&url, &["info", uuid, "--json"]).expect(0, "info --json");
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(info["status"], "done");

    let schema = client(&url, &["schema", "waste_time"]).expect(0, "schema");
    let schema: Value = serde_json::from_str(&schema.stdout).expect("schema prints JSON");
    assert_eq!(schema["properties"]["delay"]["maximum"], 86400, "{schema}");

    // Parameters that the API refuses: each detail with its path, one per line.
    let refused = client(&url, &["submit", "waste_time", r#"{"delay": 100000}"#])
        .expect(2, "parameters refused with 400");
    let detail = refused
        .stderr
        .lines()
        .find(|line| line.trim_start().starts_with("/delay: "))
        .unwrap_or_else(|| panic!("the detail is printed with its path:\n{}", refused.stderr));
    assert!(detail.contains("86400"), "{detail}");
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    let unknown = client(&url, &["schema", "no_such_type"]).expect(3, "an unknown job type");
    assert!(
        unknown.stderr.contains("unknown_job_type"),
        "{}",
        unknown.stderr
    );
}

#[actix_web::test]
async fn cancel_and_retry_a_waiting_job() {
    // No worker: the job stays where each command puts it.
    let (_server, url, _dir) = server("serve", &[]).await;
    let submitted = client(&url, &["submit", "linger", r#"{"ms": 50}"#, "--in", "1h"])
        .expect(0, "a delayed submit");
    let uuid = submitted.stdout.trim().to_owned();
    let info = client(&url, &["info", &uuid, "--json"]).expect(0, "info");
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(info["status"], "waiting", "{info}");

    let cancelled = client(&url, &["cancel", &uuid]).expect(0, "cancel");
    assert_eq!(cancelled.stdout.trim(), format!("{uuid} cancelled"));
    let again = client(&url, &["cancel", &uuid]).expect(3, "cancelling a finished job");
    assert!(again.stderr.contains("HTTP 409"), "{}", again.stderr);

    let retried = client(&url, &["retry", &uuid]).expect(0, "retry");
    assert_eq!(retried.stdout.trim(), format!("{uuid} queued"));
    let info = client(&url, &["info", &uuid]).expect(0, "info after the retry");
    assert!(
        info.stdout.contains("queued, no result code yet"),
        "{}",
        info.stdout
    );
    assert!(info.stdout.contains("Retried by user"), "{}", info.stdout);

    let retried = client(&url, &["retry", &uuid, "--json"]).expect(3, "retrying a queued job");
    assert!(
        retried.stderr.contains("not_retryable"),
        "{}",
        retried.stderr
    );
}

#[actix_web::test]
async fn bad_input_and_an_unreachable_server_exit_with_one_clear_line() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");

    let bad = client(&url, &["submit", "waste_time", r#"{"delay": 3,}"#])
        .expect(2, "parameters that are not JSON");
    assert!(bad.stderr.contains("line 1 column 13"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("              ^"),
        "the caret is under the spot:\n{}",
        bad.stderr
    );

    let unreachable = client(&url, &["jobs"]).expect(3, "an unreachable server");
    assert_eq!(
        unreachable.stderr.lines().count(),
        1,
        "{}",
        unreachable.stderr
    );
    assert!(unreachable.stderr.contains(&url), "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("cannot reach"),
        "{}",
        unreachable.stderr
    );
    assert!(
        !unreachable.stderr.contains("panicked"),
        "{}",
        unreachable.stderr
    );

    let usage = client(&url, &["watch", "not-a-uuid"]).expect(2, "a uuid that is not one");
    assert!(usage.stderr.contains("not-a-uuid"), "{}", usage.stderr);
    client(&url, &["submit", "--help"]).expect(0, "help");
}

#[actix_web::test]
async fn a_wrong_or_missing_token_exits_3_without_printing_it() {
    let (_server, url, _dir) = server("serve", &[("ZEROG_API_TOKEN", "right-token")]).await;
    let wrong = client(&url, &["jobs", "--token", "wrong-token"]).expect(3, "a wrong token");
    assert_eq!(wrong.stderr.lines().count(), 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("refused the token"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("wrong-token"), "{}", wrong.stderr);
    let missing = client(&url, &["jobs"]).expect(3, "no token");
    assert!(
        missing.stderr.contains("requires a token"),
        "{}",
        missing.stderr
    );
    let right = client(&url, &["jobs", "--token", "right-token"]).expect(0, "the right token");
    assert_eq!(right.stdout.trim(), "no jobs");
}

#[actix_web::test]
async fn schedules_are_added_listed_and_removed() {
    let (_server, url, _dir) = server("serve", &[]).await;
    let empty = client(&url, &["schedules"]).expect(0, "an empty list");
    assert!(empty.stdout.contains("(no schedules)"), "{}", empty.stdout);
    let added = client(
        &url,
        &[
            "schedules",
            "add",
            "nightly",
            "0 30 2 * * *",
            "linger",
            r#"{"ms": 5}"#,
            "--timezone",
            "Europe/Paris",
        ],
    )
    .expect(0, "schedules add");
    assert!(
        added.stdout.starts_with("nightly: next run at 20"),
        "{}",
        added.stdout
    );
    let listed = client(&url, &["schedules"]).expect(0, "schedules");
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{}", listed.stdout);
    assert!(
        lines[1].starts_with("nightly") && lines[1].contains("Europe/Paris"),
        "{}",
        listed.stdout
    );
    let listed = client(&url, &["schedules", "--json"]).expect(0, "schedules --json");
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed["schedules"][0]["cron"], "0 30 2 * * *");

    let bad = client(
        &url,
        &["schedules", "add", "bad", "every day", "linger", "{}"],
    )
    .expect(2, "a cron expression that is not one");
    assert!(bad.stderr.contains("bad_cron"), "{}", bad.stderr);
    client(&url, &["schedules", "add", "x", "@daily", "linger", "{"])
        .expect(2, "parameters that are not JSON");

    let removed = client(&url, &["schedules", "remove", "nightly"]).expect(0, "remove");
    assert_eq!(removed.stdout.trim(), "nightly removed");
    let again = client(&url, &["schedules", "remove", "nightly"]).expect(3, "remove again");
    assert!(again.stderr.contains("404"), "{}", again.stderr);
}
