//! A job with no parameters is a struct with empty braces.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::{Job, JobContext, JobError, Outcome, RetryPolicy};

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "noop", timeout = "2h", retry_delay = "1m")]
pub struct Noop {}

impl zerog::Run for Noop {
    async fn run(&mut self, _ctx: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

fn main() {
    let spec = <Noop as Job>::SPEC;
    assert_eq!(spec.job_type, "noop");
    assert_eq!(spec.name, "Noop");
    assert_eq!(spec.timeout, Some(Duration::from_secs(7200)));
    // `retry_delay` alone keeps the exponential backoff.
    assert_eq!(
        spec.retry,
        RetryPolicy::Exponential {
            delay: Duration::from_secs(60)
        }
    );
    assert!(<Noop as Job>::validator().is_valid(&serde_json::json!({})));
}
