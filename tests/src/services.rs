//! The real services that backend tests run against, and how each test isolates
//! itself in them.
//!
//! | service | env | default |
//! |---|---|---|
//! | PostgreSQL | `ZEROG_TEST_POSTGRES_URL` | `postgres://postgres@127.0.0.1:5432/test` |
//! | Redis | `ZEROG_TEST_REDIS_URL` | `redis://127.0.0.1:6379/` |
//! | beanstalkd | `ZEROG_TEST_BEANSTALKD` | `127.0.0.1:11300` |
//!
//! A test whose service cannot be reached prints `SKIPPED <test>: ...` and passes,
//! unless `ZEROG_REQUIRE_SERVICES=1` (set by `.ci/run`), which makes it fail.
//!
//! Each test gets a name of its own ([`unique_name`]) for its PostgreSQL schema, Redis
//! key prefix or beanstalkd tube prefix, so tests run in parallel, and removes what it
//! made when it ends ([`Isolated`]).

use std::future::Future;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use zerog::backend::beanstalkd::{BeanstalkdQueue, Client};
use zerog::backend::{Backend, PostgresBackend, RedisBackend};

/// One of the services that tests need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// PostgreSQL.
    Postgres,
    /// Redis.
    Redis,
    /// beanstalkd.
    Beanstalkd,
}

impl Service {
    fn env(self) -> &'static str {
        match self {
            Service::Postgres => "ZEROG_TEST_POSTGRES_URL",
            Service::Redis => "ZEROG_TEST_REDIS_URL",
            Service::Beanstalkd => "ZEROG_TEST_BEANSTALKD",
        }
    }

    fn default_url(self) -> &'static str {
        match self {
            Service::Postgres => "postgres://postgres@127.0.0.1:5432/test",
            Service::Redis => "redis://127.0.0.1:6379/",
            Service::Beanstalkd => "beanstalkd://127.0.0.1:11300",
        }
    }

    /// The service's URL: from its env variable, or the default. beanstalkd's always
    /// has the `beanstalkd://` scheme.
    pub fn url(self) -> String {
        let url = std::env::var(self.env()).unwrap_or_else(|_| self.default_url().to_owned());
        if self == Service::Beanstalkd && !url.contains("://") {
            format!("beanstalkd://{url}")
        } else {
            url
        }
    }

    /// `host:port` of the service's URL.
    pub fn address(self) -> String {
        let url = self.url();
        let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let host_port = rest.split(['/', '?']).next().unwrap_or_default();
        if host_port.contains(':') {
            host_port.to_owned()
        } else {
            let port = match self {
                Service::Postgres => 5432,
                Service::Redis => 6379,
                Service::Beanstalkd => 11300,
            };
            format!("{host_port}:{port}")
        }
    }

    /// Whether a TCP connection to the service succeeds.
    pub fn reachable(self) -> bool {
        let addresses: Vec<SocketAddr> = self
            .address()
            .to_socket_addrs()
            .map(Iterator::collect)
            .unwrap_or_default();
        addresses
            .iter()
            .any(|address| TcpStream::connect_timeout(address, Duration::from_secs(2)).is_ok())
    }
}

/// Whether `ZEROG_REQUIRE_SERVICES=1`: a missing service fails the test.
pub fn services_required() -> bool {
    std::env::var("ZEROG_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// The URL of `service` if it can be reached. Otherwise prints that `test` skipped and
/// returns `None`, or, when services are required, fails the test.
///
/// # Panics
///
/// When the service is unreachable and `ZEROG_REQUIRE_SERVICES=1`.
pub fn require(service: Service, test: &str) -> Option<String> {
    if service.reachable() {
        return Some(service.url());
    }
    let message = format!(
        "{service:?} is not reachable at {} (set {} to point elsewhere)",
        service.address(),
        service.env()
    );
    assert!(
        !services_required(),
        "{test}: {message}; ZEROG_REQUIRE_SERVICES=1"
    );
    eprintln!("SKIPPED {test}: {message}");
    None
}

/// A name no other test (in this or another process) uses: `zerog_t_<pid>_<n>_<random>`,
/// fit for a schema, key prefix or tube.
pub fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "zerog_t_{}_{}_{:04x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        fastrand::u16(..)
    )
}

/// Appends `key=value` to a URL's query.
pub fn with_param(url: &str, key: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={value}")
}

/// `url` with its `host:port` replaced by `address`, for going through a proxy.
pub fn with_address(url: &str, address: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (user, rest) = match rest.split_once('@') {
        Some((user, rest)) if !user.contains('/') => (format!("{user}@"), rest),
        _ => (String::new(), rest),
    };
    let tail = rest.find(['/', '?']).map_or("", |at| &rest[at..]);
    format!("{scheme}://{user}{address}{tail}")
}

/// Removes what a test made in a service, when the test is over.
pub type Cleanup = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A backend in a schema, key prefix or tube of its own, and how to remove it.
pub struct Isolated {
    /// The backend.
    pub backend: Backend,
    /// The store URL, with the test's schema or prefix, for other processes.
    pub store_url: String,
    /// The queue URL for `ZEROG_QUEUE`, if the queue is apart from the store.
    pub queue_url: Option<String>,
    /// Drops the schema or deletes the keys.
    pub cleanup: Cleanup,
}

/// A PostgreSQL backend in a fresh schema, or `None` (skipped) without PostgreSQL.
pub async fn postgres(test: &str) -> Option<Isolated> {
    let url = require(Service::Postgres, test)?;
    let url = with_param(
        &with_param(&url, "schema", &unique_name()),
        "max_connections",
        "4",
    );
    Some(postgres_at(&url, None).await)
}

/// The backend of the PostgreSQL store `url` (with its schema), with `queue_url` as
/// its queue if given; the cleanup drops the schema.
///
/// # Panics
///
/// If the backend cannot connect.
pub async fn postgres_at(url: &str, queue_url: Option<String>) -> Isolated {
    let backend = Backend::connect_split(url, queue_url.as_deref())
        .await
        .unwrap_or_else(|error| panic!("connecting to {url}: {error}"));
    let direct = PostgresBackend::connect(url)
        .await
        .expect("a second handle");
    Isolated {
        backend,
        store_url: url.to_owned(),
        queue_url,
        cleanup: Box::pin(async move {
            if let Err(error) = direct.drop_schema().await {
                eprintln!("could not drop schema {}: {error}", direct.schema());
            }
        }),
    }
}

/// A Redis backend under a fresh key prefix, or `None` (skipped) without Redis.
pub async fn redis(test: &str) -> Option<Isolated> {
    let url = require(Service::Redis, test)?;
    let url = with_param(&url, "prefix", &unique_name());
    Some(redis_at(&url).await)
}

/// The backend of the Redis store `url` (with its prefix); the cleanup deletes its keys.
///
/// # Panics
///
/// If the backend cannot connect.
pub async fn redis_at(url: &str) -> Isolated {
    let backend = Backend::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connecting to {url}: {error}"));
    let direct = RedisBackend::connect(url).await.expect("a second handle");
    Isolated {
        backend,
        store_url: url.to_owned(),
        queue_url: None,
        cleanup: Box::pin(async move {
            if let Err(error) = direct.purge().await {
                eprintln!(
                    "could not delete the keys under {}: {error}",
                    direct.prefix()
                );
            }
        }),
    }
}

/// PostgreSQL (fresh schema) as the store and beanstalkd (fresh tube prefix) as the
/// queue, or `None` (skipped) without either.
pub async fn postgres_beanstalkd(test: &str) -> Option<Isolated> {
    let postgres = require(Service::Postgres, test)?;
    let beanstalkd = require(Service::Beanstalkd, test)?;
    let name = unique_name();
    let store = with_param(
        &with_param(&postgres, "schema", &name),
        "max_connections",
        "4",
    );
    let queue = with_param(&beanstalkd, "tube_prefix", &name);
    let mut isolated = postgres_at(&store, Some(queue)).await;
    let drop_schema = isolated.cleanup;
    isolated.cleanup = Box::pin(async move {
        drop_schema.await;
        purge_tubes(&name).await;
    });
    Some(isolated)
}

/// Deletes the jobs left in the beanstalkd tubes of `tube_prefix`. Jobs reserved by a
/// connection that is closing come back to the ready queue a moment later, so it
/// looks again while any are reserved, for a few seconds at most.
pub async fn purge_tubes(tube_prefix: &str) {
    let address = Service::Beanstalkd.address();
    let give_up = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        if let Err(error) = BeanstalkdQueue::purge(&address, tube_prefix).await {
            eprintln!("could not purge the tubes of {tube_prefix}: {error}");
            return;
        }
        let reserved = reserved_in_tubes(&address, tube_prefix).await;
        if reserved == 0 || tokio::time::Instant::now() > give_up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn reserved_in_tubes(address: &str, tube_prefix: &str) -> u64 {
    let Ok(mut client) = Client::connect(address).await else {
        return 0;
    };
    let mut reserved = 0;
    for tube in client.list_tubes().await.unwrap_or_default() {
        if tube.starts_with(&format!("{tube_prefix}."))
            && let Ok(Some(stats)) = client.stats_tube(&tube).await
        {
            reserved += stats
                .get("current-jobs-reserved")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    reserved
}
