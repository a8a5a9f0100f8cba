//! The table of flat routes, written once: each entry is a path, a method, the handler
//! that answers it, its OpenAPI operation and its link in discovery, if it has one.
//!
//! Everything that lists the routes reads [`ROUTES`]:
//!
//! - [`register`] gives each path one actix resource with a route per method (and a
//!   `HEAD` beside each `GET`, the handler being the same), and answers any other
//!   method 405 with the `Allow` of the methods it registered on that path, so the
//!   header cannot drift from what is served;
//! - `GET /openapi.json` documents each entry with its operation builder;
//! - `GET /` lists each entry's link, then the hierarchy's root ([`links`]);
//! - [`route_words`] gives the first segments of every route, which `#[derive(Job)]`
//!   must refuse as job types and branch segments (a test holds its list to them).
//!
//! Adding an endpoint is one entry:
//!
//! ```ignore
//! Route::new(Method::GET, "/queues", || web::route().to(queues::list))
//!     .documented(Operation::Single(openapi::queues_operation))
//!     .linked("queues", "Each queue's counts and limit."),
//! ```
//!
//! The endpoint hierarchy's paths are dynamic and stay out of the table: the app
//! resolves them only when no entry matched, so a flat route always wins.

use std::borrow::Cow;
use std::collections::BTreeSet;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::openapi::{self, Components, Operation};
use super::{
    ApiError, ApiState, Mount, control, discovery, events, head, health, hierarchy, listing,
    metrics, monitor, queues, schedules, schema, stats, submit, ui,
};

/// One method on one flat path.
pub(super) struct Route {
    /// The path, in the template syntax that actix-web and OpenAPI share:
    /// `/progress/{uuid}`.
    pub(super) path: &'static str,
    /// The method it answers.
    pub(super) method: Method,
    /// Builds the actix route that answers it; [`register`] adds the method guard.
    handler: fn() -> actix_web::Route,
    /// How `/openapi.json` documents it.
    pub(super) operation: Operation,
    /// Its entry in discovery's `links`, if it has one.
    link: Option<Link>,
}

/// An entry of discovery's `links`.
pub(super) struct Link {
    /// Its key in `links`.
    pub(super) key: &'static str,
    /// What it leads to, as the documented schema of `links` describes it.
    pub(super) about: &'static str,
}

impl Route {
    const fn new(
        method: Method,
        path: &'static str,
        handler: fn() -> actix_web::Route,
        operation: Operation,
    ) -> Self {
        Route {
            path,
            method,
            handler,
            operation,
            link: None,
        }
    }

    const fn linked(mut self, key: &'static str, about: &'static str) -> Self {
        self.link = Some(Link { key, about });
        self
    }
}

/// Every flat route. Discovery lists their links in this order, the hierarchy's after
/// them.
pub(super) static ROUTES: [Route; 36] = [
    Route::new(
        Method::GET,
        "/",
        || web::route().to(discover),
        Operation::Single(discovery_operation),
    ),
    Route::new(
        Method::GET,
        "/openapi.json",
        || web::route().to(openapi),
        Operation::Single(openapi::openapi_operation),
    )
    .linked("openapi", "This API as OpenAPI 3.1."),
    Route::new(
        Method::GET,
        "/schema/{jobType}",
        || web::route().to(schema::schema),
        Operation::Single(openapi::schema_operation),
    ),
    Route::new(
        Method::POST,
        "/job/{jobType}",
        || web::route().to(submit::submit),
        Operation::PerJobType(openapi::submit_flat_operation),
    ),
    Route::new(
        Method::POST,
        "/job/{jobType}/batch",
        || web::route().to(submit::submit_batch),
        Operation::PerJobType(openapi::batch_operation),
    ),
    Route::new(
        Method::GET,
        "/jobs",
        || web::route().to(listing::list),
        Operation::Single(openapi::list_operation),
    )
    .linked("jobs", "Jobs, newest first."),
    Route::new(
        Method::GET,
        "/jobs/stats",
        || web::route().to(stats::stats),
        Operation::Single(stats::stats_operation),
    )
    .linked(
        "stats",
        "Jobs by status, throughput and failures over the last hour, and the oldest due job's wait.",
    ),
    Route::new(
        Method::DELETE,
        "/jobs",
        || web::route().to(listing::delete),
        Operation::Single(openapi::delete_operation),
    ),
    Route::new(
        Method::DELETE,
        "/jobs/{uuid}",
        || web::route().to(listing::delete_one),
        Operation::Single(listing::delete_one_operation),
    ),
    Route::new(
        Method::GET,
        "/progress/{uuid}",
        || web::route().to(monitor::progress),
        Operation::Single(openapi::progress_operation),
    )
    .linked("progress", "A job's status and completeness."),
    Route::new(
        Method::GET,
        "/info/{uuid}",
        || web::route().to(monitor::info),
        Operation::Single(openapi::info_operation),
    )
    .linked("info", "A job's log and timestamps."),
    Route::new(
        Method::GET,
        "/data/{uuid}",
        || web::route().to(monitor::data),
        Operation::Single(openapi::data_operation),
    )
    .linked("data", "A finished job's output."),
    Route::new(
        Method::GET,
        "/events/{uuid}",
        || web::route().to(events::events),
        Operation::Single(openapi::events_operation),
    )
    .linked("events", "A job's progress as Server-Sent Events."),
    Route::new(
        Method::POST,
        "/cancel/{uuid}",
        || web::route().to(control::cancel),
        Operation::Single(openapi::cancel_operation),
    )
    .linked("cancel", "Cancel a job."),
    Route::new(
        Method::POST,
        "/retry/{uuid}",
        || web::route().to(control::retry),
        Operation::Single(openapi::retry_operation),
    )
    .linked("retry", "Send a failed or cancelled job back to the queue."),
    Route::new(
        Method::GET,
        "/workers",
        || web::route().to(control::workers),
        Operation::Single(openapi::workers_operation),
    )
    .linked("workers", "Live workers."),
    Route::new(
        Method::POST,
        "/workers/{id}/drain",
        || web::route().to(control::drain),
        Operation::Single(openapi::drain_operation),
    ),
    Route::new(
        Method::GET,
        "/queues",
        || web::route().to(queues::list),
        Operation::Single(queues::list_operation),
    )
    .linked(
        "queues",
        "Each queue's backlog and cap, and whether it is paused.",
    ),
    Route::new(
        Method::POST,
        "/queues/{name}/pause",
        || web::route().to(queues::pause),
        Operation::Single(queues::pause_operation),
    ),
    Route::new(
        Method::POST,
        "/queues/{name}/resume",
        || web::route().to(queues::resume),
        Operation::Single(queues::resume_operation),
    ),
    Route::new(
        Method::GET,
        "/schedules",
        || web::route().to(schedules::list),
        Operation::Single(openapi::schedules::list_operation),
    )
    .linked("schedules", "Recurring jobs."),
    Route::new(
        Method::POST,
        "/schedules",
        || web::route().to(schedules::create),
        Operation::Single(openapi::schedules::create_operation),
    ),
    Route::new(
        Method::GET,
        "/schedules/{name}",
        || web::route().to(schedules::get),
        Operation::Single(openapi::schedules::get_operation),
    ),
    Route::new(
        Method::PUT,
        "/schedules/{name}",
        || web::route().to(schedules::replace),
        Operation::Single(openapi::schedules::replace_operation),
    ),
    Route::new(
        Method::DELETE,
        "/schedules/{name}",
        || web::route().to(schedules::delete),
        Operation::Single(openapi::schedules::delete_operation),
    ),
    Route::new(
        Method::POST,
        "/schedules/{name}/pause",
        || web::route().to(schedules::pause),
        Operation::Single(openapi::schedules::pause_operation),
    ),
    Route::new(
        Method::POST,
        "/schedules/{name}/resume",
        || web::route().to(schedules::resume),
        Operation::Single(openapi::schedules::resume_operation),
    ),
    Route::new(
        Method::GET,
        "/ui",
        || web::route().to(ui::page),
        Operation::Single(ui::overview_operation),
    )
    .linked("ui", "The dashboard."),
    Route::new(
        Method::GET,
        "/ui/jobs",
        || web::route().to(ui::page),
        Operation::Single(ui::jobs_operation),
    ),
    Route::new(
        Method::GET,
        "/ui/jobs/{uuid}",
        || web::route().to(ui::page),
        Operation::Single(ui::job_operation),
    ),
    Route::new(
        Method::GET,
        "/ui/submit/{jobType}",
        || web::route().to(ui::page),
        Operation::Single(ui::submit_operation),
    ),
    Route::new(
        Method::GET,
        "/ui/workers",
        || web::route().to(ui::page),
        Operation::Single(ui::workers_operation),
    ),
    Route::new(
        Method::GET,
        "/ui/schedules",
        || web::route().to(ui::page),
        Operation::Single(ui::schedules_operation),
    ),
    Route::new(
        Method::GET,
        "/ui/queues",
        || web::route().to(ui::page),
        Operation::Single(ui::queues_operation),
    ),
    Route::new(
        Method::GET,
        "/health",
        || web::route().to(health::health),
        Operation::Single(openapi::health_operation),
    )
    .linked("health", "Liveness and a store round trip that writes."),
    Route::new(
        Method::GET,
        "/metrics",
        || web::route().to(metrics::metrics),
        Operation::Single(openapi::metrics_operation),
    )
    .linked("metrics", "Prometheus metrics."),
];

/// Discovery's links into the endpoint hierarchy's root, which is not a flat route:
/// each key is also the path's only segment.
static HIERARCHY_LINKS: [Link; 2] = [
    Link {
        key: hierarchy::BRANCHES,
        about: "The endpoint hierarchy's top branches.",
    },
    Link {
        key: hierarchy::LEAVES,
        about: "The job types at the hierarchy's root.",
    },
];

/// Registers every path of the table as one resource, with a route per method.
pub(super) fn register(config: &mut web::ServiceConfig) {
    for path in paths() {
        let mut resource = web::resource(path);
        for route in ROUTES.iter().filter(|route| route.path == path) {
            for method in head::methods_serving(&route.method) {
                resource = resource.route((route.handler)().method(method));
            }
        }
        config.service(
            resource.default_service(web::to(move |request: HttpRequest| {
                method_not_allowed(request, path)
            })),
        );
    }
}

/// The table's paths, each once, in table order.
fn paths() -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = Vec::new();
    for route in &ROUTES {
        if !paths.contains(&route.path) {
            paths.push(route.path);
        }
    }
    paths
}

/// The answer to a method that the table does not register on `path`.
async fn method_not_allowed(
    request: HttpRequest,
    path: &'static str,
) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        allow: allow(path),
    })
}

/// The `Allow` header of `path`: the methods that [`register`] serves on it, which are
/// the table's and a `HEAD` beside each `GET`.
fn allow(path: &str) -> String {
    ROUTES
        .iter()
        .filter(|route| route.path == path)
        .flat_map(|route| head::methods_serving(&route.method))
        .map(|method| method.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Discovery's links: each linked route's key and path, then the hierarchy's root.
pub(super) fn links() -> impl Iterator<Item = (&'static Link, String)> {
    let flat = ROUTES
        .iter()
        .filter_map(|route| Some((route.link.as_ref()?, route.path.to_owned())));
    let hierarchy = HIERARCHY_LINKS
        .iter()
        .map(|link| (link, format!("/{}", link.key)));
    flat.chain(hierarchy)
}

/// Links to the monitoring endpoints: one per linked entry of the route table, and the
/// hierarchy's root.
#[derive(Debug)]
pub(super) struct Links(Mount);

impl Serialize for Links {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(links().map(|(link, path)| (link.key, self.0.url(&path))))
    }
}

impl JsonSchema for Links {
    fn schema_name() -> Cow<'static, str> {
        "Links".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for (link, _) in links() {
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

/// `GET /`: the service, its job types, and the table's links.
async fn discover(state: web::Data<ApiState>, mount: Mount) -> HttpResponse {
    HttpResponse::Ok().json(discovery::discovery(&state, &mount, Links(mount.clone())))
}

fn discovery_operation(components: &mut Components, _: &ApiState) -> Value {
    let schema = components.of::<discovery::Discovery<Links>>();
    json!({
        "operationId": "discover",
        "tags": ["discovery"],
        "summary": "The service, its job types and links to the monitoring endpoints",
        "responses": { "200": openapi::answer("The service's description", schema) },
    })
}

/// `GET /openapi.json`. Mounted under a prefix, the document's `servers` names it:
/// its paths are those below the prefix.
async fn openapi(state: web::Data<ApiState>, mount: Mount) -> HttpResponse {
    let mut document = openapi_document(&state);
    if !mount.prefix().is_empty() {
        document["servers"] = json!([{ "url": mount.prefix() }]);
    }
    HttpResponse::Ok().json(document)
}

/// The OpenAPI 3.1 document of the API that `state` serves, as `GET /openapi.json`
/// answers it: every route of the table documented by its operation, and the
/// hierarchy's paths.
pub fn openapi_document(state: &ApiState) -> Value {
    openapi::document(state, |components, paths| {
        for route in &ROUTES {
            let documented: Vec<(String, Value)> = match route.operation {
                Operation::Single(build) => {
                    vec![(route.path.to_owned(), build(components, state))]
                }
                Operation::PerJobType(build) => state
                    .registry
                    .iter()
                    .map(|job_type| {
                        let path = route.path.replace("{jobType}", job_type.spec().job_type);
                        (path, build(components, job_type, state))
                    })
                    .collect(),
            };
            let method = route.method.as_str().to_ascii_lowercase();
            for (path, operation) in documented {
                paths.entry(path).or_insert_with(|| json!({}))[method.as_str()] = operation;
            }
        }
    })
}

/// The first segment of every route, flat or of the hierarchy's root, each once.
pub(super) fn route_words() -> Vec<&'static str> {
    let flat = ROUTES
        .iter()
        .filter_map(|route| route.path.split('/').nth(1))
        .filter(|word| !word.is_empty());
    let hierarchy = [hierarchy::BRANCHES, hierarchy::LEAVES];
    let words: BTreeSet<&'static str> = flat.chain(hierarchy).collect();
    words.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_every_method_of_a_path() {
        assert_eq!(allow("/jobs"), "GET, HEAD, DELETE");
        assert_eq!(allow("/health"), "GET, HEAD");
        assert_eq!(allow("/cancel/{uuid}"), "POST");
        assert_eq!(allow("/job/{jobType}/batch"), "POST");
    }

    #[test]
    fn each_path_and_method_is_in_the_table_once() {
        let mut seen = BTreeSet::new();
        for route in &ROUTES {
            assert!(
                seen.insert((route.path, route.method.as_str())),
                "{} {} is in the table twice",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn link_keys_are_unique() {
        let mut keys = BTreeSet::new();
        for (link, _) in links() {
            assert!(keys.insert(link.key), "link `{}` is listed twice", link.key);
        }
    }

    #[test]
    fn route_words_are_first_segments() {
        let words = route_words();
        for word in [
            "job",
            "jobs",
            "progress",
            "openapi.json",
            "retry",
            "branches",
            "leaves",
        ] {
            assert!(words.contains(&word), "{word}");
        }
        assert!(!words.contains(&""));
    }
}
