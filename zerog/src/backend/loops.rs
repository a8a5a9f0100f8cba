//! The loops that read a job, decide with [`lifecycle`](crate::lifecycle), and write
//! the decision fenced on the revision read, written once for every [`Store`]: a
//! user's cancel and retry, and the recovery of expired leases.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    CancelOutcome, Change, Fence, Recovered, Store, StoreError, Stored, Write, WriteOutcome,
};
use crate::lifecycle::{self, Cancel, Next, NotRetryable};
use crate::record::JobRecord;

/// How many expired leases one recovery pass takes back at most.
const RECOVERY_BATCH: usize = 100;

/// A user's cancel or kill of `uuid`: see [`Backend::cancel`](super::Backend::cancel).
pub(super) async fn cancel(
    store: &dyn Store,
    uuid: Uuid,
    kill: bool,
) -> Result<CancelOutcome, StoreError> {
    loop {
        let Stored { record, revision } =
            store.get(uuid).await?.ok_or(StoreError::NotFound(uuid))?;
        let decision = lifecycle::cancel(record.clone(), kill, Utc::now());
        let (change, outcome) = match &decision {
            Cancel::Refused(status) => {
                return Err(StoreError::AlreadyFinished {
                    uuid,
                    status: *status,
                });
            }
            Cancel::Signal => (Change::RequestCancel, CancelOutcome::Signalled(record)),
            Cancel::Now(transition) => (
                Change::Settle(transition),
                CancelOutcome::Cancelled(transition.record.clone()),
            ),
        };
        let write = Write {
            uuid,
            fence: Fence::Revision(revision),
            change,
        };
        // A worker moved the job in between: decide again on what it wrote.
        if store.write(&[write]).await?.first() == Some(&WriteOutcome::Written) {
            return Ok(outcome);
        }
    }
}

/// A user's retry of a failed or cancelled `uuid`: see
/// [`Backend::retry`](super::Backend::retry).
pub(super) async fn retry(store: &dyn Store, uuid: Uuid) -> Result<JobRecord, StoreError> {
    loop {
        let Stored { record, revision } =
            store.get(uuid).await?.ok_or(StoreError::NotFound(uuid))?;
        let transition = lifecycle::retried(record, Utc::now())
            .map_err(|NotRetryable(status)| StoreError::NotRetryable { uuid, status })?;
        let write = Write {
            uuid,
            fence: Fence::Revision(revision),
            change: Change::Settle(&transition),
        };
        // Another process retried, cancelled or pruned it in between: decide again on
        // what is stored now.
        if store.write(&[write]).await?.first() == Some(&WriteOutcome::Written) {
            return Ok(transition.record);
        }
    }
}

/// Takes back running jobs whose lease expired before `now`: see
/// [`Backend::recover_expired`](super::Backend::recover_expired).
pub(super) async fn recover_expired(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Recovered, StoreError> {
    let expired = store.expired(now, RECOVERY_BATCH).await?;
    let transitions: Vec<_> = expired
        .into_iter()
        .map(|stored| {
            (
                stored.revision,
                lifecycle::lease_expired(stored.record, now),
            )
        })
        .collect();
    // Fenced on the revision read: a job whose worker renewed its lease in the
    // meantime, or that another process recovered first, is left alone.
    let writes: Vec<Write<'_>> = transitions
        .iter()
        .map(|(revision, transition)| Write {
            uuid: transition.record.uuid,
            fence: Fence::Revision(*revision),
            change: Change::Settle(transition),
        })
        .collect();
    let outcomes = if writes.is_empty() {
        Vec::new()
    } else {
        store.write(&writes).await?
    };
    let mut recovered = Recovered::default();
    for ((_, transition), outcome) in transitions.iter().zip(outcomes) {
        if outcome != WriteOutcome::Written {
            continue;
        }
        match transition.next {
            Next::Finished => recovered.failed.push(transition.record.uuid),
            Next::RunAt(_) => recovered.requeued.push(transition.record.uuid),
        }
    }
    Ok(recovered)
}
