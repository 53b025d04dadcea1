//! IngressRoute: HTTP routers (reference §1.1).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{LoadBalancerSpec, ObjectRef, RouteTls};
use crate::status::RouteObjectStatus;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "IngressRoute",
    doc = "HTTP routers: rules matched on requests, the services they go to and the middlewares on the way.",
    namespaced,
    status = "RouteObjectStatus",
    shortname = "ir",
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
pub struct IngressRouteSpec {
    /// Only controllers serving this class process the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,
    /// Entry point names; the default entry points when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    /// One router per route.
    // Required by the schema; decoding tolerates its absence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Presence (even `{}`) makes every router of this IngressRoute a TLS router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<RouteTls>,
    /// Parent IngressRoutes for multi-layer routing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ObjectRef>,
}

/// One HTTP router.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["match"]))]
pub struct Route {
    /// The rule, e.g. ``Host(`example.com`) && PathPrefix(`/api`)``.
    // Required by the schema; decoded as empty when missing so only this route is skipped,
    // as in Traefik.
    #[serde(rename = "match", default, skip_serializing_if = "String::is_empty")]
    pub match_: String,
    /// Only `Rule` exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Rule"]))]
    pub kind: Option<String>,
    /// 0 means "the length of the rule".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 9_223_372_036_854_774_807_i64))]
    pub priority: Option<i64>,
    /// Deprecated rule syntax (`v2`/`v3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syntax: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<LoadBalancerSpec>,
    /// Applied in order before the services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<RouterObservability>,
}

/// Per-router observability switches; unset inherits the entry point's setting.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouterObservability {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "accesslogs")]
    pub access_logs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<bool>,
    #[serde(
        default = "default_trace_verbosity",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(extend("enum" = ["minimal", "detailed"]))]
    pub trace_verbosity: Option<String>,
}

fn default_trace_verbosity() -> Option<String> {
    Some("minimal".to_string())
}
