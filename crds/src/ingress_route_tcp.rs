//! IngressRouteTCP: TCP routers, plain or TLS (terminated or passed through) (reference §1.3).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Domain, ObjectRef, ProxyProtocol, default_weight, is_false};

use crate::status::RouteObjectStatus;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "IngressRouteTCP",
    doc = "TCP routers: connections matched on SNI, ALPN or client IP, forwarded to Services.",
    namespaced,
    status = "RouteObjectStatus",
    shortname = "irt",
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
pub struct IngressRouteTCPSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,
    /// Entry point names; the default entry points when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    // Required by the schema; decoding tolerates its absence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteTCP>,
    /// Absent: plain TCP routers, which may only match ``HostSNI(`*`)``.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsTCP>,
}

/// One TCP router.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["match"]))]
pub struct RouteTCP {
    /// The rule, e.g. ``HostSNI(`db.example.com`)``.
    // Required by the schema; decoded as empty when missing so only this route is skipped.
    #[serde(rename = "match", default, skip_serializing_if = "String::is_empty")]
    pub match_: String,
    /// 0 means "the length of the rule" (-1 for ``HostSNI(`*`)`` alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 9_223_372_036_854_774_807_i64))]
    pub priority: Option<i64>,
    /// Deprecated rule syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["v3", "v2"]))]
    pub syntax: Option<String>,
    /// MiddlewareTCP references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<ObjectRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceTCP>,
}

fn default_termination_delay() -> Option<i64> {
    Some(100)
}

/// A Kubernetes Service a TCP route forwards to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["name", "port"]))]
pub struct ServiceTCP {
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
    /// Used when the route has several services.
    #[serde(default = "default_weight")]
    #[schemars(range(min = 0))]
    pub weight: i64,
    /// Dial the backends with TLS.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls: bool,
    /// Deprecated: use a ServersTransportTCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Deprecated, milliseconds (negative: never close the read side); only without
    /// `serversTransport`.
    #[serde(
        default = "default_termination_delay",
        skip_serializing_if = "Option::is_none"
    )]
    pub termination_delay: Option<i64>,
    /// ServersTransportTCP name in the IngressRouteTCP's namespace, or `name@provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers_transport: Option<String>,
    #[serde(default, rename = "nativeLB", skip_serializing_if = "Option::is_none")]
    pub native_lb: Option<bool>,
    #[serde(default, rename = "nodePortLB", skip_serializing_if = "is_false")]
    pub node_port_lb: bool,
}

/// TLS of TCP routers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsTCP {
    /// Secret with `tls.crt`/`tls.key`; not loaded when passing through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Forward the TLS bytes untouched, routing on the ClientHello.
    #[serde(default, skip_serializing_if = "is_false")]
    pub passthrough: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<ObjectRef>,
    /// Ignored: only the `default` TLSStore exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_resolver: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}
