//! The side-by-side table: each metric for zerog and apalis, and their ratio; on
//! PostgreSQL, River's end-to-end figure beside them and the pgbench ceiling below.

use std::fmt::Write as _;

use crate::args::{BackendKind, BenchArgs};
use crate::pgbench::Ceiling;
use crate::river::RiverFigures;
use crate::stats::{median, ratio};
use crate::workload::Figures;

/// What the harness measured beside the two systems' runs, on PostgreSQL: `None`
/// where it does not apply to the backend, `Err` with the reason it was not run.
pub struct Extras {
    /// River's benchmark.
    pub river: Option<Result<RiverFigures, String>>,
    /// The pgbench ceiling of zerog's statements.
    pub ceiling: Option<Result<Ceiling, String>>,
}

/// How to read one figure of a run.
type Value = Box<dyn Fn(&Figures) -> Option<f64>>;

/// One row of the table: a name and how to read its figure.
struct Metric {
    name: String,
    unit: &'static str,
    lower_is_better: bool,
    value: Value,
    decimals: usize,
    /// Whether apalis can have this figure at all (it has no HTTP API).
    apalis_has_it: bool,
    /// Whether River's end-to-end figure goes beside this row.
    river: bool,
}

impl Metric {
    fn new(name: impl Into<String>, unit: &'static str, value: Value) -> Self {
        Metric {
            name: name.into(),
            unit,
            lower_is_better: false,
            value,
            decimals: 0,
            apalis_has_it: true,
            river: false,
        }
    }

    fn lower_is_better(mut self, decimals: usize) -> Self {
        self.lower_is_better = true;
        self.decimals = decimals;
        self
    }

    fn zerog_only(mut self) -> Self {
        self.apalis_has_it = false;
        self
    }
}

fn metrics(bench: &BenchArgs) -> Vec<Metric> {
    let mut metrics = vec![
        Metric::new(
            "enqueue, one at a time",
            "jobs/s",
            Box::new(|f| Some(f.enqueue_one_per_s)),
        ),
        Metric::new(
            format!("enqueue, batches of {}", bench.batch),
            "jobs/s",
            Box::new(|f| Some(f.enqueue_batch_per_s)),
        ),
        Metric {
            river: true,
            ..Metric::new(
                format!("end to end, {} no-op jobs", 2 * bench.jobs),
                "jobs/s",
                Box::new(|f| Some(f.end_to_end_per_s)),
            )
        },
        Metric::new(
            "enqueue→start latency p50",
            "ms",
            Box::new(|f| f.latency_p50_ms),
        )
        .lower_is_better(2),
        Metric::new(
            "enqueue→start latency p95",
            "ms",
            Box::new(|f| f.latency_p95_ms),
        )
        .lower_is_better(2),
        Metric::new(
            "enqueue→start latency p99",
            "ms",
            Box::new(|f| f.latency_p99_ms),
        )
        .lower_is_better(2),
        Metric::new(
            "peak RSS",
            "MiB",
            Box::new(|f| f.peak_rss_kib.map(|kib| kib as f64 / 1024.0)),
        )
        .lower_is_better(1),
        Metric::new(
            format!(
                "HTTP POST /job/{{jobType}}, {} connections",
                bench.http_connections
            ),
            "jobs/s",
            Box::new(|f| f.http.as_ref().map(|http| http.single_per_s)),
        )
        .zerog_only(),
        Metric::new(
            format!("HTTP POST /job/{{jobType}}/batch of {}", bench.batch),
            "jobs/s",
            Box::new(|f| f.http.as_ref().map(|http| http.batch_per_s)),
        )
        .zerog_only(),
        Metric::new(
            "HTTP answers not 2xx, or none",
            "count",
            Box::new(|f| {
                f.http
                    .as_ref()
                    .map(|http| (http.non_2xx + http.failed_requests) as f64)
            }),
        )
        .lower_is_better(0)
        .zerog_only(),
    ];
    for (i, &factor) in bench.growth.iter().enumerate() {
        let jobs = factor * 2 * bench.jobs;
        metrics.push(Metric::new(
            format!("end to end, {factor}× the queue ({jobs} jobs)"),
            "jobs/s",
            Box::new(move |f| f.growth.get(i)?.end_to_end_per_s),
        ));
        metrics.push(Metric {
            decimals: 2,
            ..Metric::new(
                format!("  {factor}× ÷ the small run's end to end (target ≥ 0.8)"),
                "ratio",
                Box::new(move |f| Some(f.growth.get(i)?.end_to_end_per_s? / f.end_to_end_per_s)),
            )
        });
    }
    metrics
}

/// The median of `metric` over the runs of one system.
fn median_of(runs: &[Figures], value: &Value) -> Option<f64> {
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
        BackendKind::PostgresBeanstalkd => {
            "batched: zerog Backend::submit_many (a beanstalkd put per job, then one INSERT from \
             unnest), apalis push_bulk (one INSERT from unnest)"
        }
    }
}

/// What the systems run on, where it is not the same for both.
fn backend_note(backend: BackendKind) -> Option<&'static str> {
    (backend == BackendKind::PostgresBeanstalkd).then_some(
        "zerog: records in PostgreSQL, delivery by beanstalkd (a fresh tube prefix per run); \
         apalis has no beanstalkd backend, so apalis runs on apalis-postgres alone",
    )
}

/// The notes under the table: growth runs cut short, River, the ceiling.
fn notes(zerog: &[Figures], apalis: &[Figures], extras: &Extras) -> Vec<String> {
    let mut notes = Vec::new();
    for (system, runs) in [("zerog", zerog), ("apalis", apalis)] {
        for growth in runs.iter().flat_map(|f| &f.growth) {
            if let Some(why) = &growth.unfinished {
                notes.push(format!("{system}: {why}; no figure for {}×", growth.factor));
            }
        }
    }
    match &extras.river {
        Some(Ok(river)) => notes.push(format!(
            "river: `riverqueue bench` (riverqueue-cli {}), {} jobs, {} workers, on a fresh database",
            river.version, river.jobs, river.workers
        )),
        Some(Err(why)) => notes.push(format!("river: {why}")),
        None => {}
    }
    let end_to_end: Value = Box::new(|f: &Figures| Some(f.end_to_end_per_s));
    let zerog_end_to_end = median_of(zerog, &end_to_end);
    match &extras.ceiling {
        Some(Ok(ceiling)) => {
            let fraction = ratio(zerog_end_to_end, Some(ceiling.jobs_per_s))
                .map_or_else(|| "-".to_owned(), |f| format!("{f:.2}"));
            let by_clients: Vec<String> = ceiling
                .runs
                .iter()
                .map(|run| format!("{} → {:.0}", run.clients, run.jobs_per_s))
                .collect();
            let by_clients = if by_clients.len() > 1 {
                format!(" (jobs/s by pgbench clients: {})", by_clients.join(", "))
            } else {
                String::new()
            };
            notes.push(format!(
                "SQL ceiling (pgbench: zerog's reserve of {} and its batched completion, best with \
                 {} clients, {} transactions): {:.0} jobs/s ({:.0} transactions/s){by_clients}; \
                 zerog's end to end is {fraction} of it",
                ceiling.batch,
                ceiling.clients,
                ceiling.transactions,
                ceiling.jobs_per_s,
                ceiling.transactions_per_s,
            ));
        }
        Some(Err(why)) => notes.push(format!("SQL ceiling (pgbench): {why}")),
        None => {}
    }
    notes
}

/// The report as JSON: the settings, the machine, and for each metric its median for
/// each system and their ratio (`null` where a system has no figure), River's figure
/// beside the end to end, the ceiling, and every run.
pub fn render_json(
    bench: &BenchArgs,
    zerog: &[Figures],
    apalis: &[Figures],
    extras: &Extras,
    machine: &str,
) -> serde_json::Value {
    let river = river_figure(extras);
    let metrics: Vec<serde_json::Value> = metrics(bench)
        .iter()
        .map(|metric| {
            let ours = median_of(zerog, &metric.value);
            let theirs = median_of(apalis, &metric.value);
            let mut json = serde_json::json!({
                "metric": metric.name,
                "unit": metric.unit,
                "lowerIsBetter": metric.lower_is_better,
                "zerog": ours,
                "apalis": theirs,
                "ratio": ratio(ours, theirs),
            });
            if metric.river && river.is_some() {
                json["river"] = serde_json::json!(river);
                json["ratioToRiver"] = serde_json::json!(ratio(ours, river));
            }
            json
        })
        .collect();
    serde_json::json!({
        "backend": bench.backend.to_string(),
        "jobs": bench.jobs,
        "workers": bench.workers,
        "batch": bench.batch,
        "repeat": bench.repeat,
        "growth": bench.growth,
        "httpConnections": bench.http_connections,
        "machine": machine,
        "notes": notes(zerog, apalis, extras),
        "metrics": metrics,
        "river": outcome(&extras.river),
        "sqlCeiling": outcome(&extras.ceiling),
        "runs": { "zerog": zerog, "apalis": apalis },
    })
}

/// An extra as JSON: its figures, `{"notRun": why}`, or `null` where it does not apply.
fn outcome<T: serde::Serialize>(extra: &Option<Result<T, String>>) -> serde_json::Value {
    match extra {
        Some(Ok(figures)) => serde_json::to_value(figures).unwrap_or(serde_json::Value::Null),
        Some(Err(why)) => serde_json::json!({ "notRun": why }),
        None => serde_json::Value::Null,
    }
}

/// River's end-to-end jobs per second, if River ran.
fn river_figure(extras: &Extras) -> Option<f64> {
    match &extras.river {
        Some(Ok(river)) => Some(river.jobs_per_s),
        _ => None,
    }
}

/// The report: a header with the settings and the machine, the table of medians with
/// the ratio zerog/apalis (and River beside them where it ran), and the notes. `zerog`
/// and `apalis` hold one entry per run.
pub fn render(
    bench: &BenchArgs,
    zerog: &[Figures],
    apalis: &[Figures],
    extras: &Extras,
    machine: &str,
) -> String {
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
    if let Some(note) = backend_note(bench.backend) {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(out);
    let river = river_figure(extras);
    let mut header = vec!["metric", "zerog", "apalis", "zerog/apalis"];
    if river.is_some() {
        header.extend(["river", "zerog/river"]);
    }
    let mut rows: Vec<Vec<String>> = vec![header.into_iter().map(str::to_owned).collect()];
    for metric in metrics(bench) {
        let z = median_of(zerog, &metric.value);
        let a = median_of(apalis, &metric.value);
        let direction = if metric.lower_is_better {
            "lower is better"
        } else {
            "higher is better"
        };
        let (apalis_cell, ratio_cell) = if metric.apalis_has_it {
            (cell(a, metric.decimals), cell(ratio(z, a), 2))
        } else {
            ("—".to_owned(), "—".to_owned())
        };
        let mut row = vec![
            format!("{} ({}, {direction})", metric.name, metric.unit),
            cell(z, metric.decimals),
            apalis_cell,
            ratio_cell,
        ];
        if river.is_some() {
            let r = river.filter(|_| metric.river);
            row.extend([cell(r, metric.decimals), cell(ratio(z, r), 2)]);
        }
        rows.push(row);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (text, &width))| {
                let pad = width.saturating_sub(text.chars().count());
                if c == 0 {
                    format!("{text}{}", " ".repeat(pad))
                } else {
                    format!("{}{text}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            let _ = writeln!(out, "|{}|", rule.join("|"));
        }
    }
    let notes = notes(zerog, apalis, extras);
    if !notes.is_empty() {
        let _ = writeln!(out);
    }
    for note in notes {
        let _ = writeln!(out, "{note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_load::HttpFigures;
    use crate::workload::GrowthFigures;
    use clap::Parser;

    /// The line of `table` that names `name`.
    fn row(table: &str, name: &str) -> String {
        table
            .lines()
            .find(|line| line.contains(name))
            .unwrap_or_else(|| panic!("no row {name} in\n{table}"))
            .to_owned()
    }

    fn figures(scale: f64) -> Figures {
        Figures {
            enqueue_one_per_s: 1000.0 * scale,
            enqueue_batch_per_s: 5000.0 * scale,
            drained_jobs: 20,
            end_to_end_per_s: 800.0 * scale,
            latency_p50_ms: Some(2.0 * scale),
            latency_p95_ms: Some(3.0 * scale),
            latency_p99_ms: None,
            peak_rss_kib: Some(20480),
            http: None,
            growth: Vec::new(),
        }
    }

    /// The trimmed cells of a table row.
    fn cells(row: &str) -> Vec<&str> {
        row.trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect()
    }

    fn no_extras() -> Extras {
        Extras {
            river: None,
            ceiling: None,
        }
    }

    #[test]
    fn the_table_shows_medians_and_ratios() {
        let bench = crate::args::Cli::parse_from(["zerog-bench", "--jobs", "10"]).bench;
        let zerog = [figures(1.0), figures(3.0), figures(2.0)];
        let apalis = [figures(1.0)];
        let table = render(&bench, &zerog, &apalis, &no_extras(), "test");
        let row = |name: &str| row(&table, name);
        assert!(row("one at a time").contains("2000"), "{table}");
        assert!(row("one at a time").contains("2.00"), "{table}");
        assert!(row("20 no-op jobs").contains("1600"), "{table}");
        assert!(row("p99").contains(" - "), "{table}");
        assert!(row("p95").contains("6.00"), "{table}");
        assert!(
            !table.contains("river"),
            "no River column unless it ran:\n{table}"
        );
        assert!(row("peak RSS").contains("20.0"), "{table}");
        assert!(row("peak RSS").contains("1.00"), "{table}");
    }

    #[test]
    fn the_json_holds_the_same_medians_and_ratios() {
        let bench = crate::args::Cli::parse_from(["zerog-bench", "--jobs", "10", "--json"]).bench;
        assert!(bench.json);
        let zerog = [figures(1.0), figures(3.0), figures(2.0)];
        let apalis = [figures(1.0)];
        let report = render_json(&bench, &zerog, &apalis, &no_extras(), "test");
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

    #[test]
    fn http_rows_are_zerog_only_and_growth_is_a_ratio_of_the_small_run() {
        let bench =
            crate::args::Cli::parse_from(["zerog-bench", "--jobs", "10", "--growth", "10"]).bench;
        let mut ours = figures(1.0);
        ours.http = Some(HttpFigures {
            connections: 32,
            single_per_s: 4000.0,
            batch_per_s: 40000.0,
            non_2xx: 0,
            failed_requests: 0,
        });
        ours.growth.push(GrowthFigures {
            factor: 10,
            jobs: 200,
            end_to_end_per_s: Some(720.0),
            unfinished: None,
        });
        let mut theirs = figures(1.0);
        theirs.growth.push(GrowthFigures {
            factor: 10,
            jobs: 200,
            end_to_end_per_s: None,
            unfinished: Some(
                "the growth phase ×10: only 5 of 200 jobs were done within 600 s".into(),
            ),
        });
        let table = render(&bench, &[ours], &[theirs], &no_extras(), "test");
        let row = |name: &str| row(&table, name);
        let single = row("POST /job/{jobType},");
        assert!(single.contains("4000") && single.contains("—"), "{table}");
        assert_eq!(cells(&row("not 2xx"))[1..], ["0", "—", "—"], "{table}");
        assert!(row("10× the queue").contains("720"), "{table}");
        assert!(row("÷ the small run").contains("0.90"), "{table}");
        assert!(
            table.contains("apalis: the growth phase ×10: only 5 of 200"),
            "{table}"
        );
    }

    #[test]
    fn river_and_the_ceiling_go_beside_the_end_to_end() {
        let bench =
            crate::args::Cli::parse_from(["zerog-bench", "--backend", "postgres", "--jobs", "10"])
                .bench;
        let extras = Extras {
            river: Some(Ok(RiverFigures {
                version: "0.5.0".into(),
                jobs: 20,
                workers: 8,
                jobs_per_s: 400.0,
            })),
            ceiling: Some(Ok(Ceiling {
                batch: 8,
                clients: 2,
                transactions: 4,
                transactions_per_s: 200.0,
                jobs_per_s: 1600.0,
                runs: [(2, 800.0), (8, 1600.0)]
                    .into_iter()
                    .map(|(clients, jobs_per_s)| crate::pgbench::ClientsRun {
                        clients,
                        transactions: 4,
                        transactions_per_s: jobs_per_s / 8.0,
                        jobs_per_s,
                    })
                    .collect(),
            })),
        };
        let table = render(&bench, &[figures(1.0)], &[figures(1.0)], &extras, "test");
        let end_to_end = table
            .lines()
            .find(|line| line.contains("20 no-op jobs"))
            .unwrap();
        assert_eq!(cells(end_to_end)[4..], ["400", "2.00"], "{table}");
        assert!(table.contains("1600 jobs/s"), "{table}");
        assert!(
            table.contains("zerog's end to end is 0.50 of it"),
            "{table}"
        );
        let report = render_json(&bench, &[figures(1.0)], &[figures(1.0)], &extras, "test");
        let metric = &report["metrics"][2];
        assert_eq!(metric["ratioToRiver"].as_f64(), Some(2.0), "{report}");
        assert_eq!(report["sqlCeiling"]["jobsPerS"].as_f64(), Some(1600.0));

        let skipped = Extras {
            river: Some(Err("not run: `riverqueue` cannot be run".into())),
            ceiling: Some(Err("skipped: `pgbench` cannot be run".into())),
        };
        let table = render(&bench, &[figures(1.0)], &[figures(1.0)], &skipped, "test");
        assert!(table.contains("river: not run"), "{table}");
        assert!(table.contains("SQL ceiling (pgbench): skipped"), "{table}");
        let report = render_json(&bench, &[figures(1.0)], &[figures(1.0)], &skipped, "test");
        assert!(report["river"]["notRun"].is_string(), "{report}");
    }
}
