//! The worker, in this process and in child processes: jobs followed to the end, their
//! outcomes and limits, control (cancel, kill, drain), crashes and the processes of the
//! CLI. One test binary, a module per area, so that zerog is linked once for all of
//! them.
//!
//! `durability` is a binary of its own: it runs `waste_time` jobs through a worker,
//! and `end_to_end` counts the `waste_time` runs in the process-wide run-duration
//! histogram.

#[path = "../bin/jobs.rs"]
mod jobs;
#[path = "../../examples/jobs/prime_sieve.rs"]
mod prime_sieve;
#[path = "../../examples/jobs/waste_time.rs"]
mod waste_time;

mod ahead;
mod cli;
mod completion;
mod control;
mod crash_recovery;
mod end_to_end;
mod limits;
mod outcomes;
mod processes;
mod schedules;
