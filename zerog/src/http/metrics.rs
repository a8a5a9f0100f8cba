//! `GET /metrics`: Prometheus text format.
//!
//! - `zerog_jobs{status, job_type}`: jobs in the store; unfinished statuses exact,
//!   finished ones exact up to [`STATS_COUNT_CAP`] jobs of the status and estimated or
//!   a lower bound past it (see [`Counted`]);
//! - `zerog_jobs_exact{status}`: 1 when that status's counts are exact, else 0;
//! - `zerog_queue_due_jobs{queue}`, `zerog_queue_running_jobs{queue}` and
//!   `zerog_queue_oldest_due_age_seconds{queue}`: each queue's depth and lag;
//! - `zerog_job_run_duration_seconds{job_type, outcome}`: a histogram of run durations
//!   in this process (see [`crate::metrics`]).
//!
//! The counts come from the store, so they hold whichever process runs the jobs.

use std::fmt::Write as _;

use actix_web::{HttpResponse, web};

use super::{ApiError, ApiState};
use crate::backend::{Counted, STATS_COUNT_CAP, Stats};
use crate::metrics::{escape_label, render_run_durations};
use crate::record::Status;

/// The media type of the Prometheus text format.
pub(super) const PROMETHEUS_MEDIA_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) async fn metrics(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let stats = state.backend.stats().await?;
    let mut text = render_stats(&stats, &state.registry.job_types());
    render_run_durations(&mut text);
    Ok(HttpResponse::Ok()
        .content_type(PROMETHEUS_MEDIA_TYPE)
        .body(text))
}

/// Renders the store's counts; every status of every job type in `job_types` gets a
/// series, 0 when there is no such job, so that rates and alerts see it from the start.
fn render_stats(stats: &Stats, job_types: &[&str]) -> String {
    let mut counts = stats.jobs.clone();
    for job_type in job_types {
        for status in Status::ALL {
            counts.entry((status, (*job_type).to_owned())).or_insert(0);
        }
    }
    let mut out = String::new();
    header(
        &mut out,
        "zerog_jobs",
        &format!(
            "Jobs in the store, by status and job type. Queued, running and waiting jobs \
             are counted exactly; done, failed and cancelled ones exactly up to \
             {STATS_COUNT_CAP} jobs of the status, and past that estimated (PostgreSQL) or \
             counted among the newest {STATS_COUNT_CAP} (SQLite, a lower bound): see \
             zerog_jobs_exact."
        ),
    );
    for ((status, job_type), count) in &counts {
        let job_type = escape_label(job_type);
        let _ = writeln!(
            out,
            "zerog_jobs{{status=\"{status}\",job_type=\"{job_type}\"}} {count}"
        );
    }
    header(
        &mut out,
        "zerog_jobs_exact",
        "1 when zerog_jobs of the status is an exact count, 0 when it is an estimate or a lower bound.",
    );
    for status in Status::ALL {
        let exact = u8::from(stats.counted(status) == Counted::Exact);
        let _ = writeln!(out, "zerog_jobs_exact{{status=\"{status}\"}} {exact}");
    }
    let queues: Vec<_> = stats
        .queues
        .iter()
        .map(|(queue, queue_stats)| (escape_label(queue), queue_stats))
        .collect();
    header(
        &mut out,
        "zerog_queue_due_jobs",
        "Jobs queued or waiting whose time has come, by queue.",
    );
    for (queue, queue_stats) in &queues {
        let _ = writeln!(
            out,
            "zerog_queue_due_jobs{{queue=\"{queue}\"}} {}",
            queue_stats.due
        );
    }
    header(
        &mut out,
        "zerog_queue_running_jobs",
        "Jobs running, by queue.",
    );
    for (queue, queue_stats) in &queues {
        let running = queue_stats.running;
        let _ = writeln!(
            out,
            "zerog_queue_running_jobs{{queue=\"{queue}\"}} {running}"
        );
    }
    header(
        &mut out,
        "zerog_queue_oldest_due_age_seconds",
        "How long the oldest due job of each queue has waited for a worker; 0 when none is due.",
    );
    for (queue, queue_stats) in &queues {
        let age = queue_stats
            .oldest_due_age
            .map_or(0.0, |age| age.as_secs_f64());
        let _ = writeln!(
            out,
            "zerog_queue_oldest_due_age_seconds{{queue=\"{queue}\"}} {age}"
        );
    }
    out
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::backend::QueueStats;

    #[test]
    fn stats_render_as_gauges_with_escaped_labels() {
        let mut stats = Stats::default();
        stats.jobs.insert((Status::Done, "waste_time".into()), 3);
        stats
            .jobs
            .insert((Status::Failed, "waste_time".into()), 12_345);
        stats.counted.insert(Status::Failed, Counted::Estimated);
        stats.queues.insert(
            "q\"1".into(),
            QueueStats {
                due: 2,
                running: 1,
                waiting: 4,
                oldest_due_age: Some(Duration::from_millis(1500)),
            },
        );
        let text = render_stats(&stats, &["waste_time"]);
        for line in [
            "# TYPE zerog_jobs gauge",
            "zerog_jobs{status=\"done\",job_type=\"waste_time\"} 3",
            "zerog_jobs{status=\"failed\",job_type=\"waste_time\"} 12345",
            "zerog_jobs{status=\"cancelled\",job_type=\"waste_time\"} 0",
            "zerog_jobs_exact{status=\"failed\"} 0",
            "zerog_queue_due_jobs{queue=\"q\\\"1\"} 2",
            "zerog_queue_running_jobs{queue=\"q\\\"1\"} 1",
            "zerog_queue_oldest_due_age_seconds{queue=\"q\\\"1\"} 1.5",
            "zerog_jobs_exact{status=\"done\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
    }
}
