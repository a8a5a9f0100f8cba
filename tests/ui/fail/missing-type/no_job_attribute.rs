use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::Job;

#[derive(Job, Serialize, Deserialize, JsonSchema)]
pub struct WasteTime {
    pub delay: u64,
}

fn main() {}
