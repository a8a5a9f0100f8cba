//! `allow_unknown_fields` lets parameters the struct does not name through validation;
//! without it they are rejected.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zerog::{Job, JobContext, JobError, Outcome};

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "lenient", allow_unknown_fields)]
pub struct Lenient {
    pub delay: u64,
}

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "strict")]
pub struct Strict {
    pub delay: u64,
}

impl zerog::Run for Lenient {
    async fn run(&mut self, _ctx: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

impl zerog::Run for Strict {
    async fn run(&mut self, _ctx: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

fn main() {
    assert!(<Lenient as Job>::SPEC.allow_unknown_fields);
    assert!(!<Strict as Job>::SPEC.allow_unknown_fields);
    let params = json!({ "delay": 1, "extra": true });
    assert!(<Lenient as Job>::validator().is_valid(&params));
    assert!(!<Strict as Job>::validator().is_valid(&params));
}
