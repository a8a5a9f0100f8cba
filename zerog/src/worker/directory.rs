//! What a worker tells the worker directory about itself.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::backend::{WorkerInfo, WorkerState};
use crate::record::timestamp;

/// How long a worker stays listed after its last heartbeat.
pub(super) const TTL: Duration = Duration::from_secs(10);

/// `host:pid:name`, the worker id that `GET /workers` shows.
pub(super) fn worker_id(name: &str) -> String {
    format!("{}:{}:{name}", host(), std::process::id())
}

/// The host's name, read once.
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
}

/// What does not change over a worker's life.
#[derive(Debug, Clone)]
pub(super) struct Identity {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) capacity: u32,
    pub(super) queues: Vec<String>,
    pub(super) queue_limits: std::collections::BTreeMap<String, u32>,
    pub(super) started_at: DateTime<Utc>,
}

/// What the worker is doing now, as its run loop publishes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Snapshot {
    pub(super) state: WorkerState,
    pub(super) running: Vec<Uuid>,
    pub(super) used: u32,
}

impl Identity {
    /// The directory entry of this worker doing `now`.
    pub(super) fn info(&self, now: &Snapshot) -> WorkerInfo {
        WorkerInfo {
            id: self.id.clone(),
            host: host().to_owned(),
            pid: std::process::id(),
            name: self.name.clone(),
            state: now.state,
            running: now.running.clone(),
            capacity_used: now.used,
            capacity_total: self.capacity,
            queues: self.queues.clone(),
            queue_limits: self.queue_limits.clone(),
            rss_bytes: rss_bytes(),
            started_at: timestamp(self.started_at),
            last_heartbeat: timestamp(Utc::now()),
        }
    }
}

/// The process's resident memory, from `/proc` where there is one.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
