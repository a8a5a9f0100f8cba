//! Listing, retention, statistics, expired leases and the worker directory on Redis.

use std::collections::BTreeMap;
use std::time::Duration;

use ::redis::AsyncCommands;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Loaded, RedisBackend, decode, millis, parse_uuid, redis_error};
use serde_json::{Value, json};

use crate::backend::{
    FinishedCounts, ListQuery, Listed, Overview, ParamSearch, QueueStats, Stats, StoreError,
    Stored, Test, WorkerCommand, WorkerInfo, oldest_due,
};
use crate::record::Status;

/// How many jobs one retention script deletes at most, so that Redis, which runs a
/// script alone, is never held for long.
const DELETE_BATCH: u64 = 1000;

/// How many index entries a filtered listing looks at in one script at most, so that
/// Redis, which runs a script alone, is never held for long by a filter that matches
/// little: the next page goes on from where it stopped.
const LIST_SCAN: usize = 2000;

pub(super) async fn list(
    backend: &RedisBackend,
    query: &ListQuery,
    after: Option<u64>,
    limit: usize,
) -> Result<Listed, StoreError> {
    let prefix = &backend.prefix;
    let (index, job_type) = match (query.status, query.job_type.as_deref()) {
        (Some(status), job_type) => (format!("{prefix}:status:{status}"), job_type),
        (None, Some(job_type)) => (format!("{prefix}:type:{job_type}"), None),
        (None, None) => (format!("{prefix}:all"), None),
    };
    let search = query
        .params
        .as_ref()
        .map(|search| search_conditions(search).to_string())
        .unwrap_or_default();
    let reply: Vec<String> = backend
        .scripts
        .admin
        .arg(prefix)
        .arg("list")
        .arg(index)
        .arg(job_type.unwrap_or_default())
        .arg(query.queue.as_deref().unwrap_or_default())
        .arg(search)
        .arg(after.map(|seq| seq.to_string()).unwrap_or_default())
        .arg(limit)
        .arg(LIST_SCAN)
        .invoke_async(&mut backend.conn.clone())
        .await
        .map_err(redis_error)?;
    let Some((scanned_to, jobs)) = reply.split_first() else {
        return Ok(Listed::default());
    };
    let rows = jobs
        .chunks_exact(7)
        .map(|group| {
            let uuid = parse_uuid(&group[1])?;
            let loaded: Loaded = std::array::from_fn(|i| group[2 + i].clone());
            Ok((group[0].parse().unwrap_or(0), decode(uuid, &loaded)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Listed {
        rows,
        scanned_to: scanned_to.parse().ok(),
    })
}

/// A search's conditions as the listing script reads them.
fn search_conditions(search: &ParamSearch) -> Value {
    search
        .conditions()
        .iter()
        .map(|condition| {
            let (kind, value) = match &condition.test {
                Test::Equals(value) => ("equals", value),
                Test::HasElement(value) => ("hasElement", value),
            };
            json!({ "path": condition.path, "kind": kind, "value": value })
        })
        .collect()
}

pub(super) async fn overview(
    backend: &RedisBackend,
    cap: u64,
    since: DateTime<Utc>,
) -> Result<Overview, StoreError> {
    let prefix = &backend.prefix;
    let mut overview = Overview::default();
    // Sorted sets know their size: the counts are exact, and capped as every store caps.
    let mut pipe = ::redis::pipe();
    for status in Status::ALL {
        pipe.zcard(format!("{prefix}:status:{status}"));
    }
    let counts: Vec<u64> = pipe
        .query_async(&mut backend.conn.clone())
        .await
        .map_err(redis_error)?;
    overview.statuses = Status::ALL
        .into_iter()
        .zip(counts.into_iter().map(|count| count.min(cap)))
        .collect();
    let now = Utc::now();
    let first = since.timestamp_millis().div_euclid(60_000);
    let last = now.timestamp_millis().div_euclid(60_000);
    let mut pipe = ::redis::pipe();
    for minute in first..=last {
        let from = (minute * 60_000).max(millis(since));
        let to = format!("({}", (minute + 1) * 60_000);
        pipe.zcount(format!("{prefix}:finished:done"), from, &to);
        pipe.zcount(format!("{prefix}:finished:failed"), from, &to);
    }
    let finished: Vec<u64> = if first <= last {
        pipe.query_async(&mut backend.conn.clone())
            .await
            .map_err(redis_error)?
    } else {
        Vec::new()
    };
    for (minute, pair) in (first..=last).zip(finished.chunks_exact(2)) {
        if pair[0] + pair[1] > 0 {
            overview.finished.insert(
                minute,
                FinishedCounts {
                    done: pair[0],
                    failed: pair[1],
                },
            );
        }
    }
    overview.queues = stats(backend).await?.queues;
    overview.oldest_due = oldest_due(&overview.queues, now);
    Ok(overview)
}

pub(super) async fn delete_if_finished(
    backend: &RedisBackend,
    uuid: Uuid,
) -> Result<bool, StoreError> {
    let deleted: u8 = backend
        .scripts
        .admin
        .arg(&backend.prefix)
        .arg("delete_one")
        .arg(uuid.to_string())
        .invoke_async(&mut backend.conn.clone())
        .await
        .map_err(redis_error)?;
    Ok(deleted == 1)
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
