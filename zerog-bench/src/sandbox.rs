//! Fresh, private storage for each system in each run, and its removal afterwards.
//!
//! - SQLite: a temporary directory holding the database file (and its WAL).
//! - PostgreSQL: a database of its own, `zbench_<pid>_<run>_<system>`, created from
//!   the admin URL and dropped with `FORCE` at the end. zerog also gets `?schema=zbench`,
//!   apalis keeps its fixed `apalis` schema.
//! - Redis: a key prefix of that name (zerog's `?prefix=`, apalis' queue name), whose
//!   keys are scanned and deleted at the end.
//! - PostgreSQL and beanstalkd: the database as above, and for zerog a tube prefix of
//!   that name (`?tube_prefix=`). Each phase drains what it enqueues, so the tubes end
//!   empty, and beanstalkd forgets an empty tube once nobody watches it.
//!
//! Each phase of a run (the main phases, HTTP, each growth factor) gets storage of its
//! own, named with a label after the system.

use sqlx::{AssertSqlSafe, Connection, Executor};
use tempfile::TempDir;

use crate::args::{BackendKind, BenchArgs, System};
use crate::workload::BoxError;

/// The storage one system uses in one run.
pub struct Sandbox {
    backend: BackendKind,
    system: System,
    name: String,
    dir: Option<TempDir>,
    postgres_url: String,
    redis_url: String,
    beanstalkd: String,
}

impl Sandbox {
    /// Creates fresh storage for `system` in run `run`, for the phase `label` (`""`
    /// for the main phases; `[a-z0-9_]` only).
    ///
    /// # Errors
    ///
    /// The backend's, if the directory, database or prefix cannot be set up; a Redis
    /// prefix that already holds keys.
    pub async fn create(
        bench: &BenchArgs,
        system: System,
        run: u32,
        label: &str,
    ) -> Result<Self, BoxError> {
        let name = format!("zbench_{}_{run}_{system}{label}", std::process::id());
        let mut sandbox = Sandbox {
            backend: bench.backend,
            system,
            name,
            dir: None,
            postgres_url: bench.postgres_url.clone(),
            redis_url: bench.redis_url.clone(),
            beanstalkd: bench.beanstalkd.clone(),
        };
        match bench.backend {
            BackendKind::Sqlite => {
                sandbox.dir = Some(tempfile::Builder::new().prefix("zbench").tempdir()?)
            }
            BackendKind::Postgres | BackendKind::PostgresBeanstalkd => {
                create_database(&sandbox.postgres_url, &sandbox.name).await?;
            }
            BackendKind::Redis => {
                if !sandbox.redis_keys().await?.is_empty() {
                    return Err(format!("Redis already has keys under {}", sandbox.name).into());
                }
            }
        }
        Ok(sandbox)
    }

    /// Where the child finds its storage: a URL, or for apalis on Redis `URL#QUEUE`.
    pub fn target(&self) -> String {
        match (self.backend, self.system) {
            (BackendKind::Sqlite, system) => {
                let dir = self
                    .dir
                    .as_ref()
                    .expect("an SQLite sandbox has a directory");
                let file = dir.path().join(format!("{system}.db"));
                // apalis hands the URL to sqlx as it is, which creates the file only
                // when asked to.
                match system {
                    System::Zerog => format!("sqlite://{}", file.display()),
                    System::Apalis => format!("sqlite://{}?mode=rwc", file.display()),
                }
            }
            (BackendKind::Postgres | BackendKind::PostgresBeanstalkd, System::Zerog) => with_query(
                &with_database(&self.postgres_url, &self.name),
                "schema",
                "zbench",
            ),
            (BackendKind::Postgres | BackendKind::PostgresBeanstalkd, System::Apalis) => {
                with_database(&self.postgres_url, &self.name)
            }
            (BackendKind::Redis, System::Zerog) => {
                with_query(&self.redis_url, "prefix", &self.name)
            }
            (BackendKind::Redis, System::Apalis) => format!("{}#{}", self.redis_url, self.name),
        }
    }

    /// zerog's queue apart from its store: beanstalkd under this sandbox's tube
    /// prefix, on `postgres+beanstalkd`.
    pub fn queue(&self) -> Option<String> {
        (self.backend == BackendKind::PostgresBeanstalkd && self.system == System::Zerog)
            .then(|| format!("beanstalkd://{}?tube_prefix={}", self.beanstalkd, self.name))
    }

    /// Removes the storage.
    ///
    /// # Errors
    ///
    /// The backend's, if the database or keys cannot be removed.
    pub async fn remove(mut self) -> Result<(), BoxError> {
        match self.backend {
            BackendKind::Sqlite => {
                if let Some(dir) = self.dir.take() {
                    dir.close()?;
                }
            }
            BackendKind::Postgres | BackendKind::PostgresBeanstalkd => {
                drop_database(&self.postgres_url, &self.name).await?;
            }
            BackendKind::Redis => {
                let keys = self.redis_keys().await?;
                let mut conn = redis::Client::open(self.redis_url.as_str())?
                    .get_multiplexed_async_connection()
                    .await?;
                for chunk in keys.chunks(500) {
                    redis::cmd("DEL")
                        .arg(chunk)
                        .query_async::<()>(&mut conn)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Every Redis key under this sandbox's name.
    async fn redis_keys(&self) -> Result<Vec<String>, BoxError> {
        let mut conn = redis::Client::open(self.redis_url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        let pattern = format!("{}*", self.name);
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

/// Splits a URL into `scheme://authority`, the path (with its leading `/`, possibly
/// empty) and the query (without its `?`, if any).
/// Creates the PostgreSQL database `name`, one of the harness's own names
/// (`[a-z0-9_]` only, so it needs no escaping), through `admin_url`.
pub async fn create_database(admin_url: &str, name: &str) -> Result<(), BoxError> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    let create = format!("CREATE DATABASE \"{name}\"");
    admin.execute(AssertSqlSafe(create)).await?;
    Ok(())
}

/// Drops the PostgreSQL database `name`, if it is there, with its connections.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), BoxError> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    admin.execute(AssertSqlSafe(drop)).await?;
    Ok(())
}

fn split_url(url: &str) -> (&str, &str, Option<&str>) {
    let (rest, query) = match url.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (url, None),
    };
    let authority_start = rest.find("://").map_or(0, |i| i + 3);
    let path_start = rest[authority_start..]
        .find('/')
        .map_or(rest.len(), |i| authority_start + i);
    (&rest[..path_start], &rest[path_start..], query)
}

/// `url` with its path (the database name) replaced by `/database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, _, query) = split_url(url);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// `url` with the query parameter `key=value` added.
pub fn with_query(url: &str, key: &str, value: &str) -> String {
    let (base, path, query) = split_url(url);
    let path = if path.is_empty() { "/" } else { path };
    match query {
        Some(query) if !query.is_empty() => format!("{base}{path}?{query}&{key}={value}"),
        _ => format!("{base}{path}?{key}={value}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "zb"),
            "postgres://postgres@127.0.0.1:5432/zb"
        );
        assert_eq!(
            with_database("postgres://u:p@db/test?sslmode=disable", "zb"),
            "postgres://u:p@db/zb?sslmode=disable"
        );
        assert_eq!(with_database("postgres://db", "zb"), "postgres://db/zb");
    }

    #[test]
    fn query_parameters_are_appended() {
        assert_eq!(
            with_query("redis://127.0.0.1:6379", "prefix", "zb"),
            "redis://127.0.0.1:6379/?prefix=zb"
        );
        assert_eq!(
            with_query("redis://127.0.0.1:6379/2", "prefix", "zb"),
            "redis://127.0.0.1:6379/2?prefix=zb"
        );
        assert_eq!(
            with_query("postgres://db/zb?sslmode=disable", "schema", "s"),
            "postgres://db/zb?sslmode=disable&schema=s"
        );
    }
}
