//! [`Tracker`]: the record of one run as the worker keeps it, and the writer of the
//! run's progress that the job's context reaches through
//! [`ProgressWriter`](crate::context::ProgressWriter).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::backend::{Backend, Lease, RunSignal, StoreError};
use crate::context::{CheckpointError, Progress, ProgressWriter};
use crate::record::JobRecord;

/// The record of one run, and the progress that the job's context gathers for it.
#[derive(Debug)]
pub(super) struct Tracker {
    progress: Arc<Progress>,
    record: tokio::sync::Mutex<JobRecord>,
    backend: Backend,
    lease: Lease,
}

impl Tracker {
    pub(super) fn new(record: JobRecord, backend: Backend, lease: Lease) -> Self {
        Tracker {
            progress: Arc::new(Progress::new(&record)),
            record: tokio::sync::Mutex::new(record),
            backend,
            lease,
        }
    }

    /// The progress the job's context writes into.
    pub(super) fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    pub(super) fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Writes pending changes, or just renews the lease when `heartbeat` is set and
    /// nothing changed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a write that did not happen leaves the changes in the record kept
    /// here, and the next write carries them.
    pub(super) async fn flush_or_heartbeat(&self, heartbeat: bool) -> Result<(), StoreError> {
        let mut record = self.record.lock().await;
        if self.progress.apply_to(&mut record) || heartbeat {
            record.touch(Utc::now());
            self.backend.save_progress(&self.lease, &record).await?;
        }
        Ok(())
    }

    /// Whether the run should go on, as the store says.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub(super) async fn signal(&self) -> Result<RunSignal, StoreError> {
        self.backend.run_signal(&self.lease).await
    }

    /// The record with every pending change applied, to end the run with.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits for a write in progress.
    pub(super) async fn take_record(&self) -> JobRecord {
        let mut record = self.record.lock().await;
        self.progress.apply_to(&mut record);
        record.clone()
    }
}

#[async_trait]
impl ProgressWriter for Tracker {
    async fn write_progress(&self) -> Result<(), CheckpointError> {
        match self.flush_or_heartbeat(false).await {
            Ok(()) => Ok(()),
            Err(StoreError::LeaseLost(_)) => Err(CheckpointError::LeaseLost),
            Err(error) => Err(CheckpointError::Unavailable(error.to_string())),
        }
    }
}
