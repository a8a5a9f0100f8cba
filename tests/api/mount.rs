//! The API mounted under a prefix of a user's own app (`http::configure`): every route
//! answers below the prefix and nowhere else, beside the user's routes and middleware,
//! and whatever names a path of the API carries the prefix.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use serde_json::{Value, json};
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::{self, ApiState};
use zerog_tests::api::{TestApp, call, get, post_json};

use crate::waste_time::WasteTime;

const PREFIX: &str = "/zerog";

/// A user's app: a route of its own, a middleware that marks every answer, and zerog
/// under [`PREFIX`].
async fn users_app(state: ApiState) -> impl TestApp {
    test::init_service(
        App::new()
            .route(
                "/signup",
                web::post().to(|| async { HttpResponse::Created().body("welcome") }),
            )
            .service(web::scope(PREFIX).configure(http::configure(state)))
            .wrap_fn(|request, service| {
                let response = actix_web::dev::Service::call(service, request);
                async move {
                    let mut response = response.await?;
                    response.headers_mut().insert(
                        HeaderName::from_static("x-users-middleware"),
                        HeaderValue::from_static("1"),
                    );
                    Ok(response)
                }
            }),
    )
    .await
}

async fn state() -> ApiState {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    ApiState::new(backend, Registry::new().register::<WasteTime>())
}

/// Every path and method of the mounted OpenAPI document, its templates filled in.
fn documented_routes(document: &Value, uuid: &str) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        let path = path
            .replace("{uuid}", uuid)
            .replace("{jobType}", "waste_time")
            .replace("{id}", "no-such-worker")
            .replace("{name}", "no_such_name");
        assert!(!path.contains('{'), "a template is left in {path}");
        for method in operations.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete"].contains(&method.as_str()) {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn request(method: &str, path: &str) -> TestRequest {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
    TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .set_payload("{}")
}

#[actix_web::test]
async fn every_documented_route_answers_under_the_prefix_and_not_outside_it() {
    let app = users_app(state().await).await;
    let document = call(&app, get("/zerog/openapi.json")).await;
    assert_eq!(document.status, 200, "{}", document.text());
    // An unknown job: every route that takes one answers `unknown_job`, which a path
    // that no route serves (`not_found`) never does.
    let uuid = uuid::Uuid::new_v4().to_string();
    let routes = documented_routes(&document.json, &uuid);
    assert!(
        routes.len() > 30,
        "the document lists {} routes",
        routes.len()
    );
    for (method, path) in &routes {
        let inside = call(&app, request(method, &format!("{PREFIX}{path}"))).await;
        assert!(
            inside.status != 405 && inside.json["error"] != "not_found",
            "{method} {PREFIX}{path} is not served: {} {}",
            inside.status,
            inside.text()
        );
        assert_eq!(inside.header("x-users-middleware"), "1", "{method} {path}");
        let outside = call(&app, request(method, path)).await;
        if path == "/signup" {
            continue;
        }
        assert_eq!(
            outside.status, 404,
            "{method} {path} answers outside the prefix"
        );
        assert!(
            outside.json.is_null(),
            "{method} {path} outside the prefix got zerog's answer {}",
            outside.text()
        );
    }
    let signup = call(&app, TestRequest::post().uri("/signup")).await;
    assert_eq!(signup.status, 201);
    assert_eq!(signup.text(), "welcome");
}

#[actix_web::test]
async fn links_locations_the_tree_and_the_document_carry_the_prefix() {
    let app = users_app(state().await).await;

    let discovery = call(&app, get("/zerog/")).await;
    assert_eq!(discovery.status, 200, "{}", discovery.text());
    let links = discovery.json["links"].as_object().unwrap();
    assert!(!links.is_empty());
    for (key, link) in links {
        let link = link.as_str().unwrap();
        assert!(link.starts_with("/zerog/"), "link {key} is {link}");
    }
    let entry = &discovery.json["jobTypes"][0];
    assert_eq!(entry["post"], "/zerog/job/waste_time");
    assert_eq!(entry["hierarchyPost"], "/zerog/examples/waste_time/job");
    assert_eq!(entry["schema"], "/zerog/schema/waste_time");
    let schema = call(&app, get(entry["schema"].as_str().unwrap())).await;
    assert_eq!(schema.status, 200);

    let branches = call(&app, get("/zerog/branches")).await;
    assert_eq!(
        branches.json,
        json!([{
            "path": "/zerog/examples",
            "name": "Examples",
            "description": branches.json[0]["description"],
        }])
    );
    let leaves = call(&app, get("/zerog/examples/leaves")).await;
    assert_eq!(leaves.json[0]["path"], "/zerog/examples/waste_time");
    let post_schema = call(&app, get("/zerog/examples/waste_time/post-schema")).await;
    assert_eq!(post_schema.status, 200, "{}", post_schema.text());

    let submitted = call(
        &app,
        post_json("/zerog/examples/waste_time/job", &json!({ "delay": 1 })),
    )
    .await;
    assert_eq!(submitted.status, 201, "{}", submitted.text());
    let location = submitted.header("location").to_owned();
    assert_eq!(
        location,
        format!(
            "/zerog/progress/{}",
            submitted.json["uuid"].as_str().unwrap()
        )
    );
    let progress = call(&app, get(&location)).await;
    assert_eq!(progress.status, 200);
    assert_eq!(progress.json["status"], "queued");
    let alias = call(
        &app,
        get(&location.replace("/zerog/progress", "/zerog/examples/info")),
    )
    .await;
    assert_eq!(alias.status, 200, "{}", alias.text());

    let schedule = call(
        &app,
        post_json(
            "/zerog/schedules",
            &json!({ "name": "nightly", "jobType": "waste_time", "cron": "0 3 * * *",
                     "params": { "delay": 1 } }),
        ),
    )
    .await;
    assert_eq!(schedule.status, 201, "{}", schedule.text());
    assert_eq!(schedule.header("location"), "/zerog/schedules/nightly");

    let document = call(&app, get("/zerog/openapi.json")).await;
    assert_eq!(document.json["servers"], json!([{ "url": "/zerog" }]));
    assert!(document.json["paths"]["/progress/{uuid}"].is_object());

    // At the root of its own app, the document names no server, and links start at `/`.
    let own = zerog_tests::api::mount(state().await).await;
    let document = call(&own, get("/openapi.json")).await;
    assert!(document.json.get("servers").is_none());
    let discovery = call(&own, get("/")).await;
    assert_eq!(discovery.json["links"]["jobs"], "/jobs");
}

#[actix_web::test]
async fn the_token_and_the_guards_cover_the_api_and_leave_the_users_routes_alone() {
    let app = users_app(state().await.api_token("s3cret")).await;
    let refused = call(&app, get("/zerog/jobs")).await;
    refused.assert_error(401, "unauthorized");
    let health = call(&app, get("/zerog/health")).await;
    assert_eq!(health.status, 200, "/health stays open: {}", health.text());
    let allowed = call(
        &app,
        get("/zerog/jobs").insert_header(("authorization", "Bearer s3cret")),
    )
    .await;
    assert_eq!(allowed.status, 200);
    // The dashboard's pages are open under the prefix too (they ask for the token).
    let page = call(&app, get("/zerog/ui/jobs")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.header("content-type").starts_with("text/html"));
    // A user's path that ends like the open one is still behind the token.
    let sneaky = call(&app, get("/zerog/examples/health")).await;
    sneaky.assert_error(401, "unauthorized");
    let signup = call(&app, TestRequest::post().uri("/signup")).await;
    assert_eq!(signup.status, 201, "the user's route needs no token");
    let form = call(
        &app,
        TestRequest::post()
            .uri("/zerog/job/waste_time")
            .insert_header(("authorization", "Bearer s3cret"))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload("delay=1"),
    )
    .await;
    form.assert_error(415, "unsupported_media_type");
}
