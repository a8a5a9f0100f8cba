//! Listing, retention, statistics, expired leases and the worker directory on Redis.

use std::collections::BTreeMap;
use std::time::Duration;

use ::redis::AsyncCommands;
use chrono::{DateTime, Utc};

use super::{Loaded, RedisBackend, decode, millis, parse_uuid, redis_error};
use crate::backend::{ListQuery, QueueStats, Stats, StoreError, Stored, WorkerCommand, WorkerInfo};
use crate::record::{JobRecord, Status};

/// How many jobs one retention script deletes at most, so that Redis, which runs a
/// script alone, is never held for long.
const DELETE_BATCH: u64 = 1000;

pub(super) async fn list(
    backend: &RedisBackend,
    query: &ListQuery,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<(u64, JobRecord)>, StoreError> {
    let prefix = &backend.prefix;
    let (index, field, value) = match (query.status, query.job_type.as_deref()) {
        (Some(status), job_type) => (
            format!("{prefix}:status:{status}"),
            if job_type.is_some() { "type" } else { "" },
            job_type.unwrap_or_default(),
        ),
        (None, Some(job_type)) => (format!("{prefix}:type:{job_type}"), "", ""),
        (None, None) => (format!("{prefix}:all"), "", ""),
    };
    let reply: Vec<String> = backend
        .scripts
        .admin
        .arg(prefix)
        .arg("list")
        .arg(index)
        .arg(field)
        .arg(value)
        .arg(after.map(|seq| seq.to_string()).unwrap_or_default())
        .arg(limit)
        .invoke_async(&mut backend.conn.clone())
        .await
        .map_err(redis_error)?;
    reply
        .chunks_exact(7)
        .map(|group| {
            let uuid = parse_uuid(&group[1])?;
            let loaded: Loaded = std::array::from_fn(|i| group[2 + i].clone());
            Ok((group[0].parse().unwrap_or(0), decode(uuid, &loaded)?))
        })
        .collect()
}

pub(super) async fn delete_finished(
    backend: &RedisBackend,
    statuses: &[Status],
    finished_before: DateTime<Utc>,
) -> Result<BTreeMap<Status, u64>, StoreError> {
    let finished = statuses;
    let mut counts: BTreeMap<Status, u64> = BTreeMap::new();
    if finished.is_empty() {
        return Ok(counts);
    }
    loop {
        let mut invocation = backend.scripts.admin.prepare_invoke();
        invocation
            .arg(&backend.prefix)
            .arg("delete")
            .arg(millis(finished_before))
            .arg(DELETE_BATCH);
        for status in finished {
            invocation.arg(status.as_str());
        }
        let deleted: Vec<u64> = invocation
            .invoke_async(&mut backend.conn.clone())
            .await
            .map_err(redis_error)?;
        for (status, count) in finished.iter().zip(&deleted) {
            *counts.entry(*status).or_default() += count;
        }
        if deleted.iter().sum::<u64>() < DELETE_BATCH {
            return Ok(counts);
        }
    }
}

pub(super) async fn stats(backend: &RedisBackend) -> Result<Stats, StoreError> {
    let mut conn = backend.conn.clone();
    let counts: BTreeMap<String, i64> = conn
        .hgetall(format!("{}:counts", backend.prefix))
        .await
        .map_err(redis_error)?;
    let mut stats = Stats::default();
    for (key, count) in counts {
        let Some((status, job_type)) = key.split_once('\t') else {
            continue;
        };
        if let (Ok(status), Ok(count)) = (status.parse::<Status>(), u64::try_from(count))
            && count > 0
        {
            stats.jobs.insert((status, job_type.to_owned()), count);
        }
    }
    let now = Utc::now();
    let reply: Vec<String> = backend
        .scripts
        .admin
        .arg(&backend.prefix)
        .arg("queues")
        .arg(millis(now))
        .invoke_async(&mut conn)
        .await
        .map_err(redis_error)?;
    for queue in reply.chunks_exact(5) {
        let oldest = queue[3].parse::<i64>().ok();
        stats.queues.insert(
            queue[0].clone(),
            QueueStats {
                due: queue[1].parse().unwrap_or(0),
                running: queue[2].parse().unwrap_or(0),
                waiting: queue[4].parse().unwrap_or(0),
                oldest_due_age: oldest
                    .map(|at| Duration::from_millis(u64::try_from(millis(now) - at).unwrap_or(0))),
            },
        );
    }
    Ok(stats)
}

pub(super) async fn expired(
    backend: &RedisBackend,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Stored>, StoreError> {
    let expired: Vec<String> = backend
        .conn
        .clone()
        .zrangebyscore_limit(
            format!("{}:leases", backend.prefix),
            "-inf",
            format!("({}", millis(now)),
            0,
            isize::try_from(limit).unwrap_or(isize::MAX),
        )
        .await
        .map_err(redis_error)?;
    let mut found = Vec::with_capacity(expired.len());
    for uuid in expired {
        if let Some(stored) = backend.load(parse_uuid(&uuid)?).await?
            && stored.record.status == Status::Running
        {
            found.push(stored);
        }
    }
    Ok(found)
}

pub(super) async fn heartbeat(
    backend: &RedisBackend,
    info: &WorkerInfo,
    ttl: Duration,
) -> Result<WorkerCommand, StoreError> {
    let now = Utc::now();
    let command: String = backend
        .scripts
        .workers
        .arg(&backend.prefix)
        .arg("heartbeat")
        .arg(&info.id)
        .arg(serde_json::to_string(info).expect("worker info serializes"))
        .arg(millis(now + ttl))
        .arg(millis(now))
        .invoke_async(&mut backend.conn.clone())
        .await
        .map_err(redis_error)?;
    Ok(WorkerCommand::parse(&command))
}

pub(super) async fn list_workers(backend: &RedisBackend) -> Result<Vec<WorkerInfo>, StoreError> {
    let infos: Vec<String> = backend
        .scripts
        .workers
        .arg(&backend.prefix)
        .arg("list")
        .arg(millis(Utc::now()))
        .invoke_async(&mut backend.conn.clone())
        .await
        .map_err(redis_error)?;
    let mut workers = infos
        .iter()
        .map(|info| serde_json::from_str(info).map_err(|error| StoreError::Backend(error.into())))
        .collect::<Result<Vec<WorkerInfo>, _>>()?;
    workers.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(workers)
}

pub(super) async fn command_worker(
    backend: &RedisBackend,
    id: &str,
    command: WorkerCommand,
) -> Result<bool, StoreError> {
    let written: i64 = backend
        .scripts
        .workers
        .arg(&backend.prefix)
        .arg("command")
        .arg(id)
        .arg(command.as_str())
        .arg(millis(Utc::now()))
        .invoke_async(&mut backend.conn.clone())
        .await
        .map_err(redis_error)?;
    Ok(written == 1)
}

pub(super) async fn remove_worker(backend: &RedisBackend, id: &str) -> Result<(), StoreError> {
    let _: i64 = backend
        .scripts
        .workers
        .arg(&backend.prefix)
        .arg("remove")
        .arg(id)
        .invoke_async(&mut backend.conn.clone())
        .await
        .map_err(redis_error)?;
    Ok(())
}
