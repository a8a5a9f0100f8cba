//! apalis 1.x under test, with the backend crate for the same store.
//!
//! Each backend runs with apalis' default `Config` and a wake-up for idle workers:
//! without one, an idle apalis worker looks for new tasks only at its next heartbeat
//! (30 s). SQLite uses its update hook (`connect_with_callback`) and PostgreSQL its
//! `LISTEN/NOTIFY` (`with_pubsub`), as their documentation sets them up for real-time
//! work. Redis polls every 200 ms, zerog's default poll interval: apalis-redis 1.0.0
//! has a pub/sub wake-up (`RedisStorageFactory`), but its push gives every task a run
//! time of "now" and so schedules it rather than publishing it as available
//! (`batch_push.lua`), and the wake-up never fires for a push.
//!
//! The worker runs W tasks at once (`concurrency(W)`), each on its own tokio task
//! (`parallelize(tokio::spawn)`), as zerog's worker does.

use std::ops::Range;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use apalis_sqlite::callback::HookCallbackListener;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::args::BackendKind;
use crate::probe;
use crate::workload::{BoxError, Running, SystemUnderTest, stop_worker, worker_failure};

/// The queue (apalis' `job_type` column, or Redis key namespace) on SQL backends, which
/// each run gets a fresh database for.
const SQL_QUEUE: &str = "bench_noop";

/// How often an idle apalis worker on Redis looks for tasks: zerog's default poll
/// interval.
const REDIS_POLL_INTERVAL: std::time::Duration = zerog::worker::DEFAULT_POLL_INTERVAL;

/// The apalis worker's name.
const WORKER_NAME: &str = "zerog-bench";

/// The no-op task's arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApalisNoop {
    /// The task's sequence number in the run.
    pub seq: u64,
}

async fn run_noop(task: ApalisNoop) -> Result<(), BoxDynError> {
    probe::mark_started(task.seq);
    Ok(())
}

enum Store {
    Sqlite {
        storage: SqliteStorage<ApalisNoop>,
        wake_ups: Option<HookCallbackListener>,
    },
    Postgres {
        storage: PostgresStorage<ApalisNoop>,
    },
    Redis {
        storage: RedisStorage<ApalisNoop>,
    },
}

/// apalis on one backend.
pub struct ApalisSystem {
    store: Store,
    worker: Option<Running<WorkerError>>,
}

impl ApalisSystem {
    /// Connects to (and migrates) the backend at `target`: a URL, and for Redis the
    /// queue name after a `#`.
    pub async fn connect(backend: BackendKind, target: &str) -> Result<Self, BoxError> {
        let store = match backend {
            BackendKind::Sqlite => {
                let (pool, wake_ups) = SqliteStorage::connect_with_callback(target)?;
                SqliteStorage::setup(&pool).await?;
                Store::Sqlite {
                    storage: SqliteStorage::new(&pool)
                        .with_config(apalis_sqlite::Config::default().queue(SQL_QUEUE)),
                    wake_ups: Some(wake_ups),
                }
            }
            // apalis has no beanstalkd backend: on `postgres+beanstalkd` it runs on
            // PostgreSQL alone, as the report says.
            BackendKind::Postgres | BackendKind::PostgresBeanstalkd => {
                let pool = apalis_postgres::PgPool::connect(target).await?;
                PostgresStorage::setup(&pool).await?;
                let config = apalis_postgres::Config::default().queue(SQL_QUEUE);
                Store::Postgres {
                    storage: PostgresStorage::new(&pool).with_config(config),
                }
            }
            BackendKind::Redis => {
                let (url, queue) = target
                    .split_once('#')
                    .ok_or("an apalis Redis target is URL#QUEUE")?;
                let conn = apalis_redis::Client::open(url)?
                    .get_connection_manager()
                    .await?;
                let config = apalis_redis::Config::default().queue(queue);
                Store::Redis {
                    storage: RedisStorage::new(conn).with_config(config),
                }
            }
        };
        Ok(ApalisSystem {
            store,
            worker: None,
        })
    }
}

/// Builds a worker on `$backend` with `$concurrency` runs at once and spawns it; gives
/// the sender that stops it and its task. A macro, because the worker's type (and the
/// bounds a generic function would need) differ per backend.
macro_rules! spawn_worker {
    ($backend:expr, $concurrency:expr) => {{
        let (stop, stopped) = oneshot::channel::<()>();
        let mut stopped = Some(stopped);
        let worker = WorkerBuilder::new(WORKER_NAME)
            .backend($backend)
            .concurrency($concurrency)
            .parallelize(tokio::spawn)
            .build(run_noop);
        let task = tokio::spawn(worker.run_with_ctx(move |ctx| {
            let stopped = stopped.take();
            async move {
                if let Some(stopped) = stopped {
                    let _ = stopped.await;
                }
                ctx.stop()
            }
        }));
        (stop, task)
    }};
}

impl SystemUnderTest for ApalisSystem {
    async fn enqueue_one(&mut self, seq: u64) -> Result<(), BoxError> {
        let task = ApalisNoop { seq };
        match &mut self.store {
            Store::Sqlite { storage, .. } => storage.push(task).await?,
            Store::Postgres { storage } => storage.push(task).await?,
            Store::Redis { storage } => storage.push(task).await?,
        }
        Ok(())
    }

    async fn enqueue_batch(&mut self, seqs: Range<u64>) -> Result<(), BoxError> {
        let tasks: Vec<_> = seqs.map(|seq| ApalisNoop { seq }).collect();
        match &mut self.store {
            Store::Sqlite { storage, .. } => storage.push_bulk(tasks).await?,
            Store::Postgres { storage } => storage.push_bulk(tasks).await?,
            Store::Redis { storage } => storage.push_bulk(tasks).await?,
        }
        Ok(())
    }

    async fn start_workers(&mut self, concurrency: u32) -> Result<(), BoxError> {
        let concurrency = usize::try_from(concurrency)?;
        let worker = match &mut self.store {
            Store::Sqlite { storage, wake_ups } => {
                let wake_ups = wake_ups.take().ok_or("the SQLite worker started twice")?;
                spawn_worker!(storage.clone().with_callback(wake_ups), concurrency)
            }
            Store::Postgres { storage } => {
                spawn_worker!(storage.clone().with_pubsub(), concurrency)
            }
            Store::Redis { storage } => {
                let backend = storage.clone().poll_with_interval(REDIS_POLL_INTERVAL);
                spawn_worker!(backend, concurrency)
            }
        };
        self.worker = Some(worker);
        Ok(())
    }

    async fn finished(&mut self) -> Result<u64, BoxError> {
        let done: i64 = match &mut self.store {
            Store::Sqlite { storage, .. } => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM Jobs WHERE job_type = ?1 AND status = 'Done'",
                )
                .bind(SQL_QUEUE)
                .fetch_one(storage.pool())
                .await?
            }
            Store::Postgres { storage } => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'",
                )
                .bind(SQL_QUEUE)
                .fetch_one(storage.pool())
                .await?
            }
            Store::Redis { storage } => {
                let key = storage.get_config().done_jobs_set();
                redis::cmd("SCARD")
                    .arg(key)
                    .query_async(storage.get_connection())
                    .await?
            }
        };
        Ok(u64::try_from(done)?)
    }

    async fn stop(&mut self) -> Result<(), BoxError> {
        stop_worker(&mut self.worker).await
    }

    async fn worker_failure(&mut self) -> Option<BoxError> {
        worker_failure(&mut self.worker).await
    }
}
