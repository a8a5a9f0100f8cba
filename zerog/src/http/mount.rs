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

/// A path to serve the API under, for [`Server::mount_path`](super::Server::mount_path)
/// and `ZEROG_MOUNT_PATH`: `/` followed by segments of letters, digits, `-`, `_`, `.`
/// and `~`, like `/zerog` or `/ops/jobs`. `""` and `/` are the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountPath(String);

impl MountPath {
    /// The prefix, without a trailing `/`: `""` for the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for MountPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(MountPath::default());
        }
        let plain = |segment: &str| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte))
        };
        match trimmed.strip_prefix('/') {
            Some(rest) if rest.split('/').all(plain) => Ok(MountPath(trimmed.to_owned())),
            _ => Err(format!(
                "`{text}` is not a mount path: expected `/` and segments of letters, digits, \
                 `-`, `_`, `.` and `~`, like `/zerog`"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_plain_segments_from_the_root() {
        let parse = |text: &str| text.parse::<MountPath>().map(|path| path.0);
        assert_eq!(parse(""), Ok(String::new()));
        assert_eq!(parse("/"), Ok(String::new()));
        assert_eq!(parse("/zerog"), Ok("/zerog".to_owned()));
        assert_eq!(parse("/ops/jobs/"), Ok("/ops/jobs".to_owned()));
        assert_eq!(parse("/a-b_c.d~e"), Ok("/a-b_c.d~e".to_owned()));
        for bad in [
            "zerog",
            "/a//b",
            "/a/../b",
            "/{tenant}",
            "/a b",
            "/é",
            "/a?b=1",
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
    }
}
