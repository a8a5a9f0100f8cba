//! [`Server`]: the API on a socket, with the limits of the transport (SPEC §4): a cap
//! on open connections, a deadline on every request's head, and the JSON error body
//! on every malformed request.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use zerog::{Registry, backend::Backend, http};
//!
//! let backend = Backend::connect("sqlite::memory:").await?;
//! let state = http::ApiState::new(backend, Registry::from_inventory());
//! let listener = std::net::TcpListener::bind("127.0.0.1:8888")?;
//! let server = http::Server::new(state).max_connections(64).listen(listener)?;
//! server.handle(); // to stop it: `handle.stop(true).await`
//! server.await?;
//! # Ok(()) }
//! ```
//!
//! It is built from actix-server and actix-http's HTTP/1 service rather than with
//! `actix_web::HttpServer`, because `HttpServer` reads its sockets itself, and the
//! requests that actix-http's dispatcher refuses must first pass through
//! `connection::GuardedStream` to be answered with the JSON error body (see that
//! module). Everything else is as `HttpServer` would set it: the same app, keep-alive
//! of 5 s, a second to linger over a closing connection, and a graceful stop that
//! lets requests in flight finish. The app is given actix-web's default `AppConfig`,
//! as `actix_web::test::init_service` gives it: nothing in the app reads the host or
//! the address from there.

use std::io;
use std::net::TcpListener;
use std::time::Duration;

use actix_http::{Extensions, HttpService};
use actix_service::{ServiceFactoryExt as _, fn_service, map_config};
use actix_web::dev::{AppConfig, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, web};
use tokio::net::TcpStream;

use super::connection::GuardedStream;
use super::{ApiError, ApiState, MountPath, configure};

/// The most connections open at once by default, across all threads: well under the
/// usual limit of 1024 open files, with room left for the store's connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;

/// How long a request's head (its request line and headers) may take to arrive by
/// default, as actix-web's own default.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

const KEEP_ALIVE: Duration = Duration::from_secs(5);
const LINGER: Duration = Duration::from_secs(1);

/// The HTTP API, ready to listen on a socket.
#[derive(Debug, Clone)]
pub struct Server {
    state: ApiState,
    max_connections: usize,
    threads: usize,
    head_timeout: Duration,
    mount_path: MountPath,
}

impl Server {
    /// A server of the app over `state`, with one thread per CPU and the default
    /// limits.
    pub fn new(state: ApiState) -> Self {
        Server {
            state,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            mount_path: MountPath::default(),
        }
    }

    /// Serves the API under `path` rather than at the root, as behind a proxy that
    /// forwards a path of its own: every route answers below it, and whatever names a
    /// path of the API carries it (see [`configure`]). Any other path is answered 404
    /// `not_found`.
    pub fn mount_path(mut self, path: MountPath) -> Self {
        self.mount_path = path;
        self
    }

    /// Sets the most connections open at once, across all threads (at least 1). A
    /// connection beyond it waits in the listener's backlog, unanswered, until another
    /// closes.
    ///
    /// Each thread holds an equal share, so the cap is rounded down to a multiple of
    /// the number of threads, and there are never more threads than connections.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Sets how many threads serve connections (from 1 to 512).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.clamp(1, 512);
        self
    }

    /// Sets how long a request's head may take: a connection's first head, counted
    /// from the accept, and every later one, counted from its first byte. A head that
    /// misses it is answered 408 `head_timeout` and the connection is closed.
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.head_timeout = timeout;
        self
    }

    /// Starts serving on `listener`. The returned server runs when polled (spawn it),
    /// and never reacts to signals: stop it with its handle.
    ///
    /// # Errors
    ///
    /// Fails if the listener cannot be set to non-blocking mode.
    pub fn listen(self, listener: TcpListener) -> io::Result<actix_web::dev::Server> {
        let address = listener.local_addr()?;
        let threads = self.threads.min(self.max_connections);
        let builder = actix_server::Server::build()
            .workers(threads)
            .max_concurrent_connections(self.max_connections / threads)
            .disable_signals();
        let draining = builder.graceful_shutdown_signal();
        let Server {
            state,
            head_timeout,
            mount_path,
            ..
        } = self;
        let builder = builder.listen("zerog-http", listener, move || {
            let draining = draining.clone();
            let http = HttpService::<GuardedStream<TcpStream>, _, _>::build()
                .keep_alive(KEEP_ALIVE)
                // The head's deadline is the guard's, whose answer has a body.
                .client_request_timeout(Duration::ZERO)
                .client_disconnect_timeout(LINGER)
                .local_addr(address)
                // As `HttpServer` does, so that a graceful stop closes idle keep-alive
                // connections at once instead of waiting for them to time out.
                .graceful_shutdown_signal(move || {
                    let draining = draining.clone();
                    async move { draining.notified().await }
                })
                .on_connect_ext(|stream: &GuardedStream<TcpStream>, data: &mut Extensions| {
                    data.insert(stream.report());
                })
                .h1(map_config(
                    mounted(state.clone(), mount_path.clone()),
                    |()| AppConfig::default(),
                ));
            fn_service(move |stream: TcpStream| {
                let peer = stream.peer_addr().ok();
                std::future::ready(Ok((GuardedStream::new(stream, head_timeout), peer)))
            })
            .and_then(http)
        })?;
        Ok(builder.run())
    }
}

/// The app with the API under `path`, and the JSON 404 everywhere else.
fn mounted(
    state: ApiState,
    path: MountPath,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .service(web::scope(path.as_str()).configure(configure(state)))
        .default_service(web::to(|request: HttpRequest| async move {
            Err::<HttpResponse, _>(ApiError::NoRoute {
                method: request.method().to_string(),
                path: request.path().to_owned(),
            })
        }))
}
