//! zerog's examples. Each is a binary: `cargo run --example waste_time`,
//! `cargo run --example prime_sieve`.
//!
//! The job types live in `examples/jobs/`, one file each, and each example binary
//! includes its own. A job type registers itself with `#[derive(Job)]`, so a binary
//! serves exactly the job types compiled into it; the integration tests include the
//! same files.
