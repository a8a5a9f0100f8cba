//! `GET /schema/{jobType}`: a job type's parameter JSON Schema (draft 2020-12), served
//! as `application/schema+json`. It is the very schema that every POST is validated
//! against.

use actix_web::{HttpResponse, web};

use super::{ApiError, ApiState};

/// The media type of a JSON Schema document.
pub(super) const SCHEMA_MEDIA_TYPE: &str = "application/schema+json";

pub(super) async fn schema(
    job_type: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let schema = state
        .registry
        .get(&job_type)
        .ok_or_else(|| ApiError::UnknownJobType(job_type.into_inner()))?
        .schema();
    Ok(HttpResponse::Ok()
        .content_type(SCHEMA_MEDIA_TYPE)
        .body(schema.to_string()))
}
