//! Read-only service: with [`ApiState::ui_read_only`](super::ApiState::ui_read_only)
//! (`ZEROG_UI=readonly` in the binary), every request that could change state (any
//! method but `GET`, `HEAD` and `OPTIONS`) is refused with 403 `read_only`, whoever
//! sends it, so that a dashboard shown to people who may only look cannot be used to
//! act through the API it reads. Workers and schedulers reach the store directly, and
//! go on as before.

use actix_web::dev::ServiceRequest;
use actix_web::http::Method;

use super::ApiError;

/// Why `request` may not pass a read-only service, or `None` if it may.
pub(super) fn refuse(read_only: bool, request: &ServiceRequest) -> Option<ApiError> {
    let reads = [Method::GET, Method::HEAD, Method::OPTIONS];
    (read_only && !reads.contains(request.method()))
        .then(|| ApiError::ReadOnly(format!("{} {}", request.method(), request.path())))
}
