use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::Job;

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "waste_time", retry_delay = "0ms")]
pub struct WasteTime {
    pub delay: u64,
}

fn main() {}
