//! Every error row of SPEC §4 for the endpoints of the foundation, each asserting the
//! status and the JSON body. The app is mounted without a port.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::{self, ApiState};

use crate::waste_time;

async fn app()
-> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new().register::<waste_time::WasteTime>();
    test::init_service(http::app(ApiState::new(backend, registry))).await
}

async fn call(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    request: TestRequest,
) -> (u16, Value) {
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("the body is JSON: {}", String::from_utf8_lossy(&body)));
    (status, json)
}

fn post_json(path: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body.to_owned())
}

fn assert_error(status: u16, body: &Value, expected_status: u16, kind: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"], kind, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error has a message: {body}"
    );
}

#[actix_web::test]
async fn a_valid_post_answers_201_with_the_uuid_and_a_location() {
    let app = app().await;
    let request = post_json("/job/waste_time", r#"{"delay": 1}"#).to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status().as_u16(), 201);
    let location = response
        .headers()
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = test::read_body_json(response).await;
    let uuid = body["uuid"].as_str().unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(location, format!("/progress/{uuid}"));
    // Defaults are filled in: an empty body is a valid waste_time.
    let (status, body) = call(&app, post_json("/job/waste_time", "{}")).await;
    assert_eq!(status, 201, "{body}");
}

#[actix_web::test]
async fn an_unknown_job_type_is_404() {
    let app = app().await;
    let (status, body) = call(&app, post_json("/job/no_such_type", "{}")).await;
    assert_error(status, &body, 404, "unknown_job_type");
    assert!(body["message"].as_str().unwrap().contains("no_such_type"));
}

#[actix_web::test]
async fn malformed_json_is_400() {
    let app = app().await;
    for bad in [r#"{"delay": "#, "not json", "", r#"{"delay": 1}}"#] {
        let (status, body) = call(&app, post_json("/job/waste_time", bad)).await;
        assert_error(status, &body, 400, "malformed_json");
    }
}

#[actix_web::test]
async fn a_schema_violation_is_400_with_one_detail_per_violation() {
    let app = app().await;
    let (status, body) = call(&app, post_json("/job/waste_time", r#"{"delay": "soon"}"#)).await;
    assert_error(status, &body, 400, "validation");
    let details = body["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{body}");
    assert_eq!(details[0]["path"], "/delay");

    let (status, body) = call(
        &app,
        post_json("/job/waste_time", r#"{"delay": 100000, "speed": 2}"#),
    )
    .await;
    assert_error(status, &body, 400, "validation");
    let details = body["details"].as_array().unwrap();
    assert_eq!(
        details.len(),
        2,
        "both the range and the unknown field: {body}"
    );
    assert!(details.iter().any(|d| d["path"] == "/delay"));
    assert!(
        details
            .iter()
            .any(|d| d["message"].as_str().unwrap().contains("speed"))
    );

    let (status, body) = call(&app, post_json("/job/waste_time", "[1, 2]")).await;
    assert_error(status, &body, 400, "validation");
    assert_eq!(body["details"][0]["path"], "");
}

#[actix_web::test]
async fn a_body_over_the_limit_is_413() {
    let app = app().await;
    let big = format!(
        r#"{{"delay": 1, "pad": "{}"}}"#,
        "x".repeat(1024 * 1024 + 1)
    );
    let (status, body) = call(&app, post_json("/job/waste_time", &big)).await;
    assert_error(status, &body, 413, "payload_too_large");
}

#[actix_web::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let app = app().await;
    let request = TestRequest::post()
        .uri("/job/waste_time")
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .set_payload(r#"{"delay": 1}"#);
    let (status, body) = call(&app, request).await;
    assert_error(status, &body, 415, "unsupported_media_type");
    let request = TestRequest::post()
        .uri("/job/waste_time")
        .set_payload(r#"{"delay": 1}"#);
    let (status, body) = call(&app, request).await;
    assert_error(status, &body, 415, "unsupported_media_type");
    // A JSON subtype with parameters is JSON.
    let request = TestRequest::post()
        .uri("/job/waste_time")
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.api+json; charset=utf-8",
        ))
        .set_payload(r#"{"delay": 1}"#);
    let (status, _) = call(&app, request).await;
    assert_eq!(status, 201);
}

#[actix_web::test]
async fn monitoring_a_bad_uuid_is_400_and_an_unknown_job_is_404() {
    let app = app().await;
    for endpoint in ["progress", "info", "data"] {
        let request = TestRequest::get().uri(&format!("/{endpoint}/not-a-uuid"));
        let (status, body) = call(&app, request).await;
        assert_error(status, &body, 400, "bad_uuid");
        let missing = uuid::Uuid::new_v4();
        let request = TestRequest::get().uri(&format!("/{endpoint}/{missing}"));
        let (status, body) = call(&app, request).await;
        assert_error(status, &body, 404, "unknown_job");
    }
}

#[actix_web::test]
async fn the_monitoring_views_of_a_queued_job() {
    let app = app().await;
    let (_, created) = call(&app, post_json("/job/waste_time", r#"{"delay": 3}"#)).await;
    let uuid = created["uuid"].as_str().unwrap();

    let (status, progress) = call(&app, TestRequest::get().uri(&format!("/progress/{uuid}"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        progress,
        json!({"uuid": uuid, "jobType": "waste_time", "status": "queued",
               "resultCode": -1, "result": -1, "completeness": 0.0})
    );

    let (status, info) = call(&app, TestRequest::get().uri(&format!("/info/{uuid}"))).await;
    assert_eq!(status, 200);
    assert!(
        info.get("params").is_none() && info.get("data").is_none(),
        "{info}"
    );
    for key in [
        "events",
        "warnings",
        "errors",
        "attempts",
        "maxAttempts",
        "createdAt",
    ] {
        assert!(info.get(key).is_some(), "/info lacks {key}: {info}");
    }
    // ZeroG's `BaseJob.info()` and Spacewalk's info handler carried `result`.
    assert_eq!(info["result"], -1, "{info}");
    assert_eq!(info["result"], info["resultCode"]);

    let (status, body) = call(&app, TestRequest::get().uri(&format!("/data/{uuid}"))).await;
    assert_error(status, &body, 409, "not_finished");
    assert_eq!(body["status"], "queued");
}

#[actix_web::test]
async fn an_unknown_route_is_a_json_404_and_a_wrong_method_a_json_405() {
    let app = app().await;
    let (status, body) = call(&app, TestRequest::get().uri("/nowhere")).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = call(&app, TestRequest::get().uri("/job/waste_time")).await;
    assert_error(status, &body, 405, "method_not_allowed");
}
