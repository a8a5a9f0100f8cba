//! `GET /`: what the service offers, as the seed's Spacewalk add-on published it: the
//! service's name and version, every job type with where to post it, what it does and
//! an example body, and links to the monitoring endpoints (those that the route table
//! names, and the hierarchy's root).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{ApiState, Mount};
use crate::registry::JobType;
use crate::validate::example_params;

/// The answer of `GET /`, with the links `L` that the route table gives.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Discovery")]
pub(super) struct Discovery<L> {
    /// The service.
    service: Service,
    /// Every job type it accepts, sorted by job type.
    job_types: Vec<JobTypeEntry>,
    /// Where to watch jobs and the service; `{uuid}` stands for a job's uuid.
    links: L,
}

/// The service's name and version.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct Service {
    /// Its name.
    name: String,
    /// Its version.
    version: String,
}

/// One job type, as discovery lists it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct JobTypeEntry {
    /// The job type.
    job_type: String,
    /// A human title.
    name: String,
    /// What the job does.
    description: String,
    /// The queue its jobs go to.
    queue: String,
    /// Capacity units one job takes on a worker.
    cost: u32,
    /// Its branch in the endpoint hierarchy; empty for the root.
    path: String,
    /// Where to POST its parameters: `/job/{jobType}`.
    post: String,
    /// The same, in the endpoint hierarchy: `/{path}/{jobType}/job`.
    hierarchy_post: String,
    /// Its parameter JSON Schema: `/schema/{jobType}`.
    schema: String,
    /// A body that the job type accepts.
    example: Value,
}

fn entry(job_type: &JobType, mount: &Mount) -> JobTypeEntry {
    let spec = job_type.spec();
    let leaf = if spec.path.is_empty() {
        spec.job_type.to_owned()
    } else {
        format!("{}/{}", spec.path, spec.job_type)
    };
    JobTypeEntry {
        job_type: spec.job_type.to_owned(),
        name: spec.name.to_owned(),
        description: spec.description.to_owned(),
        queue: spec.queue.to_owned(),
        cost: spec.cost,
        path: spec.path.to_owned(),
        post: mount.url(&format!("/job/{}", spec.job_type)),
        hierarchy_post: mount.url(&format!("/{leaf}/job")),
        schema: mount.url(&format!("/schema/{}", spec.job_type)),
        example: example_params(job_type.schema()),
    }
}

/// What `GET /` answers for `state` mounted at `mount`, with `links`.
pub(super) fn discovery<L>(state: &ApiState, mount: &Mount, links: L) -> Discovery<L> {
    Discovery {
        service: Service {
            name: state.service_name.to_string(),
            version: state.service_version.to_string(),
        },
        job_types: state
            .registry
            .iter()
            .map(|job_type| entry(job_type, mount))
            .collect(),
        links,
    }
}
