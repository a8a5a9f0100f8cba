//! The HTTP side of the client commands: a request to the API, its JSON answer, and
//! what a refusal or a failure means for the process's exit code.
//!
//! ```text
//! let api = ApiClient::new("http://127.0.0.1:8888", None)?;
//! let progress = api.get("/progress/6f1c…").await?;
//! ```
//!
//! Every failure is a [`ClientError`], which knows its [`Exit`] code and the lines to
//! print for it: one line for an unreachable server, a refused token or a failing
//! server; one line per detail, each with its path, for a 400.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::http::Method;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::LocalBoxStream;
use serde_json::Value;

/// Prints a line on stdout, as `println!` does, except that a reader that went away
/// (`| head`) ends the process quietly instead of with a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::client::write_line(format_args!($($arg)*))
    };
}

/// The line `say!` prints.
pub(crate) fn write_line(line: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader has what it wanted, as `head` does.
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {error}");
        std::process::exit(Exit::Unavailable.code().into());
    }
}

/// How long a request may wait for the answer's head.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read: a job's data may be big, but not unbounded.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// How a client command ends: the published exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: done as asked; under `--watch`, the job ended `done` with a 2xx code.
    Success,
    /// 1: the job ended `failed` or `cancelled`, or `done` with a code outside 2xx.
    JobUnsuccessful,
    /// 2: bad usage, or input that the API refused with 400.
    Usage,
    /// 3: the server could not be reached, refused the token, or failed.
    Unavailable,
}

impl Exit {
    /// The process's exit status for this ending.
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::JobUnsuccessful => 1,
            Exit::Usage => 2,
            Exit::Unavailable => 3,
        }
    }

    /// The ending of a job that finished with `status` and `result_code`: only `done`
    /// with a 2xx code is a success.
    pub(crate) fn of_job(status: &str, result_code: i64) -> Exit {
        if status == "done" && (200..300).contains(&result_code) {
            Exit::Success
        } else {
            Exit::JobUnsuccessful
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// Why a client command could not do what it was asked.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// The command line's input cannot be used, like parameters that are not JSON.
    Usage(String),
    /// The API answered 400: the request or the parameters are wrong.
    Refused {
        /// The error's kind, like `validation`.
        kind: String,
        /// What went wrong, for people.
        message: String,
        /// Each violation as (JSON pointer, message).
        details: Vec<(String, String)>,
    },
    /// No answer: the connection failed or timed out.
    Unreachable {
        /// The API's base URL.
        url: String,
        /// Why, as the system said it.
        reason: String,
    },
    /// The API answered 401 or 403.
    TokenRefused {
        /// The API's base URL.
        url: String,
        /// Whether a token was sent at all.
        sent: bool,
    },
    /// Any other answer outside 2xx, like a 404 or a 503.
    Failed {
        /// The HTTP status.
        status: u16,
        /// The error's kind and message, when the body is the API's error JSON.
        kind: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// The answer is not what the API sends, or the event stream broke off.
    Protocol(String),
}

impl ClientError {
    /// The exit code this error ends the command with.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            ClientError::Usage(_) | ClientError::Refused { .. } => Exit::Usage,
            ClientError::Unreachable { .. }
            | ClientError::TokenRefused { .. }
            | ClientError::Failed { .. }
            | ClientError::Protocol(_) => Exit::Unavailable,
        }
    }

    /// The lines to print on stderr: the first says what happened, and a refusal's
    /// details follow, one per line, each with its path.
    pub(crate) fn lines(&self) -> Vec<String> {
        match self {
            ClientError::Usage(message) => vec![format!("error: {message}")],
            ClientError::Refused {
                kind,
                message,
                details,
            } => {
                let mut lines = vec![format!(
                    "error: the API refused the request ({kind}): {message}"
                )];
                for (path, message) in details {
                    let path = if path.is_empty() {
                        "(the whole body)"
                    } else {
                        path
                    };
                    lines.push(format!("  {path}: {message}"));
                }
                lines
            }
            ClientError::Unreachable { url, reason } => vec![format!(
                "error: cannot reach the zerog API at {url}: {reason} \
                 (is it running? set its address with --url or ZEROG_URL)"
            )],
            ClientError::TokenRefused { url, sent: true } => vec![format!(
                "error: the zerog API at {url} refused the token: \
                 give the one it was started with, by --token or ZEROG_API_TOKEN"
            )],
            ClientError::TokenRefused { url, sent: false } => vec![format!(
                "error: the zerog API at {url} requires a token: give it by --token or ZEROG_API_TOKEN"
            )],
            ClientError::Failed {
                status,
                kind: Some(kind),
                message,
            } => vec![format!("error: {message} ({kind}, HTTP {status})")],
            ClientError::Failed {
                status,
                kind: None,
                message,
            } => vec![format!("error: the API answered HTTP {status}: {message}")],
            ClientError::Protocol(message) => vec![format!("error: {message}")],
        }
    }

    /// The error for a non-2xx answer with `status` and the body `body` (the API's
    /// error JSON, or anything else from a proxy in between).
    pub(crate) fn of_answer(url: &str, sent_token: bool, status: u16, body: &[u8]) -> Self {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|json| json.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        match status {
            400 => ClientError::Refused {
                kind: field("error").unwrap_or_else(|| "bad_request".to_owned()),
                message: field("message").unwrap_or_else(|| text_of(body)),
                details: json
                    .as_ref()
                    .and_then(|json| json.get("details"))
                    .and_then(Value::as_array)
                    .map(|details| {
                        details
                            .iter()
                            .map(|detail| {
                                let text = |key| {
                                    detail.get(key).and_then(Value::as_str).unwrap_or_default()
                                };
                                (text("path").to_owned(), text("message").to_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            401 | 403 => ClientError::TokenRefused {
                url: url.to_owned(),
                sent: sent_token,
            },
            _ => ClientError::Failed {
                status,
                kind: field("error"),
                message: field("message").unwrap_or_else(|| text_of(body)),
            },
        }
    }
}

/// A body that is not the API's error JSON, shortened to one line.
fn text_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None if line.is_empty() => "(no body)".to_owned(),
        None => line.to_owned(),
    }
}

/// The API at one base URL, with the token to send, if any.
pub(crate) struct ApiClient {
    base: String,
    token: Option<String>,
    http: awc::Client,
}

impl ApiClient {
    /// A client of the API at `url` (`http://HOST:PORT`, maybe with a path prefix).
    ///
    /// # Errors
    ///
    /// [`ClientError::Usage`] when `url` is not an `http://` URL: the client speaks
    /// plain HTTP only, as the API serves it.
    pub(crate) fn new(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let base = url.trim_end_matches('/');
        let Some(rest) = base.strip_prefix("http://") else {
            let why = if base.starts_with("https://") {
                "this client speaks plain http only, as zerog serves it"
            } else {
                "it must start with http://"
            };
            return Err(ClientError::Usage(format!("the API's URL `{url}`: {why}")));
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(ClientError::Usage(format!(
                "the API's URL `{url}` names no host"
            )));
        }
        let http = awc::Client::builder().timeout(REQUEST_TIMEOUT).finish();
        Ok(ApiClient {
            base: base.to_owned(),
            token: token.filter(|token| !token.is_empty()),
            http,
        })
    }

    /// The API's base URL, for messages.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`, answered with JSON.
    pub(crate) async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let answer = self.send(Method::GET, path, None).await?;
        self.json_of(answer).await
    }

    /// `POST path`, with `body` as JSON or with no body; answered with JSON.
    pub(crate) async fn post(
        &self,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let answer = self.send(Method::POST, path, body).await?;
        self.json_of(answer).await
    }

    /// `DELETE path`, answered with JSON.
    pub(crate) async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        let answer = self.send(Method::DELETE, path, None).await?;
        self.json_of(answer).await
    }

    /// `GET path` for a stream (`/events/{uuid}`): the body, once the answer's head
    /// says 2xx, still to read.
    pub(crate) async fn stream(&self, path: &str) -> Result<Body, ClientError> {
        let answer = self.send(Method::GET, path, None).await?;
        if !(200..300).contains(&answer.status) {
            let body = self.read(answer.body).await?;
            return Err(ClientError::of_answer(
                &self.base,
                self.token.is_some(),
                answer.status,
                &body,
            ));
        }
        Ok(answer.body)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ClientError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .insert_header(("Accept", "application/json, text/event-stream"));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let sent = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        };
        let response = sent.map_err(|error| self.send_error(error))?;
        Ok(Answer {
            status: response.status().as_u16(),
            body: response.boxed_local(),
        })
    }

    fn send_error(&self, error: SendRequestError) -> ClientError {
        let url = self.base.clone();
        let reason = match error {
            SendRequestError::Url(error) => {
                return ClientError::Usage(format!("the API's URL `{url}`: {error}"));
            }
            SendRequestError::Connect(ConnectError::Io(error)) => error.to_string(),
            SendRequestError::Connect(ConnectError::Resolver(error)) => {
                format!("its host name does not resolve ({error})")
            }
            SendRequestError::Connect(ConnectError::Timeout) | SendRequestError::Timeout => {
                format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
            }
            other => other.to_string(),
        };
        ClientError::Unreachable { url, reason }
    }

    /// The whole of `body`, up to [`BODY_LIMIT`].
    async fn read(&self, mut body: Body) -> Result<Vec<u8>, ClientError> {
        let broke_off = |reason: String| ClientError::Unreachable {
            url: self.base.clone(),
            reason,
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|error| broke_off(format!("the answer broke off: {error}")))?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() > BODY_LIMIT {
                return Err(ClientError::Protocol(format!(
                    "the answer from {} is over {} MiB",
                    self.base,
                    BODY_LIMIT >> 20
                )));
            }
        }
        Ok(bytes)
    }

    async fn json_of(&self, answer: Answer) -> Result<Value, ClientError> {
        let body = self.read(answer.body).await?;
        if !(200..300).contains(&answer.status) {
            return Err(ClientError::of_answer(
                &self.base,
                self.token.is_some(),
                answer.status,
                &body,
            ));
        }
        serde_json::from_slice(&body).map_err(|error| {
            ClientError::Protocol(format!(
                "the answer from {} is not JSON ({error}): is it a zerog API?",
                self.base
            ))
        })
    }
}

/// The body of an answer, as it arrives.
pub(crate) type Body = LocalBoxStream<'static, Result<Bytes, PayloadError>>;

/// An answer's status and its body, still to read.
struct Answer {
    status: u16,
    body: Body,
}

/// `text` made safe as one segment of a URL path or a query value: everything but
/// unreserved characters percent-encoded.
pub(crate) fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_published_ones() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::JobUnsuccessful.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Unavailable.code(), 3);
    }

    #[test]
    fn only_a_job_done_with_a_2xx_code_succeeds() {
        assert_eq!(Exit::of_job("done", 200), Exit::Success);
        assert_eq!(Exit::of_job("done", 204), Exit::Success);
        assert_eq!(Exit::of_job("done", 404), Exit::JobUnsuccessful);
        assert_eq!(Exit::of_job("done", 199), Exit::JobUnsuccessful);
        assert_eq!(Exit::of_job("failed", 500), Exit::JobUnsuccessful);
        assert_eq!(Exit::of_job("cancelled", 410), Exit::JobUnsuccessful);
    }

    #[test]
    fn answers_map_to_exit_codes() {
        let refused = ClientError::of_answer(
            "http://h",
            false,
            400,
            br#"{"error":"validation","message":"bad","details":[{"path":"/delay","message":"too big"},{"path":"","message":"no x"}]}"#,
        );
        assert_eq!(refused.exit(), Exit::Usage);
        assert_eq!(
            refused.lines(),
            [
                "error: the API refused the request (validation): bad",
                "  /delay: too big",
                "  (the whole body): no x",
            ]
        );
        for status in [401, 403] {
            let error = ClientError::of_answer("http://h", true, status, b"{}");
            assert_eq!(error.exit(), Exit::Unavailable);
            assert!(
                error.lines()[0].contains("refused the token"),
                "{:?}",
                error.lines()
            );
        }
        let error = ClientError::of_answer("http://h", false, 401, b"");
        assert!(
            error.lines()[0].contains("requires a token"),
            "{:?}",
            error.lines()
        );
        let error = ClientError::of_answer(
            "http://h",
            false,
            503,
            br#"{"error":"backend_unavailable","message":"the store is down"}"#,
        );
        assert_eq!(error.exit(), Exit::Unavailable);
        assert_eq!(
            error.lines(),
            ["error: the store is down (backend_unavailable, HTTP 503)"]
        );
        let error = ClientError::of_answer("http://h", false, 502, b"<html>Bad gateway\n</html>");
        assert_eq!(error.exit(), Exit::Unavailable);
        assert_eq!(
            error.lines(),
            ["error: the API answered HTTP 502: <html>Bad gateway"]
        );
        let unreachable = ClientError::Unreachable {
            url: "http://h".into(),
            reason: "Connection refused".into(),
        };
        assert_eq!(unreachable.exit(), Exit::Unavailable);
        assert_eq!(unreachable.lines().len(), 1);
        assert_eq!(ClientError::Usage("x".into()).exit(), Exit::Usage);
    }

    #[test]
    fn only_plain_http_urls_with_a_host_are_taken() {
        assert!(ApiClient::new("http://127.0.0.1:8888/", None).is_ok());
        for url in [
            "https://example.com",
            "127.0.0.1:8888",
            "http://",
            "http:///x",
        ] {
            let error = ApiClient::new(url, None).err().unwrap();
            assert_eq!(error.exit(), Exit::Usage, "{url}");
        }
    }

    #[test]
    fn encoding_leaves_only_unreserved_characters() {
        assert_eq!(encode("waste_time"), "waste_time");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
        assert_eq!(
            encode("2026-12-01T10:00:00+01:00"),
            "2026-12-01T10%3A00%3A00%2B01%3A00"
        );
    }
}
