use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::Job;

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "send_report", priority = -1)]
pub struct SendReport {
    pub day: u32,
}

fn main() {}
