//! The transport under the app (SPEC §4), over real sockets to `http::Server` on
//! `127.0.0.1:0`: a body must arrive in time, open connections are capped, and every
//! malformed request is answered with the JSON error body.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zerog::Registry;
use zerog::backend::Backend;
use zerog::http::{ApiState, Server};

use crate::waste_time;

/// Far longer than any answer here should take.
const GENEROUS: Duration = Duration::from_secs(20);

/// A short deadline, so that a test that waits for it stays short.
const SHORT: Duration = Duration::from_millis(500);

async fn state() -> ApiState {
    let backend = Backend::connect("sqlite::memory:").await.unwrap();
    let registry = Registry::new().register::<waste_time::WasteTime>();
    ApiState::new(backend, registry)
}

/// Serves `server` on a free port, until the test's runtime ends.
fn serve(server: Server) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(server.threads(1).listen(listener).unwrap());
    address
}

/// One answer read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    json: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn assert_json_error(&self, status: u16, kind: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        assert_eq!(self.json["error"], kind, "{self:?}");
        let message = self.json["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "an error has a message: {self:?}");
    }
}

/// Splits everything a connection answered into its answers (each framed by its
/// `content-length`).
fn answers(mut bytes: &[u8]) -> Vec<Answer> {
    let mut answers = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("a whole head in {:?}", String::from_utf8_lossy(bytes)));
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("a status line in {head:?}"));
        let mut answer = Answer {
            status,
            head,
            json: Value::Null,
        };
        let length: usize = answer
            .header("content-length")
            .map_or(0, |length| length.parse().unwrap());
        let body = &bytes[end + 4..end + 4 + length];
        answer.json = serde_json::from_slice(body).unwrap_or(Value::Null);
        answers.push(answer);
        bytes = &bytes[end + 4 + length..];
    }
    answers
}

/// Reads until the server closes the connection.
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> Vec<Answer> {
    let mut bytes = Vec::new();
    tokio::time::timeout(GENEROUS, stream.read_to_end(&mut bytes))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the server never closed the connection after {what}; it sent {:?}",
                String::from_utf8_lossy(&bytes)
            )
        })
        .expect("the connection reads");
    answers(&bytes)
}

/// Sends `request` on a new connection; every answer until the server closes it.
async fn exchange(address: SocketAddr, request: &[u8], what: &str) -> Vec<Answer> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_until_closed(&mut stream, what).await
}

/// Reads exactly one answer that carries a `content-length`.
async fn read_answer(stream: &mut TcpStream, what: &str) -> Answer {
    let mut bytes = Vec::new();
    let read = async {
        loop {
            if let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |length| length.trim().parse().unwrap());
                if bytes.len() >= end + 4 + length {
                    return;
                }
            }
            let mut chunk = [0; 4096];
            let n = stream.read(&mut chunk).await.expect("the connection reads");
            assert!(n > 0, "the connection closed during {what}");
            bytes.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(GENEROUS, read)
        .await
        .unwrap_or_else(|_| panic!("{what} was never answered"));
    answers(&bytes).remove(0)
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n";

/// A whole head and 5 of the 100 bytes of body it announces.
const PARTIAL_BODY: &[u8] = b"POST /job/waste_time HTTP/1.1\r\nhost: localhost\r\n\
    content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"del";

#[actix_web::test]
async fn a_body_that_stops_arriving_is_answered_408_and_the_connection_closed() {
    let address = serve(Server::new(state().await.body_timeout(SHORT)));
    let answers = exchange(address, PARTIAL_BODY, "a partial body").await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers[0].assert_json_error(408, "body_timeout");
    assert_eq!(
        answers[0].header("connection"),
        Some("close"),
        "{answers:?}"
    );
}

#[actix_web::test]
async fn a_body_cut_short_is_a_clean_400() {
    let address = serve(Server::new(state().await));
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(PARTIAL_BODY).await.unwrap();
    stream.shutdown().await.unwrap();
    let answers = read_until_closed(&mut stream, "a half-closed body").await;
    answers[0].assert_json_error(400, "incomplete_body");
    let message = answers[0].json["message"].as_str().unwrap();
    assert!(!message.contains("None"), "{message}");
}

#[actix_web::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let state = state().await.body_timeout(Duration::from_secs(600));
    let address = serve(Server::new(state).max_connections(2));
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        // Answered, so the server holds the connection; then held by a body that
        // never ends.
        stream.write_all(HEALTH).await.unwrap();
        assert_eq!(
            read_answer(&mut stream, "a slow client's /health")
                .await
                .status,
            200
        );
        stream.write_all(PARTIAL_BODY).await.unwrap();
        slow.push(stream);
    }
    let mut waiting = TcpStream::connect(address).await.unwrap();
    waiting.write_all(HEALTH).await.unwrap();
    let mut byte = [0; 1];
    let early = tokio::time::timeout(Duration::from_secs(1), waiting.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "a third connection was served while two held the cap of two: {early:?}"
    );
    drop(slow.remove(0));
    let answer = read_answer(&mut waiting, "the waiting connection's /health").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    drop(slow);
    drop(waiting);
    for _ in 0..3 {
        let mut fresh = TcpStream::connect(address).await.unwrap();
        fresh.write_all(HEALTH).await.unwrap();
        let answer = read_answer(&mut fresh, "a /health once the slow clients left").await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
}

#[actix_web::test]
async fn a_garbage_request_line_is_a_json_400_even_before_the_token_check() {
    let address = serve(Server::new(state().await.api_token("s3cret")));
    let answers = exchange(address, b"\x01\x02 nonsense\r\n\r\n", "a garbage line").await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers[0].assert_json_error(400, "malformed_request");
}

#[actix_web::test]
async fn headers_over_the_limit_are_a_json_431() {
    let address = serve(Server::new(state().await));
    let request = format!(
        "GET /health HTTP/1.1\r\nhost: localhost\r\nx-padding: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let answers = exchange(address, request.as_bytes(), "an oversized header").await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers[0].assert_json_error(431, "head_too_large");
}

#[actix_web::test]
async fn a_bad_chunk_is_a_json_400() {
    let address = serve(Server::new(state().await));
    let request = b"POST /job/waste_time HTTP/1.1\r\nhost: localhost\r\n\
        content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    let answers = exchange(address, request, "a bad chunk").await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers[0].assert_json_error(400, "malformed_request");
    let message = answers[0].json["message"].as_str().unwrap();
    assert!(message.contains("chunk"), "{message}");
}

#[actix_web::test]
async fn a_head_that_stops_arriving_is_a_json_408() {
    let address = serve(Server::new(state().await).head_timeout(SHORT));
    let answers = exchange(
        address,
        b"GET /health HTTP/1.1\r\nhost: loc",
        "a partial head",
    )
    .await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers[0].assert_json_error(408, "head_timeout");
}

#[actix_web::test]
async fn requests_before_a_malformed_one_are_answered_first() {
    let address = serve(Server::new(state().await));
    let request = [HEALTH, HEALTH, b"GARBAGE GARBAGE\r\n\r\n"].concat();
    let answers = exchange(address, &request, "pipelined requests").await;
    let statuses: Vec<u16> = answers.iter().map(|answer| answer.status).collect();
    assert_eq!(statuses, [200, 200, 400], "{answers:?}");
    answers[2].assert_json_error(400, "malformed_request");
}
