//! zerog under test: `Backend::submit` and `Backend::submit_many` to enqueue, one
//! `Worker` with capacity W to run, and the store's statistics to count what is done.

use std::ops::Range;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use zerog::backend::Backend;
use zerog::worker::{Worker, WorkerError};
use zerog::{Job, JobContext, JobError, JobRecord, Outcome, Registry, Status};

use crate::probe;
use crate::workload::{BoxError, Running, SystemUnderTest, stop_worker, worker_failure};

/// A job that does nothing but note when it started.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "bench_noop")]
pub struct BenchNoop {
    /// The job's sequence number in the run.
    pub seq: u64,
}

impl zerog::Run for BenchNoop {
    async fn run(&mut self, _: &mut JobContext) -> Result<Outcome, JobError> {
        probe::mark_started(self.seq);
        Ok(Outcome::done(200))
    }
}

/// zerog on the backend at a URL.
pub struct ZerogSystem {
    backend: Backend,
    worker: Option<Running<WorkerError>>,
}

impl ZerogSystem {
    /// Connects to (and migrates) the store at `url`, with the queue at `queue` if
    /// it is apart from the store (`beanstalkd://...`).
    pub async fn connect(url: &str, queue: Option<&str>) -> Result<Self, BoxError> {
        Ok(ZerogSystem {
            backend: Backend::connect_split(url, queue).await?,
            worker: None,
        })
    }

    /// The backend handle, for the HTTP server of [`crate::http_load`].
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The no-op job's record for `seq`.
    pub fn record(seq: u64) -> Result<JobRecord, BoxError> {
        let params = serde_json::to_value(BenchNoop { seq })?;
        Ok(JobRecord::new(&BenchNoop::SPEC, params))
    }
}

impl SystemUnderTest for ZerogSystem {
    async fn enqueue_one(&mut self, seq: u64) -> Result<(), BoxError> {
        let record = Self::record(seq)?;
        self.backend.submit(&record, BenchNoop::SPEC.cost).await?;
        Ok(())
    }

    async fn enqueue_batch(&mut self, seqs: Range<u64>) -> Result<(), BoxError> {
        let jobs = seqs
            .map(|seq| Ok((Self::record(seq)?, BenchNoop::SPEC.cost)))
            .collect::<Result<Vec<_>, BoxError>>()?;
        self.backend.submit_many(&jobs).await?;
        Ok(())
    }

    async fn start_workers(&mut self, concurrency: u32) -> Result<(), BoxError> {
        let registry = Registry::new().register::<BenchNoop>();
        let worker = Worker::new(self.backend.clone(), registry)
            .capacity(concurrency)
            .name("bench");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.run_until(async {
            let _ = stopped.await;
        }));
        self.worker = Some((stop, task));
        Ok(())
    }

    async fn finished(&mut self) -> Result<u64, BoxError> {
        // Exact counts: the run ends when every job is done.
        let stats = self.backend.stats_capped_at(u64::MAX).await?;
        let key = (Status::Done, BenchNoop::SPEC.job_type.to_owned());
        Ok(stats.jobs.get(&key).copied().unwrap_or(0))
    }

    async fn stop(&mut self) -> Result<(), BoxError> {
        stop_worker(&mut self.worker).await
    }

    async fn worker_failure(&mut self) -> Option<BoxError> {
        worker_failure(&mut self.worker).await
    }
}
