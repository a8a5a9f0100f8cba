//! `HEAD` wherever `GET` is served (RFC 9110 §9.3.2): the same status and headers as
//! `GET`, and no body, so that `curl -I` and load balancers' probes work.
//!
//! The rule is written once, in [`methods_serving`]: the route table registers and
//! lists in `Allow` what it returns for each entry, and the hierarchy asks it too.
//! A `HEAD` request then runs the `GET` handler, and [`without_body`] (around the
//! whole app) drops the body of whatever it answers, errors included:
//!
//! ```ignore
//! assert_eq!(methods_serving(&Method::GET), [Method::GET, Method::HEAD]);
//! assert_eq!(methods_serving(&Method::POST), [Method::POST]);
//! ```
//!
//! The body left in place declares the size of the one dropped, so an HTTP/1.1
//! server writes the `Content-Length` that `GET` would have sent, and writes no bytes
//! after the headers, as it does for any answer to `HEAD`.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::Method;
use actix_web::web::Bytes;

/// The methods served where the route table or the hierarchy serves `method`: `GET`
/// brings `HEAD` with it, right after it.
pub(super) fn methods_serving(method: &Method) -> Vec<Method> {
    if method == Method::GET {
        vec![Method::GET, Method::HEAD]
    } else {
        vec![method.clone()]
    }
}

/// `response` without its body when it answers a `HEAD` request, as it is otherwise.
pub(super) fn without_body(response: ServiceResponse) -> ServiceResponse {
    if response.request().method() != Method::HEAD {
        return response;
    }
    response.map_body(|_, body| BoxBody::new(Dropped(body.size())))
}

/// Where a body was: its size, and no bytes.
struct Dropped(BodySize);

impl MessageBody for Dropped {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        self.0
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_brings_head_and_nothing_else_does() {
        assert_eq!(methods_serving(&Method::GET), [Method::GET, Method::HEAD]);
        for method in [Method::POST, Method::DELETE, Method::PUT] {
            assert_eq!(methods_serving(&method), std::slice::from_ref(&method));
        }
    }
}
