//! ServersTransport and ServersTransportTCP: how the proxy connects to backends
//! (reference §1.10, §1.11).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{PeerCertSan, ProxyProtocol, RootCa, Spiffe, is_false};
use crate::status::MeshStatus;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "ServersTransport",
    doc = "How the proxy connects to HTTP backends: TLS verification, client certificates, timeouts.",
    namespaced,
    status = "MeshStatus",
    shortname = "stp",
    category = "mesh",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ServersTransportSpec {
    /// SNI sent to the backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure_skip_verify: bool,
    #[serde(default, rename = "rootCAs", skip_serializing_if = "Vec::is_empty")]
    pub root_cas: Vec<RootCa>,
    /// Deprecated: use `rootCAs`.
    #[serde(
        default,
        rename = "rootCAsSecrets",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub root_cas_secrets: Vec<String>,
    /// Client certificates (`tls.crt`/`tls.key`) for mTLS to the backends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates_secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    /// Idle connections kept per host (-1: none).
    #[serde(default)]
    #[schemars(range(min = -1))]
    pub max_idle_conns_per_host: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarding_timeouts: Option<ForwardingTimeouts>,
    #[serde(default, rename = "disableHTTP2", skip_serializing_if = "is_false")]
    pub disable_http2: bool,
    /// Deprecated: use `peerCertSANs`.
    #[serde(
        default,
        rename = "peerCertURI",
        skip_serializing_if = "Option::is_none"
    )]
    pub peer_cert_uri: Option<String>,
    #[serde(
        default,
        rename = "peerCertSANs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peer_cert_sans: Vec<PeerCertSan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spiffe: Option<Spiffe>,
}

fn default_dial_timeout() -> IntOrString {
    IntOrString::String("30s".to_string())
}

fn default_idle_conn_timeout() -> IntOrString {
    IntOrString::String("90s".to_string())
}

fn default_ping_timeout() -> IntOrString {
    IntOrString::String("15s".to_string())
}

/// Timeouts of upstream HTTP connections.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardingTimeouts {
    #[serde(default = "default_dial_timeout")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub dial_timeout: IntOrString,
    /// 0: no timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub response_header_timeout: Option<IntOrString>,
    #[serde(default = "default_idle_conn_timeout")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub idle_conn_timeout: IntOrString,
    /// HTTP/2 health-check ping after this idle time (0: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub read_idle_timeout: Option<IntOrString>,
    #[serde(default = "default_ping_timeout")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub ping_timeout: IntOrString,
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "ServersTransportTCP",
    doc = "How the proxy connects to TCP backends: timeouts, PROXY protocol, TLS.",
    namespaced,
    status = "MeshStatus",
    shortname = "stpt",
    category = "mesh",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ServersTransportTCPSpec {
    #[serde(default = "default_dial_timeout")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub dial_timeout: IntOrString,
    /// 0: the OS default (15s); negative disables keep-alive.
    #[serde(default = "default_dial_keep_alive")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub dial_keep_alive: IntOrString,
    /// Time the write side stays open after the read side closed.
    #[serde(default = "default_termination_delay")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub termination_delay: IntOrString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<ProxyProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsClientConfig>,
}

impl Default for ServersTransportTCPSpec {
    fn default() -> Self {
        ServersTransportTCPSpec {
            dial_timeout: default_dial_timeout(),
            dial_keep_alive: default_dial_keep_alive(),
            termination_delay: default_termination_delay(),
            proxy_protocol: None,
            tls: None,
        }
    }
}

fn default_dial_keep_alive() -> IntOrString {
    IntOrString::String("15s".to_string())
}

fn default_termination_delay() -> IntOrString {
    IntOrString::String("100ms".to_string())
}

/// TLS towards TCP backends.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsClientConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure_skip_verify: bool,
    #[serde(default, rename = "rootCAs", skip_serializing_if = "Vec::is_empty")]
    pub root_cas: Vec<RootCa>,
    /// Deprecated: use `rootCAs`.
    #[serde(
        default,
        rename = "rootCAsSecrets",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub root_cas_secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates_secrets: Vec<String>,
    /// Deprecated: use `peerCertSANs`.
    #[serde(
        default,
        rename = "peerCertURI",
        skip_serializing_if = "Option::is_none"
    )]
    pub peer_cert_uri: Option<String>,
    /// Accepted but ignored, as in Traefik.
    #[serde(
        default,
        rename = "peerCertSANs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peer_cert_sans: Vec<PeerCertSan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spiffe: Option<Spiffe>,
}
