//! With no `description`, the struct's doc comment is the description.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::{Job, JobContext, JobError, Outcome};

/// Wastes the given number of seconds.
///
/// Reports progress as it goes.
#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "waste_time", timeout = "1d")]
pub struct WasteTime {
    /// Seconds to waste.
    pub delay: u64,
}

impl zerog::Run for WasteTime {
    async fn run(&mut self, _ctx: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

fn main() {
    assert_eq!(
        <WasteTime as Job>::SPEC.description,
        "Wastes the given number of seconds.\n\nReports progress as it goes."
    );
}
