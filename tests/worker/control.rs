//! Cancel (queued, waiting, running, kill), the worker directory, and drain and
//! graceful shutdown of worker processes.

use std::path::Path;

use serde_json::{Value, json};
use zerog::Registry;
use zerog::backend::Backend;
use zerog_tests::process::ChildProcess;
use zerog_tests::{DEADLINE, Service, sqlite_url, wait_for};

use crate::jobs;

const SERVICE: &str = env!("CARGO_BIN_EXE_zerog-test-service");

fn registry() -> Registry {
    Registry::new()
        .register::<jobs::Linger>()
        .register::<jobs::Mark>()
}

async fn wait_status(service: &Service, uuid: &str, status: &str) -> Value {
    wait_for(&format!("job {uuid} to be {status}"), DEADLINE, || async {
        let (_, progress) = service.get(&format!("/progress/{uuid}")).await;
        (progress["status"] == status).then_some(progress)
    })
    .await
}

#[actix_web::test]
async fn cancel_a_queued_job_at_once_and_a_finished_one_not_at_all() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    // Capacity 1, taken by a long job, so the second one stays queued.
    let service = Service::start(backend, registry(), 1).await;
    let busy = service.submit("linger", &json!({"ms": 60000})).await;
    wait_status(&service, &busy, "running").await;
    let queued = service.submit("linger", &json!({"ms": 10})).await;

    let (status, body) = service.post(&format!("/cancel/{queued}"), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    assert_eq!(body["resultCode"], 410);
    let (_, progress) = service.get(&format!("/progress/{queued}")).await;
    assert_eq!(progress["status"], "cancelled");
    assert_eq!(progress["resultCode"], 410);

    let (status, body) = service.post(&format!("/cancel/{queued}"), &json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "already_finished");
    assert_eq!(body["status"], "cancelled");

    let (status, body) = service
        .post(&format!("/cancel/{}", uuid::Uuid::new_v4()), &json!({}))
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("unknown_job")));
    let (status, body) = service.post("/cancel/nope", &json!({})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_uuid")));

    service
        .post(&format!("/cancel/{busy}?kill=true"), &json!({}))
        .await;
    service.stop().await;
}

#[actix_web::test]
async fn cancel_a_running_job_cooperatively() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let service = Service::start(backend, registry(), 2).await;
    for checkpoint in [false, true] {
        let uuid = service
            .submit("linger", &json!({"ms": 60000, "checkpoint": checkpoint}))
            .await;
        wait_status(&service, &uuid, "running").await;
        let (status, body) = service.post(&format!("/cancel/{uuid}"), &json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["cancelRequested"], true);
        assert_eq!(body["status"], "running");

        let progress = wait_status(&service, &uuid, "cancelled").await;
        assert_eq!(progress["resultCode"], 410);
        let (_, info) = service.get(&format!("/info/{uuid}")).await;
        assert_eq!(info["attempts"], 0, "a cancel is not an error: {info}");
        assert!(info["finishedAt"].is_string());
    }
    service.stop().await;
}

#[actix_web::test]
async fn kill_drops_a_running_job_at_once() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let service = Service::start(backend, registry(), 2).await;
    let uuid = service
        .submit("linger", &json!({"ms": 60000, "stubborn": true}))
        .await;
    wait_status(&service, &uuid, "running").await;

    let (status, body) = service
        .post(&format!("/cancel/{uuid}?kill=true"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    let (_, info) = service.get(&format!("/info/{uuid}")).await;
    assert_eq!(info["resultCode"], 410);
    let killed = &info["errors"][0];
    assert_eq!(
        (killed["errorCode"].as_i64(), killed["msg"].as_str()),
        (Some(410), Some("Killed by user"))
    );

    // The worker drops the run: it no longer lists the job, and the record stays killed.
    wait_for("the worker to drop the killed run", DEADLINE, || async {
        let (_, body) = service.get("/workers").await;
        let workers = body["workers"].as_array()?;
        workers
            .iter()
            .all(|w| {
                !w["running"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == uuid.as_str())
            })
            .then_some(())
    })
    .await;
    let (_, after) = service.get(&format!("/info/{uuid}")).await;
    assert_eq!(after, info, "the dropped run wrote nothing");
    service.stop().await;
}

#[actix_web::test]
async fn workers_are_listed_with_their_state_and_capacity() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let service = Service::start(backend, registry(), 3).await;
    let uuid = service.submit("linger", &json!({"ms": 60000})).await;
    wait_status(&service, &uuid, "running").await;
    let worker = wait_for("the worker to report its run", DEADLINE, || async {
        let (status, body) = service.get("/workers").await;
        assert_eq!(status, 200);
        let worker = body["workers"].as_array()?.first()?.clone();
        (worker["state"] == "running").then_some(worker)
    })
    .await;
    assert_eq!(worker["capacityTotal"], 3);
    assert_eq!(worker["capacityUsed"], 1);
    assert_eq!(worker["running"], json!([uuid]));
    assert_eq!(worker["pid"], std::process::id());
    assert!(
        worker["id"]
            .as_str()
            .unwrap()
            .contains(&format!(":{}:", std::process::id()))
    );
    assert!(worker["lastHeartbeat"].is_string());
    if cfg!(target_os = "linux") {
        assert!(worker["rssBytes"].as_u64().unwrap() > 0);
    }

    let (status, body) = service.post("/workers/nobody/drain", &json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_worker"))
    );
    service
        .post(&format!("/cancel/{uuid}?kill=true"), &json!({}))
        .await;
    service.stop().await;
}

fn worker_process(name: &str, store: &str, extra: &[(&str, &str)]) -> ChildProcess {
    let mut env = vec![("ZEROG_STORE", store), ("ZEROG_WORKER_NAME", name)];
    env.extend_from_slice(extra);
    ChildProcess::spawn(name, Path::new(SERVICE), &["work"], &env)
}

#[actix_web::test]
async fn drain_with_exit_finishes_the_running_job_takes_no_new_one_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let service = Service::api_only(Backend::connect(&store).await.unwrap(), registry()).await;
    let mut worker = worker_process("drained", &store, &[("ZEROG_CAPACITY", "2")]);
    // Long enough to outlast the wait for the worker to register and to read the
    // drain command at its next housekeeping tick, on a loaded machine too.
    let running = service.submit("linger", &json!({"ms": 8000})).await;
    wait_status(&service, &running, "running").await;
    let id = wait_for("the worker to register", DEADLINE, || async {
        let (_, body) = service.get("/workers").await;
        let workers = body["workers"].as_array()?;
        let me = workers.iter().find(|w| w["pid"] == worker.pid())?;
        Some(me["id"].as_str()?.to_owned())
    })
    .await;

    let (status, body) = service
        .post(&format!("/workers/{id}/drain?exit=true"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_for("the worker to report draining", DEADLINE, || async {
        let (_, body) = service.get("/workers").await;
        let workers = body["workers"].as_array()?;
        workers
            .iter()
            .any(|w| w["id"] == id.as_str() && w["state"] == "draining")
            .then_some(())
    })
    .await;
    let later = service.submit("linger", &json!({"ms": 10})).await;

    let exit = worker.wait_exit(DEADLINE).await;
    assert!(exit.success(), "the drained worker exits 0: {exit:?}");
    let (_, first) = service.get(&format!("/progress/{running}")).await;
    assert_eq!(first["status"], "done", "the running job finished: {first}");
    let (_, second) = service.get(&format!("/progress/{later}")).await;
    assert_eq!(
        second["status"], "queued",
        "a draining worker takes no new job"
    );
    service.stop().await;
}

#[actix_web::test]
async fn sigterm_lets_a_short_job_finish_and_releases_a_long_one_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let service = Service::api_only(Backend::connect(&store).await.unwrap(), registry()).await;
    // The short job runs long enough to be seen running, and well within the
    // shutdown timeout of the moment it is.
    let settings = [("ZEROG_CAPACITY", "2"), ("ZEROG_SHUTDOWN_TIMEOUT", "8s")];
    let mut worker = worker_process("terminated", &store, &settings);
    let short = service.submit("linger", &json!({"ms": 2500})).await;
    let long = service
        .submit("linger", &json!({"ms": 60000, "stubborn": true}))
        .await;
    wait_status(&service, &short, "running").await;
    wait_status(&service, &long, "running").await;

    worker.signal("TERM");
    let exit = worker.wait_exit(DEADLINE).await;
    assert!(exit.success(), "the worker exits 0 after SIGTERM: {exit:?}");

    let (_, short) = service.get(&format!("/progress/{short}")).await;
    assert_eq!(short["status"], "done", "{short}");
    let (_, long_info) = service.get(&format!("/info/{long}")).await;
    assert_eq!(
        long_info["status"], "queued",
        "released, not lost: {long_info}"
    );
    assert_eq!(long_info["attempts"], 0, "a release uses no attempt");
    assert!(
        long_info["completeness"].as_f64().unwrap() > 0.0,
        "its progress is kept"
    );
    let events = long_info["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["msg"] == "Worker stopping - released unfinished")
    );

    // Another worker picks the released job up.
    let _next = worker_process("next", &store, &settings);
    wait_status(&service, &long, "running").await;
    service
        .post(&format!("/cancel/{long}?kill=true"), &json!({}))
        .await;
    service.stop().await;
}

#[actix_web::test]
async fn a_dead_worker_drops_off_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let service = Service::api_only(Backend::connect(&store).await.unwrap(), registry()).await;
    let mut worker = worker_process("doomed", &store, &[]);
    let listed = |pid: u32| {
        let service = &service;
        async move {
            let (_, body) = service.get("/workers").await;
            let workers = body["workers"].as_array().cloned().unwrap_or_default();
            workers.iter().any(|w| w["pid"] == pid)
        }
    };
    let pid = worker.pid();
    wait_for("the worker to register", DEADLINE, || async {
        listed(pid).await.then_some(())
    })
    .await;
    worker.kill9();
    wait_for("the dead worker to drop off", DEADLINE, || async {
        (!listed(pid).await).then_some(())
    })
    .await;
    service.stop().await;
}
