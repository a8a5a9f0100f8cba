//! Wake-ups across processes, shared by the backends that can push them: a listener
//! task (PostgreSQL `LISTEN`, Redis pub/sub) wakes this process's idle workers.
//!
//! The listener starts with the first worker that waits, so a process that only
//! serves the API holds no extra connection, and stops with the backend. A wake-up is
//! a hint: workers wait at most their poll interval, so a listener that is down only
//! makes them slower.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

type Listen = dyn Fn(Arc<Notify>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// Starts a listener on first use and lets workers wait on it.
pub(crate) struct Wakeups {
    listen: Box<Listen>,
    notify: Arc<Notify>,
    task: OnceLock<JoinHandle<()>>,
}

impl Wakeups {
    /// Wake-ups from `listen`, a task that runs for the life of the backend and calls
    /// `notify_waiters` on the `Notify` it is given whenever jobs may be due.
    pub(crate) fn new<F, Fut>(listen: F) -> Self
    where
        F: Fn(Arc<Notify>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Wakeups {
            listen: Box::new(move |notify| Box::pin(listen(notify))),
            notify: Arc::new(Notify::new()),
            task: OnceLock::new(),
        }
    }

    /// Waits for a wake-up or `timeout`.
    pub(crate) async fn wait(&self, timeout: Duration) {
        let notified = self.notify.notified();
        self.task
            .get_or_init(|| tokio::spawn((self.listen)(self.notify.clone())));
        let _ = tokio::time::timeout(timeout, notified).await;
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }
}

impl fmt::Debug for Wakeups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wakeups")
            .field("listening", &self.task.get().is_some())
            .finish_non_exhaustive()
    }
}
