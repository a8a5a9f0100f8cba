//! A TCP proxy that a test controls, to cut a service off mid-run and bring it back.
//!
//! ```no_run
//! # async fn demo() {
//! use zerog_tests::proxy::Proxy;
//!
//! let proxy = Proxy::start("127.0.0.1:5432").await;
//! let url = format!("postgres://postgres@{}/test", proxy.address());
//! // ... clients connect through `url` ...
//! proxy.cut(); // every connection drops, and new ones are closed at once
//! proxy.restore(); // new connections go through again
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// A proxy on `127.0.0.1:PORT` in front of one upstream address; stops when dropped.
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    upstream: String,
    down: AtomicBool,
    connections: Mutex<Vec<AbortHandle>>,
    accepted: AtomicUsize,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`host:port`) on a free local port.
    ///
    /// # Panics
    ///
    /// If no local port can be bound.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a local address");
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            down: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Proxy {
            address,
            shared,
            accept,
        }
    }

    /// The proxy's `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Drops every open connection and closes new ones as soon as they are accepted,
    /// as if the service had gone away.
    pub fn cut(&self) {
        self.shared.down.store(true, Ordering::SeqCst);
        for connection in self.shared.lock().drain(..) {
            connection.abort();
        }
    }

    /// Lets new connections through again.
    pub fn restore(&self) {
        self.shared.down.store(false, Ordering::SeqCst);
    }

    /// How many connections the proxy has accepted so far, cut or not.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AbortHandle>> {
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for connection in self.shared.lock().drain(..) {
            connection.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.down.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let upstream = shared.upstream.clone();
        let task = tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(&upstream).await else {
                return;
            };
            let mut client = client;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
        let mut connections = shared.lock();
        connections.retain(|connection| !connection.is_finished());
        connections.push(task.abort_handle());
        // A cut that came while this connection was being set up must end it too.
        if shared.down.load(Ordering::SeqCst) {
            task.abort();
        }
    }
}
