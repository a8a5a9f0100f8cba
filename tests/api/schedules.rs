//! `/schedules`: every route and every error kind, schedules declared in code listed
//! beside those from the API, and a scheduler's pass creating the job of a tick.

use actix_web::http::header;
use actix_web::test::TestRequest;
use chrono::{DurationRound, TimeDelta};
use serde_json::{Value, json};
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog::schedule::Schedule;
use zerog::scheduler::Scheduler;
use zerog_tests::api::{self, TestApp, call, delete, get, post_json};

use crate::waste_time;

fn registry() -> Registry {
    Registry::new().register::<waste_time::WasteTime>()
}

async fn app() -> (impl TestApp, Backend) {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let app = api::mount(ApiState::new(backend.clone(), registry())).await;
    (app, backend)
}

fn put_json(path: &str, body: &Value) -> TestRequest {
    TestRequest::put()
        .uri(path)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body.to_string())
}

fn nightly() -> Value {
    json!({
        "name": "nightly",
        "jobType": "waste_time",
        "cron": "0 30 2 * * *",
        "params": { "delay": 5 },
        "timezone": "Europe/Paris",
    })
}

#[actix_web::test]
async fn a_schedule_is_created_read_listed_replaced_paused_resumed_and_deleted() {
    let (app, _) = app().await;
    let created = call(&app, post_json("/schedules", &nightly())).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("location"), "/schedules/nightly");
    let view = &created.json;
    assert_eq!(view["name"], "nightly");
    assert_eq!(view["jobType"], "waste_time");
    assert_eq!(view["cron"], "0 30 2 * * *");
    assert_eq!(view["timezone"], "Europe/Paris");
    assert_eq!(view["params"], json!({ "delay": 5 }));
    assert_eq!(view["missed"], "once");
    assert_eq!(view["source"], "api");
    assert_eq!(view["paused"], false);
    assert_eq!(view["lastRunAt"], Value::Null);
    let next = view["nextRunAt"].as_str().expect("a next run");
    // 02:30 in Paris is 00:30 or 01:30 UTC.
    assert!(next.ends_with(":30:00.000Z"), "{next}");

    let read = call(&app, get("/schedules/nightly")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json, created.json);
    let list = call(&app, get("/schedules")).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json, json!({ "schedules": [created.json.clone()] }));

    let replaced = call(
        &app,
        put_json(
            "/schedules/nightly",
            &json!({ "jobType": "waste_time", "cron": "@hourly", "missed": "skip" }),
        ),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(replaced.json["cron"], "@hourly");
    assert_eq!(replaced.json["timezone"], "UTC");
    assert_eq!(replaced.json["missed"], "skip");
    assert_eq!(replaced.json["params"], json!({}));

    let paused = call(&app, TestRequest::post().uri("/schedules/nightly/pause")).await;
    assert_eq!(paused.status, 200, "{}", paused.text());
    assert_eq!(paused.json["paused"], true);
    assert_eq!(paused.json["nextRunAt"], Value::Null);
    let resumed = call(&app, TestRequest::post().uri("/schedules/nightly/resume")).await;
    assert_eq!(resumed.status, 200);
    assert_eq!(resumed.json["paused"], false);
    assert!(resumed.json["nextRunAt"].is_string());

    let deleted = call(&app, delete("/schedules/nightly")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json, json!({ "name": "nightly", "deleted": true }));
    call(&app, get("/schedules/nightly"))
        .await
        .assert_error(404, "unknown_schedule");
    assert_eq!(
        call(&app, get("/schedules")).await.json,
        json!({ "schedules": [] })
    );
}

#[actix_web::test]
async fn every_refusal_has_its_kind() {
    let (app, _) = app().await;
    let with = |key: &str, value: Value| {
        let mut body = nightly();
        body[key] = value;
        body
    };
    let post = |body: Value| post_json("/schedules", &body);
    call(&app, post(with("cron", json!("every night"))))
        .await
        .assert_error(400, "bad_cron");
    call(&app, post(with("cron", json!("* * * * * * *"))))
        .await
        .assert_error(400, "bad_cron");
    call(&app, post(with("timezone", json!("Mars/Olympus"))))
        .await
        .assert_error(400, "bad_timezone");
    call(&app, post(with("name", json!("has space"))))
        .await
        .assert_error(400, "bad_schedule_name");
    call(&app, post(with("speed", json!(2))))
        .await
        .assert_error(400, "bad_schedule");
    let mut nameless = nightly();
    nameless.as_object_mut().unwrap().remove("name");
    call(&app, post(nameless))
        .await
        .assert_error(400, "bad_schedule");
    call(&app, post(with("jobType", json!("no_such_type"))))
        .await
        .assert_error(404, "unknown_job_type");

    // The same details as a POST of the parameters to the job type.
    let invalid = call(
        &app,
        post(with("params", json!({ "delay": "soon", "speed": 2 }))),
    )
    .await;
    invalid.assert_error(400, "validation");
    let submitted = call(
        &app,
        post_json("/job/waste_time", &json!({ "delay": "soon", "speed": 2 })),
    )
    .await;
    assert_eq!(invalid.json["details"], submitted.json["details"]);
    assert!(
        invalid.json["details"]
            .as_array()
            .is_some_and(|d| d.len() == 2)
    );

    let not_json = TestRequest::post()
        .uri("/schedules")
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .set_payload(nightly().to_string());
    assert_eq!(call(&app, not_json).await.status, 415);
    let malformed = TestRequest::post()
        .uri("/schedules")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload("{\"name\": ");
    call(&app, malformed)
        .await
        .assert_error(400, "malformed_json");

    assert_eq!(call(&app, post(nightly())).await.status, 201);
    call(&app, post(nightly()))
        .await
        .assert_error(409, "schedule_exists");
    let renamed = with("name", json!("other"));
    call(&app, put_json("/schedules/nightly", &renamed))
        .await
        .assert_error(400, "bad_schedule");
    call(
        &app,
        put_json("/schedules/nightly", &with("cron", json!("61 * * * *"))),
    )
    .await
    .assert_error(400, "bad_cron");

    for request in [
        get("/schedules/missing"),
        put_json("/schedules/missing", &with("name", json!("missing"))),
        delete("/schedules/missing"),
        TestRequest::post().uri("/schedules/missing/pause"),
        TestRequest::post().uri("/schedules/missing/resume"),
    ] {
        call(&app, request)
            .await
            .assert_error(404, "unknown_schedule");
    }
    let patch = call(&app, TestRequest::patch().uri("/schedules/nightly")).await;
    patch.assert_error(405, "method_not_allowed");
    assert_eq!(patch.header("allow"), "GET, HEAD, PUT, DELETE");
    call(&app, get("/schedules?x=1"))
        .await
        .assert_error(400, "bad_query");
}

#[actix_web::test]
async fn schedules_from_code_are_listed_beside_those_from_the_api() {
    let (app, backend) = app().await;
    let scheduler = Scheduler::new(backend.clone(), registry());
    let declared =
        Schedule::new("from-code", "waste_time", "*/5 * * * *").params(json!({ "delay": 1 }));
    scheduler
        .declare(std::slice::from_ref(&declared))
        .await
        .unwrap();
    assert_eq!(
        call(&app, post_json("/schedules", &nightly())).await.status,
        201
    );
    let list = call(&app, get("/schedules")).await;
    let sources: Vec<(&str, &str)> = list.json["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["source"].as_str().unwrap()))
        .collect();
    assert_eq!(sources, [("from-code", "code"), ("nightly", "api")]);
    // Declaring again at the next start keeps one schedule.
    scheduler.declare(&[declared]).await.unwrap();
    assert_eq!(backend.schedules().await.unwrap().len(), 2);

    let refused = scheduler
        .declare(&[Schedule::new("bad", "waste_time", "@hourly").params(json!({ "delay": -1 }))])
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("schedule `bad`"), "{refused}");
    assert_eq!(backend.schedules().await.unwrap().len(), 2);
}

#[actix_web::test]
async fn a_pass_of_the_scheduler_creates_the_job_of_a_due_tick() {
    let (app, backend) = app().await;
    let body = json!({
        "name": "every-second", "jobType": "waste_time", "cron": "* * * * * *",
        "params": { "delay": 0 },
    });
    assert_eq!(call(&app, post_json("/schedules", &body)).await.status, 201);
    let scheduler = Scheduler::new(backend.clone(), registry());
    // Just after the first tick past the schedule's creation: one tick is due.
    let created = backend
        .schedule("every-second")
        .await
        .unwrap()
        .unwrap()
        .last_tick;
    let later =
        created.duration_trunc(TimeDelta::seconds(1)).unwrap() + TimeDelta::milliseconds(1100);
    // Two processes' passes at the same moment: the tick's job is created once.
    scheduler.pass(later).await.unwrap();
    scheduler.pass(later).await.unwrap();
    let jobs = call(&app, get("/jobs")).await;
    let jobs = jobs.json["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let uuid = jobs[0]["uuid"].as_str().unwrap();
    let info = call(&app, get(&format!("/info/{uuid}"))).await;
    let tick = info.json["schedule"]["tick"]
        .as_str()
        .expect("the tick")
        .to_owned();
    assert_eq!(info.json["schedule"]["name"], "every-second");
    assert!(tick.ends_with(".000Z"), "{tick}");
    let view = call(&app, get("/schedules/every-second")).await;
    assert_eq!(view.json["lastRunAt"], tick.as_str());
    // A job submitted by hand names no schedule.
    let submitted = call(&app, post_json("/job/waste_time", &json!({ "delay": 0 }))).await;
    let uuid = submitted.json["uuid"].as_str().unwrap();
    let info = call(&app, get(&format!("/info/{uuid}"))).await;
    assert!(info.json.get("schedule").is_none(), "{}", info.text());
}

#[actix_web::test]
async fn the_routes_are_documented_and_linked() {
    let (app, _) = app().await;
    let document = call(&app, get("/openapi.json")).await.json;
    let paths = &document["paths"];
    for (path, method) in [
        ("/schedules", "get"),
        ("/schedules", "post"),
        ("/schedules/{name}", "get"),
        ("/schedules/{name}", "put"),
        ("/schedules/{name}", "delete"),
        ("/schedules/{name}/pause", "post"),
        ("/schedules/{name}/resume", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    assert!(paths["/schedules"]["post"]["responses"]["409"].is_object());
    let discovery = call(&app, get("/")).await.json;
    assert_eq!(discovery["links"]["schedules"], "/schedules");
}
