//! The benchmark harness of SPEC §10: zerog and apalis 1.x side by side on one backend.
//!
//! ```text
//! cargo run --release -p zerog-bench -- --backend sqlite|postgres|redis --jobs N --workers W
//! ```
//!
//! The harness runs each system in a child process of its own (this binary again, with
//! the hidden `child` subcommand), on fresh storage that it removes afterwards, so that
//! each system's peak RSS is its own and neither sees the other's data. See
//! [`workload`] for the phases and what each figure measures. Benchmarks never run in
//! the test suite; only the harness's pure parts have tests.

mod apalis_system;
mod args;
mod probe;
mod report;
mod sandbox;
mod stats;
mod workload;
mod zerog_system;

use std::process::{Command as Process, ExitCode, Stdio};

use clap::Parser;

use crate::apalis_system::ApalisSystem;
use crate::args::{BenchArgs, ChildArgs, Cli, Command, System};
use crate::sandbox::Sandbox;
use crate::workload::{BoxError, Figures};
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

/// Runs one system's workload and prints its [`Figures`] as one JSON line.
fn child(args: &ChildArgs) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let figures = runtime.block_on(async {
        match args.system {
            System::Zerog => {
                let mut system = ZerogSystem::connect(&args.target).await?;
                workload::run(&mut system, args).await
            }
            System::Apalis => {
                let mut system = ApalisSystem::connect(args.backend, &args.target).await?;
                workload::run(&mut system, args).await
            }
        }
    })?;
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

/// Runs every system `repeat` times, each time in a child on fresh storage, and prints
/// the table.
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
            let sandbox = runtime.block_on(Sandbox::create(bench, system, run))?;
            let child_args = ChildArgs::new(bench, system, sandbox.target());
            let figures = run_child(&child_args);
            let removed = runtime.block_on(sandbox.remove());
            let figures = figures?;
            removed?;
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
    if bench.json {
        let report = report::render_json(bench, &zerog, &apalis, &machine);
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::render(bench, &zerog, &apalis, &machine));
    }
    Ok(())
}

/// Runs this binary's `child` subcommand and reads its figures.
fn run_child(args: &ChildArgs) -> Result<Figures, BoxError> {
    let output = Process::new(std::env::current_exe()?)
        .args(args.to_args())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("the {} child failed: {}", args.system, output.status).into());
    }
    let stdout = String::from_utf8(output.stdout)?;
    let line = stdout
        .lines()
        .last()
        .ok_or_else(|| format!("the {} child printed no figures", args.system))?;
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
