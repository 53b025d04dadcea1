//! The responses a service answers with when it cannot reach a server.
use http::{Response, StatusCode, header};

use crate::body::{self, Body};

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(body::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// 503: every server is down, or the service has none.
pub fn no_available_server() -> Response<Body> {
    plain(StatusCode::SERVICE_UNAVAILABLE, "no available server\n")
}

/// 502: the server could not be reached or broke the exchange.
pub fn bad_gateway() -> Response<Body> {
    plain(StatusCode::BAD_GATEWAY, "bad gateway\n")
}

/// 504: the server did not answer in time.
pub fn gateway_timeout() -> Response<Body> {
    plain(StatusCode::GATEWAY_TIMEOUT, "gateway timeout\n")
}
