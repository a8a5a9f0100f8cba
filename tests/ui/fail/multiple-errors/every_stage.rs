use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::Job;

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "progress", colour = "blue")]
pub struct WasteTime<T> {
    pub delay: T,
}

fn main() {}
