//! `HEAD` wherever `GET` is served (SPEC §4, RFC 9110 §9.3.2): the same status and
//! headers as `GET` and no body, on the flat routes and the hierarchy's paths alike,
//! errors included; and the `Allow` of a 405 lists `HEAD` beside every `GET`.
//!
//! The app is mounted without a port; `tests/worker/processes.rs` asks the real binary
//! over a socket, as `curl -I` does.

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use serde_json::json;
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::ApiState;
use zerog_tests::api::{self, Answer, TestApp, call, get, post_json};

use crate::{prime_sieve, waste_time};

/// A well-formed uuid that no job has.
const UNKNOWN: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";

fn registry() -> Registry {
    Registry::new()
        .register::<waste_time::WasteTime>()
        .register::<prime_sieve::PrimeSieve>()
}

/// What the app answered to a `HEAD`.
struct HeadAnswer {
    status: u16,
    headers: HeaderMap,
    /// The size the body declares: what an HTTP/1.1 server sends as `Content-Length`.
    declared: BodySize,
    bytes: Vec<u8>,
}

async fn head(app: &impl TestApp, path: &str) -> HeadAnswer {
    let request = TestRequest::default().method(Method::HEAD).uri(path);
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let declared = response.response().body().size();
    let bytes = test::read_body(response).await.to_vec();
    HeadAnswer {
        status,
        headers,
        declared,
        bytes,
    }
}

/// Every header, name and value, in order.
fn pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.to_string(), value)
        })
        .collect();
    pairs.sort();
    pairs
}

/// Asserts that `head` answers like `get`, without its body.
fn assert_like_get(path: &str, get: &Answer, head: &HeadAnswer) {
    assert_eq!(head.status, get.status, "HEAD {path}");
    assert_eq!(pairs(&head.headers), pairs(&get.headers), "HEAD {path}");
    assert!(
        head.bytes.is_empty(),
        "HEAD {path} sent a body: {}",
        String::from_utf8_lossy(&head.bytes)
    );
    assert_eq!(
        head.declared,
        BodySize::Sized(get.bytes.len() as u64),
        "HEAD {path} declares the length of GET's body"
    );
}

#[actix_web::test]
async fn head_answers_every_get_with_its_status_and_headers_and_no_body() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let state = ApiState::new(backend, registry());
    let app = api::mount(state).await;
    // No worker runs: the job stays queued, so every answer about it stays the same.
    let posted = call(&app, post_json("/job/waste_time", &json!({"delay": 60}))).await;
    assert_eq!(posted.status, 201, "{}", posted.text());
    let uuid = posted.json["uuid"].as_str().unwrap().to_owned();

    let paths = [
        "/".to_owned(),
        "/openapi.json".to_owned(),
        "/schema/waste_time".to_owned(),
        "/schema/nope".to_owned(),
        "/jobs".to_owned(),
        "/jobs?status=never".to_owned(),
        format!("/progress/{uuid}"),
        format!("/progress/{UNKNOWN}"),
        "/progress/nope".to_owned(),
        format!("/info/{uuid}"),
        format!("/data/{uuid}"),
        format!("/events/{UNKNOWN}"),
        "/workers".to_owned(),
        "/branches".to_owned(),
        "/leaves".to_owned(),
        "/examples/branches".to_owned(),
        "/examples/leaves".to_owned(),
        "/examples/waste_time/post-schema".to_owned(),
        format!("/examples/progress/{uuid}"),
        format!("/examples/info/{UNKNOWN}"),
        format!("/examples/data/{uuid}"),
        "/nowhere/leaves".to_owned(),
        "/examples/nowhere/post-schema".to_owned(),
    ];
    let mut statuses = Vec::new();
    for path in &paths {
        let got = call(&app, get(path)).await;
        let headed = head(&app, path).await;
        assert_like_get(path, &got, &headed);
        statuses.push(got.status);
    }
    // The cases cover answers and errors, flat and in the hierarchy.
    for status in [200, 400, 404, 409] {
        assert!(statuses.contains(&status), "no case answers {status}");
    }

    // `/health` measures its round trip, so its length may differ from one call to
    // the next; its status and headers do not.
    let got = call(&app, get("/health")).await;
    let headed = head(&app, "/health").await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(headed.status, 200);
    assert_eq!(pairs(&headed.headers), pairs(&got.headers));
    assert!(headed.bytes.is_empty());
    assert!(matches!(headed.declared, BodySize::Sized(n) if n > 0));

    let headed = head(&app, "/metrics").await;
    assert_eq!(headed.status, 200);
    assert!(headed.bytes.is_empty());

    // A stream is dropped before it starts: the headers of `GET`, no event.
    let headed = head(&app, &format!("/events/{uuid}")).await;
    assert_eq!(headed.status, 200);
    assert_eq!(
        headed.headers.get("content-type").unwrap(),
        "text/event-stream"
    );
    assert!(headed.bytes.is_empty());
}

#[actix_web::test]
async fn allow_lists_head_wherever_get_is_served_and_head_is_refused_elsewhere() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let app = api::mount(ApiState::new(backend, registry())).await;
    let cases = [
        (Method::POST, "/health".to_owned(), "GET, HEAD"),
        (Method::PUT, "/jobs".to_owned(), "GET, HEAD, DELETE"),
        (Method::DELETE, format!("/progress/{UNKNOWN}"), "GET, HEAD"),
        (Method::POST, "/examples/leaves".to_owned(), "GET, HEAD"),
        (
            Method::PUT,
            format!("/examples/info/{UNKNOWN}"),
            "GET, HEAD",
        ),
        (Method::HEAD, format!("/cancel/{UNKNOWN}"), "POST"),
        (Method::HEAD, "/job/waste_time".to_owned(), "POST"),
        (Method::HEAD, "/workers/nobody/drain".to_owned(), "POST"),
        (Method::HEAD, "/examples/waste_time/job".to_owned(), "POST"),
    ];
    for (method, path, allow) in cases {
        let request = TestRequest::default().method(method.clone()).uri(&path);
        let answer = call(&app, request).await;
        assert_eq!(answer.status, 405, "{method} {path}: {}", answer.text());
        assert_eq!(answer.header("allow"), allow, "{method} {path}");
        if method == Method::HEAD {
            assert!(answer.bytes.is_empty(), "HEAD {path}: {}", answer.text());
        } else {
            answer.assert_error(405, "method_not_allowed");
        }
    }
}

#[actix_web::test]
async fn with_a_token_head_is_refused_like_get_except_on_health() {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let app = api::mount(ApiState::new(backend, registry()).api_token("s3cret")).await;
    let got = call(&app, get("/jobs")).await;
    got.assert_error(401, "unauthorized");
    assert_like_get("/jobs", &got, &head(&app, "/jobs").await);

    let headed = head(&app, "/health").await;
    assert_eq!(headed.status, 200);
    assert!(headed.bytes.is_empty());
}
