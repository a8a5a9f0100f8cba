//! Only `type`: every other setting takes its default, and the type is registered.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zerog::{Job, JobContext, JobError, Outcome, RetryPolicy};

#[derive(Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "waste_time")]
pub struct WasteTime {
    pub delay: u64,
}

impl zerog::Run for WasteTime {
    async fn run(&mut self, _ctx: &mut JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::done(200))
    }
}

fn main() {
    let spec = <WasteTime as Job>::SPEC;
    assert_eq!(spec.job_type, "waste_time");
    assert!(
        spec.rust_type.ends_with("::WasteTime"),
        "{}",
        spec.rust_type
    );
    assert_eq!(spec.queue, "waste_time");
    assert_eq!(spec.cost, 1);
    assert_eq!(spec.max_attempts, 3);
    assert_eq!(spec.timeout, None);
    assert_eq!(spec.retry, RetryPolicy::DEFAULT);
    assert_eq!(spec.description, "");
    assert_eq!(spec.name, "Waste time");
    assert_eq!(spec.path, "");
    assert!(!spec.allow_unknown_fields);

    let registry = zerog::Registry::from_inventory();
    let registered = registry
        .get("waste_time")
        .expect("registered through inventory");
    assert_eq!(registered.spec(), &spec);
}
