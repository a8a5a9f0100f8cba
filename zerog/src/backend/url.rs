//! Backends by URL: which backend a URL names, and the parameters a backend takes
//! from its URL's query.

use std::sync::Arc;

use super::{Store, StoreError};

/// The store that `url` names, connected.
pub(super) async fn connect_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
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
    Err(StoreError::UnsupportedUrl(url.to_owned()))
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
        url: url.to_owned(),
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
