//! The command line: what the user asks for, and the hidden `child` subcommand that the
//! harness runs once per system, so that each system's peak RSS is its own.

use std::fmt;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};

/// The backend both systems run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// An SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database per system.
    Postgres,
    /// Redis, under a fresh key prefix per system.
    Redis,
    /// zerog's split backend: records and leases in a fresh PostgreSQL database,
    /// delivery by beanstalkd under a fresh tube prefix. apalis has no beanstalkd
    /// backend and runs on PostgreSQL alone.
    PostgresBeanstalkd,
}

impl BackendKind {
    /// The name used on the command line and in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
            BackendKind::Redis => "redis",
            BackendKind::PostgresBeanstalkd => "postgres+beanstalkd",
        }
    }

    /// Whether the records live in PostgreSQL (with or without beanstalkd in front).
    pub fn is_postgres(self) -> bool {
        matches!(
            self,
            BackendKind::Postgres | BackendKind::PostgresBeanstalkd
        )
    }
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(BackendKind::Sqlite),
            "postgres" | "postgresql" => Ok(BackendKind::Postgres),
            "redis" => Ok(BackendKind::Redis),
            "postgres+beanstalkd" | "postgresql+beanstalkd" => Ok(BackendKind::PostgresBeanstalkd),
            other => Err(format!(
                "unknown backend `{other}`: expected sqlite, postgres, redis or postgres+beanstalkd"
            )),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// This workspace's runtime.
    Zerog,
    /// apalis 1.x with its backend crate for the same store.
    Apalis,
}

impl System {
    /// The name used on the command line and in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            System::Zerog => "zerog",
            System::Apalis => "apalis",
        }
    }
}

impl FromStr for System {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zerog" => Ok(System::Zerog),
            "apalis" => Ok(System::Apalis),
            other => Err(format!(
                "unknown system `{other}`: expected zerog or apalis"
            )),
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a child process measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The four phases of [`crate::workload::run`].
    Main,
    /// HTTP submits over TCP ([`crate::http_load`]), zerog only.
    Http,
    /// The drain of a queue `--factor` times the size of the main run's.
    Growth,
}

impl Phase {
    /// The name used on the child's command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Main => "main",
            Phase::Http => "http",
            Phase::Growth => "growth",
        }
    }
}

impl FromStr for Phase {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "main" => Ok(Phase::Main),
            "http" => Ok(Phase::Http),
            "growth" => Ok(Phase::Growth),
            other => Err(format!(
                "unknown phase `{other}`: expected main, http or growth"
            )),
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// zerog and apalis 1.x, side by side on one backend (SPEC §10).
///
/// Each system runs in a child process of its own, on fresh storage: N jobs enqueued
/// one at a time, N more in batches, all 2N drained by W concurrent runs, then paced
/// single jobs onto the idle workers to measure enqueue→start latency. Then, each on
/// fresh storage: HTTP submits over TCP (zerog), and the drains of `--growth` times as
/// many jobs. On PostgreSQL, River's own benchmark and the pgbench ceiling of zerog's
/// statements when their programs are there.
#[derive(Debug, Parser)]
#[command(name = "zerog-bench", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// The measured run's settings.
    #[command(flatten)]
    pub bench: BenchArgs,
    /// The hidden per-system child.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings of a benchmark run.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The backend: sqlite, postgres, redis or postgres+beanstalkd.
    #[arg(long, default_value = "sqlite")]
    pub backend: BackendKind,
    /// Jobs per enqueue phase (the drain runs twice as many).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: u64,
    /// Concurrent runs: zerog's worker capacity, apalis' worker concurrency.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: u32,
    /// Jobs per batch in the batched enqueue phase.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// Jobs in the latency phase.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub latency_jobs: u64,
    /// Gap between two enqueues of the latency phase, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pub latency_gap_ms: u64,
    /// Print the figures as JSON (medians, ratios and every run) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Runs per system; each figure reported is the median over them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Only these systems, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "zerog,apalis")]
    pub systems: Vec<System>,
    /// A PostgreSQL database the harness may create and drop databases from.
    #[arg(
        long,
        env = "ZEROG_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
    /// The Redis server.
    #[arg(
        long,
        env = "ZEROG_BENCH_REDIS",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// The beanstalkd server of `--backend postgres+beanstalkd`, as HOST:PORT.
    #[arg(
        long,
        env = "ZEROG_BENCH_BEANSTALKD",
        default_value = "127.0.0.1:11300"
    )]
    pub beanstalkd: String,
    /// Growth runs: for each factor F, on fresh storage, F×2N jobs enqueued in batches
    /// and drained, reported as a ratio of the main run's end-to-end rate.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..))]
    pub growth: Vec<u64>,
    /// Connections that the HTTP submit phase (zerog only) opens at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub http_connections: u32,
    /// River's command line (`riverqueue-cli`), run on PostgreSQL when it is there.
    #[arg(long, env = "ZEROG_BENCH_RIVER", default_value = "riverqueue")]
    pub river: String,
    /// pgbench, run on PostgreSQL for the ceiling of zerog's statements when it is there.
    #[arg(long, env = "ZEROG_BENCH_PGBENCH", default_value = "pgbench")]
    pub pgbench: String,
    /// pgbench client counts to run the ceiling with, comma-separated; the best counts.
    #[arg(long, value_delimiter = ',', default_value = "2,8,16", value_parser = clap::value_parser!(u32).range(1..))]
    pub pgbench_clients: Vec<u32>,
}

/// Subcommands that the harness runs itself.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs one system's workload and prints its figures as one JSON line.
    #[command(hide = true)]
    Child(ChildArgs),
}

/// What a child process runs.
#[derive(Debug, Clone, Args)]
pub struct ChildArgs {
    /// The system to run.
    #[arg(long)]
    pub system: System,
    /// The backend kind.
    #[arg(long)]
    pub backend: BackendKind,
    /// What to measure.
    #[arg(long, default_value = "main")]
    pub phase: Phase,
    /// Where that system's storage is: a URL, or for apalis on Redis the queue name
    /// after a `#`.
    #[arg(long)]
    pub target: String,
    /// zerog's queue apart from its store (`beanstalkd://...`), if any.
    #[arg(long)]
    pub queue: Option<String>,
    /// Jobs per enqueue phase.
    #[arg(long)]
    pub jobs: u64,
    /// Concurrent runs.
    #[arg(long)]
    pub workers: u32,
    /// Jobs per batch.
    #[arg(long)]
    pub batch: u64,
    /// Jobs in the latency phase.
    #[arg(long)]
    pub latency_jobs: u64,
    /// Gap between latency enqueues, in milliseconds.
    #[arg(long)]
    pub latency_gap_ms: u64,
    /// The growth phase's factor.
    #[arg(long, default_value_t = 1)]
    pub factor: u64,
    /// Connections of the HTTP phase.
    #[arg(long, default_value_t = 32)]
    pub http_connections: u32,
}

impl ChildArgs {
    /// The child's main phase for `system` on `target` (and `queue`), from the run's
    /// settings; [`Self::phase`] makes another phase of it.
    pub fn new(bench: &BenchArgs, system: System, target: String, queue: Option<String>) -> Self {
        ChildArgs {
            system,
            backend: bench.backend,
            phase: Phase::Main,
            target,
            queue,
            jobs: bench.jobs,
            workers: bench.workers,
            batch: bench.batch,
            latency_jobs: bench.latency_jobs,
            latency_gap_ms: bench.latency_gap_ms,
            factor: 1,
            http_connections: bench.http_connections,
        }
    }

    /// The same settings for `phase`, with the growth `factor`.
    pub fn phase(mut self, phase: Phase, factor: u64) -> Self {
        self.phase = phase;
        self.factor = factor;
        self
    }

    /// The arguments that make a child process parse back into `self`.
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "child".into(),
            "--system".into(),
            self.system.to_string(),
            "--backend".into(),
            self.backend.to_string(),
            "--phase".into(),
            self.phase.to_string(),
            "--target".into(),
            self.target.clone(),
            "--jobs".into(),
            self.jobs.to_string(),
            "--workers".into(),
            self.workers.to_string(),
            "--batch".into(),
            self.batch.to_string(),
            "--latency-jobs".into(),
            self.latency_jobs.to_string(),
            "--latency-gap-ms".into(),
            self.latency_gap_ms.to_string(),
            "--factor".into(),
            self.factor.to_string(),
            "--http-connections".into(),
            self.http_connections.to_string(),
        ];
        if let Some(queue) = &self.queue {
            args.extend(["--queue".into(), queue.clone()]);
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("zerog-bench").chain(args.iter().copied()))
    }

    #[test]
    fn the_documented_command_line_parses() {
        let cli = parse(&["--backend", "postgres", "--jobs", "2000", "--workers", "4"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.bench.backend, BackendKind::Postgres);
        assert_eq!(cli.bench.jobs, 2000);
        assert_eq!(cli.bench.workers, 4);
        assert_eq!(cli.bench.systems, [System::Zerog, System::Apalis]);
        assert_eq!(cli.bench.repeat, 1);
        assert!(cli.bench.growth.is_empty(), "no growth runs unless asked");
        assert_eq!(cli.bench.http_connections, 32);
        assert_eq!(cli.bench.pgbench_clients, [2, 8, 16]);
    }

    #[test]
    fn the_readme_command_line_parses() {
        let cli = parse(&[
            "--backend",
            "postgres+beanstalkd",
            "--growth",
            "10,100",
            "--http-connections",
            "16",
            "--river",
            "/opt/river/bin/riverqueue",
        ])
        .unwrap();
        assert_eq!(cli.bench.backend, BackendKind::PostgresBeanstalkd);
        assert!(cli.bench.backend.is_postgres());
        assert_eq!(cli.bench.growth, [10, 100]);
        assert_eq!(cli.bench.http_connections, 16);
        assert_eq!(cli.bench.river, "/opt/river/bin/riverqueue");
    }

    #[test]
    fn systems_are_comma_separated() {
        let cli = parse(&["--systems", "apalis"]).unwrap();
        assert_eq!(cli.bench.systems, [System::Apalis]);
        let cli = parse(&["--systems", "apalis,zerog"]).unwrap();
        assert_eq!(cli.bench.systems, [System::Apalis, System::Zerog]);
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse(&["--backend", "mysql"]).is_err());
        assert!(parse(&["--jobs", "0"]).is_err());
        assert!(parse(&["--workers", "0"]).is_err());
        assert!(parse(&["--systems", "sidekiq"]).is_err());
        assert!(parse(&["--growth", "0"]).is_err());
        assert!(parse(&["--growth", "ten"]).is_err());
        assert!(parse(&["--http-connections", "0"]).is_err());
    }

    #[test]
    fn child_arguments_round_trip() {
        let bench = parse(&["--backend", "redis", "--jobs", "7", "--batch", "3"])
            .unwrap()
            .bench;
        let child = ChildArgs::new(&bench, System::Apalis, "redis://h/#q".into(), None)
            .phase(Phase::Growth, 10);
        let args = child.to_args();
        let cli =
            Cli::try_parse_from(std::iter::once("zerog-bench".to_owned()).chain(args)).unwrap();
        let Some(Command::Child(parsed)) = cli.command else {
            panic!("not parsed as a child");
        };
        assert_eq!(parsed.system, System::Apalis);
        assert_eq!(parsed.backend, BackendKind::Redis);
        assert_eq!(parsed.target, "redis://h/#q");
        assert_eq!((parsed.jobs, parsed.batch), (7, 3));
        assert_eq!(parsed.workers, bench.workers);
        assert_eq!(parsed.latency_jobs, bench.latency_jobs);
        assert_eq!((parsed.phase, parsed.factor), (Phase::Growth, 10));
        assert_eq!(parsed.queue, None);
    }

    #[test]
    fn a_split_queue_reaches_the_child() {
        let bench = parse(&["--backend", "postgres+beanstalkd"]).unwrap().bench;
        let queue = "beanstalkd://127.0.0.1:11300?tube_prefix=zb".to_owned();
        let child = ChildArgs::new(&bench, System::Zerog, "postgres://h/db".into(), Some(queue));
        let cli =
            Cli::try_parse_from(std::iter::once("zerog-bench".to_owned()).chain(child.to_args()))
                .unwrap();
        let Some(Command::Child(parsed)) = cli.command else {
            panic!("not parsed as a child");
        };
        assert_eq!(parsed.backend, BackendKind::PostgresBeanstalkd);
        assert_eq!(parsed.phase, Phase::Main);
        assert_eq!(parsed.queue.as_deref(), child.queue.as_deref());
    }
}
