//! What a worker tells the worker directory about itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Worker;
use crate::backend::{WorkerInfo, WorkerState};
use crate::record::timestamp;

/// How long a worker stays listed after its last heartbeat.
pub(super) const TTL: Duration = Duration::from_secs(10);

/// `host:pid:name`, the worker id that `GET /workers` shows.
pub(super) fn worker_id(name: &str) -> String {
    format!("{}:{}:{name}", host(), std::process::id())
}

fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

pub(super) fn info(
    worker: &Worker,
    state: WorkerState,
    running: Vec<Uuid>,
    used: u32,
    started_at: DateTime<Utc>,
) -> WorkerInfo {
    WorkerInfo {
        id: worker.id.clone(),
        host: host(),
        pid: std::process::id(),
        name: worker.name.clone(),
        state,
        running,
        capacity_used: used,
        capacity_total: worker.capacity,
        queues: worker.queues.clone(),
        rss_bytes: rss_bytes(),
        started_at: timestamp(started_at),
        last_heartbeat: timestamp(Utc::now()),
    }
}

/// The process's resident memory, from `/proc` where there is one.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
