//! Unique jobs (`#[job(unique_for = "...")]`): within the window, a submit of the same
//! parameters as a job that has not failed or been cancelled answers 200 with that
//! job, and creates nothing.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog::{Job, JobContext, JobError, Outcome, Registry};
use zerog_tests::api::{self, post_json};

/// Builds one daily report.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "daily_report", unique_for = "1s")]
pub struct DailyReport {
    /// The day.
    pub day: u32,
    /// Who gets it.
    #[serde(default)]
    pub to: Vec<String>,
}

impl zerog::Run for DailyReport {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

async fn app() -> (impl api::TestApp, Backend) {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let state = ApiState::new(backend.clone(), Registry::new().register::<DailyReport>());
    (api::mount(state).await, backend)
}

#[actix_web::test]
async fn twenty_concurrent_submits_of_the_same_parameters_make_one_job() {
    let (app, backend) = app().await;
    let submits = (0..20).map(|_| {
        api::call(
            &app,
            post_json("/job/daily_report", &json!({"day": 3, "to": ["a"]})),
        )
    });
    let answers = futures_util::future::join_all(submits).await;
    let created: Vec<_> = answers
        .iter()
        .filter(|answer| answer.status == 201)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    let uuid = &created[0].json["uuid"];
    for answer in answers.iter().filter(|answer| answer.status != 201) {
        assert_eq!(answer.status, 200, "{}", answer.json);
        assert_eq!(answer.json, json!({"uuid": uuid, "duplicate": true}));
    }
    let stats = backend.stats().await.unwrap();
    assert_eq!(stats.jobs.values().sum::<u64>(), 1);

    // Other parameters, defaults filled in, are another job; the same ones in another
    // key order are not.
    let other = api::call(&app, post_json("/job/daily_report", &json!({"day": 4}))).await;
    assert_eq!(other.status, 201, "{}", other.json);
    let reordered = api::call(
        &app,
        post_json("/job/daily_report", &json!({"to": ["a"], "day": 3})),
    )
    .await;
    assert_eq!(reordered.json["uuid"], *uuid, "{}", reordered.json);

    // A batch answers the holder where a job is a duplicate.
    let batch = api::call(
        &app,
        post_json(
            "/job/daily_report/batch",
            &json!([{"day": 3, "to": ["a"]}, {"day": 5}]),
        ),
    )
    .await;
    assert_eq!(batch.status, 201, "{}", batch.json);
    assert_eq!(batch.json["uuids"][0], *uuid);
    assert_ne!(batch.json["uuids"][1], *uuid);
}

#[actix_web::test]
async fn after_the_window_or_a_cancel_the_same_parameters_make_a_new_job() {
    let (app, _) = app().await;
    let submit = || api::call(&app, post_json("/job/daily_report", &json!({"day": 9})));
    let first = submit().await;
    assert_eq!(first.status, 201, "{}", first.json);
    let uuid = first.json["uuid"].as_str().unwrap().to_owned();
    let cancelled = api::call(&app, post_json(&format!("/cancel/{uuid}"), &json!({}))).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.json);
    let second = submit().await;
    assert_eq!(
        second.status, 201,
        "a cancelled job holds nothing: {}",
        second.json
    );
    assert_eq!(submit().await.status, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let third = submit().await;
    assert_eq!(third.status, 201, "the window is over: {}", third.json);
    assert_ne!(third.json["uuid"], second.json["uuid"]);
}

#[actix_web::test]
async fn the_document_tells_a_unique_type_answers_200_to_a_duplicate() {
    let (app, _) = app().await;
    let document = api::call(&app, api::get("/openapi.json")).await.json;
    let submit = &document["paths"]["/job/daily_report"]["post"];
    assert_eq!(
        submit["responses"]["200"]["content"]["application/json"]["schema"]["required"],
        json!(["uuid", "duplicate"])
    );
    assert!(
        submit["description"]
            .as_str()
            .unwrap()
            .contains("Unique for 1 s")
    );
}
