//! `GET /`: what the service offers, as the seed's Spacewalk add-on published it: the
//! service's name and version, every job type with where to post it, what it does and
//! an example body, and links to the monitoring endpoints (those that the route table
//! names, and the hierarchy's root).

use std::borrow::Cow;

use actix_web::{HttpResponse, web};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::{ApiState, routes};
use crate::registry::JobType;
use crate::validate::example_params;

/// The answer of `GET /`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Discovery {
    /// The service.
    service: Service,
    /// Every job type it accepts, sorted by job type.
    job_types: Vec<JobTypeEntry>,
    /// Where to watch jobs and the service; `{uuid}` stands for a job's uuid.
    links: Links,
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

/// Links to the monitoring endpoints: one per linked entry of the route table, and the
/// hierarchy's root.
#[derive(Debug)]
pub(super) struct Links;

impl Serialize for Links {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(routes::links().map(|(link, path)| (link.key, path)))
    }
}

impl JsonSchema for Links {
    fn schema_name() -> Cow<'static, str> {
        "Links".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for (link, _) in routes::links() {
            properties.insert(
                link.key.to_owned(),
                json!({ "type": "string", "description": link.about }),
            );
            required.push(link.key);
        }
        json_schema!({
            "description": "Links to the monitoring endpoints.",
            "type": "object",
            "properties": properties,
            "required": required,
        })
    }
}

fn entry(job_type: &JobType) -> JobTypeEntry {
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
        post: format!("/job/{}", spec.job_type),
        hierarchy_post: format!("/{leaf}/job"),
        schema: format!("/schema/{}", spec.job_type),
        example: example_params(job_type.schema()),
    }
}

pub(super) async fn discovery(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(Discovery {
        service: Service {
            name: state.service_name.to_string(),
            version: state.service_version.to_string(),
        },
        job_types: state.registry.iter().map(entry).collect(),
        links: Links,
    })
}
