use schemars::JsonSchema;
use serde::Serialize;
use zerog::Job;

#[derive(Job, Serialize, JsonSchema)]
#[job(type = "waste_time")]
pub struct WasteTime<'a> {
    pub label: &'a str,
}

fn main() {}
