//! `tcp`: TCP routers, services, middlewares and servers transports (served by
//! [`crate::tcp`]).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::router::Domain;
use super::transport::Duration;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpConfig {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub routers: BTreeMap<String, TcpRouter>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, TcpService>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub middlewares: BTreeMap<String, TcpMiddleware>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub servers_transports: BTreeMap<String, TcpServersTransport>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpRouter {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
    pub service: String,
    /// TCP rule (reference §2.4), e.g. ``HostSNI(`db.example.com`)``.
    pub rule: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rule_syntax: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TcpRouterTls>,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpRouterTls {
    /// Forward the TLS bytes untouched instead of terminating.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub passthrough: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub options: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_resolver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}

/// Exactly one of `loadBalancer` / `weighted`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpService {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<TcpLoadBalancer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<TcpWeighted>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpLoadBalancer {
    pub servers: Vec<TcpServer>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub servers_transport: String,
    /// Deprecated in favour of the servers transport.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Deprecated (milliseconds) in favour of the servers transport.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_delay: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpServer {
    /// `host:port`.
    pub address: String,
    /// Dial the server with TLS.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpWeighted {
    pub services: Vec<TcpWeightedService>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpWeightedService {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProxyProtocol {
    /// 1 or 2.
    pub version: u8,
}

/// `tcp.middlewares.<name>`: exactly one key set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpMiddleware {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight_conn: Option<InFlightConn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<TcpIpAllowList>,
    /// Deprecated alias of `ipAllowList`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_white_list: Option<TcpIpAllowList>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InFlightConn {
    pub amount: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpIpAllowList {
    pub source_range: Vec<String>,
}

/// `tcp.serversTransports.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpServersTransport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_keep_alive: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_delay: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<ProxyProtocol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TcpClientTls>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpClientTls {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    /// PEM documents of trusted CAs.
    #[serde(rename = "rootCAs", skip_serializing_if = "Vec::is_empty")]
    pub root_cas: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<super::tls::CertificatePair>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peer_cert_uri: String,
}
