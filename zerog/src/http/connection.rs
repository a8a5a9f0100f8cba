//! What reaches actix's HTTP/1 dispatcher from a socket: only requests it can parse, so
//! that every malformed request is answered by the app with the JSON error body.
//!
//! actix-http's dispatcher answers a request it cannot parse (a garbage request line,
//! headers over its 128 KiB limit, a head that does not arrive in time) itself, with a
//! bare 400, 431 or 408 and no body, and never calls the app; it offers no hook to
//! change that answer. [`GuardedStream`] sits between the socket and the dispatcher
//! and runs a second copy of actix's own parser (`actix_http::h1::Codec`, so both
//! always agree) over the bytes as they arrive:
//!
//! - a request's head is handed on only once it parses whole, and a body's bytes only
//!   as they decode, so the dispatcher never sees bytes it would refuse;
//! - when the parser refuses a head, or a head misses its deadline, the refusal is
//!   written to the connection's [`ConnectionReport`], and the dispatcher is handed one
//!   synthetic request, `GET /malformed-request` with `Connection: close` and a header
//!   that carries the report's secret. The app's outermost layer (see [`refusal`])
//!   recognises it by that secret, which no client can know, and answers the
//!   refusal as an [`ApiError`]. The requests before it on the connection are answered
//!   first and in order, as HTTP/1.1 pipelining requires;
//! - when a chunked body is malformed, the stream ends there: the handler reading the
//!   body sees it end early and, finding the refusal in the report, answers 400
//!   `malformed_request` rather than `incomplete_body`.
//!
//! The dispatcher's own head timer is turned off (see [`super::server`]), because its
//! answer would be a bare 408: the deadline of a connection's first head, counted from
//! the accept, and of every later head, counted from its first byte, is kept here.
//!
//! Writes go to the socket unchanged.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::Decoder as _;
use actix_http::error::ParseError;
use actix_http::h1::{Codec, Message, MessageType};
use actix_web::dev::ServiceRequest;
use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::ApiError;

/// How long the close of a refused connection reads what the peer still sends.
const LINGER: Duration = Duration::from_secs(1);

/// The header of the synthetic request that stands for a refused one.
const REFUSAL_HEADER: &str = "x-zerog-refusal";

/// How a request was refused before it reached the app.
#[derive(Debug, Clone)]
enum Refusal {
    /// The request line or a header does not parse.
    Malformed(String),
    /// The request line and headers are over actix's limit.
    HeadTooLarge,
    /// The head did not arrive in time.
    HeadTimeout(Duration),
    /// A chunked body does not decode.
    MalformedBody(String),
}

impl Refusal {
    fn into_error(self) -> ApiError {
        match self {
            Refusal::Malformed(why) => ApiError::MalformedRequest(why),
            Refusal::HeadTooLarge => ApiError::HeadTooLarge,
            Refusal::HeadTimeout(timeout) => ApiError::HeadTimeout { timeout },
            Refusal::MalformedBody(why) => {
                ApiError::MalformedRequest(format!("the chunked body does not decode: {why}"))
            }
        }
    }
}

/// What went wrong on one connection, shared by its [`GuardedStream`] and the app
/// (as the connection's data, `HttpRequest::conn_data`).
#[derive(Debug, Default)]
pub(super) struct ConnectionReport {
    refusal: Mutex<Option<(Refusal, String)>>,
}

impl ConnectionReport {
    fn refuse(&self, refusal: Refusal) -> String {
        let secret = format!("{:032x}", fastrand::u128(..));
        *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some((refusal, secret.clone()));
        secret
    }

    fn refusal(&self) -> Option<(Refusal, String)> {
        self.refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The error for a body that ended early: the refusal of a malformed chunked body,
    /// if that is why.
    pub(super) fn body_error(&self) -> Option<ApiError> {
        match self.refusal()? {
            (refusal @ Refusal::MalformedBody(_), _) => Some(refusal.into_error()),
            _ => None,
        }
    }
}

/// A socket as the dispatcher reads it: see the module's documentation.
pub(super) struct GuardedStream<S> {
    inner: S,
    report: Arc<ConnectionReport>,
    parser: Codec,
    /// Bytes read but not yet handed on, as they came.
    unchecked: BytesMut,
    /// The same bytes, consumed by `parser` as it decodes them.
    parsing: BytesMut,
    /// Bytes checked and ready for the dispatcher.
    checked: BytesMut,
    in_body: bool,
    /// After a refusal or the peer's end: nothing more is read.
    ended: bool,
    head_timeout: Duration,
    head_deadline: Option<Pin<Box<Sleep>>>,
    /// Set by a refusal: how long the close may wait for the peer to stop sending.
    linger: Option<Pin<Box<Sleep>>>,
    write_closed: bool,
}

impl<S> GuardedStream<S> {
    /// Guards `inner`; its first head must arrive within `head_timeout`.
    pub(super) fn new(inner: S, head_timeout: Duration) -> Self {
        GuardedStream {
            inner,
            report: Arc::default(),
            parser: Codec::default(),
            unchecked: BytesMut::new(),
            parsing: BytesMut::new(),
            checked: BytesMut::new(),
            in_body: false,
            ended: false,
            head_timeout,
            head_deadline: Some(Box::pin(tokio::time::sleep(head_timeout))),
            linger: None,
            write_closed: false,
        }
    }

    /// The report to hand the app.
    pub(super) fn report(&self) -> Arc<ConnectionReport> {
        self.report.clone()
    }

    /// Decodes what has arrived, moving what parses to `checked`.
    fn check(&mut self) {
        while !self.ended && !self.parsing.is_empty() {
            let before = self.parsing.len();
            let decoded = self.parser.decode(&mut self.parsing);
            let consumed = before - self.parsing.len();
            match decoded {
                Ok(message) => {
                    let bytes = self.unchecked.split_to(consumed);
                    self.checked.unsplit(bytes);
                    match message {
                        Some(Message::Item(_)) => {
                            self.in_body = self.parser.message_type() != MessageType::None;
                            self.head_deadline = None;
                        }
                        Some(Message::Chunk(Some(_))) => {}
                        Some(Message::Chunk(None)) => self.in_body = false,
                        None => break,
                    }
                }
                Err(error) => {
                    let refusal = match error {
                        ParseError::TooLarge => Refusal::HeadTooLarge,
                        error if self.in_body => Refusal::MalformedBody(io_message(error)),
                        error => Refusal::Malformed(error.to_string()),
                    };
                    self.refuse(refusal);
                }
            }
        }
        if !self.in_body && !self.unchecked.is_empty() && self.head_deadline.is_none() {
            self.head_deadline = Some(Box::pin(tokio::time::sleep(self.head_timeout)));
        }
    }

    /// Ends the stream; a refused head is replaced by the synthetic request.
    fn refuse(&mut self, refusal: Refusal) {
        self.ended = true;
        self.unchecked.clear();
        self.parsing.clear();
        self.head_deadline = None;
        self.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        let in_body = matches!(refusal, Refusal::MalformedBody(_));
        let secret = self.report.refuse(refusal);
        if !in_body {
            self.checked.extend_from_slice(
                format!(
                    "GET /malformed-request HTTP/1.1\r\nhost: localhost\r\n\
                     connection: close\r\n{REFUSAL_HEADER}: {secret}\r\n\r\n"
                )
                .as_bytes(),
            );
        }
    }
}

/// A chunk error's message without actix's wrapping (`I/O error: ...`).
fn io_message(error: ParseError) -> String {
    match error {
        ParseError::Io(error) => error.to_string(),
        error => error.to_string(),
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.checked.is_empty() {
                let n = this.checked.len().min(buf.remaining());
                buf.put_slice(&this.checked[..n]);
                this.checked.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            if let Some(deadline) = &mut this.head_deadline
                && deadline.as_mut().poll(cx).is_ready()
            {
                this.refuse(Refusal::HeadTimeout(this.head_timeout));
                continue;
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                // The peer's end. A partial head could never be answered, so it is
                // dropped, as the dispatcher would drop it.
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    this.ended = true;
                    this.head_deadline = None;
                }
                Poll::Ready(Ok(())) => {
                    this.unchecked.extend_from_slice(read.filled());
                    this.parsing.extend_from_slice(read.filled());
                    this.check();
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    /// After a refusal, the peer may still be sending the rest of what was refused:
    /// closing with that unread would reset the connection, and the peer could lose
    /// the answer. So the close sends its end first, then reads and drops what comes
    /// for up to a second, or until the peer's end (a lingering close, RFC 9112 §9.6).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.write_closed = true;
        }
        let Some(linger) = &mut this.linger else {
            return Poll::Ready(Ok(()));
        };
        let mut chunk = [0u8; 8192];
        while linger.as_mut().poll(cx).is_pending() {
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !read.filled().is_empty() => {}
                Poll::Ready(_) => break,
            }
        }
        this.linger = None;
        Poll::Ready(Ok(()))
    }
}

/// The refusal that the synthetic request `request` stands for, or `None` for every
/// request that a client sent.
pub(super) fn refusal(request: &ServiceRequest) -> Option<ApiError> {
    let report = request.conn_data::<Arc<ConnectionReport>>()?;
    let (refusal, secret) = report.refusal()?;
    let sent = request.headers().get(REFUSAL_HEADER)?;
    (sent.as_bytes() == secret.as_bytes()).then(|| refusal.into_error())
}
