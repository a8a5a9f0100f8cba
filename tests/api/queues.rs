//! `/queues`: every queue's backlog, and pausing and resuming one.

use serde_json::json;
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog_tests::api::{self, get, post_json};

use crate::waste_time::WasteTime;

#[actix_web::test]
async fn queues_are_listed_paused_and_resumed() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let app = api::mount(ApiState::new(
        backend,
        Registry::new().register::<WasteTime>(),
    ))
    .await;

    let listed = api::call(&app, get("/queues")).await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    assert_eq!(
        listed.json,
        json!({"queues": [{"name": "waste_time", "due": 0, "running": 0, "waiting": 0,
                           "limit": null, "paused": false}]})
    );

    let paused = api::call(&app, post_json("/queues/waste_time/pause", &json!({}))).await;
    assert_eq!(paused.status, 200, "{}", paused.json);
    assert_eq!(paused.json["paused"], true);
    // A paused queue still takes jobs.
    for query in ["", "?runAfter=3600"] {
        let submitted = api::call(
            &app,
            post_json(&format!("/job/waste_time{query}"), &json!({})),
        )
        .await;
        assert_eq!(submitted.status, 201, "{}", submitted.json);
    }
    let listed = api::call(&app, get("/queues")).await;
    let queue = &listed.json["queues"][0];
    assert_eq!((&queue["due"], &queue["waiting"]), (&json!(1), &json!(1)));
    assert_eq!(queue["paused"], true);

    let resumed = api::call(&app, post_json("/queues/waste_time/resume", &json!({}))).await;
    assert_eq!(resumed.status, 200, "{}", resumed.json);
    assert_eq!(resumed.json["paused"], false);

    for path in ["/queues/nowhere/pause", "/queues/nowhere/resume"] {
        api::call(&app, post_json(path, &json!({})))
            .await
            .assert_error(404, "unknown_queue");
    }
    api::call(
        &app,
        post_json("/queues/waste_time/pause?now=1", &json!({})),
    )
    .await
    .assert_error(400, "bad_query");
}
