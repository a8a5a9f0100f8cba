//! What a page in a browser can make the API do: nothing that changes state from
//! another origin, nothing through a plain HTML form, and, with the `Host` check on,
//! nothing at all under a name the server was not given (DNS rebinding).

use actix_web::http::header;
use actix_web::test::TestRequest;
use serde_json::json;
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::{AllowedHosts, ApiState};
use zerog_tests::api::{self, get, post_json};

use super::waste_time::WasteTime;

async fn state() -> ApiState {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    ApiState::new(backend, Registry::new().register::<WasteTime>())
}

const HOST: &str = "127.0.0.1:8888";

#[actix_web::test]
async fn writes_from_another_origin_are_refused_and_the_own_origin_passes() {
    let app = api::mount(state().await).await;
    let submit = |origin: &str| {
        post_json("/job/waste_time", &json!({}))
            .insert_header((header::HOST, HOST))
            .insert_header((header::ORIGIN, origin))
    };
    for origin in ["http://evil.example", "http://127.0.0.1:9999", "null"] {
        api::call(&app, submit(origin))
            .await
            .assert_error(403, "cross_origin");
    }
    let own = api::call(&app, submit("http://127.0.0.1:8888")).await;
    assert_eq!(own.status, 201, "{}", own.json);
    let uuid = own.json["uuid"].as_str().unwrap();

    let cancel = |origin: &str| {
        TestRequest::post()
            .uri(&format!("/cancel/{uuid}"))
            .insert_header((header::HOST, HOST))
            .insert_header((header::ORIGIN, origin))
    };
    api::call(&app, cancel("https://evil.example"))
        .await
        .assert_error(403, "cross_origin");
    api::call(
        &app,
        TestRequest::delete()
            .uri("/jobs?olderThan=1d")
            .insert_header((header::ORIGIN, "http://evil.example")),
    )
    .await
    .assert_error(403, "cross_origin");
    // Reading from elsewhere is what the Host check is for; the Origin check is for
    // writes, which a page can make without reading the answer.
    let read = api::call(
        &app,
        get(&format!("/progress/{uuid}")).insert_header((header::ORIGIN, "http://evil.example")),
    )
    .await;
    assert_eq!(read.status, 200, "{}", read.json);
    let cancelled = api::call(&app, cancel("http://127.0.0.1:8888")).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.json);
}

#[actix_web::test]
async fn a_form_cannot_drive_the_body_less_controls() {
    let app = api::mount(state().await).await;
    let queued = api::call(&app, post_json("/job/waste_time", &json!({}))).await;
    let uuid = queued.json["uuid"].as_str().unwrap();
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        for path in [format!("/cancel/{uuid}"), "/workers/w1/drain".to_owned()] {
            let form = TestRequest::post()
                .uri(&path)
                .insert_header((header::CONTENT_TYPE, content_type))
                .set_payload("a=b");
            api::call(&app, form)
                .await
                .assert_error(415, "unsupported_media_type");
        }
    }
    let progress = api::call(&app, get(&format!("/progress/{uuid}"))).await;
    assert_eq!(
        progress.json["status"], "queued",
        "the forms changed nothing"
    );
    // No body and no type, as curl -X POST and most clients send it, is fine; so is JSON.
    let bare = api::call(&app, TestRequest::post().uri(&format!("/cancel/{uuid}"))).await;
    assert_eq!(bare.status, 200, "{}", bare.json);
    let json = api::call(&app, post_json("/workers/w1/drain", &json!({}))).await;
    json.assert_error(404, "unknown_worker");
}

#[actix_web::test]
async fn with_the_host_check_on_only_the_servers_names_are_answered() {
    let bound = HOST.parse().unwrap();
    let state = state()
        .await
        .allowed_hosts(AllowedHosts::new(bound, ["jobs.example"]));
    let app = api::mount(state).await;
    let with_host = |path: &str, host: &str| get(path).insert_header((header::HOST, host));
    for host in ["evil.example:8888", "evil.example", "127.0.0.1:1"] {
        api::call(&app, with_host("/jobs", host))
            .await
            .assert_error(403, "host_not_allowed");
    }
    api::call(&app, get("/jobs"))
        .await
        .assert_error(403, "host_not_allowed");
    for host in [HOST, "localhost:8888", "jobs.example", "jobs.example:443"] {
        let answer = api::call(&app, with_host("/jobs", host)).await;
        assert_eq!(answer.status, 200, "{host}: {}", answer.json);
    }
    let probe = api::call(&app, with_host("/health", "evil.example")).await;
    assert_eq!(probe.status, 200, "{}", probe.json);
}

#[actix_web::test]
async fn the_document_lists_what_the_guards_answer() {
    let description = |document: &serde_json::Value, path: &str, method: &str, status: &str| {
        document["paths"][path][method]["responses"][status]["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let open = zerog::http::openapi_document(&state().await);
    assert!(description(&open, "/jobs", "get", "400").contains("nul_character"));
    assert!(description(&open, "/cancel/{uuid}", "post", "403").contains("cross_origin"));
    assert!(description(&open, "/cancel/{uuid}", "post", "415").contains("unsupported_media_type"));
    assert!(description(&open, "/jobs", "get", "403").is_empty());
    let bound = HOST.parse().unwrap();
    let checked = state()
        .await
        .allowed_hosts(AllowedHosts::new(bound, Vec::<String>::new()));
    let checked = zerog::http::openapi_document(&checked);
    assert!(description(&checked, "/jobs", "get", "403").contains("host_not_allowed"));
    assert!(description(&checked, "/health", "get", "403").is_empty());
}
