//! beanstalkd, the seed's queue, delivering the jobs of any store.
//!
//! beanstalkd keeps no records, so [`BeanstalkdQueue`] wraps a store that does
//! (SQLite, PostgreSQL or Redis): the store holds each record and the fencing lease of
//! its run, exactly as when it is its own queue, and beanstalkd decides who gets which
//! job when. The wrapper is itself a [`Store`], so the rest of zerog sees one backend.
//!
//! - **A tube per queue**, named `PREFIX.QUEUE`; a worker watches the tubes of the
//!   queues it serves. A job in beanstalkd is just the uuid of its record.
//! - **Enqueue** puts the job, delayed until its `run_at`, and then inserts the record.
//!   If the insert fails, the job is deleted again, or is deleted when it comes up and
//!   has no record.
//! - **Reserve** takes a job from beanstalkd, then reserves that job in the store
//!   (a [`ReserveRequest`](super::ReserveRequest) with `only` set),
//!   which checks its status, due time, cost, type and queue limit and hands out the
//!   lease. A job the store will not give (not due, running elsewhere, too big for
//!   the free capacity) goes back to beanstalkd, delayed as needed; a job already
//!   finished is deleted.
//! - **TTR plus `touch` as the lease heartbeat**: each progress write to the store
//!   also touches the job, so beanstalkd hands it out again only when its worker
//!   stops beating. The store's lease still decides: whoever gets the job from
//!   beanstalkd must also get it from the store, so a stalled worker cannot overwrite
//!   the new owner ([`StoreError::LeaseLost`] holds as with any store).
//! - **`release` with delay** for requeue and retry, **`bury`** for a job that ends
//!   `failed` (its attempts are exhausted, or it failed fatally), kept for inspection
//!   with beanstalkd's tools, and `delete` for the rest.
//! - **A user's retry** of a finished job, whose beanstalkd job is gone, puts a new
//!   one before the store's write, and deletes it again if the write is refused.
//! - **Reconnection**: after a connection drops, the next command reconnects. Jobs the
//!   old connection had reserved return to the ready queue at once, and their runs
//!   go on under their store leases; whoever takes such a job from beanstalkd finds
//!   it running in the store and puts it back for later.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zerog::backend::StoreError> {
//! use zerog::backend::Backend;
//!
//! // ZEROG_STORE=postgres://... ZEROG_QUEUE=beanstalkd://127.0.0.1:11300
//! let backend = Backend::connect_split(
//!     "postgres://postgres@127.0.0.1/jobs",
//!     Some("beanstalkd://127.0.0.1:11300?tube_prefix=billing&ttr=60"),
//! )
//! .await?;
//! # Ok(()) }
//! ```
//!
//! # URL parameters
//!
//! - `tube_prefix`: the first part of every tube name (default `zerog`), so that
//!   tenants and tests isolate themselves.
//! - `ttr`: seconds a reserved job may go untouched before beanstalkd hands it out
//!   again (default 30, at least 1). Progress writes touch it, and the worker writes
//!   at least every third of its lease, so keep it above a third of the lease.
//!
//! # What it cannot promise
//!
//! - Enqueue is two writes, to beanstalkd and then the store, not one transaction.
//!   A failure between them never loses an accepted job (the enqueue fails, and the
//!   beanstalkd entry without a record is deleted), but it can leave a stray entry
//!   that is skipped and deleted when it comes up.
//! - beanstalkd keeps its jobs in memory unless started with a binlog (`-b DIR`). A
//!   beanstalkd that restarts without one forgets the queued jobs; their records stay
//!   in the store, `queued`, and are not delivered again.
//! - Scheduling order is beanstalkd's: by priority, then by the order of puts, and a
//!   delayed job joins when its delay ends. Jobs are not ordered by `run_at` across
//!   the delay boundary the way the SQL stores order them.

mod client;
mod connection;
mod queue;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use uuid::Uuid;

use super::{Store, StoreError, take_url_params};

pub use client::{BeanstalkdError, COMMAND_TIMEOUT, Client, Peek};

/// The tube prefix used when the URL names none.
pub const DEFAULT_TUBE_PREFIX: &str = "zerog";
/// The TTR used when the URL names none.
pub const DEFAULT_TTR: Duration = Duration::from_secs(30);
/// The beanstalkd priority of a job of zerog's default priority, 5: beanstalkd's
/// customary middle. zerog's priorities 0 to 9 are beanstalkd's 1019 to 1028, so that
/// beanstalkd hands out due jobs by priority, as the other backends do.
pub const PRIORITY: u32 = 1024;

/// The beanstalkd priority of zerog's `priority`.
fn beanstalkd_priority(priority: u8) -> u32 {
    PRIORITY - u32::from(crate::spec::DEFAULT_PRIORITY)
        + u32::from(priority.min(crate::spec::LOWEST_PRIORITY))
}

/// beanstalkd as the queue of a store: see the [module documentation](self).
///
/// It is the [`Store`] of its [`Backend`](super::Backend), around the store that keeps
/// the records, so that progress writes can touch the job in beanstalkd as they renew
/// the lease.
pub struct BeanstalkdQueue {
    store: Arc<dyn Store>,
    tube_prefix: String,
    ttr: Duration,
    /// Puts new jobs.
    producer: Mutex<connection::Connection>,
    /// Reserves jobs, and touches, releases, buries and deletes them: beanstalkd lets
    /// only the connection that reserved a job do that.
    consumer: Mutex<connection::Connection>,
    /// The jobs the consumer connection holds: uuid to beanstalkd id and store lease.
    held: std::sync::Mutex<HashMap<Uuid, Held>>,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    id: u64,
    lease: Uuid,
    /// Its beanstalkd priority, for putting it back.
    priority: u32,
}

impl std::fmt::Debug for BeanstalkdQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeanstalkdQueue")
            .field("tube_prefix", &self.tube_prefix)
            .field("ttr", &self.ttr)
            .finish_non_exhaustive()
    }
}

impl BeanstalkdQueue {
    /// Connects to the beanstalkd at `url` (`beanstalkd://HOST:PORT`) to deliver the
    /// jobs of `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadUrl`] for a URL or parameter that does not parse; otherwise the
    /// connection's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it writes nothing.
    pub async fn connect(url: &str, store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let (address, params) = take_url_params(url, &["tube_prefix", "ttr"]);
        let address = address
            .strip_prefix("beanstalkd://")
            .ok_or_else(|| super::unsupported(url))?
            .trim_end_matches('/')
            .to_owned();
        if address.is_empty() {
            return Err(super::bad_url(url, "it names no HOST:PORT"));
        }
        let tube_prefix = params
            .get("tube_prefix")
            .map_or(DEFAULT_TUBE_PREFIX, String::as_str)
            .to_owned();
        if !is_tube_name(&tube_prefix) {
            return Err(super::bad_url(
                url,
                format!("the parameter `tube_prefix` is not a tube name: `{tube_prefix}`"),
            ));
        }
        let ttr = match params.get("ttr") {
            Some(secs) => {
                let secs: u64 = secs.parse().map_err(|_| {
                    super::bad_url(
                        url,
                        format!(
                            "the parameter `ttr` must be a whole number of seconds, not `{secs}`"
                        ),
                    )
                })?;
                Duration::from_secs(secs.max(1))
            }
            None => DEFAULT_TTR,
        };
        let queue = BeanstalkdQueue {
            store,
            tube_prefix,
            ttr,
            producer: Mutex::new(connection::Connection::new(&address)),
            consumer: Mutex::new(connection::Connection::new(&address)),
            held: std::sync::Mutex::new(HashMap::new()),
        };
        queue
            .producer
            .lock()
            .await
            .ping()
            .await
            .map_err(queue_error)?;
        Ok(queue)
    }

    /// Deletes every job in the tubes of this prefix that no connection holds: for
    /// tests, and for removing a tenant.
    ///
    /// # Errors
    ///
    /// The connection's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, but a dropped purge leaves some jobs behind; run it again.
    pub async fn purge(address: &str, tube_prefix: &str) -> Result<u64, BeanstalkdError> {
        let mut client = Client::connect(address.trim_start_matches("beanstalkd://")).await?;
        let ours = format!("{tube_prefix}.");
        let mut deleted = 0;
        for tube in client.list_tubes().await? {
            if !tube.starts_with(&ours) {
                continue;
            }
            client.use_tube(&tube).await?;
            for kind in [Peek::Ready, Peek::Delayed, Peek::Buried] {
                while let Some(job) = client.peek_next(kind).await? {
                    deleted += u64::from(client.delete(job.id).await?);
                }
            }
        }
        Ok(deleted)
    }

    /// The tube of `queue`.
    pub fn tube(&self, queue: &str) -> String {
        format!("{}.{queue}", self.tube_prefix)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Held>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The beanstalkd job of `uuid` if the consumer holds it, and for the run of
    /// `lease` if one is given.
    fn take_held(&self, uuid: Uuid, lease: Option<Uuid>) -> Option<Held> {
        let mut held = self.held();
        match held.get(&uuid) {
            Some(job) if lease.is_none_or(|lease| job.lease == lease) => held.remove(&uuid),
            _ => None,
        }
    }

    /// After the store said the lease of `uuid` is lost: whatever happened to the job,
    /// beanstalkd should offer it again, so that whoever takes it finds out from the
    /// store.
    async fn lease_lost(&self, uuid: Uuid, lease: Uuid) {
        if let Some(job) = self.take_held(uuid, Some(lease)) {
            let released = self
                .consumer
                .lock()
                .await
                .release(job.id, job.priority, Duration::ZERO)
                .await;
            log_failure("release", released);
        }
    }
}

/// A beanstalkd failure as the store traits report it.
fn queue_error(error: BeanstalkdError) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// beanstalkd is the delivery, not the truth: a failed touch, delete or bury leaves a
/// job that is checked against the store when it comes up again.
fn log_failure<T>(what: &str, result: Result<T, BeanstalkdError>) {
    if let Err(error) = result {
        tracing::warn!(%error, "beanstalkd {what} failed; the store still holds the truth");
    }
}

/// Whether `name` can start a tube name: beanstalkd allows letters, digits and
/// `-+/;.$_()`, not starting with `-`, up to 200 bytes.
fn is_tube_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-+/;.$_()".contains(c))
}
