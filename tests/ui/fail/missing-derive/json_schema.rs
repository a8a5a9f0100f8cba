use serde::{Deserialize, Serialize};
use zerog::Job;

#[derive(Job, Serialize, Deserialize)]
#[job(type = "waste_time")]
pub struct WasteTime {
    pub delay: u64,
}

impl zerog::Run for WasteTime {
    async fn run(
        &mut self,
        _ctx: &mut zerog::JobContext,
    ) -> Result<zerog::Outcome, zerog::JobError> {
        Ok(zerog::Outcome::done(200))
    }
}

fn main() {}
