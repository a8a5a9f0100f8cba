//! `watch UUID` (and `submit --watch`): follows `GET /events/{uuid}` to the job's end,
//! then prints its result code and data.
//!
//! On a terminal it draws a progress bar with the status, the elapsed time and the
//! newest log line, printing warnings and errors above it. Elsewhere (a pipe, a file,
//! CI's log) it prints plain lines, with no escape codes:
//!
//! ```text
//! 0.0s    queued       0%
//!         info: 0.90 seconds remaining
//! 0.4s    running     10%
//! done: result code 200
//! data: null
//! ```
//!
//! With `--json` it prints each event's data, then the `/data` answer, one JSON
//! document a line.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use uuid::Uuid;

use super::client::{ApiClient, ClientError, Exit};
use super::table::age;

/// The bar's steps: completeness is shown in tenths of a percent.
const BAR_LENGTH: u64 = 1000;
/// What the bar looks like.
const BAR_TEMPLATE: &str = "{spinner} {elapsed:>4} [{bar:30}] {percent:>3}% {prefix:9} {wide_msg}";

/// Follows job `uuid` to its end and prints its result; the exit code says how it
/// ended (see [`Exit::of_job`]).
///
/// # Errors
///
/// The API's refusals and failures, and an event stream that ends before the job
/// does (the server stopped) or because the job was deleted.
pub(crate) async fn watch(api: &ApiClient, uuid: Uuid, json: bool) -> Result<Exit, ClientError> {
    // Read first, so that a job that does not exist is one clear error, and the elapsed
    // time counts from the job's creation rather than from this command's start.
    let info = api.get(&format!("/info/{uuid}")).await?;
    let created_at = info
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc));
    let mut display = if json {
        Display::Json
    } else if std::io::stdout().is_terminal() {
        Display::bar(created_at)
    } else {
        Display::Plain {
            created_at,
            shown: None,
        }
    };
    let mut body = api.stream(&format!("/events/{uuid}")).await?;
    let mut events = EventParser::default();
    let mut finished = None;
    'stream: while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| ClientError::Unreachable {
            url: api.base().to_owned(),
            reason: format!("the event stream broke off: {error}"),
        })?;
        for event in events.feed(&chunk) {
            let data: Value = serde_json::from_str(&event.data).map_err(|error| {
                ClientError::Protocol(format!("an event's data is not JSON: {error}"))
            })?;
            match event.name.as_str() {
                "progress" => display.progress(&data),
                "finished" => {
                    display.progress(&data);
                    finished = Some(data);
                    break 'stream;
                }
                "gone" => {
                    display.abandon();
                    return Err(ClientError::Failed {
                        status: 404,
                        kind: Some("unknown_job".to_owned()),
                        message: format!("job {uuid} was deleted while it was watched"),
                    });
                }
                // An event a newer server sends and this client does not know.
                _ => {}
            }
        }
    }
    let Some(last) = finished else {
        display.abandon();
        return Err(ClientError::Protocol(format!(
            "the event stream of job {uuid} ended before the job did: did the server stop?"
        )));
    };
    let result = api.get(&format!("/data/{uuid}")).await?;
    display.finish(&last, &result);
    let status = last
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let code = last.get("resultCode").and_then(Value::as_i64).unwrap_or(-1);
    Ok(Exit::of_job(status, code))
}

/// Where the progress goes.
enum Display {
    /// Each event's data and the result as JSON lines.
    Json,
    /// Plain lines: a line when the status or the percentage changes, and one per
    /// log line.
    Plain {
        created_at: Option<DateTime<Utc>>,
        /// The status and percentage last printed.
        shown: Option<(String, u64)>,
    },
    /// A progress bar on the terminal.
    Bar(ProgressBar),
}

impl Display {
    fn bar(created_at: Option<DateTime<Utc>>) -> Self {
        let elapsed = created_at
            .and_then(|at| (Utc::now() - at).to_std().ok())
            .unwrap_or_default();
        let bar = ProgressBar::with_draw_target(Some(BAR_LENGTH), ProgressDrawTarget::stdout())
            .with_style(bar_style())
            .with_elapsed(elapsed);
        bar.enable_steady_tick(Duration::from_millis(200));
        Display::Bar(bar)
    }

    /// Shows one `progress` or `finished` event.
    fn progress(&mut self, data: &Value) {
        let status = data.get("status").and_then(Value::as_str).unwrap_or("?");
        let completeness = data
            .get("completeness")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let percent = (completeness.clamp(0.0, 1.0) * 100.0).floor() as u64;
        match self {
            Display::Json => say!("{data}"),
            Display::Plain { created_at, shown } => {
                // The log first: the lines led up to the state the event shows.
                for line in log_lines(data) {
                    say!("        {line}");
                }
                let now = (status.to_owned(), percent);
                if shown.as_ref() != Some(&now) {
                    let elapsed = created_at.map_or_else(|| "-".to_owned(), elapsed_since);
                    say!("{elapsed:<7} {status:<10} {percent:>3}%");
                    *shown = Some(now);
                }
            }
            Display::Bar(bar) => {
                bar.set_prefix(status.to_owned());
                bar.set_position((completeness.clamp(0.0, 1.0) * BAR_LENGTH as f64) as u64);
                let lines = log_lines(data);
                for line in lines.iter().filter(|line| !line.starts_with("info: ")) {
                    bar.println(line);
                }
                if let Some(newest) = lines.last() {
                    bar.set_message(newest.clone());
                }
            }
        }
    }

    /// Ends the display with the job's last event and its `/data` answer.
    fn finish(self, last: &Value, result: &Value) {
        let status = last.get("status").and_then(Value::as_str).unwrap_or("?");
        let code = last.get("resultCode").and_then(Value::as_i64).unwrap_or(-1);
        let data = result.get("data").unwrap_or(&Value::Null);
        match self {
            Display::Json => say!("{result}"),
            Display::Plain { .. } => {
                say!("{status}: result code {code}");
                say!("data: {data}");
            }
            Display::Bar(bar) => {
                bar.finish();
                say!("{status}: result code {code}");
                say!("data: {data}");
            }
        }
    }

    /// Ends the display early, leaving the bar where it was.
    fn abandon(&self) {
        if let Display::Bar(bar) = self {
            bar.abandon();
        }
    }
}

/// The time since `at`: in tenths of a second for the first minute, then as an age.
fn elapsed_since(at: DateTime<Utc>) -> String {
    let elapsed = Utc::now() - at;
    match elapsed.num_milliseconds() {
        millis @ 0..60_000 => format!("{:.1}s", millis as f64 / 1000.0),
        _ => age(elapsed),
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(BAR_TEMPLATE)
        .expect("the bar's template is valid")
        .progress_chars("=> ")
}

/// The log lines an event carries, oldest first: `info: …`, `warning: …` and
/// `error 500: …`. Newlines in a message become spaces, so that each is one line.
fn log_lines(data: &Value) -> Vec<String> {
    let entries = |key: &str| {
        data.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut lines: Vec<(String, String)> = Vec::new();
    for (key, label) in [("events", "info"), ("warnings", "warning")] {
        for entry in entries(key) {
            lines.push((time_of(&entry), format!("{label}: {}", message_of(&entry))));
        }
    }
    for entry in entries("errors") {
        let code = entry
            .get("errorCode")
            .and_then(Value::as_i64)
            .unwrap_or(500);
        lines.push((
            time_of(&entry),
            format!("error {code}: {}", message_of(&entry)),
        ));
    }
    // RFC 3339 times of one server sort as text; the sort is stable within a time.
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    lines.into_iter().map(|(_, line)| line).collect()
}

fn time_of(entry: &Value) -> String {
    entry
        .get("timeStamp")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn message_of(entry: &Value) -> String {
    let message = entry.get("msg").and_then(Value::as_str).unwrap_or_default();
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One Server-Sent Event: its name (`message` when the frame names none) and data.
#[derive(Debug, PartialEq)]
struct Event {
    name: String,
    data: String,
}

/// Splits an event stream into events as its bytes arrive, in whatever pieces.
#[derive(Debug, Default)]
struct EventParser {
    /// Bytes of a line not yet ended.
    partial: Vec<u8>,
    name: Option<String>,
    data: Option<String>,
}

impl EventParser {
    /// The events that `chunk` completes.
    fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &byte in chunk {
            if byte != b'\n' {
                self.partial.push(byte);
                continue;
            }
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    let name = self.name.take().unwrap_or_else(|| "message".to_owned());
                    events.push(Event { name, data });
                }
                self.name = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.name = Some(value.to_owned()),
                "data" => match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                },
                _ => {}
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_parsed_across_chunk_boundaries() {
        let stream = b"id: 1\nevent: progress\ndata: {\"a\":1}\n\n: keep-alive\n\nid: 2\r\nevent: finished\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\n";
        let whole = EventParser::default().feed(stream);
        let expected = vec![
            Event {
                name: "progress".into(),
                data: r#"{"a":1}"#.into(),
            },
            Event {
                name: "finished".into(),
                data: "{\"b\":\n2}".into(),
            },
        ];
        assert_eq!(whole, expected);
        let mut parser = EventParser::default();
        let mut pieces = Vec::new();
        for byte in stream {
            pieces.extend(parser.feed(&[*byte]));
        }
        assert_eq!(pieces, expected);
    }

    #[test]
    fn log_lines_are_labelled_and_in_time_order() {
        let data = json!({
            "events": [{"timeStamp": "2026-12-01T10:00:01Z", "msg": "one"},
                       {"timeStamp": "2026-12-01T10:00:03Z", "msg": "three\nlines"}],
            "warnings": [{"timeStamp": "2026-12-01T10:00:02Z", "msg": "two"}],
            "errors": [{"timeStamp": "2026-12-01T10:00:04Z", "errorCode": 503, "msg": "four"}],
        });
        assert_eq!(
            log_lines(&data),
            [
                "info: one",
                "warning: two",
                "info: three lines",
                "error 503: four"
            ]
        );
        assert!(log_lines(&json!({})).is_empty());
    }

    #[test]
    fn the_bar_template_is_valid() {
        ProgressStyle::with_template(BAR_TEMPLATE).unwrap();
    }
}
