//! The zerog service that the multi-process tests start as a child process: the
//! example job types plus the test jobs of `jobs.rs`, behind `zerog::main()`, so
//! `serve`, `work`, `schedule` and `run` are all available.
//!
//! With `ZEROG_TEST_SCHEDULE=once` (or `skip`), it declares the schedule `every-second`
//! in code: a `mark` job each second, with that `missed` policy. Without it, it
//! declares none, so the other tests' processes create no jobs of their own.

#[path = "../../examples/jobs/prime_sieve.rs"]
mod prime_sieve;
#[path = "../../examples/jobs/waste_time.rs"]
mod waste_time;

mod jobs;

use zerog::schedule::{Missed, Schedule};

fn main() -> std::process::ExitCode {
    let missed = match std::env::var("ZEROG_TEST_SCHEDULE").as_deref() {
        Ok("once") => Missed::Once,
        Ok("skip") => Missed::Skip,
        _ => return zerog::main(),
    };
    zerog::main_with_schedules(vec![
        Schedule::of("every-second", "* * * * * *", &jobs::Mark { ms: 0 }).missed(missed),
    ])
}
