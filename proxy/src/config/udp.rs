//! `udp`: UDP routers and services (served by [`crate::udp`]).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UdpConfig {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub routers: BTreeMap<String, UdpRouter>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, UdpService>,
}

/// A UDP router has no rule: every datagram of its entry points goes to its service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UdpRouter {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    pub service: String,
}

/// Exactly one of `loadBalancer` / `weighted`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UdpService {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<UdpLoadBalancer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<UdpWeighted>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UdpLoadBalancer {
    pub servers: Vec<UdpServer>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UdpServer {
    /// `host:port`.
    pub address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UdpWeighted {
    pub services: Vec<UdpWeightedService>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UdpWeightedService {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}
