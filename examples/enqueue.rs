//! Run with: cargo run --example enqueue -- [DELAY]
//!
//! A plain program that enqueues a `waste_time` job of `DELAY` seconds (default 2) on
//! the store that `ZEROG_STORE` names (default: `zerog.db` in the working directory),
//! waits for it to finish, and prints the result. Something must run it: start
//! `cargo run --example waste_time` with the same `ZEROG_STORE` beside it. It gives up
//! after `DELAY` plus a minute.

#[path = "jobs/waste_time.rs"]
mod waste_time;

use std::process::ExitCode;
use std::time::Duration;

use zerog::backend::DEFAULT_STORE_URL;
use zerog::client::{Client, ClientError};

use waste_time::WasteTime;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let delay = match std::env::args().nth(1) {
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| format!("DELAY must be a whole number of seconds, not `{text}`"))?,
        None => 2,
    };
    let store = std::env::var("ZEROG_STORE").unwrap_or_else(|_| DEFAULT_STORE_URL.to_owned());
    // ZEROG_STORE, and ZEROG_QUEUE if the queue is apart, as the binary reads them.
    let client = Client::from_env().await?;

    // Validated as a POST of `{"delay": ...}` is: a delay over a day is refused here.
    let uuid = client.enqueue(WasteTime { delay }).await?;
    println!("enqueued waste_time job {uuid}; waiting for a worker to run it");

    let patience = Duration::from_secs(delay + 60);
    let record = match client.wait_for(uuid, patience).await {
        Ok(record) => record,
        Err(ClientError::Timeout { status, .. }) => {
            return Err(format!(
                "job {uuid} is still {status} after {patience:?}: is a worker running on \
                 `{store}`? Try `cargo run --example waste_time` beside this one"
            )
            .into());
        }
        Err(error) => return Err(error.into()),
    };
    println!(
        "job {uuid} is {}: result code {}, {} log lines",
        record.status,
        record.result_code,
        record.events.len()
    );
    if let Some(last) = record.events.last() {
        println!("last line: {}", last.msg);
    }
    Ok(())
}
