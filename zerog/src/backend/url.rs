//! Backends by URL: which backend a URL names, the parameters a backend takes from
//! its URL's query, and how a URL is shown in an error: with its password hidden.

use std::sync::Arc;

use super::{Store, StoreError};

/// The store that `url` names, connected, and shown to take a write: a store that
/// only reads would accept jobs and lose them.
pub(super) async fn connect_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let store = open_store(url).await?;
    store
        .ping()
        .await
        .map_err(|source| StoreError::Unwritable {
            url: redact_url(url),
            source: Box::new(source),
        })?;
    Ok(store)
}

/// The store that `url` names, connected.
async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        return Ok(Arc::new(super::SqliteBackend::connect(url).await?));
        #[cfg(not(feature = "sqlite"))]
        return Err(not_built(url, "sqlite"));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(super::PostgresBackend::connect(url).await?));
        #[cfg(not(feature = "postgres"))]
        return Err(not_built(url, "postgres"));
    }
    if url.starts_with("redis://") {
        #[cfg(feature = "redis")]
        return Ok(Arc::new(super::RedisBackend::connect(url).await?));
        #[cfg(not(feature = "redis"))]
        return Err(not_built(url, "redis"));
    }
    Err(unsupported(url))
}

/// `url` with its password, and the value of any `password` parameter, replaced by
/// `***`: the form in which a backend URL may be printed or logged.
///
/// ```
/// use zerog::backend::redact_url;
///
/// assert_eq!(
///     redact_url("postgres://app:hunter2@db/jobs?sslmode=require"),
///     "postgres://app:***@db/jobs?sslmode=require"
/// );
/// assert_eq!(redact_url("redis://:hunter2@cache"), "redis://:***@cache");
/// assert_eq!(redact_url("sqlite://zerog.db"), "sqlite://zerog.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut redacted = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
    }
    redacted
}

/// The error for a URL that names no backend, its password hidden.
pub(crate) fn unsupported(url: &str) -> StoreError {
    StoreError::UnsupportedUrl(redact_url(url))
}

/// The error for a URL of a known backend that it cannot use, saying why (naming the
/// parameter at fault, when one is), its password hidden.
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "redis",
    feature = "beanstalkd"
))]
pub(crate) fn bad_url(url: &str, reason: impl Into<String>) -> StoreError {
    StoreError::BadUrl {
        url: redact_url(url),
        reason: reason.into(),
    }
}

/// The error for a URL whose backend this build leaves out.
#[cfg_attr(
    all(
        feature = "sqlite",
        feature = "postgres",
        feature = "redis",
        feature = "beanstalkd"
    ),
    allow(dead_code, reason = "every backend is built in")
)]
pub(super) fn not_built(url: &str, feature: &'static str) -> StoreError {
    StoreError::NotBuilt {
        url: redact_url(url),
        feature,
    }
}

#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "redis",
    feature = "beanstalkd"
))]
/// Splits `scheme://rest?a=1&b=2` into the URL without the parameters in `ours` and
/// the values of those parameters, so a backend can take its own settings from the URL
/// and pass the rest to its driver.
pub(crate) fn take_url_params(
    url: &str,
    ours: &[&str],
) -> (String, std::collections::BTreeMap<String, String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), std::collections::BTreeMap::new());
    };
    let mut taken = std::collections::BTreeMap::new();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if ours.contains(&key) {
            taken.insert(key.to_owned(), value.to_owned());
        } else {
            kept.push(pair);
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, taken)
}

#[cfg(any(feature = "postgres", feature = "redis"))]
/// Whether `name` may name a schema, key prefix or tube: `[a-z_][a-z0-9_]*`, at most
/// 48 bytes, so it can be used in SQL and channel names without quoting.
pub(crate) fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 48
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_wherever_a_url_can_carry_one() {
        for (url, shown) in [
            (
                "postgres://u:hunter2@127.0.0.1:5432/test?schema=a",
                "postgres://u:***@127.0.0.1:5432/test?schema=a",
            ),
            (
                "postgresql://u@h/db?password=hunter2&schema=a",
                "postgresql://u@h/db?password=***&schema=a",
            ),
            ("redis://:hunter2@h:6379/0", "redis://:***@h:6379/0"),
            ("redis://user:p%40ss@h", "redis://user:***@h"),
            ("ftp://u:hunter2@h", "ftp://u:***@h"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("sqlite:///var/lib/a@b.db", "sqlite:///var/lib/a@b.db"),
            ("sqlite::memory:", "sqlite::memory:"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn errors_about_urls_never_show_the_password() {
        let url = "nosuch://u:hunter2@h/x";
        #[allow(unused_mut, reason = "with no backend built in, there is no bad_url")]
        let mut errors = vec![unsupported(url), not_built(url, "redis")];
        #[cfg(any(
            feature = "sqlite",
            feature = "postgres",
            feature = "redis",
            feature = "beanstalkd"
        ))]
        errors.push(bad_url(url, "the parameter `x` is wrong"));
        for error in errors {
            let message = error.to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("u:***@h"), "{message}");
        }
    }
}
