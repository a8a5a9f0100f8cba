//! Backends by URL: which backend a URL names, and the parameters a backend takes
//! from its URL's query.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{PostgresBackend, RedisBackend, SqliteBackend, Store, StoreError};

/// The store that `url` names, connected.
pub(super) async fn connect_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteBackend::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresBackend::connect(url).await?))
    } else if url.starts_with("redis://") {
        Ok(Arc::new(RedisBackend::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// Splits `scheme://rest?a=1&b=2` into the URL without the parameters in `ours` and
/// the values of those parameters, so a backend can take its own settings from the URL
/// and pass the rest to its driver.
pub(crate) fn take_url_params(url: &str, ours: &[&str]) -> (String, BTreeMap<String, String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), BTreeMap::new());
    };
    let mut taken = BTreeMap::new();
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
