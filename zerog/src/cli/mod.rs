//! The command line that [`main`] gives any binary that links job types.
//!
//! In `src/main.rs` of a service, every `#[derive(Job)]` type linked in is served:
//!
//! ```text
//! fn main() -> std::process::ExitCode {
//!     zerog::main()
//! }
//! ```
//!
//! The roles: `run` (the default: API, worker and scheduler in one process), `serve`
//! (the API only), `work` (a worker only) and `schedule` (the scheduler only).
//! Schedules declared in code are given to [`main_with_schedules`], and every role
//! stores them at start. Their settings come from flags or from `ZEROG_STORE`,
//! `ZEROG_QUEUE`, `ZEROG_BIND`, `ZEROG_CAPACITY` and `ZEROG_QUEUES`; the API's from
//! `ZEROG_API_TOKEN` (a bearer token), `ZEROG_PRUNE_AFTER` (delete finished jobs
//! this old), `ZEROG_BODY_TIMEOUT` (how long a request's body may take),
//! `ZEROG_MAX_CONNECTIONS` (the most connections open at once), `ZEROG_MOUNT_PATH`
//! (the path the API is served under) and `ZEROG_UI` (`readonly`: a dashboard to look
//! at, and an API that changes nothing).
//!
//! Durations (`--lease`, `--shutdown-timeout`, `--prune-after`, `--body-timeout` and
//! their variables)
//! follow [`crate::duration`]: `30s`, not ` 30s` or `30 s`. Only the shutdown timeout
//! may be `0s`.
//!
//! With the `client` feature (a default one), the same binary is also a client of a
//! running API: `submit`, `watch`, `jobs`, `info`, `schema`, `cancel` and `retry`
//! given the API's address by `--url` or `ZEROG_URL` (default [`DEFAULT_URL`]) and its
//! token by `--token` or `ZEROG_API_TOKEN`. Each prints for people, or the API's JSON
//! with `--json`, and exits 0 on success, 1 when a watched job ended otherwise than
//! `done` with a 2xx code, 2 on bad usage or a 400, and 3 when the API could not be
//! reached, refused the token or failed.

#[cfg(feature = "http")]
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::backend::{Backend, DEFAULT_STORE_URL};
use crate::duration;
use crate::pruner::Pruner;
use crate::registry::Registry;
use crate::schedule::Schedule;
use crate::scheduler::Scheduler;
#[cfg(feature = "http")]
use crate::validate::example_params;
use crate::worker::Worker;

#[cfg(feature = "client")]
#[macro_use]
mod client;
#[cfg(feature = "client")]
mod commands;
#[cfg(feature = "client")]
mod schedules;
#[cfg(feature = "client")]
mod table;
#[cfg(feature = "client")]
mod watch;

/// The default address of the HTTP API.
pub const DEFAULT_BIND: &str = "127.0.0.1:8888";
#[cfg(feature = "client")]
pub use commands::DEFAULT_URL;

#[derive(Debug, Parser)]
#[command(
    about = "A zerog job service: HTTP API and workers, and a client of a running API.",
    after_help = "Without a command, `run` starts, with its settings from the environment."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API, run a worker and the scheduler in one process (the default).
    Run {
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        work: WorkArgs,
        #[command(flatten)]
        schedule: ScheduleArgs,
    },
    /// Serve the HTTP API only.
    Serve {
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Run a worker only.
    Work {
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        work: WorkArgs,
    },
    /// Run the scheduler only: it creates the jobs of every schedule's ticks.
    Schedule {
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        schedule: ScheduleArgs,
    },
    /// The client commands, which talk to a running API over HTTP.
    #[cfg(feature = "client")]
    #[command(flatten)]
    Client(commands::ClientCommand),
}

#[derive(Debug, Args, Default)]
struct ScheduleArgs {
    /// How late a tick may be seen and still fire as on time, like `10s` (the
    /// default); older ticks were missed, and each schedule's `missed` policy applies.
    #[arg(long = "schedule-grace", env = "ZEROG_SCHEDULE_GRACE", value_parser = duration::parse)]
    schedule_grace: Option<Duration>,
}

/// Where the roles keep and take jobs. Only the roles have these: a client command
/// reaches the store through the API.
#[derive(Debug, Args)]
struct BackendArgs {
    /// Where job records are kept: sqlite://PATH, sqlite::memory:, postgres://...
    /// (with ?schema=NAME) or redis://... (with ?prefix=NAME).
    #[arg(long, env = "ZEROG_STORE", default_value = DEFAULT_STORE_URL, hide_env_values = true)]
    store: String,
    /// What delivers jobs to workers: beanstalkd://HOST:PORT, or (the default) the
    /// store itself.
    #[arg(long, env = "ZEROG_QUEUE", hide_env_values = true)]
    queue: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "ZEROG_BIND", default_value = DEFAULT_BIND)]
    bind: String,
    /// A bearer token that every route but /health requires (default: none).
    #[arg(long = "api-token", env = "ZEROG_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Names the API is also reached by, as `host` or `host:port`, comma-separated.
    /// Without a token, a request whose Host is neither the bound address nor one of
    /// these is refused, so that a DNS-rebinding page cannot reach an open API.
    #[arg(
        long = "allowed-hosts",
        env = "ZEROG_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Delete finished jobs once they finished this long ago, like `7d` (default: keep them).
    // Not zero: that would delete every job within a second of its end.
    #[arg(long = "prune-after", env = "ZEROG_PRUNE_AFTER", value_parser = duration::parse_nonzero)]
    prune_after: Option<Duration>,
    /// How long a request's body may take to arrive, like `30s` (the default); a
    /// slower one is answered 408.
    // Not zero: every body would time out.
    #[arg(long = "body-timeout", env = "ZEROG_BODY_TIMEOUT", value_parser = duration::parse_nonzero)]
    body_timeout: Option<Duration>,
    /// The most connections the API keeps open at once (default: 128); more wait,
    /// unanswered, until one closes.
    #[arg(long = "max-connections", env = "ZEROG_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// The dashboard at /ui: `full` (the default), or `readonly`, which hides its
    /// actions and makes the API refuse every request that would change state.
    #[arg(long = "ui", env = "ZEROG_UI", value_parser = ["full", "readonly"])]
    ui: Option<String>,
    /// Serve the API under this path, like `/zerog`, as behind a proxy that forwards
    /// one (default: the root).
    #[cfg(feature = "http")]
    #[arg(long = "mount-path", env = "ZEROG_MOUNT_PATH", value_parser = parse_mount_path)]
    mount_path: Option<crate::http::MountPath>,
}

#[cfg(feature = "http")]
fn parse_mount_path(text: &str) -> Result<crate::http::MountPath, String> {
    text.parse()
}

#[derive(Debug, Args, Default)]
struct WorkArgs {
    /// Capacity units of the worker (default: the number of CPUs).
    #[arg(long, env = "ZEROG_CAPACITY", value_parser = clap::value_parser!(u32).range(1..))]
    capacity: Option<u32>,
    /// The most capacity units of jobs held ahead of free slots, when runs end faster
    /// than a reserve's round trip (default 500); `0` reserves only for free slots.
    #[arg(long, env = "ZEROG_PREFETCH")]
    prefetch: Option<u32>,
    /// Serve only these queues, comma-separated (default: every queue); with weights,
    /// like `critical:6,default:3,low:1`, each in proportion to its weight (a queue
    /// without one weighs 1).
    #[arg(long, env = "ZEROG_QUEUES", value_delimiter = ',', value_parser = parse_queue_entry)]
    queues: Vec<(String, Option<u32>)>,
    /// Caps on running jobs per queue across all workers, like `emails=2,reports=1`.
    #[arg(long = "queue-limit", env = "ZEROG_QUEUE_LIMITS", value_delimiter = ',', value_parser = parse_queue_limit)]
    queue_limits: Vec<(String, u32)>,
    /// The lease on each run, like `30s`.
    // Not zero: the heartbeat would then come every 0s and any other worker would take
    // every running job back.
    #[arg(long, env = "ZEROG_LEASE", value_parser = duration::parse_nonzero)]
    lease: Option<Duration>,
    /// How long runs may go on after SIGTERM before they are released, like `30s`, or
    /// `0s` to release them at once.
    #[arg(long, env = "ZEROG_SHUTDOWN_TIMEOUT", value_parser = duration::parse)]
    shutdown_timeout: Option<Duration>,
    /// The worker's name, the last part of its id `host:pid:name`.
    #[arg(long = "worker-name", env = "ZEROG_WORKER_NAME")]
    worker_name: Option<String>,
}

/// A bearer token as given: not empty, which would leave the API open, and without
/// spaces around it, which no client's header could ever match.
#[cfg(feature = "http")]
fn parse_api_token(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err(
            "an empty token would leave the API open: unset ZEROG_API_TOKEN to run without one"
                .to_owned(),
        );
    }
    if text.trim() != text {
        return Err(
            "the token has spaces around it, which no client's header can match".to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// A queue of `ZEROG_QUEUES`: `name`, or `name:weight` with a weight of at least 1.
fn parse_queue_entry(text: &str) -> Result<(String, Option<u32>), String> {
    let Some((queue, weight)) = text.split_once(':') else {
        return Ok((text.trim().to_owned(), None));
    };
    let weight = weight
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|&weight| weight > 0)
        .ok_or_else(|| format!("`{weight}` in `{text}` is not a weight: a whole number from 1"))?;
    Ok((queue.trim().to_owned(), Some(weight)))
}

fn parse_queue_limit(text: &str) -> Result<(String, u32), String> {
    let (queue, limit) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not QUEUE=N"))?;
    let limit = limit
        .trim()
        .parse()
        .map_err(|_| format!("`{limit}` in `{text}` is not a whole number"))?;
    Ok((queue.trim().to_owned(), limit))
}

/// Parses the command line and runs the chosen subcommand.
///
/// A role (`run`, `serve`, `work`) runs until SIGINT or SIGTERM, and the process exits
/// 0 on a clean stop, 1 on an error. A client command exits 0 on success, 1 when the
/// job it watched ended otherwise than `done` with a 2xx code, 2 on bad usage or a
/// 400 from the API, and 3 when the API could not be reached, refused the token or
/// failed. A command line that does not parse exits 2.
pub fn main() -> ExitCode {
    main_with_schedules(Vec::new())
}

/// [`main`], with schedules declared in code: every role stores them at start (so
/// `GET /schedules` lists them with `source: "code"`), and the scheduler of `run` and
/// `schedule` fires them. A schedule whose expression, time zone, job type or
/// parameters are wrong stops the process at start with an error.
///
/// ```no_run
/// use zerog::schedule::Schedule;
///
/// fn main() -> std::process::ExitCode {
///     zerog::main_with_schedules(vec![
///         Schedule::new("nightly-cleanup", "cleanup", "0 3 * * *").timezone("Europe/Paris"),
///     ])
/// }
/// ```
pub fn main_with_schedules(schedules: Vec<Schedule>) -> ExitCode {
    init_tracing();
    let command = match Cli::parse().command {
        Some(command) => command,
        // No subcommand means `run`, with its settings from the environment.
        None => match Cli::parse_from(["zerog", "run"]).command {
            Some(command) => command,
            None => unreachable!("`run` parses as a subcommand"),
        },
    };
    #[cfg(feature = "client")]
    let command = match command {
        Command::Client(command) => return command.run().into(),
        role => role,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match runtime.block_on(run(command, schedules)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second call (a test harness, an embedding binary) keeps the first subscriber.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

async fn run(command: Command, schedules: Vec<Schedule>) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::from_inventory();
    registry.check()?;
    let backend = match &command {
        Command::Run { backend, .. }
        | Command::Serve { backend, .. }
        | Command::Work { backend, .. }
        | Command::Schedule { backend, .. } => {
            Backend::connect_split(&backend.store, backend.queue.as_deref()).await?
        }
        #[cfg(feature = "client")]
        Command::Client(_) => unreachable!("client commands are run by `main`"),
    };
    Scheduler::new(backend.clone(), registry.clone())
        .declare(&schedules)
        .await?;
    match command {
        Command::Run {
            serve,
            work,
            schedule,
            ..
        } => {
            let server = ApiServer::start(&serve, &backend, &registry)?;
            let pruner = spawn_pruner(&serve, &backend);
            let scheduler = tokio::spawn(
                scheduler(&schedule, &backend, &registry).run_until(std::future::pending()),
            );
            worker(work, backend, registry)
                .run_until(shutdown_signal())
                .await?;
            scheduler.abort();
            if let Some(pruner) = pruner {
                pruner.abort();
            }
            server.stop().await?;
        }
        Command::Schedule { schedule, .. } => {
            scheduler(&schedule, &backend, &registry)
                .run_until(shutdown_signal())
                .await;
        }
        Command::Serve { serve, .. } => {
            let server = ApiServer::start(&serve, &backend, &registry)?;
            let pruner = spawn_pruner(&serve, &backend);
            shutdown_signal().await;
            if let Some(pruner) = pruner {
                pruner.abort();
            }
            server.stop().await?;
        }
        Command::Work { work, .. } => {
            worker(work, backend, registry)
                .run_until(shutdown_signal())
                .await?;
        }
        #[cfg(feature = "client")]
        Command::Client(_) => unreachable!("client commands are run by `main`"),
    }
    Ok(())
}

fn scheduler(args: &ScheduleArgs, backend: &Backend, registry: &Registry) -> Scheduler {
    let scheduler = Scheduler::new(backend.clone(), registry.clone());
    match args.schedule_grace {
        Some(grace) => scheduler.grace(grace),
        None => scheduler,
    }
}

fn worker(args: WorkArgs, backend: Backend, registry: Registry) -> Worker {
    let mut worker = Worker::new(backend, registry);
    if let Some(capacity) = args.capacity {
        worker = worker.capacity(capacity);
    }
    if let Some(units) = args.prefetch {
        worker = worker.prefetch(units);
    }
    if args.queues.iter().any(|(_, weight)| weight.is_some()) {
        let weighted = args
            .queues
            .into_iter()
            .map(|(queue, weight)| (queue, weight.unwrap_or(1)));
        worker = worker.weighted_queues(weighted);
    } else if !args.queues.is_empty() {
        worker = worker.queues(args.queues.into_iter().map(|(queue, _)| queue));
    }
    for (queue, limit) in args.queue_limits {
        worker = worker.queue_limit(queue, limit);
    }
    if let Some(lease) = args.lease {
        worker = worker.lease(lease);
    }
    if let Some(timeout) = args.shutdown_timeout {
        worker = worker.shutdown_timeout(timeout);
    }
    if let Some(name) = args.worker_name {
        worker = worker.name(&name);
    }
    worker
}

/// The HTTP API, serving in the background.
#[cfg(feature = "http")]
struct ApiServer {
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

#[cfg(feature = "http")]
impl ApiServer {
    fn start(args: &ServeArgs, backend: &Backend, registry: &Registry) -> std::io::Result<Self> {
        use crate::http::{self, ApiState};

        // Checked here rather than by clap, whose errors quote the value: a token
        // never goes to the output. A variable set but empty must not mean "open".
        let set_but_empty =
            args.api_token.is_none() && std::env::var_os("ZEROG_API_TOKEN").is_some();
        let token = if set_but_empty {
            Some("")
        } else {
            args.api_token.as_deref()
        };
        if let Some(token) = token {
            parse_api_token(token)
                .map_err(|why| std::io::Error::other(format!("ZEROG_API_TOKEN: {why}")))?;
        }
        let listener = TcpListener::bind(&args.bind).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!(
                    "cannot listen on {}: {error}; choose another address with --bind or ZEROG_BIND",
                    args.bind
                ),
            )
        })?;
        let address = listener.local_addr()?;
        let mut state = ApiState::new(backend.clone(), registry.clone())
            .service_info(&service_name(), env!("CARGO_PKG_VERSION"));
        if let Some(timeout) = args.body_timeout {
            state = state.body_timeout(timeout);
        }
        if args.ui.as_deref() == Some("readonly") {
            state = state.ui_read_only(true);
            tracing::info!("read-only: the API refuses every request that would change state");
        }
        if let Some(token) = &args.api_token {
            state = state.api_token(token);
            tracing::info!("the API requires a bearer token on every route but /health");
        } else {
            state = state.allowed_hosts(http::AllowedHosts::new(address, &args.allowed_hosts));
            tracing::warn!(
                "the API is open to anyone who can reach it: set ZEROG_API_TOKEN to require a token"
            );
        }
        let mut server = http::Server::new(state);
        if let Some(connections) = args.max_connections {
            server = server.max_connections(connections as usize);
        }
        let mount = args.mount_path.clone().unwrap_or_default();
        let url = format!("http://{address}{}", mount.as_str());
        let server = server.mount_path(mount).listen(listener)?;
        print_banner(&url, registry);
        Ok(ApiServer {
            handle: server.handle(),
            task: tokio::spawn(server),
        })
    }

    /// Stops taking connections and lets the requests in flight finish.
    async fn stop(self) -> Result<(), Box<dyn std::error::Error>> {
        self.handle.stop(true).await;
        self.task.await??;
        Ok(())
    }
}

/// Without the `http` feature, there is no API to serve.
#[cfg(not(feature = "http"))]
struct ApiServer;

#[cfg(not(feature = "http"))]
impl ApiServer {
    fn start(_: &ServeArgs, _: &Backend, _: &Registry) -> std::io::Result<Self> {
        Err(std::io::Error::other(
            "this binary was built without zerog's `http` feature, so it cannot serve the API: \
             run `work`, or build with the feature",
        ))
    }

    async fn stop(self) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

/// The service's name for discovery: the binary's file name.
#[cfg(feature = "http")]
fn service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "zerog".to_owned())
}

/// Starts deleting old finished jobs, if `--prune-after` asks for it.
fn spawn_pruner(args: &ServeArgs, backend: &Backend) -> Option<tokio::task::JoinHandle<()>> {
    let age = args.prune_after?;
    tracing::info!(?age, "pruning finished jobs older than this");
    let pruner = Pruner::new(backend.clone(), age);
    Some(tokio::spawn(pruner.run_until(std::future::pending())))
}

#[cfg(feature = "http")]
fn print_banner(url: &str, registry: &Registry) {
    println!("zerog is serving {url}");
    if let Some(job_type) = registry.iter().next() {
        let spec = job_type.spec();
        let body = example_params(job_type.schema());
        println!("Submit a job with:");
        println!(
            "  curl -s -X POST {url}/job/{} -H 'Content-Type: application/json' -d '{body}'",
            spec.job_type
        );
        println!("then follow it with:  curl -s {url}/progress/UUID");
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler installs");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::try_parse_from(["zerog"].iter().chain(args)).map_err(|error| error.to_string())
    }

    #[test]
    #[cfg(feature = "http")]
    fn a_token_that_is_empty_or_has_spaces_around_it_is_refused() {
        let error = parse_api_token("").unwrap_err();
        assert!(error.contains("would leave the API open"), "{error}");
        let error = parse_api_token(" s3cret ").unwrap_err();
        assert!(error.contains("spaces around it"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        assert_eq!(parse_api_token("s3 cret").unwrap(), "s3 cret");
    }

    #[test]
    #[cfg(feature = "client")]
    fn a_submit_takes_a_time_or_a_delay_not_both() {
        let both = [
            "submit",
            "t",
            "{}",
            "--at",
            "2026-12-01T10:00:00Z",
            "--in",
            "5s",
        ];
        let error = parse(&both).unwrap_err();
        assert!(error.contains("cannot be used with"), "{error}");
        let error = parse(&["submit", "t", "{}", "--at", "tomorrow"]).unwrap_err();
        assert!(error.contains("not an RFC 3339 time"), "{error}");
        let error = parse(&["watch", "not-a-uuid"]).unwrap_err();
        assert!(error.contains("<UUID>"), "{error}");
        assert!(parse(&["submit", "t", "{}", "--in", "5s", "--watch", "--json"]).is_ok());
    }

    #[test]
    fn a_capacity_of_zero_is_refused() {
        let error = parse(&["work", "--capacity", "0"]).unwrap_err();
        assert!(error.contains("--capacity"), "{error}");
        assert!(error.contains("0 is not in 1.."), "{error}");
    }

    #[test]
    fn queues_may_carry_weights_of_at_least_one() {
        assert_eq!(parse_queue_entry("emails"), Ok(("emails".to_owned(), None)));
        assert_eq!(
            parse_queue_entry("critical:6"),
            Ok(("critical".to_owned(), Some(6)))
        );
        for bad in ["low:0", "low:x", "low:", "low:-1"] {
            let error = parse_queue_entry(bad).unwrap_err();
            assert!(error.contains("not a weight"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_connection_cap_of_zero_is_refused() {
        let error = parse(&["serve", "--max-connections", "0"]).unwrap_err();
        assert!(error.contains("--max-connections"), "{error}");
        assert!(error.contains("0 is not in 1.."), "{error}");
        let Some(Command::Serve { serve, .. }) =
            parse(&["serve", "--max-connections", "3"]).unwrap().command
        else {
            panic!("`serve` parses as the serve subcommand");
        };
        assert_eq!(serve.max_connections, Some(3));
    }

    #[test]
    fn durations_follow_the_grammar() {
        let Some(Command::Work { work, .. }) = parse(&["work", "--lease", "2s"]).unwrap().command
        else {
            panic!("`work` parses as the work subcommand");
        };
        assert_eq!(work.lease, Some(Duration::from_secs(2)));
        let error = parse(&["work", "--lease", " 30s "]).unwrap_err();
        assert!(error.contains("invalid duration ` 30s `"), "{error}");
    }

    #[test]
    fn only_the_shutdown_timeout_may_be_zero() {
        let Some(Command::Work { work, .. }) = parse(&["work", "--shutdown-timeout", "0s"])
            .unwrap()
            .command
        else {
            panic!("`work` parses as the work subcommand");
        };
        assert_eq!(work.shutdown_timeout, Some(Duration::ZERO));
        for args in [
            ["work", "--lease", "0s"],
            ["serve", "--prune-after", "0ms"],
            ["serve", "--body-timeout", "0s"],
            ["run", "--lease", "0m"],
        ] {
            let error = parse(&args).unwrap_err();
            assert!(
                error.contains("must be longer than zero"),
                "{args:?}: {error}"
            );
        }
    }
}
