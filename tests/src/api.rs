//! Calling the app mounted with `actix_web::test::init_service`, for the tests of the
//! published API: requests in, status, headers and JSON out.
//!
//! ```no_run
//! # async fn demo() {
//! use zerog_tests::api::{self, TestApp};
//!
//! let backend = zerog::backend::Backend::connect("sqlite::memory:").await.unwrap();
//! let state = zerog::http::ApiState::new(backend, zerog::Registry::new());
//! let app = api::mount(state).await;
//! let answer = api::call(&app, api::get("/jobs")).await;
//! assert_eq!(answer.status, 200);
//! # }
//! ```

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::test::{self, TestRequest};
use serde_json::Value;
use zerog::http::{self, ApiState};

/// The app, mounted without a port.
pub trait TestApp:
    Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>
{
}

impl<S> TestApp for S where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>
{
}

/// Mounts [`http::app`] over `state`.
pub async fn mount(state: ApiState) -> impl TestApp {
    test::init_service(http::app(state)).await
}

/// What the app answered.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, raw.
    pub bytes: Vec<u8>,
    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub json: Value,
}

impl Answer {
    /// A header's value, or `""`.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Asserts an error answer: `status`, the JSON body's `error` kind and a message.
    ///
    /// # Panics
    ///
    /// Panics, with the body, when the answer is not that error.
    pub fn assert_error(&self, status: u16, kind: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.json["error"], kind, "{}", self.text());
        assert!(
            self.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "an error has a message: {}",
            self.text()
        );
        assert!(
            self.header("content-type").starts_with("application/json"),
            "an error is JSON: {:?}",
            self.headers
        );
    }
}

/// Sends `request` and reads the whole answer.
pub async fn call(app: &impl TestApp, request: TestRequest) -> Answer {
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = test::read_body(response).await.to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        bytes,
        json,
    }
}

/// `GET path`.
pub fn get(path: &str) -> TestRequest {
    TestRequest::get().uri(path)
}

/// `POST path` with a JSON body.
pub fn post_json(path: &str, body: &Value) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body.to_string())
}

/// `DELETE path`.
pub fn delete(path: &str) -> TestRequest {
    TestRequest::delete().uri(path)
}
