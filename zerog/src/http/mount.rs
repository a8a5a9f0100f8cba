//! Where the API is mounted: at the root of its own app ([`app`](super::app)), or under
//! a prefix of a user's app (`web::scope("/zerog").configure(configure(state))`).
//!
//! The prefix is read off each request as it enters the API's scope, so the same
//! routes serve under any prefix with nothing to configure. Whatever the API answers
//! that names one of its own paths carries the prefix: discovery's links, the
//! hierarchy's paths, `Location` headers and the OpenAPI document's `servers`. What
//! it matches against (the hierarchy, the open `/health`) is the path below it.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::{FromRequest, HttpMessage, HttpRequest};

/// The path under which the API's routes are served: empty at the root, else like
/// `/zerog`, never with a trailing `/`.
#[derive(Debug, Clone, Default)]
pub(super) struct Mount {
    prefix: Rc<str>,
}

impl Mount {
    /// Notes on `request`, which has just entered the API's scope, the prefix that
    /// the enclosing scopes matched; the path below it.
    pub(super) fn enter(request: &ServiceRequest) -> String {
        let matched = request.match_info();
        let (full, below) = (matched.as_str(), matched.unprocessed());
        let prefix = full[..full.len() - below.len()].trim_end_matches('/');
        let below = below.to_owned();
        if !prefix.is_empty() {
            let mount = Mount {
                prefix: Rc::from(prefix),
            };
            request.extensions_mut().insert(mount);
        }
        below
    }

    /// Where the API that answers `request` is mounted.
    pub(super) fn of(request: &HttpRequest) -> Mount {
        request
            .extensions()
            .get::<Mount>()
            .cloned()
            .unwrap_or_default()
    }

    /// The prefix: empty at the root.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `path`, a path of the API such as `/progress/{uuid}`, as a client reaches it.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// `path`, the whole path of a request, as a path of the API.
    pub(super) fn below<'p>(&self, path: &'p str) -> &'p str {
        path.strip_prefix(&*self.prefix)
            .filter(|below| below.is_empty() || below.starts_with('/'))
            .unwrap_or(path)
    }
}

impl FromRequest for Mount {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Mount::of(request)))
    }
}
