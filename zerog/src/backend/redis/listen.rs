//! Wake-ups across processes: one pub/sub connection per backend subscribes to the
//! prefix's wake channel, to which every enqueue and release of a due job publishes,
//! and wakes this process's idle workers.
//!
//! The subscriber starts with the first worker that waits, and reconnects with
//! backoff when its connection drops; meanwhile workers fall back to polling.

use std::sync::Arc;
use std::time::Duration;

use ::redis::Client;
use futures_util::StreamExt;
use tokio::sync::Notify;

use crate::backend::wakeups::Wakeups;

/// Wake-ups from `subscribe` on `channel`.
pub(super) fn wakeups(client: Client, channel: String) -> Wakeups {
    Wakeups::new(move |notify| subscribe(client.clone(), channel.clone(), notify))
}

async fn subscribe(client: Client, channel: String, notify: Arc<Notify>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    // Jobs may have come while nobody listened.
                    crate::backend::handle::wake(&notify);
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        crate::backend::handle::wake(&notify);
                    }
                    tracing::warn!("Redis wake-up subscription lost; reconnecting");
                }
                Err(error) => tracing::warn!(%error, "SUBSCRIBE failed; retrying"),
            },
            Err(error) => tracing::debug!(%error, "cannot connect to subscribe; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
