use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::Job;

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "waste_time", allow_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct WasteTime {
    pub delay: u64,
}

fn main() {}
