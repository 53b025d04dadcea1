//! Runtime HTTP services: what a router hands a request to once it matched.
//!
//! [`Services::build`] turns `http.services` of one configuration into a set of
//! [`HttpService`]s (server load balancers, weighted, highest random weight, mirroring,
//! failover, each possibly behind its service-level middlewares) that live as long
//! as that configuration generation. Health state, sticky tables and connection pools are
//! carried over from the previous generation, so an apply neither resets a server that is
//! down nor drops warm connections.
mod balancer;
mod build;
mod composite;
mod errors;
mod health;
mod middlewares;
mod rendezvous;
mod sticky;
mod wrr;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::body::Body;

pub use build::{ServiceBuildError, ServiceErrorReason, Services};
pub use errors::{bad_gateway, gateway_timeout, no_available_server};

/// What the server knows about the request beyond the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The client's address (the TCP peer).
    pub client_addr: SocketAddr,
    /// `client_addr`'s IP as a header value, formatted once per connection (`None`: each
    /// request formats it).
    pub client_ip: Option<http::HeaderValue>,
    /// The entry point that accepted the connection.
    pub entry_point: Arc<str>,
    /// Whether the client connection is TLS (sets `X-Forwarded-Proto: https`).
    pub tls: bool,
    /// The router that matched, for logs.
    pub router: Arc<str>,
}

/// A runtime service. Never fails: upstream problems become 502/503/504 responses with a
/// short plain-text body.
pub trait HttpService: Send + Sync + 'static {
    fn call(
        &self,
        req: http::Request<Body>,
        cx: &RequestContext,
    ) -> BoxFuture<'static, http::Response<Body>>;

    /// Whether the service can take a request now: false when every server behind it is
    /// down. Failover and weighted parents use it to skip a dead child.
    fn is_available(&self) -> bool {
        true
    }
}

/// A server's health as the admin API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ServerStatus {
    #[serde(rename = "UP")]
    Up,
    #[serde(rename = "DOWN")]
    Down,
}

/// One service as the admin API shows it (Traefik's `serverStatus`, plus the kind).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    /// `loadBalancer`, `weighted`, `highestRandomWeight`, `mirroring` or `failover`.
    pub kind: &'static str,
    /// Whether the service can take requests now.
    pub available: bool,
    /// Server URL -> UP/DOWN (load balancers only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub server_status: BTreeMap<String, ServerStatus>,
}
