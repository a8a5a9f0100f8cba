//! The Redis backend: store and queue in Redis, every move made atomic by a Lua script.
//!
//! Each job is a hash holding the record as JSON beside the fields the queue needs.
//! Due jobs wait in one sorted set per queue and job type, scored by due time; running
//! jobs sit in a sorted set of leases, scored by expiry; finished ones in a sorted set
//! per status, scored by finish time, for retention. Sorted sets of all jobs, by status
//! and by type, scored by insertion sequence, serve listing. Every change of a job
//! (insert, reserve, a batch of fenced writes) is one script, which Redis runs
//! alone, so the indexes never disagree.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zerog::backend::StoreError> {
//! use zerog::backend::RedisBackend;
//!
//! // Every key starts with `tenant_a:`.
//! let backend = RedisBackend::connect("redis://127.0.0.1:6379/?prefix=tenant_a").await?;
//! # Ok(()) }
//! ```
//!
//! # URL parameters
//!
//! Besides what the driver understands (`redis://[user:password@]host:port/db`):
//! - `prefix`: the key prefix (default `zerog`), `[a-z_][a-z0-9_]*`, so that tenants
//!   and tests isolate themselves; [`RedisBackend::purge`] removes every key under it.
//!
//! # What Redis cannot promise
//!
//! - Durability is Redis's: with `appendonly yes` and `appendfsync always` an accepted
//!   job survives a crash of Redis; with the defaults, the last second of writes (or,
//!   with no persistence at all, everything) can be lost. Configure it for the jobs'
//!   worth.
//! - The scripts touch keys they compute from the prefix, which Redis Cluster does not
//!   allow; use a single Redis (with replicas and Sentinel if it must fail over).
//! - A reservation sets the record's status, start and update times outside its JSON
//!   (Lua's JSON library would not round-trip it), and readers lay them over the JSON
//!   until the run's first write.

mod admin;
mod listen;
mod schedules;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, Client, Script};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Change, Fence, Fire, Inserted, Lease, ListQuery, Listed, NewJob, Overview, PutSchedule,
    Reservation, ReserveRequest, RunSignal, Stats, Store, StoreError, Stored, UniqueKey,
    WorkerCommand, WorkerInfo, Write, WriteOutcome, due_millis, is_plain_name, take_url_params,
};
use crate::lifecycle::Next;
use crate::record::{JobRecord, Status, timestamp};
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

/// The key prefix used when the URL names none.
pub const DEFAULT_PREFIX: &str = "zerog";

/// How long a command waits for Redis's answer before it fails.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

macro_rules! script {
    ($file:literal) => {
        concat!(include_str!("lua/common.lua"), include_str!($file))
    };
}

/// A script that stores new jobs: [`script!`] with `insert_jobs` of `lua/insert.lua`.
macro_rules! inserting_script {
    ($file:literal) => {
        concat!(
            include_str!("lua/common.lua"),
            include_str!("lua/insert.lua"),
            include_str!($file)
        )
    };
}

#[derive(Debug)]
struct Scripts {
    enqueue: Script,
    reserve: Script,
    write: Script,
    admin: Script,
    workers: Script,
    schedules: Script,
}

/// A store and queue in Redis, under a key prefix. Cloning is cheap: clones share the
/// connection.
#[derive(Clone)]
pub struct RedisBackend {
    conn: ConnectionManager,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
    wakeups: std::sync::Arc<super::wakeups::Wakeups>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn redis_error(error: ::redis::RedisError) -> StoreError {
    StoreError::Backend(Box::new(error))
}

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// The fields a reader gets for one job: record, status, and the reservation's overlay
/// (`ov`, start and update times).
type Loaded = [String; 5];

impl RedisBackend {
    /// Connects to the Redis at `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadUrl`] for a URL that does not parse or a prefix that is
    /// not `[a-z_][a-z0-9_]*`; otherwise the connection's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it writes nothing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (driver_url, params) = take_url_params(url, &["prefix"]);
        let prefix = params
            .get("prefix")
            .map_or(DEFAULT_PREFIX, String::as_str)
            .to_owned();
        if !is_plain_name(&prefix) {
            return Err(super::bad_url(
                url,
                format!(
                    "the parameter `prefix` must be [a-z_][a-z0-9_]*, at most 48 bytes, not `{prefix}`"
                ),
            ));
        }
        let client = Client::open(driver_url).map_err(|error| {
            super::bad_url(
                url,
                format!(
                    "it does not parse: {}",
                    super::redact_url(&error.to_string())
                ),
            )
        })?;
        let config = ::redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(redis_error)?;
        Ok(RedisBackend {
            conn,
            wakeups: std::sync::Arc::new(listen::wakeups(client, format!("{prefix}:wake"))),
            prefix,
            scripts: std::sync::Arc::new(Scripts {
                enqueue: Script::new(inserting_script!("lua/enqueue.lua")),
                reserve: Script::new(script!("lua/reserve.lua")),
                write: Script::new(script!("lua/write.lua")),
                admin: Script::new(script!("lua/admin.lua")),
                workers: Script::new(script!("lua/workers.lua")),
                schedules: Script::new(inserting_script!("lua/schedules.lua")),
            }),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under the prefix: for tests and for removing a tenant.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, but a dropped purge leaves some keys behind; run it again.
    pub async fn purge(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", self.prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(redis_error)?;
            if !keys.is_empty() {
                let _: () = conn.del(keys).await.map_err(redis_error)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    fn job_key(&self, uuid: Uuid) -> String {
        format!("{}:job:{uuid}", self.prefix)
    }

    /// Stores and queues `jobs`, all or none, in one script.
    async fn insert_jobs(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        match self.enqueue(jobs, None).await? {
            Inserted::New => Ok(()),
            Inserted::Duplicate(holder) => Err(StoreError::Duplicate(holder)),
        }
    }

    /// One call of the enqueue script: `jobs`, under `unique` if given (one job only).
    async fn enqueue(
        &self,
        jobs: &[NewJob<'_>],
        unique: Option<&UniqueKey>,
    ) -> Result<Inserted, StoreError> {
        if jobs.is_empty() {
            return Ok(Inserted::New);
        }
        let mut invocation = self.scripts.enqueue.prepare_invoke();
        invocation.arg(&self.prefix).arg(millis(Utc::now()));
        match unique {
            Some(unique) => invocation
                .arg(unique.key.to_string())
                .arg(millis(unique.until)),
            None => invocation.arg("").arg(""),
        };
        for job in jobs {
            push_job_args(&mut invocation, job);
        }
        let taken: String = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        if taken.is_empty() {
            Ok(Inserted::New)
        } else if let Some(holder) = taken.strip_prefix("held:") {
            Ok(Inserted::Duplicate(parse_uuid(holder)?))
        } else {
            Err(StoreError::Duplicate(parse_uuid(&taken)?))
        }
    }

    /// The record of `uuid` with its revision, as one read.
    pub(super) async fn load(&self, uuid: Uuid) -> Result<Option<Stored>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: Vec<Option<String>> = ::redis::cmd("HMGET")
            .arg(self.job_key(uuid))
            .arg(&["record", "status", "ov", "started_at", "updated_at", "rev"])
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        let mut fields = fields.into_iter().map(Option::unwrap_or_default);
        let loaded: Loaded = std::array::from_fn(|_| fields.next().unwrap_or_default());
        if loaded[0].is_empty() {
            return Ok(None);
        }
        let revision = fields.next().unwrap_or_default().parse().unwrap_or(0);
        Ok(Some(Stored {
            record: decode(uuid, &loaded)?,
            revision,
        }))
    }

    async fn reserve_batch(
        &self,
        request: &ReserveRequest<'_>,
    ) -> Result<Vec<Reservation>, StoreError> {
        let max_jobs = request.max_jobs;
        let only = request.only;
        if max_jobs == 0 || request.max_cost == 0 {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let started = timestamp(now);
        let lease_ids: Vec<Uuid> = (0..max_jobs).map(|_| Uuid::new_v4()).collect();
        let reply: Vec<String> = self
            .scripts
            .reserve
            .arg(&self.prefix)
            .arg(millis(now))
            .arg(request.max_cost)
            .arg(max_jobs)
            .arg(millis(now + request.lease))
            .arg(request.worker)
            .arg(&started)
            .arg(json_string(request.queues))
            .arg(json_string(request.job_types))
            .arg(json_string(request.queue_limits))
            .arg(only.map(|uuid| uuid.to_string()).unwrap_or_default())
            .arg(json_string(&lease_ids))
            .arg(request.max_job_cost)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        reply
            .chunks_exact(4)
            .map(|job| {
                let uuid = parse_uuid(&job[0])?;
                let mut record = parse_record(uuid, &job[3])?;
                reserved(&mut record, &started);
                let cost = job[1].parse().unwrap_or(i64::MAX);
                Ok(request.reservation(record, parse_uuid(&job[2])?, cost))
            })
            .collect()
    }
}

/// What a reservation does to a record, as the reserve script records it beside it.
fn reserved(record: &mut JobRecord, started: &str) {
    record.status = Status::Running;
    record.started_at = Some(started.to_owned());
    record.updated_at = started.to_owned();
    record.run_after = None;
}

/// A record from the fields [`Loaded`] names, with the reservation's overlay applied.
fn decode(uuid: Uuid, loaded: &Loaded) -> Result<JobRecord, StoreError> {
    let [json, status, overlay, started, _updated] = loaded;
    let mut record = parse_record(uuid, json)?;
    if let Ok(status) = status.parse() {
        record.status = status;
    }
    if overlay == "1" {
        reserved(&mut record, started);
    }
    Ok(record)
}

fn parse_record(uuid: Uuid, json: &str) -> Result<JobRecord, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt { uuid, source })
}

fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|error| StoreError::Backend(error.into()))
}

fn to_json(record: &JobRecord) -> String {
    serde_json::to_string(record).expect("a job record serializes")
}

fn json_string<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("strings and counts serialize")
}

/// The arguments of one new job, as `insert_jobs` of `lua/insert.lua` takes them.
fn push_job_args(invocation: &mut ::redis::ScriptInvocation<'_>, job: &NewJob<'_>) {
    let record = job.record;
    invocation
        .arg(record.uuid.to_string())
        .arg(to_json(record))
        .arg(&record.job_type)
        .arg(&record.queue)
        .arg(record.status.as_str())
        .arg(job.cost)
        .arg(due_millis(job.run_at));
}

#[async_trait]
impl Store for RedisBackend {
    async fn insert(&self, jobs: &[NewJob<'_>]) -> Result<(), StoreError> {
        self.insert_jobs(jobs).await
    }

    async fn insert_unique(
        &self,
        job: &NewJob<'_>,
        unique: &UniqueKey,
    ) -> Result<Inserted, StoreError> {
        self.enqueue(std::slice::from_ref(job), Some(unique)).await
    }

    async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Vec<Reservation>, StoreError> {
        self.reserve_batch(request).await
    }

    async fn get(&self, uuid: Uuid) -> Result<Option<Stored>, StoreError> {
        self.load(uuid).await
    }

    /// One script for the whole batch.
    async fn write(&self, writes: &[Write<'_>]) -> Result<Vec<WriteOutcome>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.scripts.write.prepare_invoke();
        invocation.arg(&self.prefix).arg(millis(Utc::now()));
        for write in writes {
            let (fence, value) = match write.fence {
                Fence::Lease(id) => ("lease", id.to_string()),
                Fence::Revision(revision) => ("rev", revision.to_string()),
            };
            invocation.arg(write.uuid.to_string()).arg(fence).arg(value);
            match write.change {
                Change::Progress(record, until) => invocation
                    .arg("progress")
                    .arg(to_json(record))
                    .arg(record.status.as_str())
                    .arg("")
                    .arg(millis(until)),
                Change::Settle(transition) => {
                    let run_at = match transition.next {
                        Next::RunAt(at) => due_millis(at).to_string(),
                        Next::Finished => String::new(),
                    };
                    invocation
                        .arg("settle")
                        .arg(to_json(&transition.record))
                        .arg(transition.record.status.as_str())
                        .arg(run_at)
                        .arg("")
                }
                Change::RequestCancel => invocation.arg("cancel").arg("").arg("").arg("").arg(""),
            };
        }
        let written: Vec<i64> = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(written
            .into_iter()
            .map(|written| {
                if written == 1 {
                    WriteOutcome::Written
                } else {
                    WriteOutcome::Refused
                }
            })
            .collect())
    }

    async fn signals(&self, leases: &[Lease]) -> Result<Vec<RunSignal>, StoreError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for lease in leases {
            pipe.cmd("HMGET")
                .arg(self.job_key(lease.uuid))
                .arg(&["lease", "cancel"]);
        }
        let replies: Vec<(Option<String>, Option<String>)> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(leases
            .iter()
            .zip(replies)
            .map(|(lease, (current, cancel))| {
                let current = current.and_then(|id| Uuid::parse_str(&id).ok());
                RunSignal::of(lease, Some((current, cancel.as_deref() == Some("1"))))
            })
            .collect())
    }

    async fn expired(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Stored>, StoreError> {
        admin::expired(self, now, limit).await
    }

    async fn list(
        &self,
        query: &ListQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Listed, StoreError> {
        admin::list(self, query, after, limit).await
    }

    async fn delete_if_finished(&self, uuid: Uuid) -> Result<bool, StoreError> {
        admin::delete_if_finished(self, uuid).await
    }

    async fn delete_finished(
        &self,
        statuses: &[Status],
        finished_before: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, u64>, StoreError> {
        admin::delete_finished(self, statuses, finished_before).await
    }

    async fn stats(&self, _cap: u64) -> Result<Stats, StoreError> {
        // The counts are kept by the scripts that change a job's status: always exact.
        admin::stats(self).await
    }

    async fn overview(&self, cap: u64, since: DateTime<Utc>) -> Result<Overview, StoreError> {
        admin::overview(self, cap, since).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // A write, not PING: a read-only replica or a full `maxmemory` answers PING.
        let () = ::redis::cmd("SET")
            .arg(format!("{}:health", self.prefix))
            .arg(Utc::now().timestamp_millis())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        self.wakeups.wait(timeout).await;
    }

    async fn heartbeat_worker(
        &self,
        info: &WorkerInfo,
        ttl: Duration,
    ) -> Result<WorkerCommand, StoreError> {
        admin::heartbeat(self, info, ttl).await
    }

    async fn list_workers(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        admin::list_workers(self).await
    }

    async fn command_worker(&self, id: &str, command: WorkerCommand) -> Result<bool, StoreError> {
        admin::command_worker(self, id, command).await
    }

    async fn remove_worker(&self, id: &str) -> Result<(), StoreError> {
        admin::remove_worker(self, id).await
    }

    async fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), StoreError> {
        let key = format!("{}:paused", self.prefix);
        let mut conn = self.conn.clone();
        let command = if paused { "SADD" } else { "SREM" };
        let _: i64 = ::redis::cmd(command)
            .arg(key)
            .arg(queue)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn paused_queues(&self) -> Result<BTreeSet<String>, StoreError> {
        let queues: Vec<String> = ::redis::cmd("SMEMBERS")
            .arg(format!("{}:paused", self.prefix))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(queues.into_iter().collect())
    }

    async fn put_schedule(
        &self,
        schedule: &Schedule,
        source: ScheduleSource,
        mode: PutSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.put_schedule_hash(schedule, source, mode, now).await
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleState>, StoreError> {
        self.list_schedule_hashes().await
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleState>, StoreError> {
        self.get_schedule_hash(name).await
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        self.delete_schedule_hash(name).await
    }

    async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.pause_schedule_hash(name, paused, now).await
    }

    /// One script: the check of the cursor, the job's insert and the cursor's move.
    async fn fire(&self, fire: &Fire<'_>) -> Result<bool, StoreError> {
        self.fire_script(fire).await
    }
}
