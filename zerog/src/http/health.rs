//! `GET /health`: liveness plus a round trip to the store that writes (see
//! [`Store::ping`](crate::backend::Store::ping)), so that a store that reads but can no
//! longer keep a job (read-only, full, or an SQLite file deleted under the server)
//! counts as unavailable. It needs no token, so that load balancers and orchestrators
//! can probe it.
//!
//! 200 `{"status": "ok", "checks": {"store": {"status": "ok", "latencyMs": 0.4}}}`, or
//! 503 with `status` `unavailable`, the failing check, and the `error` and `message`
//! keys of every error body. What failed inside goes to the log, not to the client.

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::Serialize;

use super::ApiState;

/// How long the store may take to answer before the service counts as unavailable.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer of `GET /health`.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct Health {
    /// `ok`, or `unavailable` when a check failed.
    status: &'static str,
    /// `backend_unavailable` when a check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    /// What failed, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    /// Each part checked.
    checks: Checks,
}

/// The parts that `/health` checks.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct Checks {
    /// A round trip to the job store that writes.
    store: Check,
}

/// How one part did.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Check {
    /// `ok` or `failing`.
    status: &'static str,
    /// How long the round trip took, in milliseconds.
    latency_ms: f64,
    /// Why it is failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

pub(super) async fn health(state: web::Data<ApiState>) -> HttpResponse {
    let started = Instant::now();
    let ping = tokio::time::timeout(PING_TIMEOUT, state.backend.ping()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let failure = match ping {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            tracing::error!(%error, "health check: the store failed");
            Some("the store failed a write")
        }
        Err(_) => {
            tracing::error!(timeout = ?PING_TIMEOUT, "health check: the store did not answer");
            Some("the store did not answer in time")
        }
    };
    let store = Check {
        status: if failure.is_some() { "failing" } else { "ok" },
        latency_ms,
        message: failure,
    };
    let body = Health {
        status: if failure.is_some() {
            "unavailable"
        } else {
            "ok"
        },
        error: failure.map(|_| "backend_unavailable"),
        message: failure.map(|_| "the job store is unavailable; try again later"),
        checks: Checks { store },
    };
    match failure {
        None => HttpResponse::Ok().json(body),
        Some(_) => HttpResponse::ServiceUnavailable().json(body),
    }
}
