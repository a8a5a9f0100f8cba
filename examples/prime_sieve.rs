//! Run with: cargo run --example prime_sieve
//!
//! Serves the HTTP API and runs a worker in one process, on SQLite (`zerog.db` in the
//! working directory, or `ZEROG_STORE`). The sieve works in segments, requeueing after
//! each, and `/data/{uuid}` shows its result:
//!
//! ```text
//! curl -s -X POST http://127.0.0.1:8888/job/prime_sieve \
//!      -H 'Content-Type: application/json' -d '{"limit": 10000000}'
//! ```

#[path = "jobs/prime_sieve.rs"]
mod prime_sieve;

fn main() -> std::process::ExitCode {
    zerog::main()
}
