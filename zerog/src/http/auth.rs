//! The optional bearer token: when one is set (`ZEROG_API_TOKEN` or
//! [`ApiState::api_token`](super::ApiState::api_token)), every route but `/health` and
//! the dashboard's pages answers 401 `unauthorized` to a request without
//! `Authorization: Bearer <token>`. The pages hold no data: they ask for the token, and
//! send it with every request they make to the API.

use std::fmt;
use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::http::{Method, header};

use super::{ApiError, ui};

/// The one path open without a token, so that orchestrators can probe liveness.
const OPEN_PATH: &str = "/health";

/// The token the server expects. Its `Debug` hides it.
#[derive(Clone)]
pub(super) struct BearerToken(Arc<[u8]>);

impl BearerToken {
    /// The token, or `None` for an empty one (no auth).
    pub(super) fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| BearerToken(Arc::from(token.as_bytes())))
    }

    /// Whether `offered` is the token, in time that depends only on the token's length,
    /// so that timing tells an attacker nothing about how much of a guess was right.
    fn matches(&self, offered: &[u8]) -> bool {
        let expected = &self.0;
        let mut difference = usize::from(offered.len() != expected.len());
        for (i, &byte) in expected.iter().enumerate() {
            let other = offered.get(i).copied().unwrap_or(!byte);
            difference |= usize::from(byte ^ other);
        }
        difference == 0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<hidden>)")
    }
}

/// Why `request`, for the API's path `below` its mount, may not pass, or `None` if it
/// may.
pub(super) fn refuse(
    token: Option<&BearerToken>,
    request: &ServiceRequest,
    below: &str,
) -> Option<ApiError> {
    let token = token?;
    let reads = request.method() == Method::GET || request.method() == Method::HEAD;
    if below == OPEN_PATH || (reads && ui::is_page(below)) {
        return None;
    }
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes())
        .and_then(bearer_credentials);
    match offered {
        Some(offered) if token.matches(offered) => None,
        _ => Some(ApiError::Unauthorized),
    }
}

/// The credentials of an `Authorization: Bearer <credentials>` value; the scheme is
/// case-insensitive (RFC 9110 §11.1).
fn bearer_credentials(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| value[7..].trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = BearerToken::new("s3cret").unwrap();
        assert!(token.matches(b"s3cret"));
        for wrong in [
            &b""[..],
            b"s3cre",
            b"s3cret!",
            b"S3cret",
            b"s3cres",
            b"\xff\x8c\x9c",
        ] {
            assert!(!token.matches(wrong), "{wrong:?}");
        }
        assert!(BearerToken::new("").is_none());
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        assert_eq!(bearer_credentials(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_credentials(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_credentials(b"Basic abc"), None);
        assert_eq!(bearer_credentials(b"Bearer"), None);
    }

    #[test]
    fn debug_hides_the_token() {
        let token = BearerToken::new("s3cret").unwrap();
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
