//! The side-by-side table: each metric for zerog and apalis, and their ratio.

use std::fmt::Write as _;

use crate::args::{BackendKind, BenchArgs};
use crate::stats::{median, ratio};
use crate::workload::Figures;

/// One row of the table: a name and how to read its figure.
struct Metric {
    name: String,
    unit: &'static str,
    lower_is_better: bool,
    value: fn(&Figures) -> Option<f64>,
    decimals: usize,
}

fn metrics(bench: &BenchArgs) -> Vec<Metric> {
    vec![
        Metric {
            name: "enqueue, one at a time".into(),
            unit: "jobs/s",
            lower_is_better: false,
            value: |f| Some(f.enqueue_one_per_s),
            decimals: 0,
        },
        Metric {
            name: format!("enqueue, batches of {}", bench.batch),
            unit: "jobs/s",
            lower_is_better: false,
            value: |f| Some(f.enqueue_batch_per_s),
            decimals: 0,
        },
        Metric {
            name: format!("end to end, {} no-op jobs", 2 * bench.jobs),
            unit: "jobs/s",
            lower_is_better: false,
            value: |f| Some(f.end_to_end_per_s),
            decimals: 0,
        },
        Metric {
            name: "enqueue→start latency p50".into(),
            unit: "ms",
            lower_is_better: true,
            value: |f| f.latency_p50_ms,
            decimals: 2,
        },
        Metric {
            name: "enqueue→start latency p99".into(),
            unit: "ms",
            lower_is_better: true,
            value: |f| f.latency_p99_ms,
            decimals: 2,
        },
        Metric {
            name: "peak RSS".into(),
            unit: "MiB",
            lower_is_better: true,
            value: |f| f.peak_rss_kib.map(|kib| kib as f64 / 1024.0),
            decimals: 1,
        },
    ]
}

/// The median of `metric` over the runs of one system.
fn median_of(runs: &[Figures], value: fn(&Figures) -> Option<f64>) -> Option<f64> {
    let values: Vec<f64> = runs.iter().filter_map(value).collect();
    median(&values)
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// What "batched" means for each system on `backend`.
fn batch_note(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Sqlite => {
            "batched: zerog Backend::submit_many (one transaction), apalis push_bulk (one transaction)"
        }
        BackendKind::Postgres => {
            "batched: zerog Backend::submit_many (one INSERT from unnest), \
             apalis push_bulk (one INSERT from unnest)"
        }
        BackendKind::Redis => {
            "batched: zerog Backend::submit_many (one script call), apalis push_bulk (one script call)"
        }
    }
}

/// The report as JSON: the settings, the machine, and for each metric its median for
/// each system and their ratio (`null` where a system has no figure).
pub fn render_json(
    bench: &BenchArgs,
    zerog: &[Figures],
    apalis: &[Figures],
    machine: &str,
) -> serde_json::Value {
    let metrics: Vec<serde_json::Value> = metrics(bench)
        .iter()
        .map(|metric| {
            let ours = median_of(zerog, metric.value);
            let theirs = median_of(apalis, metric.value);
            serde_json::json!({
                "metric": metric.name,
                "unit": metric.unit,
                "lowerIsBetter": metric.lower_is_better,
                "zerog": ours,
                "apalis": theirs,
                "ratio": ratio(ours, theirs),
            })
        })
        .collect();
    serde_json::json!({
        "backend": bench.backend.to_string(),
        "jobs": bench.jobs,
        "workers": bench.workers,
        "batch": bench.batch,
        "repeat": bench.repeat,
        "machine": machine,
        "metrics": metrics,
        "runs": { "zerog": zerog, "apalis": apalis },
    })
}

/// The report: a header with the settings and the machine, and the table of medians
/// with the ratio zerog/apalis. `zerog` and `apalis` hold one entry per run.
pub fn render(bench: &BenchArgs, zerog: &[Figures], apalis: &[Figures], machine: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "zerog-bench: backend {}, {} jobs per enqueue phase, {} concurrent runs, \
         {} latency jobs {} ms apart; median of {} run(s) per system",
        bench.backend,
        bench.jobs,
        bench.workers,
        bench.latency_jobs,
        bench.latency_gap_ms,
        zerog.len().max(apalis.len()),
    );
    let _ = writeln!(out, "machine: {machine}");
    let _ = writeln!(out, "{}", batch_note(bench.backend));
    let _ = writeln!(out);
    let mut rows = vec![[
        "metric".to_owned(),
        "zerog".to_owned(),
        "apalis".to_owned(),
        "zerog/apalis".to_owned(),
    ]];
    for metric in metrics(bench) {
        let z = median_of(zerog, metric.value);
        let a = median_of(apalis, metric.value);
        let direction = if metric.lower_is_better {
            "lower is better"
        } else {
            "higher is better"
        };
        rows.push([
            format!("{} ({}, {direction})", metric.name, metric.unit),
            cell(z, metric.decimals),
            cell(a, metric.decimals),
            cell(ratio(z, a), 2),
        ]);
    }
    let width = |column: usize| rows.iter().map(|row| row[column].chars().count()).max();
    let widths: Vec<usize> = (0..4).map(|c| width(c).unwrap_or(0)).collect();
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {:<w0$} | {:>w1$} | {:>w2$} | {:>w3$} |",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            let _ = writeln!(out, "|{}|", rule.join("|"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn figures(scale: f64) -> Figures {
        Figures {
            enqueue_one_per_s: 1000.0 * scale,
            enqueue_batch_per_s: 5000.0 * scale,
            drained_jobs: 20,
            end_to_end_per_s: 800.0 * scale,
            latency_p50_ms: Some(2.0 * scale),
            latency_p99_ms: None,
            peak_rss_kib: Some(20480),
        }
    }

    #[test]
    fn the_table_shows_medians_and_ratios() {
        let bench = crate::args::Cli::parse_from(["zerog-bench", "--jobs", "10"]).bench;
        let zerog = [figures(1.0), figures(3.0), figures(2.0)];
        let apalis = [figures(1.0)];
        let table = render(&bench, &zerog, &apalis, "test");
        let row = |name: &str| {
            table
                .lines()
                .find(|line| line.contains(name))
                .unwrap_or_else(|| panic!("no row {name} in\n{table}"))
                .to_owned()
        };
        assert!(row("one at a time").contains("2000"), "{table}");
        assert!(row("one at a time").contains("2.00"), "{table}");
        assert!(row("20 no-op jobs").contains("1600"), "{table}");
        assert!(row("p99").contains(" - "), "{table}");
        assert!(row("peak RSS").contains("20.0"), "{table}");
        assert!(row("peak RSS").contains("1.00"), "{table}");
    }

    #[test]
    fn the_json_holds_the_same_medians_and_ratios() {
        let bench = crate::args::Cli::parse_from(["zerog-bench", "--jobs", "10", "--json"]).bench;
        assert!(bench.json);
        let zerog = [figures(1.0), figures(3.0), figures(2.0)];
        let apalis = [figures(1.0)];
        let report = render_json(&bench, &zerog, &apalis, "test");
        let metric = |name: &str| {
            report["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|metric| metric["metric"].as_str().unwrap().contains(name))
                .unwrap_or_else(|| panic!("no metric {name} in {report}"))
                .clone()
        };
        let one = metric("one at a time");
        assert_eq!(
            (one["zerog"].as_f64(), one["ratio"].as_f64()),
            (Some(2000.0), Some(2.0))
        );
        assert!(metric("p99")["zerog"].is_null(), "{report}");
        assert_eq!(report["runs"]["zerog"].as_array().map(Vec::len), Some(3));
        assert_eq!(report["backend"], "sqlite");
    }
}
