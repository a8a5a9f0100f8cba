//! What every request must be before a route sees it, beside the bearer token
//! (`auth`): text the stores can keep, and, for browsers, a request the API's own
//! origin made.
//!
//! - **No NUL in the path or the query.** PostgreSQL refuses `\0` in text, SQLite and
//!   Redis keep it; refusing `%00` here answers the same 400 `nul_character` on every
//!   backend. (Job parameters are checked by `validate`, with the path of the string.)
//! - **No cross-origin writes.** A state-changing request (any method but GET, HEAD and
//!   OPTIONS) whose `Origin` is not the API's own is refused with 403 `cross_origin`,
//!   and one whose `Content-Type` is not JSON is refused with 415: the three types a
//!   plain HTML form can send cross-site (`application/x-www-form-urlencoded`,
//!   `multipart/form-data`, `text/plain`) never reach a handler, so a page elsewhere
//!   cannot cancel a job or drain a worker, whether or not it carries the token.
//! - **The `Host` the server answers to.** With [`AllowedHosts`] set (the binary sets
//!   it from the bound address when no token is required), a request whose `Host` is
//!   not the bound address is refused with 403 `host_not_allowed`, so a DNS-rebinding
//!   page cannot read an open API under a name of its own. `/health` is exempt, as it
//!   is from the token, so that probes need no configuration.

use std::net::{IpAddr, SocketAddr};

use actix_web::dev::ServiceRequest;
use actix_web::http::{Method, header};

use super::ApiError;

/// The path every probe may reach: exempt from the `Host` check.
const OPEN_PATH: &str = "/health";

/// The `Host` values a server answers to: its bound address (every IP address on its
/// port, when bound to `0.0.0.0` or `::`; `localhost` too, when bound to loopback),
/// and any names given (`ZEROG_ALLOWED_HOSTS`), each either a host, meaning any port,
/// or `host:port`.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    bound: SocketAddr,
    names: Vec<String>,
}

impl AllowedHosts {
    /// The hosts of a server bound to `bound`, and the `names` it is also reached by.
    pub fn new(bound: SocketAddr, names: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let names = names
            .into_iter()
            .map(|name| name.as_ref().trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        AllowedHosts { bound, names }
    }

    /// Whether `host`, a `Host` header's value, names this server.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let Some((name, port)) = split_host(&host) else {
            return false;
        };
        let port = port.unwrap_or(80);
        if self
            .names
            .iter()
            .any(|allowed| *allowed == host || *allowed == name)
        {
            return true;
        }
        if port != self.bound.port() {
            return false;
        }
        let bound = self.bound.ip();
        match name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => bound.is_unspecified() || ip == bound,
            Err(_) => name == "localhost" && (bound.is_loopback() || bound.is_unspecified()),
        }
    }
}

/// Splits `host[:port]` (or `[v6]:port`); `None` if the port is not a number.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    let colon = if host.starts_with('[') {
        host.find(']')
            .and_then(|end| host[end..].find(':').map(|at| end + at))
    } else {
        host.rfind(':')
    };
    match colon {
        Some(at) => Some((&host[..at], Some(host[at + 1..].parse().ok()?))),
        None => Some((host, None)),
    }
}

/// Why `request`, for the API's path `below` its mount, may not reach its route, or
/// `None` if it may.
pub(super) fn refuse(
    hosts: Option<&AllowedHosts>,
    request: &ServiceRequest,
    below: &str,
) -> Option<ApiError> {
    let uri = request.uri();
    // `%00` has no letter, so no case to fold: a plain search, with no copy per request.
    let has_nul = |text: &str| text.contains("%00");
    if has_nul(uri.path()) || uri.query().is_some_and(has_nul) {
        return Some(ApiError::NulCharacter);
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| uri.authority().map(|authority| authority.as_str()));
    if let Some(hosts) = hosts
        && below != OPEN_PATH
    {
        match host {
            Some(host) if hosts.allows(host) => {}
            _ => {
                return Some(ApiError::HostNotAllowed(
                    host.unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !changes_state {
        return None;
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("?");
        if !same_origin(origin, host) {
            return Some(ApiError::CrossOrigin(origin.to_owned()));
        }
    }
    match request.headers().get(header::CONTENT_TYPE) {
        Some(content_type) if !is_json(content_type.to_str().unwrap_or_default()) => {
            Some(ApiError::UnsupportedMediaType)
        }
        _ => None,
    }
}

/// Whether `origin` (`scheme://host[:port]`, or `null`) is the origin of a page served
/// from `host`, the request's `Host`.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    let normalize = |text: &str| -> Option<(String, u16)> {
        let text = text.trim().to_ascii_lowercase();
        let (name, port) = split_host(&text)?;
        Some((name.to_owned(), port.unwrap_or(default_port)))
    };
    matches!((normalize(authority), normalize(host)), (Some(a), Some(b)) if a == b)
}

/// Whether a `Content-Type` declares JSON: `application/json` or `application/*+json`.
pub(super) fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(bound: &str, names: &[&str]) -> AllowedHosts {
        AllowedHosts::new(bound.parse().unwrap(), names)
    }

    #[test]
    fn a_loopback_server_answers_to_its_address_and_localhost_only() {
        let hosts = hosts("127.0.0.1:8888", &[]);
        for allowed in ["127.0.0.1:8888", "localhost:8888", "LOCALHOST:8888"] {
            assert!(hosts.allows(allowed), "{allowed}");
        }
        for refused in [
            "evil.example:8888",
            "evil.example",
            "127.0.0.1:9999",
            "127.0.0.2:8888",
            "localhost",
            "127.0.0.1:x",
            "",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn a_server_on_every_address_answers_to_any_ip_and_the_names_given() {
        let hosts = hosts("0.0.0.0:8888", &["jobs.internal", "Queue.Example:443"]);
        for allowed in [
            "10.1.2.3:8888",
            "[::1]:8888",
            "jobs.internal",
            "jobs.internal:8888",
            "queue.example:443",
        ] {
            assert!(hosts.allows(allowed), "{allowed}");
        }
        for refused in ["evil.example:8888", "queue.example:8888", "10.1.2.3:80"] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn only_the_servers_own_origin_is_the_same() {
        let host = Some("127.0.0.1:8888");
        assert!(same_origin("http://127.0.0.1:8888", host));
        assert!(same_origin("HTTP://127.0.0.1:8888", host));
        assert!(same_origin("http://example.com", Some("example.com:80")));
        assert!(same_origin("https://example.com", Some("example.com:443")));
        for other in [
            "http://evil.example",
            "http://127.0.0.1:9999",
            "https://127.0.0.1:8888:1",
            "null",
            "file://",
        ] {
            assert!(!same_origin(other, host), "{other}");
        }
        assert!(!same_origin("http://127.0.0.1:8888", None));
    }

    #[test]
    fn json_and_its_suffixed_types_are_json() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        for other in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            assert!(!is_json(other), "{other}");
        }
    }
}
