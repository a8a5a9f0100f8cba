//! Support for zerog's integration tests: a service on a real port, an HTTP client, and
//! waiting for a condition with a deadline.
//!
//! No test sleeps for a fixed time and hopes: [`wait_for`] polls a condition and fails
//! with a message that says what never happened.

pub mod api;
pub mod hooked;
pub mod process;
pub mod proxy;
pub mod services;

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::{self, ApiState};
use zerog::worker::Worker;

/// How long a test waits for a condition before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `condition` every 20 ms until it returns `Some`, for up to `deadline`.
///
/// # Panics
///
/// Panics with `what` if the deadline passes first.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "waited {deadline:?}, but {what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An SQLite URL for a fresh database file in `dir`.
pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/zerog.db", dir.path().display())
}

/// A running zerog service: the HTTP API on a real port and a worker, in this process.
pub struct Service {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The backend both use.
    pub backend: Backend,
    stop_worker: Option<oneshot::Sender<()>>,
    worker: Option<JoinHandle<()>>,
    server: actix_web::dev::ServerHandle,
}

impl Service {
    /// Serves `registry` from `backend` with a worker of `capacity` units.
    pub async fn start(backend: Backend, registry: Registry, capacity: u32) -> Service {
        let base_url = Self::serve(backend.clone(), registry.clone());
        let (stop_worker, stopped) = oneshot::channel();
        let worker = Worker::new(backend.clone(), registry)
            .capacity(capacity)
            .poll_interval(Duration::from_millis(50));
        let worker = tokio::spawn(async move {
            worker
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the worker runs");
        });
        let (base_url, server) = base_url;
        Service {
            base_url,
            backend,
            stop_worker: Some(stop_worker),
            worker: Some(worker),
            server,
        }
    }

    /// Serves `registry` from `backend` with no worker in this process.
    pub async fn api_only(backend: Backend, registry: Registry) -> Service {
        let (base_url, server) = Self::serve(backend.clone(), registry);
        Service {
            base_url,
            backend,
            stop_worker: None,
            worker: None,
            server,
        }
    }

    fn serve(backend: Backend, registry: Registry) -> (String, actix_web::dev::ServerHandle) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = listener.local_addr().expect("a local address");
        let state = ApiState::new(backend, registry);
        let server = http::Server::new(state)
            .threads(1)
            .listen(listener)
            .expect("the server listens");
        let handle = server.handle();
        tokio::spawn(server);
        (format!("http://{address}"), handle)
    }

    /// Stops the worker (letting running jobs finish) and the server.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop_worker.take() {
            let _ = stop.send(());
        }
        if let Some(worker) = self.worker.take() {
            worker.await.expect("the worker stops cleanly");
        }
        self.server.stop(true).await;
    }

    /// `POST {path}` with a JSON body; the status and the JSON answer.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = awc::Client::new()
            .post(format!("{}{path}", self.base_url))
            .send_json(body)
            .await;
        read(response).await
    }

    /// `GET {path}`; the status and the JSON answer.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = awc::Client::new()
            .get(format!("{}{path}", self.base_url))
            .send()
            .await;
        read(response).await
    }

    /// Submits a job and returns its uuid.
    ///
    /// # Panics
    ///
    /// Panics if the server does not answer 201.
    pub async fn submit(&self, job_type: &str, params: &Value) -> String {
        let (status, body) = self.post(&format!("/job/{job_type}"), params).await;
        assert_eq!(status, 201, "submitting {job_type} {params}: {body}");
        body["uuid"].as_str().expect("a uuid").to_owned()
    }

    /// Waits until the job is finished and returns its `/progress` answer.
    pub async fn wait_finished(&self, uuid: &str) -> Value {
        wait_for(&format!("job {uuid} finishing"), DEADLINE, || async {
            let (status, body) = self.get(&format!("/progress/{uuid}")).await;
            assert_eq!(status, 200, "{body}");
            let finished = ["done", "failed", "cancelled"].contains(&body["status"].as_str()?);
            finished.then_some(body)
        })
        .await
    }
}

async fn read(response: Result<awc::ClientResponse, awc::error::SendRequestError>) -> (u16, Value) {
    let mut response = response.expect("the server answers");
    let status = response.status().as_u16();
    let body = response
        .body()
        .limit(16 * 1024 * 1024)
        .await
        .expect("a body");
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, json)
}
