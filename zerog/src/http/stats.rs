//! `GET /jobs/stats`: what the dashboard's overview shows, read so that it stays fast
//! on a store of millions of jobs.
//!
//! - jobs by status, each counted up to [`COUNT_CAP`] and marked `capped` when the
//!   count reached it (the store stopped counting, so there are at least that many);
//! - the jobs that finished `done` and `failed` in each of the last 60 minutes, oldest
//!   first, the current minute last;
//! - each queue with unfinished jobs: its due, running and waiting jobs, whether it is
//!   paused, and how long its oldest due job has waited;
//! - how long the job that has been due the longest has waited.
//!
//! ```text
//! GET /jobs/stats
//! 200 {"statuses": {"queued": {"count": 3, "capped": false}, ...}, "countCap": 10000,
//!      "minutes": [{"start": "2026-12-01T16:00:00Z", "done": 12, "failed": 1}, ...],
//!      "queues": [{"name": "emails", "due": 3, "running": 1, "waiting": 0,
//!                  "paused": false, "oldestDueSeconds": 4.2}],
//!      "oldestDueSeconds": 4.2, "at": "2026-12-01T16:59:30.120Z"}
//! ```
//!
//! The route is under `/jobs` so that it reserves no new word that a job type might
//! already be named.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, DurationRound, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::control::NoQuery;
use super::openapi::{Components, answer, error, with_backend_errors};
use super::{ApiError, ApiState};
use crate::backend::{FinishedCounts, Overview};
use crate::record::{Status, timestamp};

/// The most jobs of one status that are counted: past it, a count reads "at least".
pub const COUNT_CAP: u64 = 10_000;

/// How many minutes the throughput covers.
const MINUTES: i64 = 60;

/// The overview.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct JobStats {
    /// Jobs by status, every status listed.
    statuses: BTreeMap<Status, StatusCount>,
    /// The most jobs of one status that are counted.
    count_cap: u64,
    /// The jobs finished in each of the last 60 minutes, oldest first; the last is
    /// the current minute, so far.
    minutes: Vec<Minute>,
    /// Each queue with unfinished jobs, or paused, by name.
    queues: Vec<QueueCounts>,
    /// How many seconds the job due the longest has been waiting to start, or null
    /// when none is due.
    oldest_due_seconds: Option<f64>,
    /// When the figures were read (RFC 3339).
    at: String,
}

/// One queue's backlog.
#[derive(Debug, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct QueueCounts {
    /// The queue's name.
    name: String,
    /// Jobs queued or waiting whose time has come.
    due: u64,
    /// Jobs running now.
    running: u64,
    /// Jobs queued or waiting whose time has not come yet.
    waiting: u64,
    /// Whether workers are kept from reserving its jobs.
    paused: bool,
    /// How many seconds its oldest due job has waited, or null when none is due.
    oldest_due_seconds: Option<f64>,
}

/// How many jobs have one status.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct StatusCount {
    /// The count, exact unless `capped`.
    count: u64,
    /// Whether counting stopped at the cap: there are at least `count` jobs.
    capped: bool,
}

/// The jobs that finished in one minute.
#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub(super) struct Minute {
    /// When the minute started (RFC 3339).
    start: String,
    /// Jobs that finished `done`.
    done: u64,
    /// Jobs that finished `failed`.
    failed: u64,
}

/// `GET /jobs/stats`.
pub(super) async fn stats(
    _: web::Query<NoQuery>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let first = first_minute(now);
    let overview = state.backend.overview(COUNT_CAP, first).await?;
    let paused = state.backend.paused_queues().await?;
    Ok(HttpResponse::Ok().json(job_stats(&overview, &paused, now)))
}

/// The start of the oldest minute shown at `now`.
fn first_minute(now: DateTime<Utc>) -> DateTime<Utc> {
    let this_minute = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    this_minute - Duration::minutes(MINUTES - 1)
}

fn job_stats(overview: &Overview, paused: &BTreeSet<String>, now: DateTime<Utc>) -> JobStats {
    let statuses = Status::ALL
        .into_iter()
        .map(|status| {
            let count = overview.statuses.get(&status).copied().unwrap_or(0);
            let capped = count >= COUNT_CAP;
            (status, StatusCount { count, capped })
        })
        .collect();
    let first = first_minute(now);
    let minutes = (0..MINUTES)
        .map(|offset| {
            let start = first + Duration::minutes(offset);
            let counts = overview
                .finished
                .get(&start.timestamp().div_euclid(60))
                .copied()
                .unwrap_or(FinishedCounts::default());
            Minute {
                start: timestamp(start),
                done: counts.done,
                failed: counts.failed,
            }
        })
        .collect();
    let names: BTreeSet<&String> = overview.queues.keys().chain(paused).collect();
    let queues = names
        .into_iter()
        .map(|name| {
            let counts = overview.queues.get(name).cloned().unwrap_or_default();
            QueueCounts {
                name: name.clone(),
                due: counts.due,
                running: counts.running,
                waiting: counts.waiting,
                paused: paused.contains(name),
                oldest_due_seconds: counts.oldest_due_age.map(|age| age.as_secs_f64()),
            }
        })
        .collect();
    JobStats {
        statuses,
        count_cap: COUNT_CAP,
        minutes,
        queues,
        oldest_due_seconds: overview
            .oldest_due
            .map(|due| ((now - due).num_milliseconds().max(0) as f64) / 1000.0),
        at: timestamp(now),
    }
}

pub(super) fn stats_operation(components: &mut Components, _: &ApiState) -> Value {
    json!({
        "operationId": "jobStats",
        "tags": ["operations"],
        "summary": "Jobs by status (capped), throughput and failures per minute over the last hour, and the oldest due job's wait",
        "responses": with_backend_errors(json!({
            "200": answer("The overview", components.of::<JobStats>()),
            "400": error("bad_query: this route takes no query parameter"),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::QueueStats;

    #[test]
    fn the_hour_is_sixty_whole_minutes_ending_now() {
        let now: DateTime<Utc> = "2026-12-01T16:59:30.500Z".parse().unwrap();
        let mut overview = Overview::default();
        let minute = |text: &str| text.parse::<DateTime<Utc>>().unwrap().timestamp() / 60;
        overview.finished.insert(
            minute("2026-12-01T16:00:00Z"),
            FinishedCounts { done: 3, failed: 1 },
        );
        overview.finished.insert(
            minute("2026-12-01T16:59:00Z"),
            FinishedCounts { done: 2, failed: 0 },
        );
        // Before the hour: not shown.
        overview.finished.insert(
            minute("2026-12-01T15:59:00Z"),
            FinishedCounts { done: 9, failed: 9 },
        );
        overview.statuses.insert(Status::Done, COUNT_CAP);
        overview.statuses.insert(Status::Queued, 4);
        overview.oldest_due = Some("2026-12-01T16:59:28Z".parse().unwrap());
        overview.queues.insert(
            "emails".into(),
            QueueStats {
                due: 2,
                running: 1,
                waiting: 0,
                oldest_due_age: Some(std::time::Duration::from_millis(2500)),
            },
        );
        let paused = BTreeSet::from(["emails".to_owned(), "idle".to_owned()]);
        let stats = job_stats(&overview, &paused, now);
        assert_eq!(
            stats.queues,
            [
                QueueCounts {
                    name: "emails".into(),
                    due: 2,
                    running: 1,
                    waiting: 0,
                    paused: true,
                    oldest_due_seconds: Some(2.5),
                },
                QueueCounts {
                    name: "idle".into(),
                    due: 0,
                    running: 0,
                    waiting: 0,
                    paused: true,
                    oldest_due_seconds: None,
                },
            ]
        );
        assert_eq!(stats.minutes.len(), 60);
        assert_eq!(
            stats.minutes[0],
            Minute {
                start: timestamp("2026-12-01T16:00:00Z".parse().unwrap()),
                done: 3,
                failed: 1
            }
        );
        assert_eq!((stats.minutes[59].done, stats.minutes[59].failed), (2, 0));
        assert_eq!(stats.minutes.iter().map(|m| m.done).sum::<u64>(), 5);
        assert!(stats.statuses[&Status::Done].capped);
        assert!(!stats.statuses[&Status::Queued].capped);
        assert_eq!(stats.statuses[&Status::Failed].count, 0);
        assert_eq!(stats.statuses.len(), 6);
        assert_eq!(stats.oldest_due_seconds, Some(2.5));
    }
}
