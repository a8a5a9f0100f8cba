use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::Job;

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "waste_time")]
pub struct WasteTime {
    #[job(cost = 2)]
    pub delay: u64,
}

fn main() {}
