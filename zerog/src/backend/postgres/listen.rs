//! Wake-ups across processes: one connection per backend `LISTEN`s on the schema's
//! channel and wakes this process's idle workers on every `NOTIFY`.
//!
//! The listener starts with the first worker that waits, so a process that only
//! serves the API holds no extra connection. When its connection drops, it reconnects
//! with backoff; meanwhile, and for notifications lost in the gap, workers fall back
//! to their poll interval.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::Notify;

use crate::backend::wakeups::Wakeups;

/// Wake-ups from `listen` on `channel`.
pub(super) fn wakeups(options: PgConnectOptions, channel: String) -> Wakeups {
    Wakeups::new(move |notify| listen(options.clone(), channel.clone(), notify))
}

async fn listen(options: PgConnectOptions, channel: String, notify: Arc<Notify>) {
    // A pool of one, used only so that the listener can reconnect by itself.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options);
    let mut backoff = Duration::from_millis(100);
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(&channel).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    // Jobs may have come while nobody listened.
                    crate::backend::handle::wake(&notify);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => crate::backend::handle::wake(&notify),
                            // The connection was lost and is back: notifications in
                            // between are gone, so everyone looks.
                            Ok(None) => crate::backend::handle::wake(&notify),
                            Err(error) => {
                                tracing::warn!(%error, "LISTEN connection lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "LISTEN failed; retrying"),
            },
            Err(error) => tracing::debug!(%error, "cannot connect to LISTEN; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
