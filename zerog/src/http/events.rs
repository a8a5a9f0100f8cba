//! `GET /events/{uuid}`: a job's progress as Server-Sent Events.
//!
//! The stream polls the store (every 250 ms by default), so it follows a job run by a
//! worker in any process. It sends:
//!
//! - `event: progress` at once, and again on every persisted change: status,
//!   completeness, `updatedAt`, or new log lines. The data is the `/progress` view plus
//!   `updatedAt` and the `events`, `warnings` and `errors` logged since the previous
//!   event (the first event carries the whole log so far);
//! - `event: finished`, the same data, once the job is done, failed or cancelled; then
//!   the stream ends;
//! - `event: gone` if the job is deleted meanwhile; then the stream ends;
//! - a `: keep-alive` comment after 15 s without an event, so that proxies keep the
//!   connection open.
//!
//! ```text
//! id: 1
//! event: progress
//! data: {"uuid":"…","jobType":"waste_time","status":"running","resultCode":-1,"result":-1,"completeness":0.4,"updatedAt":"…","events":[{"timeStamp":"…","msg":"3.00 seconds remaining"}],"warnings":[],"errors":[]}
//! ```

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::Serialize;
use uuid::Uuid;

use super::monitor::{self, ProgressView};
use super::{ApiError, ApiState};
use crate::backend::Backend;
use crate::record::{ErrorEntry, JobRecord, LogEntry, Status};

/// The media type of an event stream.
pub(super) const EVENT_STREAM_MEDIA_TYPE: &str = "text/event-stream";

/// How long the stream stays silent before it sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The data of a `progress` or `finished` event.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProgressEvent {
    /// The job's progress, as `/progress` shows it.
    #[serde(flatten)]
    progress: ProgressView,
    /// When the record last changed (RFC 3339).
    updated_at: String,
    /// `events` logged since the previous event.
    events: Vec<LogEntry>,
    /// `warnings` logged since the previous event.
    warnings: Vec<LogEntry>,
    /// `errors` logged since the previous event.
    errors: Vec<ErrorEntry>,
}

pub(super) async fn events(
    uuid: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let record = monitor::load(&state, &uuid).await?;
    let watch = Watch {
        backend: state.backend.clone(),
        uuid: record.uuid,
        interval: state.events_poll_interval,
        first: Some(record),
        seen: None,
        next_id: 1,
        ended: false,
    };
    let stream = futures_util::stream::unfold(watch, |mut watch| async move {
        let event = watch.next_event().await?;
        Some((Ok::<_, Infallible>(event), watch))
    });
    Ok(HttpResponse::Ok()
        .content_type(EVENT_STREAM_MEDIA_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Tells nginx not to buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// What the previous event showed of the record.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    updated_at: String,
    status: Status,
    completeness: f64,
    /// Entries ever logged of each kind: the ones kept plus the ones dropped.
    events: u64,
    warnings: u64,
    errors: u64,
}

impl Seen {
    fn of(record: &JobRecord) -> Self {
        Seen {
            updated_at: record.updated_at.clone(),
            status: record.status,
            completeness: record.completeness,
            events: record.events.len() as u64 + record.events_dropped,
            warnings: record.warnings.len() as u64 + record.warnings_dropped,
            errors: record.errors.len() as u64 + record.errors_dropped,
        }
    }
}

/// One client's watch over one job.
struct Watch {
    backend: Backend,
    uuid: Uuid,
    interval: Duration,
    first: Option<JobRecord>,
    seen: Option<Seen>,
    next_id: u64,
    ended: bool,
}

impl Watch {
    /// The next event, or `None` once the stream has ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads; a dropped call (the client went away) loses nothing.
    async fn next_event(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        if let Some(record) = self.first.take() {
            return Some(self.emit(&record));
        }
        let mut silent = Duration::ZERO;
        loop {
            tokio::time::sleep(self.interval).await;
            silent += self.interval;
            match self.backend.get(self.uuid).await {
                Ok(Some(record)) if self.seen.as_ref() != Some(&Seen::of(&record)) => {
                    return Some(self.emit(&record));
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    self.ended = true;
                    let data = serde_json::json!({ "uuid": self.uuid, "error": "unknown_job" });
                    return Some(self.frame("gone", &data.to_string()));
                }
                // A store that fails for a moment costs a tick, not the stream.
                Err(error) => {
                    tracing::warn!(job.uuid = %self.uuid, %error, "event stream: reading the job failed")
                }
            }
            if silent >= KEEP_ALIVE {
                return Some(Bytes::from_static(b": keep-alive\n\n"));
            }
        }
    }

    /// The event for `record`, with the log lines logged since the previous one.
    fn emit(&mut self, record: &JobRecord) -> Bytes {
        let now = Seen::of(record);
        let (events, warnings, errors) = match &self.seen {
            Some(before) => (
                newest(&record.events, now.events.saturating_sub(before.events)),
                newest(
                    &record.warnings,
                    now.warnings.saturating_sub(before.warnings),
                ),
                newest(&record.errors, now.errors.saturating_sub(before.errors)),
            ),
            None => (
                record.events.clone(),
                record.warnings.clone(),
                record.errors.clone(),
            ),
        };
        self.seen = Some(now);
        let finished = record.status.is_finished();
        self.ended = finished;
        let data = ProgressEvent {
            progress: ProgressView::of(record),
            updated_at: record.updated_at.clone(),
            events,
            warnings,
            errors,
        };
        let data = serde_json::to_string(&data).expect("a progress event serializes");
        self.frame(if finished { "finished" } else { "progress" }, &data)
    }

    fn frame(&mut self, event: &str, data: &str) -> Bytes {
        let id = self.next_id;
        self.next_id += 1;
        // `data` is one line of JSON: serde_json escapes newlines inside strings.
        Bytes::from(format!("id: {id}\nevent: {event}\ndata: {data}\n\n"))
    }
}

/// The newest `count` entries of `log`.
fn newest<T: Clone>(log: &[T], count: u64) -> Vec<T> {
    let count = usize::try_from(count).unwrap_or(usize::MAX).min(log.len());
    log[log.len() - count..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_takes_at_most_what_is_kept() {
        assert_eq!(newest(&[1, 2, 3], 2), vec![2, 3]);
        assert_eq!(newest(&[1, 2, 3], 9), vec![1, 2, 3]);
        assert!(newest::<u8>(&[], 1).is_empty());
    }
}
