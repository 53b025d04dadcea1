//! MiddlewareTCP: connection-level middlewares for TCP routers (reference §1.6, §3.2).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::status::MeshStatus;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "MiddlewareTCP",
    doc = "A TCP middleware used by IngressRouteTCP routes.",
    namespaced,
    status = "MeshStatus",
    shortname = "mwt",
    category = "mesh",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MiddlewareTCPSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight_conn: Option<InFlightConn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<TcpIpAllowList>,
    /// Deprecated alias of `ipAllowList`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_white_list: Option<TcpIpAllowList>,
}

/// Maximum simultaneous connections per client IP.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InFlightConn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub amount: Option<i64>,
}

/// Closes connections whose peer IP is outside the ranges.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpIpAllowList {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_range: Vec<String>,
}
