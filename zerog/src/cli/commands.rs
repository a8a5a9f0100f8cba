//! The client commands: `submit`, `watch`, `jobs`, `info`, `schema`, `cancel` and
//! `retry`, each one or two requests to a running API (see `client.rs`).
//!
//! ```text
//! $ service submit waste_time '{"delay": 3}' --watch
//! $ service jobs --status failed
//! $ service retry 0b6f3c1e-9a2d-4f4e-8c1a-5b7d2e9f0a13
//! ```
//!
//! Each prints for people by default, and the API's JSON with `--json`. Errors go to
//! stderr, and the exit code follows `Exit`.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use serde_json::Value;
use uuid::Uuid;

use super::client::{ApiClient, ClientError, Exit, encode};
use super::table::{self, Row};
use super::watch::watch;
use crate::duration;

/// The default address of the API that the client commands talk to.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8888";

/// The exit codes, under every client command's help.
macro_rules! exit_codes {
    () => {
        "Exit codes: 0 success (under --watch: the job ended done with a 2xx result code);
1 the job ended failed, cancelled or with another code; 2 bad usage, or input the
API refused with 400 (each detail printed with its path); 3 the server could not be
reached, refused the token, or failed."
    };
}

#[derive(Debug, Subcommand)]
pub(super) enum ClientCommand {
    /// Submit a job of TYPE with its parameters as JSON, now or later; prints its uuid.
    #[command(after_help = concat!(
        "Examples:\n",
        "  submit waste_time '{\"delay\": 3}' --watch\n",
        "  submit waste_time '{}' --in 10m\n",
        "  submit waste_time '{\"delay\": 1}' --at 2026-12-01T10:00:00Z\n\n",
        exit_codes!()
    ))]
    Submit(SubmitArgs),
    /// Follow a job to its end with a progress bar, then print its result code and data.
    #[command(after_help = concat!(
        "Without a terminal (a pipe, a file) it prints plain lines instead.\n\n",
        "Example:\n  watch 0b6f3c1e-9a2d-4f4e-8c1a-5b7d2e9f0a13\n\n",
        exit_codes!()
    ))]
    Watch(WatchArgs),
    /// List jobs, newest first, as a table.
    #[command(after_help = concat!(
        "Examples:\n  jobs\n  jobs --status failed --type waste_time --limit 10\n\n",
        exit_codes!()
    ))]
    Jobs(JobsArgs),
    /// Show a job: its status, times, attempts and log.
    #[command(after_help = exit_codes!())]
    Info(JobArgs),
    /// Print the JSON Schema of a job type's parameters.
    #[command(after_help = concat!("Example:\n  schema waste_time\n\n", exit_codes!()))]
    Schema(SchemaArgs),
    /// Cancel a job: at once if it waits, at its next checkpoint if it runs.
    #[command(after_help = exit_codes!())]
    Cancel(CancelArgs),
    /// Put a failed or cancelled job back in its queue, attempts reset, log kept.
    #[command(after_help = exit_codes!())]
    Retry(JobArgs),
    /// List the schedules, or add or remove one.
    #[command(after_help = concat!(
        "Examples:\n",
        "  schedules\n",
        "  schedules add nightly '0 30 2 * * *' waste_time '{\"delay\": 5}' --timezone Europe/Paris\n",
        "  schedules remove nightly\n\n",
        exit_codes!()
    ))]
    Schedules(super::schedules::SchedulesArgs),
}

/// What every client command takes: where the API is, and how to print.
#[derive(Debug, Args)]
pub(super) struct ClientArgs {
    /// The API's base URL.
    #[arg(long, env = "ZEROG_URL", default_value = DEFAULT_URL)]
    url: String,
    /// The bearer token the API requires, if it requires one.
    #[arg(long, env = "ZEROG_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON instead of text for people.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct SubmitArgs {
    /// The job type, as `GET /` lists them.
    #[arg(value_name = "TYPE")]
    job_type: String,
    /// The job's parameters, a JSON object like '{"delay": 3}'.
    #[arg(value_name = "JSON")]
    params: String,
    /// Then follow the job to its end, as `watch` does; the exit code says how it ended.
    #[arg(long)]
    watch: bool,
    /// Start no earlier than this RFC 3339 time, like 2026-12-01T10:00:00Z.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time, conflicts_with = "delay")]
    at: Option<DateTime<FixedOffset>>,
    /// Start no earlier than this long from now, like 90s, 10m or 2h.
    #[arg(long = "in", id = "delay", value_name = "DURATION", value_parser = duration::parse)]
    delay: Option<Duration>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(super) struct WatchArgs {
    /// The job's uuid.
    uuid: Uuid,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(super) struct JobsArgs {
    /// Only jobs with this status: queued, running, waiting, done, failed, cancelled.
    #[arg(long, value_name = "S")]
    status: Option<String>,
    /// Only jobs of this type.
    #[arg(long = "type", value_name = "T")]
    job_type: Option<String>,
    /// At most this many jobs (1 to 500; the API's default is 50).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// The page after this cursor, as the previous page's last line names it.
    #[arg(long, value_name = "CURSOR")]
    after: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(super) struct JobArgs {
    /// The job's uuid.
    uuid: Uuid,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(super) struct SchemaArgs {
    /// The job type.
    #[arg(value_name = "TYPE")]
    job_type: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(super) struct CancelArgs {
    /// The job's uuid.
    uuid: Uuid,
    /// Abort a running job now, without waiting for a checkpoint (error 410 "Killed by user").
    #[arg(long)]
    kill: bool,
    #[command(flatten)]
    client: ClientArgs,
}

fn parse_time(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("`{text}` is not an RFC 3339 time such as 2026-12-01T10:00:00Z"))
}

impl ClientCommand {
    /// Runs the command to its end, printing what it says and any error, and returns
    /// how the process should exit.
    pub(super) fn run(self) -> Exit {
        let result = actix_rt::System::new().block_on(self.execute());
        match result {
            Ok(exit) => exit,
            Err(error) => {
                for line in error.lines() {
                    eprintln!("{line}");
                }
                error.exit()
            }
        }
    }

    fn client_args(&self) -> &ClientArgs {
        match self {
            ClientCommand::Submit(args) => &args.client,
            ClientCommand::Watch(args) => &args.client,
            ClientCommand::Jobs(args) => &args.client,
            ClientCommand::Info(args) | ClientCommand::Retry(args) => &args.client,
            ClientCommand::Schema(args) => &args.client,
            ClientCommand::Cancel(args) => &args.client,
            ClientCommand::Schedules(args) => args.client(),
        }
    }

    async fn execute(self) -> Result<Exit, ClientError> {
        let args = self.client_args();
        let api = ApiClient::new(&args.url, args.token.clone())?;
        let json = args.json;
        match self {
            ClientCommand::Submit(args) => submit(&api, args, json).await,
            ClientCommand::Watch(args) => watch(&api, args.uuid, json).await,
            ClientCommand::Jobs(args) => jobs(&api, args, json).await,
            ClientCommand::Info(args) => info(&api, args.uuid, json).await,
            ClientCommand::Schema(args) => {
                let schema = api
                    .get(&format!("/schema/{}", encode(&args.job_type)))
                    .await?;
                print_json(&schema, json);
                Ok(Exit::Success)
            }
            ClientCommand::Cancel(args) => cancel(&api, args, json).await,
            ClientCommand::Schedules(args) => args.run(&api, json).await,
            ClientCommand::Retry(args) => {
                let progress = api.post(&format!("/retry/{}", args.uuid), None).await?;
                if json {
                    say!("{progress}");
                } else {
                    say!("{} {}", args.uuid, text(&progress, "status"));
                }
                Ok(Exit::Success)
            }
        }
    }
}

/// `value` as received (`--json`), or indented for people.
pub(super) fn print_json(value: &Value, json: bool) {
    if json {
        say!("{value}");
    } else {
        say!(
            "{}",
            serde_json::to_string_pretty(value).expect("a JSON value serializes")
        );
    }
}

pub(super) fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("-")
}

/// The parameters given on the command line, or where they stop being JSON.
pub(super) fn parse_params(text: &str) -> Result<Value, ClientError> {
    serde_json::from_str(text).map_err(|error| {
        let mut message = format!("the parameters are not valid JSON: {error}");
        // Points at the spot, when the line is short enough to show.
        if let Some(line) = text.lines().nth(error.line().saturating_sub(1))
            && line.chars().count() <= 120
            && error.column() > 0
        {
            let column = line.chars().take(error.column() - 1).count();
            message.push_str(&format!("\n  {line}\n  {}^", " ".repeat(column)));
        }
        ClientError::Usage(message)
    })
}

async fn submit(api: &ApiClient, args: SubmitArgs, json: bool) -> Result<Exit, ClientError> {
    let params = parse_params(&args.params)?;
    let mut path = format!("/job/{}", encode(&args.job_type));
    if let Some(at) = args.at {
        let at = at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        path.push_str(&format!("?runAt={}", encode(&at)));
    } else if let Some(delay) = args.delay {
        path.push_str(&format!("?runAfter={}", delay.as_secs_f64()));
    }
    let answer = api.post(&path, Some(&params)).await?;
    let uuid = answer
        .get("uuid")
        .and_then(Value::as_str)
        .and_then(|uuid| Uuid::parse_str(uuid).ok())
        .ok_or_else(|| {
            ClientError::Protocol(format!("the submit answer names no uuid: {answer}"))
        })?;
    if json {
        say!("{answer}");
    } else {
        say!("{uuid}");
        if answer.get("duplicate") == Some(&Value::Bool(true)) {
            eprintln!(
                "an equal job was submitted within its type's unique window: that is its uuid"
            );
        }
    }
    if args.watch {
        watch(api, uuid, json).await
    } else {
        Ok(Exit::Success)
    }
}

async fn jobs(api: &ApiClient, args: JobsArgs, json: bool) -> Result<Exit, ClientError> {
    let mut query = Vec::new();
    if let Some(status) = &args.status {
        query.push(format!("status={}", encode(status)));
    }
    if let Some(job_type) = &args.job_type {
        query.push(format!("jobType={}", encode(job_type)));
    }
    if let Some(limit) = args.limit {
        query.push(format!("limit={limit}"));
    }
    if let Some(after) = &args.after {
        query.push(format!("after={}", encode(after)));
    }
    let mut path = "/jobs".to_owned();
    if !query.is_empty() {
        path.push('?');
        path.push_str(&query.join("&"));
    }
    let list = api.get(&path).await?;
    if json {
        say!("{list}");
        return Ok(Exit::Success);
    }
    let rows = Row::all_of(&list);
    if rows.is_empty() {
        say!("no jobs");
    } else {
        say!("{}", table::render(&rows, Utc::now()).trim_end());
    }
    if let Some(next) = list.get("next").and_then(Value::as_str) {
        // On stderr, so that the table alone can be piped on.
        eprintln!("more jobs: add --after {next}");
    }
    Ok(Exit::Success)
}

async fn info(api: &ApiClient, uuid: Uuid, json: bool) -> Result<Exit, ClientError> {
    let info = api.get(&format!("/info/{uuid}")).await?;
    if json {
        say!("{info}");
        return Ok(Exit::Success);
    }
    let number = |key: &str| info.get(key).and_then(Value::as_i64).unwrap_or(-1);
    let completeness = info
        .get("completeness")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let field = |name: &str, value: String| say!("{name:<13} {value}");
    field("uuid", text(&info, "uuid").to_owned());
    field(
        "type",
        format!(
            "{} (queue {})",
            text(&info, "jobType"),
            text(&info, "queue")
        ),
    );
    let code = match number("resultCode") {
        -1 => "no result code yet".to_owned(),
        code => format!("result code {code}"),
    };
    field("status", format!("{}, {code}", text(&info, "status")));
    field(
        "completeness",
        format!("{:.0}%", (completeness * 100.0).floor()),
    );
    field(
        "attempts",
        format!("{} of {}", number("attempts"), number("maxAttempts")),
    );
    for (name, key) in [
        ("created", "createdAt"),
        ("started", "startedAt"),
        ("updated", "updatedAt"),
        ("finished", "finishedAt"),
        ("runs after", "runAfter"),
    ] {
        if let Some(at) = info.get(key).and_then(Value::as_str) {
            field(name, at.to_owned());
        }
    }
    for (name, key) in [
        ("events", "events"),
        ("warnings", "warnings"),
        ("errors", "errors"),
    ] {
        let entries = info
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if entries.is_empty() {
            continue;
        }
        say!("{name}:");
        for entry in entries {
            let code = entry
                .get("errorCode")
                .and_then(Value::as_i64)
                .map(|code| format!("{code} "))
                .unwrap_or_default();
            say!(
                "  {}  {code}{}",
                text(&entry, "timeStamp"),
                text(&entry, "msg")
            );
        }
    }
    Ok(Exit::Success)
}

async fn cancel(api: &ApiClient, args: CancelArgs, json: bool) -> Result<Exit, ClientError> {
    let mut path = format!("/cancel/{}", args.uuid);
    if args.kill {
        path.push_str("?kill=true");
    }
    let answer = api.post(&path, None).await?;
    if json {
        say!("{answer}");
    } else if answer.get("cancelRequested") == Some(&Value::Bool(true)) {
        say!(
            "{} {}: cancel requested; it stops at its next checkpoint",
            args.uuid,
            text(&answer, "status")
        );
    } else {
        say!("{} {}", args.uuid, text(&answer, "status"));
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_that_are_not_json_say_where() {
        let error = parse_params(r#"{"delay": 3,}"#).unwrap_err();
        assert_eq!(error.exit(), Exit::Usage);
        let lines = error.lines().join("\n");
        assert!(lines.contains("line 1 column 13"), "{lines}");
        assert!(
            lines.ends_with("\n  {\"delay\": 3,}\n              ^"),
            "{lines}"
        );
        assert_eq!(parse_params(r#"{"delay": 3}"#).unwrap()["delay"], 3);
    }
}
