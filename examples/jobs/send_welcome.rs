//! A welcome mail for a new user, the job that the `embedded` example's signup route
//! enqueues. It pretends to send: the mail server is left to the reader.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::{Job, JobContext, JobError, Outcome};

/// Sends a welcome mail to a user who has just signed up.
#[derive(Job, Debug, Serialize, Deserialize, JsonSchema)]
#[job(type = "send_welcome", queue = "mail", max_attempts = 5)]
pub struct SendWelcome {
    /// Where the mail goes.
    #[schemars(email)]
    pub email: String,
}

/// What a sent welcome mail reports.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Sent {
    /// The address it went to.
    pub to: String,
    /// The subject line.
    pub subject: String,
}

impl zerog::Run for SendWelcome {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        ctx.log_info(format!("sending the welcome mail to {}", self.email));
        tokio::time::sleep(Duration::from_millis(100)).await;
        ctx.set_completeness(1.0);
        let sent = Sent {
            to: self.email.clone(),
            subject: "Welcome aboard".to_owned(),
        };
        Ok(Outcome::done_with(200, sent))
    }
}
