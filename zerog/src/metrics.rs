//! In-process run-duration histograms, served by `GET /metrics`.
//!
//! The worker calls [`observe_run`] when a run ends; the server renders every
//! histogram of its process with [`render_run_durations`]. Counts of jobs by status and
//! queue depth come from the store instead, so they hold across processes; these
//! histograms only know the runs of the process that serves `/metrics`, which is the
//! whole picture for `run` (API and worker in one process).
//!
//! ```
//! use std::time::Duration;
//! use zerog::metrics::{RunOutcome, observe_run, render_run_durations};
//!
//! observe_run("waste_time", Duration::from_millis(1500), RunOutcome::Done);
//! let mut text = String::new();
//! render_run_durations(&mut text);
//! assert!(text.contains(r#"zerog_job_run_duration_seconds_count{job_type="waste_time",outcome="done"}"#));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The upper bounds of the histogram buckets, in seconds: from 5 ms to an hour.
pub const BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

pub use crate::lifecycle::RunOutcome;

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations at or below each bound of [`BUCKETS`] (not cumulative).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

type Histograms = BTreeMap<(String, RunOutcome), Histogram>;

static RUN_DURATIONS: Mutex<Histograms> = Mutex::new(BTreeMap::new());

/// Records that a run of `job_type` took `duration` and ended with `outcome`.
///
/// Cheap enough to call at the end of every run: one short lock.
pub fn observe_run(job_type: &str, duration: Duration, outcome: RunOutcome) {
    let seconds = duration.as_secs_f64();
    let mut histograms = RUN_DURATIONS.lock().unwrap_or_else(PoisonError::into_inner);
    let histogram = histograms
        .entry((job_type.to_owned(), outcome))
        .or_default();
    if let Some(bucket) = BUCKETS.iter().position(|&bound| seconds <= bound) {
        histogram.buckets[bucket] += 1;
    }
    histogram.count += 1;
    histogram.sum += seconds;
}

/// Appends the run-duration histograms to `out` in the Prometheus text format, with
/// their `# HELP` and `# TYPE` lines.
pub fn render_run_durations(out: &mut String) {
    let histograms = RUN_DURATIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let name = "zerog_job_run_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} How long runs of jobs took, by job type and how the run ended (runs of this process)."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for ((job_type, outcome), histogram) in &histograms {
        let labels = format!(
            "job_type=\"{}\",outcome=\"{}\"",
            escape_label(job_type),
            outcome.as_str()
        );
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels},le=\"+Inf\"}} {}",
            histogram.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", histogram.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", histogram.count);
    }
}

/// Escapes a label value for the Prometheus text format.
pub fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_the_count() {
        observe_run("metrics_test", Duration::from_millis(3), RunOutcome::Failed);
        observe_run("metrics_test", Duration::from_secs(2), RunOutcome::Failed);
        observe_run(
            "metrics_test",
            Duration::from_secs(7200),
            RunOutcome::Failed,
        );
        let mut text = String::new();
        render_run_durations(&mut text);
        let labels = r#"job_type="metrics_test",outcome="failed""#;
        for (le, count) in [("0.005", 1), ("1", 1), ("2.5", 2), ("3600", 2), ("+Inf", 3)] {
            let line =
                format!("zerog_job_run_duration_seconds_bucket{{{labels},le=\"{le}\"}} {count}\n");
            assert!(text.contains(&line), "no `{line}` in\n{text}");
        }
        assert!(text.contains(&format!(
            "zerog_job_run_duration_seconds_count{{{labels}}} 3\n"
        )));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
