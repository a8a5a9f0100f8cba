//! `GET /events/{uuid}`: Server-Sent Events, read to the final event while the job runs
//! in a worker in another process, on the same SQLite file.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog_tests::api::{self, call, get, post_json};
use zerog_tests::process::ChildProcess;
use zerog_tests::{DEADLINE, Service, sqlite_url};

use crate::waste_time;

const SERVICE: &str = env!("CARGO_BIN_EXE_zerog-test-service");

/// One event of the stream.
#[derive(Debug)]
struct Event {
    id: u64,
    name: String,
    data: Value,
}

/// Splits complete `\n\n`-terminated frames off `buffer`; comments are dropped.
fn take_events(buffer: &mut String) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let frame: String = buffer.drain(..end + 2).collect();
        let (mut id, mut name, mut data) = (0, String::new(), Value::Null);
        for line in frame.lines() {
            if let Some(value) = line.strip_prefix("id: ") {
                id = value.parse().expect("a numeric id");
            } else if let Some(value) = line.strip_prefix("event: ") {
                name = value.to_owned();
            } else if let Some(value) = line.strip_prefix("data: ") {
                data = serde_json::from_str(value).expect("data is one line of JSON");
            }
        }
        if !name.is_empty() {
            events.push(Event { id, name, data });
        }
    }
    events
}

#[actix_web::test]
async fn the_stream_follows_a_job_run_by_another_process_to_its_final_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(&dir);
    let backend = Backend::connect(&store).await.unwrap();
    let registry = Registry::new().register::<waste_time::WasteTime>();
    let service = Service::api_only(backend, registry).await;
    let uuid = service.submit("waste_time", &json!({"delay": 2})).await;

    let client = awc::Client::builder().timeout(DEADLINE).finish();
    let mut response = client
        .get(format!("{}/events/{uuid}", service.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").unwrap();
    assert_eq!(content_type.to_str().unwrap(), "text/event-stream");

    let mut worker = None;
    let mut buffer = String::new();
    let mut events = Vec::new();
    let read = async {
        while let Some(chunk) = response.next().await {
            buffer.push_str(std::str::from_utf8(&chunk.expect("a chunk")).unwrap());
            for event in take_events(&mut buffer) {
                // The job is still queued when the stream opens; only then does a
                // worker start, in a process of its own.
                if worker.is_none() {
                    assert_eq!(event.name, "progress");
                    assert_eq!(event.data["status"], "queued", "{:?}", event.data);
                    worker = Some(ChildProcess::spawn(
                        "worker",
                        Path::new(SERVICE),
                        &["work"],
                        &[("ZEROG_STORE", &store), ("ZEROG_CAPACITY", "1")],
                    ));
                }
                events.push(event);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the stream ends after its final event");

    let names: Vec<&str> = events.iter().map(|event| event.name.as_str()).collect();
    assert_eq!(names.last(), Some(&"finished"), "{names:?}");
    assert!(
        names[..names.len() - 1]
            .iter()
            .all(|name| *name == "progress"),
        "{names:?}"
    );
    let ids: Vec<u64> = events.iter().map(|event| event.id).collect();
    assert_eq!(ids, (1..=events.len() as u64).collect::<Vec<_>>());
    assert!(
        events.iter().any(|event| event.data["status"] == "running"),
        "the stream shows the job running: {names:?}"
    );
    let mut completeness = 0.0;
    for event in &events {
        let now = event.data["completeness"].as_f64().unwrap();
        assert!(now >= completeness, "completeness never goes back");
        completeness = now;
        assert_eq!(event.data["uuid"], uuid);
        assert_eq!(event.data["jobType"], "waste_time");
        assert!(event.data["updatedAt"].as_str().is_some());
    }
    let last = &events.last().unwrap().data;
    assert_eq!(last["status"], "done");
    assert_eq!(last["resultCode"], 200);
    assert_eq!(last["result"], 200);
    assert_eq!(last["completeness"], 1.0);

    // Every log line arrives once, in order, across the events.
    let streamed: Vec<Value> = events
        .iter()
        .flat_map(|event| event.data["events"].as_array().unwrap().clone())
        .collect();
    let (status, info) = service.get(&format!("/info/{uuid}")).await;
    assert_eq!(status, 200);
    assert_eq!(Value::Array(streamed.clone()), info["events"]);
    assert!(
        streamed.len() >= 2,
        "waste_time logs as it goes: {streamed:?}"
    );
    assert!(
        events
            .iter()
            .filter(|e| !e.data["events"].as_array().unwrap().is_empty())
            .count()
            >= 2,
        "new log lines come in several events"
    );
    drop(worker);
    service.stop().await;
}

#[actix_web::test]
async fn a_finished_job_gets_one_final_event_and_the_stream_closes() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::connect(&sqlite_url(&dir)).await.unwrap();
    let registry = Registry::new().register::<waste_time::WasteTime>();
    let app = api::mount(ApiState::new(backend, registry)).await;
    let posted = call(&app, post_json("/job/waste_time", &json!({"delay": 0}))).await;
    let uuid = posted.json["uuid"].as_str().unwrap().to_owned();
    // Cancelling a queued job finishes it at once.
    let cancel = actix_web::test::TestRequest::post().uri(&format!("/cancel/{uuid}"));
    assert_eq!(call(&app, cancel).await.status, 200);

    let answer = call(&app, get(&format!("/events/{uuid}"))).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), "text/event-stream");
    assert_eq!(answer.header("cache-control"), "no-cache");
    let mut text = answer.text();
    let events = take_events(&mut text);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].name, "finished");
    assert_eq!(events[0].data["status"], "cancelled");
    assert_eq!(events[0].data["resultCode"], 410);
    assert_eq!(events[0].data["events"][0]["msg"], "Cancelled by user");
    assert!(text.is_empty(), "nothing follows the final event: {text:?}");
}

#[actix_web::test]
async fn events_error_rows() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let app = api::mount(ApiState::new(backend, Registry::new())).await;
    call(&app, get("/events/not-a-uuid"))
        .await
        .assert_error(400, "bad_uuid");
    call(&app, get("/events/6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"))
        .await
        .assert_error(404, "unknown_job");
}
