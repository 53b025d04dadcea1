//! Pieces shared by several kinds: references, the service reference (`LoadBalancerSpec`,
//! reference §1.2), sticky cookies, health checks and TLS bits.
//!
//! Enumerated strings stay `String` in Rust and are restricted in the CRD schema only:
//! Traefik skips a single route on an unknown value, so decoding must not reject the object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(crate) fn default_true() -> bool {
    true
}

pub(crate) fn default_weight() -> i64 {
    1
}

pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

/// Port 0: what Traefik sees when a port is missing ("port not defined").
pub(crate) fn undefined_port() -> IntOrString {
    IntOrString::Int(0)
}

pub(crate) fn is_undefined_port(port: &IntOrString) -> bool {
    *port == undefined_port()
}

/// A reference to another Mesh object by name, in the referrer's namespace unless given.
/// A name containing `@` is a cross-provider reference (`auth@file`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["name"]))]
pub struct ObjectRef {
    // Required by the schema; decoded as empty when missing so only the referrer fails.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A Kubernetes Service or a TraefikService a route (or TraefikService, errors middleware,
/// failover) sends traffic to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["name"]))]
pub struct LoadBalancerSpec {
    /// Service or TraefikService name; `name@provider` refers to another provider.
    // Required by the schema; decoded as empty when missing so only the referrer fails.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `Service` (default, also when empty) or `TraefikService`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Service", "TraefikService"]))]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Service port number or name; required for kind Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::int_or_string")]
    pub port: Option<IntOrString>,
    /// `http`, `https` or `h2c`; inferred from the Service port when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Load-balancing algorithm over the servers (`RoundRobin` is a deprecated alias of wrr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["wrr", "p2c", "hrw", "leasttime", "RoundRobin"]))]
    pub strategy: Option<String>,
    /// Weight inside a weighted parent; 0 is kept as 0.
    #[serde(default = "default_weight")]
    #[schemars(range(min = 0))]
    pub weight: i64,
    /// Forward the client's Host header to the backend.
    #[serde(default = "default_true")]
    pub pass_host_header: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_forwarding: Option<ResponseForwarding>,
    /// ServersTransport name in the service's namespace, or `name@provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers_transport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
    /// Use the Service's ClusterIP as the single server (unset: the provider default).
    #[serde(default, rename = "nativeLB", skip_serializing_if = "Option::is_none")]
    pub native_lb: Option<bool>,
    /// Use every node's InternalIP with the Service's nodePort as servers.
    #[serde(default, rename = "nodePortLB", skip_serializing_if = "is_false")]
    pub node_port_lb: bool,
    /// Middlewares applied to every router using this service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<ObjectRef>,
    /// Active health check (ExternalName services only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<PassiveHealthCheck>,
}

impl LoadBalancerSpec {
    /// True when the reference names a TraefikService rather than a Kubernetes Service.
    pub fn is_traefik_service(&self) -> bool {
        self.kind.as_deref() == Some("TraefikService")
    }
}

pub(crate) fn default_flush_interval() -> String {
    "100ms".to_string()
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseForwarding {
    /// How often to flush the response to the client; negative flushes after every write.
    #[serde(default = "default_flush_interval")]
    pub flush_interval: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sticky {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<StickyCookie>,
}

pub(crate) fn default_cookie_path() -> Option<String> {
    Some("/".to_string())
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StickyCookie {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub secure: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub http_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["none", "lax", "strict", "None", "Lax", "Strict"]))]
    pub same_site: Option<String>,
    /// Seconds; 0 = session cookie, negative = expire now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
    #[serde(
        default = "default_cookie_path",
        skip_serializing_if = "Option::is_none"
    )]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

pub(crate) fn default_health_check_interval() -> IntOrString {
    IntOrString::String("30s".to_string())
}

pub(crate) fn default_health_check_timeout() -> IntOrString {
    IntOrString::String("5s".to_string())
}

/// Active health check of the servers of a service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// `http` (also when empty) or `grpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Expected status code (any 2xx/3xx when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default = "default_health_check_interval")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub interval: IntOrString,
    /// Interval while the server is unhealthy; the healthy interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub unhealthy_interval: Option<IntOrString>,
    #[serde(default = "default_health_check_timeout")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub timeout: IntOrString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

pub(crate) fn default_failure_window() -> IntOrString {
    IntOrString::String("10s".to_string())
}

pub(crate) fn default_max_failed_attempts() -> i64 {
    1
}

/// Passive health check: a server failing too often within a window is taken out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PassiveHealthCheck {
    #[serde(default = "default_failure_window")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub failure_window: IntOrString,
    #[serde(default = "default_max_failed_attempts")]
    pub max_failed_attempts: i64,
}

/// A domain (and its SANs) to request a certificate for through an ACME resolver.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

/// TLS settings of an IngressRoute (HTTP routers).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteTls {
    /// Secret (in the route's namespace) with `tls.crt` and `tls.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// TLSOption to use; the `default` option when unset.
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

/// How to find the client IP: the peer address, or an entry of X-Forwarded-For.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpStrategy {
    /// Take the IP `depth` entries from the right of X-Forwarded-For.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub depth: Option<i64>,
    #[serde(default, rename = "excludedIPs", skip_serializing_if = "Vec::is_empty")]
    pub excluded_ips: Vec<String>,
    /// Group IPv6 clients by this prefix length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_subnet: Option<i64>,
}

/// What identifies a client for rate limiting and in-flight limits.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceCriterion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_strategy: Option<IpStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub request_host: bool,
}

/// A CA read from a Secret or a ConfigMap (key `tls.ca`, else `ca.crt`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!(has(self.secret) && has(self.configMap))",
    "message": "RootCA cannot have both Secret and ConfigMap defined.",
}]))]
pub struct RootCa {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
}

/// A subject alternative name the backend certificate must carry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerCertSan {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["DNSName", "IPAddress", "URI", "EmailAddress"]))]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// SPIFFE verification of backend certificates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Spiffe {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_domain: Option<String>,
}

/// PROXY protocol header sent to backends.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProxyProtocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2))]
    pub version: Option<i64>,
}

/// Client TLS to a remote service (forwardAuth, redis): CA and client certificate Secrets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientTls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure_skip_verify: bool,
    /// Deprecated: ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_optional: Option<bool>,
}
