//! Every key set, spread over two `#[job]` attributes.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::{Job, JobContext, JobError, Outcome, RetryPolicy};

/// This doc comment loses to `description`.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "send_email", queue = "emails", cost = 4, max_attempts = 10, priority = 2)]
#[job(
    timeout = "90s",
    retry_backoff = "fixed",
    retry_delay = "500ms",
    description = "Sends one email.",
    name = "Send an email",
    path = "notify/mail-out",
    unique_for = "10m",
    allow_unknown_fields
)]
pub struct SendEmail {
    pub to: String,
}

impl zerog::Run for SendEmail {
    async fn run(&mut self, _ctx: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

fn main() {
    let spec = <SendEmail as Job>::SPEC;
    assert_eq!(spec.job_type, "send_email");
    assert_eq!(spec.queue, "emails");
    assert_eq!(spec.cost, 4);
    assert_eq!(spec.max_attempts, 10);
    assert_eq!(spec.priority, 2);
    assert_eq!(spec.timeout, Some(Duration::from_secs(90)));
    assert_eq!(
        spec.retry,
        RetryPolicy::Fixed {
            delay: Duration::from_millis(500)
        }
    );
    assert_eq!(spec.description, "Sends one email.");
    assert_eq!(spec.name, "Send an email");
    assert_eq!(spec.path, "notify/mail-out");
    assert!(spec.allow_unknown_fields);
    assert_eq!(spec.unique_for, Some(Duration::from_secs(600)));
}
