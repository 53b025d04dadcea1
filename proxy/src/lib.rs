//! Mesh data plane. Knows nothing of Kubernetes: it serves a [`config::Config`].
//!
//! Module map (one idea each):
//! - `config`: the dynamic configuration (`Config`), its serde form and validation.
//! - `rule`: the router rule language: parser, matcher, compiled index.
//! - `service`: load balancers, weighted/mirroring/failover services, health checks.
//! - `upstream`: pooled connections to servers, servers transports (TLS, timeouts, h2c).
//! - `body`: the one body type every layer speaks.
pub mod body;
pub mod config;
pub mod rule;
pub mod service;
pub mod upstream;
