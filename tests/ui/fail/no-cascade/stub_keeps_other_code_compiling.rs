//! A bad attribute is the only error: the stub impl emitted with it keeps the code that
//! uses the type as a job compiling.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::Job;

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "waste_time", cost = "two")]
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

fn main() {
    let registry = zerog::Registry::new().register::<WasteTime>();
    println!("{}", <WasteTime as Job>::SPEC.queue);
    drop(registry);
}
