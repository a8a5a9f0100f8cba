//! The seed's `WasteTimeJob`: wastes time, logging about ten lines on the way.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::{Job, JobContext, JobError, Outcome};

fn default_delay() -> u64 {
    30
}

/// Wastes the given number of seconds, reporting progress as it goes.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "waste_time", path = "examples")]
pub struct WasteTime {
    /// Seconds to waste.
    #[serde(default = "default_delay")]
    #[schemars(range(min = 0, max = 86400))]
    pub delay: u64,
}

impl zerog::Run for WasteTime {
    async fn run(&mut self, ctx: &mut JobContext) -> Result<Outcome, JobError> {
        let total = Duration::from_secs(self.delay);
        let start = tokio::time::Instant::now();
        let log_interval = total / 10;
        while start.elapsed() < total {
            let remaining = total - start.elapsed();
            // Like the seed: sleep 0.5 to 1.5 log intervals, but never past the end.
            let nap = log_interval.mul_f64(fastrand::f64() + 0.5).min(remaining);
            tokio::time::sleep(nap).await;
            ctx.add_to_completeness(nap.as_secs_f64() / total.as_secs_f64());
            let left = total.saturating_sub(start.elapsed());
            ctx.log_info(format!("{:.2} seconds remaining", left.as_secs_f64()));
        }
        Ok(Outcome::done(200))
    }
}
