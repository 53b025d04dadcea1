//! Services and upstream connections (the SERVICES engineer's part), driven through
//! `Services` and `HttpService::call` against in-process hyper backends on 127.0.0.1.
mod backend;
mod balancing;
mod composite;
mod flushing;
mod health;
mod idle_connections;
mod transport;
mod wire;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use mesh_proxy::body::{self, Body};
use mesh_proxy::config::HttpConfig;
use mesh_proxy::service::{RequestContext, ServiceBuildError, Services};

/// Builds services from the JSON form of `http` (services and serversTransports).
fn try_build(http: serde_json::Value) -> (Services, Vec<ServiceBuildError>) {
    let config: HttpConfig = serde_json::from_value(http).expect("test config is valid");
    Services::build(&config, None)
}

/// Builds services that must all be valid.
fn build(http: serde_json::Value) -> Services {
    let (services, errors) = try_build(http);
    assert!(errors.is_empty(), "unexpected build errors: {errors:?}");
    services
}

fn context() -> RequestContext {
    RequestContext {
        client_addr: "127.0.0.9:40000".parse().expect("addr"),
        client_ip: None,
        entry_point: Arc::from("web"),
        tls: false,
        router: Arc::from("test-router"),
    }
}

fn get(path: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(http::header::HOST, "example.com")
        .body(body::empty())
        .expect("valid request")
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }

    /// `name=value` pairs of every Set-Cookie, attributes dropped.
    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split(';').next())
            .map(str::to_owned)
            .collect()
    }
}

async fn call(services: &Services, service: &str, req: Request<Body>) -> Answer {
    let service = services.get(service).expect("service was built");
    let response = service.call(req, &context()).await;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// Polls until `condition` holds; the test times out rather than asserting a duration.
async fn eventually(mut condition: impl FnMut() -> bool) {
    while !condition() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
