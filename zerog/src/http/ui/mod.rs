//! The dashboard (SPEC §9): `GET /ui`, `/ui/jobs`, `/ui/jobs/{uuid}`,
//! `/ui/submit/{jobType}`, `/ui/workers`, `/ui/schedules` and `/ui/queues`.
//!
//! Every path answers the same page, so that each view can be bookmarked: the page
//! reads its own location, draws the view it names, and reads everything it shows
//! from the JSON API beside it. The stylesheet and the scripts are embedded in the
//! binary (`include_str!`) and inlined into the page, so the dashboard fetches nothing
//! from anywhere else and needs no build step.
//!
//! Every URL the page asks for is computed from its own location: the part of the path
//! before `/ui` is the API's base, so the dashboard works wherever the API is mounted.
//!
//! The pages themselves are open when a bearer token is set (as `/health` is): they hold
//! no data, and the page asks for the token, keeps it in the browser's
//! `sessionStorage`, and sends it as `Authorization: Bearer` on every request,
//! including the event streams, which it reads with `fetch` so that the token never
//! goes into a URL. Every route of the API stays guarded.
//!
//! With [`ApiState::ui_read_only`](super::ApiState::ui_read_only) (`ZEROG_UI=readonly`
//! in the binary), the page shows no action, and the API refuses every request that
//! would change state with 403 `read_only`.

use std::sync::OnceLock;

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::ApiState;
use super::openapi::Components;

/// The page, before the service's settings are put in.
const PAGE: &str = include_str!("page.html");
/// The stylesheet.
const STYLE: &str = include_str!("style.css");
/// The scripts, in the order the page runs them: the API client first, the views last.
const SCRIPTS: [&str; 5] = [
    include_str!("api.js"),
    include_str!("widgets.js"),
    include_str!("form.js"),
    include_str!("jobs.js"),
    include_str!("views.js"),
];

/// Whether `path` is one of the dashboard's views (a template such as
/// `/ui/jobs/{uuid}` matches too): those answer without a token.
pub(super) fn is_page(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/ui") else {
        return false;
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return false;
    }
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    match segments.as_slice() {
        [] => true,
        ["jobs" | "workers" | "schedules" | "queues"] => true,
        ["jobs" | "submit", name] => !name.is_empty(),
        _ => false,
    }
}

/// The page with the stylesheet and scripts inlined, built once.
fn assembled() -> &'static str {
    static ASSEMBLED: OnceLock<String> = OnceLock::new();
    ASSEMBLED.get_or_init(|| {
        PAGE.replace("/*{style}*/", STYLE)
            .replace("/*{script}*/", &SCRIPTS.join("\n"))
    })
}

/// Any view of the dashboard. The path's parameters are read by the page, not here.
pub(super) async fn page(state: web::Data<ApiState>) -> HttpResponse {
    let settings = format!(
        r#"data-token="{}" data-read-only="{}""#,
        if state.token.is_some() {
            "required"
        } else {
            "none"
        },
        state.read_only,
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; form-action 'none'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(assembled().replacen("data-settings", &settings, 1))
}

/// The OpenAPI operation of one view.
pub(super) fn page_operation(path: &'static str) -> Value {
    let (id, summary) = match path {
        "/ui" => ("dashboard", "The dashboard's overview"),
        "/ui/jobs" => ("dashboardJobs", "The dashboard's job list"),
        "/ui/jobs/{uuid}" => ("dashboardJob", "The dashboard's page of one job"),
        "/ui/submit/{jobType}" => ("dashboardSubmit", "The dashboard's form for a job type"),
        "/ui/workers" => ("dashboardWorkers", "The dashboard's workers"),
        "/ui/schedules" => ("dashboardSchedules", "The dashboard's schedules"),
        _ => ("dashboardQueues", "The dashboard's queues"),
    };
    let mut parameters = Vec::new();
    if path.contains("{uuid}") {
        parameters.push(json!({
            "name": "uuid", "in": "path", "required": true,
            "description": "The job's uuid; the page says so if there is no such job.",
            "schema": { "type": "string" },
        }));
    }
    if path.contains("{jobType}") {
        parameters.push(json!({
            "name": "jobType", "in": "path", "required": true,
            "description": "The job type; the page says so if there is no such type.",
            "schema": { "type": "string" },
        }));
    }
    json!({
        "operationId": id,
        "tags": ["dashboard"],
        "summary": summary,
        "description": "The dashboard's page, the same for every view: it reads the view from its location and the data from this API.",
        "parameters": parameters,
        // Open whatever the token: the page asks for it, and sends it to the API.
        "security": [],
        "responses": {
            "200": {
                "description": "The page",
                "content": { "text/html": { "schema": { "type": "string" } } },
            },
        },
    })
}

/// One `fn` per view, as the route table's operations are.
macro_rules! page_operations {
    ($($name:ident => $path:literal),* $(,)?) => {
        $(
            pub(super) fn $name(_: &mut Components, _: &ApiState) -> Value {
                page_operation($path)
            }
        )*
    };
}

page_operations! {
    overview_operation => "/ui",
    jobs_operation => "/ui/jobs",
    job_operation => "/ui/jobs/{uuid}",
    submit_operation => "/ui/submit/{jobType}",
    workers_operation => "/ui/workers",
    schedules_operation => "/ui/schedules",
    queues_operation => "/ui/queues",
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paths of the dashboard's views, as templates.
    const PAGES: [&str; 7] = [
        "/ui",
        "/ui/jobs",
        "/ui/jobs/{uuid}",
        "/ui/submit/{jobType}",
        "/ui/workers",
        "/ui/schedules",
        "/ui/queues",
    ];

    #[test]
    fn only_the_views_are_pages() {
        for path in PAGES {
            assert!(is_page(path), "{path}");
        }
        for path in ["/ui/jobs/2f1c", "/ui/submit/waste_time", "/ui/queues"] {
            assert!(is_page(path), "{path}");
        }
        for path in [
            "/",
            "/uix",
            "/ui/",
            "/ui/jobs/",
            "/ui/jobs/a/b",
            "/ui/submit",
            "/ui/other",
            "/jobs",
            "/health",
            "/x/ui",
            "/uix",
            "/uix/jobs",
        ] {
            assert!(!is_page(path), "{path}");
        }
    }

    #[test]
    fn the_page_inlines_every_asset() {
        let page = assembled();
        assert!(!page.contains("/*{style}*/") && !page.contains("/*{script}*/"));
        assert!(page.contains(STYLE) && SCRIPTS.iter().all(|script| page.contains(script)));
        // Nothing is fetched from elsewhere: no absolute URL in a src or href.
        for attribute in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "url(http",
        ] {
            assert!(!page.contains(attribute), "{attribute}");
        }
        assert!(page.contains("data-settings"));
    }
}
