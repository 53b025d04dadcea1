//! IngressRouteUDP: UDP routers, one per route, without rules (reference §1.4).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{default_weight, is_false};
use crate::status::RouteObjectStatus;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "IngressRouteUDP",
    doc = "UDP routers: datagrams of an entry point forwarded to Services.",
    namespaced,
    status = "RouteObjectStatus",
    shortname = "iru",
    category = "mesh",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"EntryPoints","type":"string","jsonPath":".spec.entryPoints"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["routes"]))]
pub struct IngressRouteUDPSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,
    /// Entry point names; every UDP entry point when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    // Required by the schema; decoding tolerates its absence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteUDP>,
}

/// One UDP router, named after its index.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteUDP {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceUDP>,
}

/// A Kubernetes Service a UDP route forwards to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["name", "port"]))]
pub struct ServiceUDP {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Service port number or name.
    // Required by the schema; decoded as 0 ("port not defined") when missing so only this
    // service entry is dropped.
    #[serde(
        default = "crate::common::undefined_port",
        skip_serializing_if = "crate::common::is_undefined_port"
    )]
    #[schemars(schema_with = "crate::schema::int_or_string")]
    pub port: IntOrString,
    #[serde(default = "default_weight")]
    #[schemars(range(min = 0))]
    pub weight: i64,
    #[serde(default, rename = "nativeLB", skip_serializing_if = "Option::is_none")]
    pub native_lb: Option<bool>,
    #[serde(default, rename = "nodePortLB", skip_serializing_if = "is_false")]
    pub node_port_lb: bool,
}
