//! Run with: cargo run --example waste_time
//!
//! Serves the HTTP API and runs a worker in one process, on SQLite (`zerog.db` in the
//! working directory, or `ZEROG_STORE`). Then:
//!
//! ```text
//! curl -s -X POST http://127.0.0.1:8888/job/waste_time \
//!      -H 'Content-Type: application/json' -d '{"delay": 5}'
//! ```

#[path = "jobs/waste_time.rs"]
mod waste_time;

fn main() -> std::process::ExitCode {
    zerog::main()
}
