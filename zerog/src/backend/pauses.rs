//! Paused queues as a process's reserves see them: the store's set
//! ([`Store::paused_queues`]), read at most once per [`REFRESH`] and shared by the
//! clones of a [`Backend`](super::Backend), so that a pause costs the hot path no
//! round trip. A pause or resume through this process is seen at once; one made
//! elsewhere, within [`REFRESH`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Store, StoreError};

/// How long a read of the paused queues is trusted.
pub const REFRESH: Duration = Duration::from_secs(1);

/// The last read of the paused queues, and when it was made.
#[derive(Debug, Default)]
pub(super) struct PausedQueues {
    read: Mutex<Option<(Instant, Arc<BTreeSet<String>>)>>,
}

impl PausedQueues {
    /// The paused queues, from the last read if it is recent, else from `store`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads; a dropped read leaves the last one in place.
    pub(super) async fn current(
        &self,
        store: &dyn Store,
    ) -> Result<Arc<BTreeSet<String>>, StoreError> {
        if let Some((at, paused)) = &*self.read.lock().expect("never poisoned")
            && at.elapsed() < REFRESH
        {
            return Ok(Arc::clone(paused));
        }
        let paused = Arc::new(store.paused_queues().await?);
        *self.read.lock().expect("never poisoned") = Some((Instant::now(), Arc::clone(&paused)));
        Ok(paused)
    }

    /// Forgets the last read, after this process paused or resumed a queue.
    pub(super) fn forget(&self) {
        *self.read.lock().expect("never poisoned") = None;
    }
}
