//! The benchmark harness of SPEC §10: zerog and apalis 1.x side by side on one backend.
//!
//! ```text
//! cargo run --release -p zerog-bench -- --backend sqlite|postgres|redis|postgres+beanstalkd \
//!     --jobs N --workers W [--growth 10,100]
//! ```
//!
//! The harness runs each system in a child process of its own (this binary again, with
//! the hidden `child` subcommand), on fresh storage that it removes afterwards, so that
//! each system's peak RSS is its own and neither sees the other's data. The HTTP phase
//! ([`http_load`], zerog only) and each growth run get a child and storage of their own
//! too. See [`workload`] for the phases and what each figure measures. On PostgreSQL
//! the harness then runs River's benchmark ([`river`]) and the pgbench ceiling of
//! zerog's statements ([`pgbench`]), each skipped with a line saying why when its
//! program is missing. Benchmarks never run in the test suite; only the harness's pure
//! parts have tests.

mod apalis_system;
mod args;
mod http_load;
mod pgbench;
mod probe;
mod report;
mod river;
mod sandbox;
mod stats;
mod workload;
mod zerog_system;

use std::process::{Command as Process, ExitCode, Stdio};

use clap::Parser;
use serde::de::DeserializeOwned;
use tokio::runtime::Runtime;

use crate::apalis_system::ApalisSystem;
use crate::args::{BenchArgs, ChildArgs, Cli, Command, Phase, System};
use crate::report::Extras;
use crate::sandbox::Sandbox;
use crate::workload::{BoxError, Figures, GrowthFigures};
use crate::zerog_system::ZerogSystem;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Child(args)) => child(&args),
        None => harness(&cli.bench),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("zerog-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one system's phase and prints its figures as one JSON line.
fn child(args: &ChildArgs) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let line = runtime.block_on(async {
        let queue = args.queue.as_deref();
        Ok::<_, BoxError>(match (args.system, args.phase) {
            (System::Zerog, Phase::Main) => {
                let mut system = ZerogSystem::connect(&args.target, queue).await?;
                serde_json::to_string(&workload::run(&mut system, args).await?)?
            }
            (System::Zerog, Phase::Http) => {
                let mut system = ZerogSystem::connect(&args.target, queue).await?;
                serde_json::to_string(&http_load::run(&mut system, args).await?)?
            }
            (System::Zerog, Phase::Growth) => {
                let mut system = ZerogSystem::connect(&args.target, queue).await?;
                serde_json::to_string(&workload::run_growth(&mut system, args).await?)?
            }
            (System::Apalis, Phase::Main) => {
                let mut system = ApalisSystem::connect(args.backend, &args.target).await?;
                serde_json::to_string(&workload::run(&mut system, args).await?)?
            }
            (System::Apalis, Phase::Growth) => {
                let mut system = ApalisSystem::connect(args.backend, &args.target).await?;
                serde_json::to_string(&workload::run_growth(&mut system, args).await?)?
            }
            (System::Apalis, Phase::Http) => return Err("apalis has no HTTP API".into()),
        })
    })?;
    println!("{line}");
    Ok(())
}

/// Runs every system `repeat` times, each phase in a child on fresh storage, then on
/// PostgreSQL River and the pgbench ceiling, and prints the table.
fn harness(bench: &BenchArgs) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let machine = machine();
    eprintln!("zerog-bench: {machine}");
    let mut zerog = Vec::new();
    let mut apalis = Vec::new();
    for run in 1..=bench.repeat {
        for &system in &bench.systems {
            let mut figures: Figures = run_phase(&runtime, bench, system, run, Phase::Main, 1)?;
            if system == System::Zerog {
                figures.http = Some(run_phase(&runtime, bench, system, run, Phase::Http, 1)?);
            }
            for &factor in &bench.growth {
                // A growth run that fails is a finding, not the end of the report.
                let growth = run_phase(&runtime, bench, system, run, Phase::Growth, factor)
                    .unwrap_or_else(|error| {
                        GrowthFigures::failed(factor, factor * figures.drained_jobs, &error)
                    });
                figures.growth.push(growth);
            }
            eprintln!(
                "zerog-bench: run {run}/{} {system}: {}",
                bench.repeat,
                serde_json::to_string(&figures)?
            );
            match system {
                System::Zerog => zerog.push(figures),
                System::Apalis => apalis.push(figures),
            }
        }
    }
    let extras = Extras {
        river: river::run(&runtime, bench),
        ceiling: pgbench::run(&runtime, bench),
    };
    if bench.json {
        let report = report::render_json(bench, &zerog, &apalis, &extras, &machine);
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!(
            "{}",
            report::render(bench, &zerog, &apalis, &extras, &machine)
        );
    }
    Ok(())
}

/// Runs `phase` of `system` in a child, on fresh storage that is removed afterwards.
fn run_phase<T: DeserializeOwned>(
    runtime: &Runtime,
    bench: &BenchArgs,
    system: System,
    run: u32,
    phase: Phase,
    factor: u64,
) -> Result<T, BoxError> {
    let label = match phase {
        Phase::Main => String::new(),
        Phase::Http => "_http".to_owned(),
        Phase::Growth => format!("_g{factor}"),
    };
    let sandbox = runtime.block_on(Sandbox::create(bench, system, run, &label))?;
    let child_args =
        ChildArgs::new(bench, system, sandbox.target(), sandbox.queue()).phase(phase, factor);
    let figures = run_child(&child_args);
    let removed = runtime.block_on(sandbox.remove());
    let figures = figures?;
    removed?;
    Ok(figures)
}

/// Runs this binary's `child` subcommand and reads its figures.
fn run_child<T: DeserializeOwned>(args: &ChildArgs) -> Result<T, BoxError> {
    let output = Process::new(std::env::current_exe()?)
        .args(args.to_args())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the {} child ({} phase) failed: {}",
            args.system, args.phase, output.status
        )
        .into());
    }
    let stdout = String::from_utf8(output.stdout)?;
    let line = stdout.lines().last().ok_or_else(|| {
        format!(
            "the {} child ({} phase) printed no figures",
            args.system, args.phase
        )
    })?;
    Ok(serde_json::from_str(line)?)
}

/// The CPU count and the load average when the run started.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{cpus} CPUs, 1-minute load average {load} at start")
}
