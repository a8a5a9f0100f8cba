//! The HTTP API (SPEC §4), on actix-web.
//!
//! [`app`] builds the whole application from an [`ApiState`], so tests mount it with
//! `actix_web::test::init_service` and need no port; [`configure`] gives the same API
//! to a user's own app, under a prefix of its choosing (`mount`):
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use zerog::{Registry, backend::Backend, http};
//!
//! let backend = Backend::connect("sqlite::memory:").await?;
//! let state = http::ApiState::new(backend, Registry::from_inventory())
//!     .service_info("my-service", "1.2.0")
//!     .api_token("s3cret");
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let server = http::Server::new(state).listen(listener)?;
//! # Ok(()) }
//! ```
//!
//! [`Server`] serves the app on a socket with the transport's limits: a cap on open
//! connections, deadlines on heads, and the JSON error body on requests that actix
//! refuses before the app sees them. `actix_web::HttpServer::new(move || app(...))`
//! serves the same app, without those.
//!
//! Every flat route is one entry of the table in `routes`: the app's resources, the
//! `Allow` of a 405, the OpenAPI paths and discovery's links are all read from it.
//! Every path that answers `GET` answers `HEAD` (`head`), without a body.
//!
//! One module per group of endpoints: `submit` (with `delay`, its `runAt` and
//! `runAfter`) and `monitor` (a job's life), `listing` (`/jobs`), `events` (SSE),
//! `control` (cancel, retry, workers), `discovery` (`/`),
//! `hierarchy` (the Spacewalk tree), `schema` and `openapi` (what the API accepts),
//! `health` and `metrics`, `stats` (the overview's figures) and `ui` (the dashboard). Handlers stay thin: they decode the request, call the
//! registry or the backend, and encode the answer. Every failure is an [`ApiError`].
//!
//! Around every route: the answer to a request that the transport refused
//! (`connection`), the request guards (`guard`: no NUL in the path or query, no
//! cross-origin or form-typed writes, and the `Host` check when [`AllowedHosts`] is
//! set), a bearer-token check when a token is set (`auth`), the refusal of writes in a
//! read-only service (`read_only`), and one tracing line per
//! request with its method, path, status and duration, never its
//! query or body.

mod auth;
mod connection;
mod control;
mod delay;
mod discovery;
mod error;
mod events;
mod guard;
mod head;
mod health;
mod hierarchy;
mod listing;
mod metrics;
mod monitor;
mod mount;
mod openapi;
mod queues;
mod read_only;
mod routes;
mod schedules;
mod schema;
mod server;
mod stats;
mod submit;
mod ui;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Service as _, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, ResponseError, web};
use uuid::Uuid;

use crate::backend::Backend;
use crate::registry::Registry;
use mount::Mount;

pub use error::ApiError;
pub use guard::AllowedHosts;
pub use mount::MountPath;
pub use routes::openapi_document;
pub use server::{DEFAULT_HEAD_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Server};

/// The largest request body accepted by default: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How deeply job parameters may nest arrays and objects by default.
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// How long a request's body may take to arrive by default, from the moment its head
/// has arrived.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often `GET /events/{uuid}` reads the job's record by default.
pub const DEFAULT_EVENTS_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What the handlers share: the backend, the job types, the service's name, the
/// token and the limits.
#[derive(Debug, Clone)]
pub struct ApiState {
    backend: Backend,
    registry: Registry,
    body_limit: usize,
    body_timeout: Duration,
    max_depth: usize,
    service_name: Arc<str>,
    service_version: Arc<str>,
    token: Option<auth::BearerToken>,
    hosts: Option<AllowedHosts>,
    events_poll_interval: Duration,
    read_only: bool,
}

impl ApiState {
    /// State for an API over `backend` that accepts the job types of `registry`, with
    /// no token, named `zerog` with zerog's version.
    pub fn new(backend: Backend, registry: Registry) -> Self {
        ApiState {
            backend,
            registry,
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_depth: DEFAULT_MAX_DEPTH,
            service_name: Arc::from("zerog"),
            service_version: Arc::from(env!("CARGO_PKG_VERSION")),
            token: None,
            hosts: None,
            events_poll_interval: DEFAULT_EVENTS_POLL_INTERVAL,
            read_only: false,
        }
    }

    /// Sets the largest request body accepted, in bytes.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets how long a request's body may take to arrive, counted from the moment the
    /// handler starts reading it; a body that misses it is answered 408
    /// `body_timeout`, and the connection is closed.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Sets how deeply job parameters may nest arrays and objects; deeper bodies are
    /// refused with 400 `too_deep`.
    pub fn max_depth(mut self, levels: usize) -> Self {
        self.max_depth = levels;
        self
    }

    /// Sets the name and version that `GET /` and `/openapi.json` publish.
    pub fn service_info(mut self, name: &str, version: &str) -> Self {
        self.service_name = Arc::from(name);
        self.service_version = Arc::from(version);
        self
    }

    /// Requires `Authorization: Bearer <token>` on every route but `/health`. An empty
    /// token leaves the API open.
    pub fn api_token(mut self, token: &str) -> Self {
        self.token = auth::BearerToken::new(token);
        self
    }

    /// Answers only requests whose `Host` is one of `hosts` (every route but
    /// `/health`), refusing the rest with 403 `host_not_allowed`: the defence of an
    /// API without a token against DNS rebinding. Off unless set, since an app mounted
    /// in a server of its own may be reached by names only that server knows; the
    /// binary sets it from its bound address and `ZEROG_ALLOWED_HOSTS` when no token
    /// is set.
    pub fn allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.hosts = Some(hosts);
        self
    }

    /// Makes the service read-only: the dashboard shows no action, and every request
    /// that could change state (any method but `GET`, `HEAD` and `OPTIONS`) is refused
    /// with 403 `read_only`, from the dashboard or not. The binary sets it from
    /// `ZEROG_UI=readonly`.
    pub fn ui_read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Sets how often `GET /events/{uuid}` reads the job's record.
    pub fn events_poll_interval(mut self, interval: Duration) -> Self {
        self.events_poll_interval = interval.max(Duration::from_millis(10));
        self
    }
}

/// The application, ready for `HttpServer::new` or `actix_web::test::init_service`:
/// the API of [`configure`] at the root of an app of its own.
pub fn app(
    state: ApiState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new().configure(configure(state))
}

/// The API as a configuration of a user's own app or scope: every route, the
/// hierarchy, and the checks around them (guards, token, `HEAD`, the request log),
/// which apply to the API's routes only.
///
/// Mounted under a prefix, every route answers below it, and whatever names a path of
/// the API carries it: discovery's links, the hierarchy's paths, `Location` headers
/// and the OpenAPI document's `servers`.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use actix_web::{App, HttpResponse, HttpServer, web};
/// use zerog::{Registry, backend::Backend, http};
///
/// let backend = Backend::connect("sqlite://zerog.db").await.expect("the store opens");
/// let state = http::ApiState::new(backend, Registry::from_inventory());
/// HttpServer::new(move || {
///     App::new()
///         .route("/signup", web::post().to(HttpResponse::Created))
///         .service(web::scope("/zerog").configure(http::configure(state.clone())))
/// })
/// .bind("127.0.0.1:8080")?
/// .run()
/// .await
/// # }
/// ```
pub fn configure(state: ApiState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        let token = state.token.clone();
        let hosts = state.hosts.clone();
        let read_only = state.read_only;
        let api = web::scope("")
            .app_data(web::Data::new(state))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|error, _| ApiError::BadQuery(error.to_string()).into()),
            )
            .configure(routes::register)
            // The hierarchy's paths are dynamic, so they are resolved only once no flat
            // route matched: a flat route always wins.
            .default_service(web::to(hierarchy::dispatch))
            // The checks every request passes, in order: a request the transport
            // refused is answered whatever it carries; then the guards; then the token.
            .wrap_fn(move |request, service| {
                let below = Mount::enter(&request);
                let refused = connection::refusal(&request)
                    .or_else(|| guard::refuse(hosts.as_ref(), &request, &below))
                    .or_else(|| auth::refuse(token.as_ref(), &request, &below))
                    .or_else(|| read_only::refuse(read_only, &request));
                let response = match refused {
                    None => Ok(service.call(request)),
                    Some(error) => Err(request.into_response(error.error_response())),
                };
                async move {
                    match response {
                        Ok(response) => response.await,
                        Err(refused) => Ok(refused),
                    }
                }
            })
            // Outside the token check, so that a refused `HEAD` has no body either.
            .wrap_fn(|request, service| {
                let response = service.call(request);
                async move { Ok(head::without_body(response.await?)) }
            })
            .wrap_fn(|request, service| {
                let started = Instant::now();
                let method = request.method().clone();
                let path = request.path().to_owned();
                let response = service.call(request);
                async move {
                    let response = response.await;
                    let status = match &response {
                        Ok(response) => response.status(),
                        Err(error) => error.as_response_error().status_code(),
                    };
                    tracing::info!(
                        target: "zerog::http",
                        %method,
                        %path,
                        status = status.as_u16(),
                        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
                        "request"
                    );
                    response
                }
            });
        config.service(api);
    }
}

/// The first segment of every route: `job`, `jobs`, `progress`, ..., and the
/// hierarchy's `branches` and `leaves`. `#[derive(Job)]` refuses these words as job
/// types and branch segments; a test holds its list to this one.
#[doc(hidden)]
pub fn route_words() -> Vec<&'static str> {
    routes::route_words()
}

/// Parses the `{uuid}` of a path: the hyphenated form only, as the OpenAPI document's
/// `format: uuid` says.
fn parse_uuid(text: &str) -> Result<Uuid, ApiError> {
    let hyphenated = text.len() == 36;
    match Uuid::try_parse(text) {
        Ok(uuid) if hyphenated => Ok(uuid),
        _ => Err(ApiError::BadUuid(text.to_owned())),
    }
}
