//! The generated code names the runtime only by absolute paths, so names the user has in
//! scope, even ones that shadow the prelude, change nothing.

#![allow(dead_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

struct Some;
struct None;
struct Duration;
struct OnceLock;
struct Value;
struct JobSpec;
struct Registration;
mod zerog_private {}
type Option = ();
type Result = ();

#[derive(zerog::Job, Serialize, Deserialize, JsonSchema)]
#[job(type = "shadowed", timeout = "5s")]
pub struct Shadowed {
    pub delay: u64,
}

impl zerog::Run for Shadowed {
    async fn run(
        &mut self,
        _ctx: &mut zerog::JobContext,
    ) -> core::result::Result<zerog::Outcome, zerog::JobError> {
        Ok(zerog::Outcome::done(200))
    }
}

fn main() {
    assert_eq!(<Shadowed as zerog::Job>::SPEC.job_type, "shadowed");
}
