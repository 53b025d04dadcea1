//! Mesh data plane. Knows nothing of Kubernetes: it serves a [`config::Config`].
//!
//! Module map (one idea each):
//! - `config`: the dynamic configuration (`Config`), its serde form and validation.
//! - `rule`: the router rule language: parser, matcher, compiled index.
//! - `service`: load balancers, weighted/mirroring/failover services, health checks.
//! - `upstream`: pooled connections to servers, servers transports (TLS, timeouts, h2c).
//! - `body`: the one body type every layer speaks.
//! - `middleware`: middleware chains (compiled once per config, run per request).
//! - `router`: dispatch of one request: router index -> chain -> service; access log.
//! - `runtime`: [`Proxy`]: `apply` (validation into per-object problems, atomic swap).
//! - `server`: entry point listeners (HTTP/1.1 + h2c on one port, upgrades).
//! - `tcp`: TCP routers (plain, TLS passthrough or termination) and TCP services.
//! - `udp`: UDP routers (one per entry point) and sessions to UDP services.
//! - `tls`: TLS termination: certificates by SNI, TLS options by host, client auth.
//! - `admin`: the Traefik-shaped admin API, `/metrics`, `/ping`.
//! - `metrics`: lock-free per-router and per-service counters.
pub mod admin;
pub mod body;
pub mod config;
pub mod metrics;
pub mod middleware;
pub mod router;
pub mod rule;
pub mod runtime;
pub mod server;
pub mod service;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod upstream;

pub use config::{Config, StaticConfig};
pub use runtime::{ApplyReport, Proxy};
pub use server::{RunningProxy, ServeError};
