//! River for Rust beside zerog and apalis, on PostgreSQL: River's own benchmark,
//! `riverqueue bench` of `riverqueue-cli`, on a database of its own.
//!
//! ```text
//! cargo install riverqueue-cli --version 0.5.0 --root DIR   # then --river DIR/bin/riverqueue
//! ```
//!
//! 1. A fresh database, `zbench_<pid>_river`, with River's migrations
//!    (`riverqueue migrate-up --database-url URL`).
//! 2. `riverqueue bench --database-url URL -n 2N --max-workers W --skip-vacuum`: it
//!    inserts 2N no-op jobs, then starts a client with W workers and works them all,
//!    as the harness's end-to-end phase does; its `overall job/sec` runs from the
//!    client's start to the last job's completion. Its pool keeps River's default size.
//! 3. The database is dropped.
//!
//! A missing binary, or a run that fails, is one line in the report: River never fails
//! the harness.

use std::io::Read as _;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Runtime;

use crate::args::BenchArgs;
use crate::sandbox::{create_database, drop_database, with_database};
use crate::workload::BoxError;

/// How long River's benchmark may take before it is stopped.
const DEADLINE: Duration = Duration::from_secs(600);

/// What River's benchmark measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiverFigures {
    /// `riverqueue --version`'s version.
    pub version: String,
    /// Jobs inserted, then worked.
    pub jobs: u64,
    /// Concurrent workers.
    pub workers: u32,
    /// Jobs per second, as River reports them.
    pub jobs_per_s: f64,
}

/// Runs River on PostgreSQL: `None` on other backends, `Err` with the reason when it
/// was not run or failed.
pub fn run(runtime: &Runtime, bench: &BenchArgs) -> Option<Result<RiverFigures, String>> {
    if !bench.backend.is_postgres() {
        return None;
    }
    let version = match Process::new(&bench.river).arg("--version").output() {
        Ok(output) if output.status.success() => {
            parse_version(&String::from_utf8_lossy(&output.stdout))
        }
        Ok(output) => {
            return Some(Err(format!(
                "not run: `{} --version` failed ({})",
                bench.river, output.status
            )));
        }
        Err(error) => {
            return Some(Err(format!(
                "not run: `{}` cannot be run ({error}); install riverqueue-cli and pass \
                 --river PATH or set ZEROG_BENCH_RIVER",
                bench.river
            )));
        }
    };
    let name = format!("zbench_{}_river", std::process::id());
    let result = runtime
        .block_on(create_database(&bench.postgres_url, &name))
        .and_then(|()| measure(bench, &with_database(&bench.postgres_url, &name)));
    let dropped = runtime.block_on(drop_database(&bench.postgres_url, &name));
    Some(match (result, dropped) {
        (Ok(jobs_per_s), Ok(())) => Ok(RiverFigures {
            version,
            jobs: 2 * bench.jobs,
            workers: bench.workers,
            jobs_per_s,
        }),
        (Err(error), _) => Err(format!("failed: {error}")),
        (Ok(_), Err(error)) => Err(format!("failed to drop {name}: {error}")),
    })
}

/// Migrates the database at `url` and runs the benchmark there; River's jobs per
/// second.
fn measure(bench: &BenchArgs, url: &str) -> Result<f64, BoxError> {
    run_river(
        &bench.river,
        &["migrate-up", "--database-url", url],
        "migrate-up",
    )?;
    let jobs = (2 * bench.jobs).to_string();
    let workers = bench.workers.to_string();
    let args = [
        "bench",
        "--database-url",
        url,
        "-n",
        &jobs,
        "--max-workers",
        &workers,
        "--skip-vacuum",
    ];
    let report = run_river(&bench.river, &args, "bench")?;
    parse_jobs_per_s(&report)
        .ok_or_else(|| format!("no `overall job/sec` in River's report: {report}").into())
}

/// Runs River with `args` within the deadline; its standard output.
fn run_river(river: &str, args: &[&str], what: &str) -> Result<String, BoxError> {
    let mut child = Process::new(river)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            return Err(format!(
                "`riverqueue {what}` took more than {} s",
                DEADLINE.as_secs()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)?;
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr)?;
    }
    if !status.success() {
        let last = stderr.lines().last().unwrap_or("no output");
        return Err(format!("`riverqueue {what}` {status}: {last}").into());
    }
    Ok(stdout)
}

/// The version in `riverqueue --version`'s `riverqueue 0.5.0`.
pub fn parse_version(text: &str) -> String {
    let text = text.trim();
    text.strip_prefix("riverqueue ")
        .unwrap_or(text)
        .trim()
        .to_owned()
}

/// The `overall job/sec [ X ]` of River's final report line.
pub fn parse_jobs_per_s(report: &str) -> Option<f64> {
    report.lines().rev().find_map(|line| {
        let (_, rest) = line.split_once("overall job/sec [")?;
        let (value, _) = rest.split_once(']')?;
        value.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `riverqueue bench -n 6000`'s standard output (0.5.0): progress lines, then the
    /// final one.
    const REPORT: &str = "\
bench: jobs worked [       2712 ], inserted [       6000 ], job/sec [     1356.0 ] [2s]
bench: total jobs worked [       6000 ], total jobs inserted [       6000 ], overall job/sec [     2493.7 ], p95 [     1.204s ], running 2.4s
";

    #[test]
    fn the_overall_rate_is_read_from_the_final_line() {
        assert_eq!(parse_jobs_per_s(REPORT), Some(2493.7));
        assert_eq!(parse_jobs_per_s(REPORT.lines().next().unwrap()), None);
        assert_eq!(parse_jobs_per_s(""), None);
        assert_eq!(parse_jobs_per_s("overall job/sec [ n/a ]"), None);
    }

    #[test]
    fn the_version_is_read() {
        assert_eq!(parse_version("riverqueue 0.5.0\n"), "0.5.0");
        assert_eq!(parse_version("0.6.1"), "0.6.1");
    }
}
