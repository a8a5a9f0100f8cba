//! The HTTP API, from the routes' errors and the parameters' validation to discovery,
//! the OpenAPI document, listing, events, operations, delayed and batch submits and
//! retries, and the transport under the app:
//! one test binary, a module per area, so that zerog is linked once for all of them.

#[path = "../../examples/jobs/prime_sieve.rs"]
mod prime_sieve;
#[path = "../../examples/jobs/waste_time.rs"]
mod waste_time;

mod browsers;
mod dashboard;
mod discovery;
mod events;
mod head;
mod http_errors;
mod listing;
mod mount;
mod openapi;
mod operations;
mod queues;
mod schedules;
mod scheduling;
mod schema_acceptance;
mod text;
mod transport;
mod unique;
mod validation;
