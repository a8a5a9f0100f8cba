//! zerog's examples. Each is a binary: `cargo run --example waste_time`,
//! `cargo run --example prime_sieve`, `cargo run --example embedded` (zerog inside an
//! actix-web app of its own) and `cargo run --example enqueue` (a plain program that
//! enqueues a job and waits for it).
//!
//! The job types live in `examples/jobs/`, one file each, and each example binary
//! includes its own. A job type registers itself with `#[derive(Job)]`, so a binary
//! serves exactly the job types compiled into it; the integration tests include the
//! same files.
