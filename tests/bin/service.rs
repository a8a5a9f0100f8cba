//! The zerog service that the multi-process tests start as a child process: the
//! example job types plus the test jobs of `jobs.rs`, behind `zerog::main()`, so
//! `serve`, `work` and `run` are all available.

#[path = "../../examples/jobs/prime_sieve.rs"]
mod prime_sieve;
#[path = "../../examples/jobs/waste_time.rs"]
mod waste_time;

mod jobs;

fn main() -> std::process::ExitCode {
    zerog::main()
}
