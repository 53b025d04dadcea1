//! TLSOption and TLSStore: server-side TLS parameters and certificate stores
//! (reference §1.8, §1.9).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Domain, is_false};
use crate::status::MeshStatus;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "TLSOption",
    doc = "TLS parameters (versions, ciphers, client authentication) for TLS routers.",
    namespaced,
    status = "MeshStatus",
    shortname = "tlso",
    category = "mesh",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TLSOptionSpec {
    /// `VersionTLS10` .. `VersionTLS13`; the runtime default (TLS 1.2) when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    /// Cipher suite names (TLS 1.2 and below); the built-in list when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suites: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve_preferences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<ClientAuth>,
    /// Refuse handshakes when no certificate matches the SNI.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sni_strict: bool,
    /// `h2, http/1.1, acme-tls/1` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn_protocols: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_session_tickets: bool,
    /// Deprecated and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer_server_cipher_suites: Option<bool>,
}

/// Client certificate verification.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientAuth {
    /// Secrets (TLSOption's namespace) holding CAs under `tls.ca` or `ca.crt`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [
        "NoClientCert",
        "RequestClientCert",
        "RequireAnyClientCert",
        "VerifyClientCertIfGiven",
        "RequireAndVerifyClientCert",
    ]))]
    pub client_auth_type: Option<String>,
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "TLSStore",
    doc = "Certificates served by TLS routers; only the store named default is used.",
    namespaced,
    status = "MeshStatus",
    shortname = "tlss",
    category = "mesh",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TLSStoreSpec {
    /// Served when no certificate matches the SNI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_certificate: Option<CertificateRef>,
    /// A default certificate obtained from an ACME resolver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_generated_cert: Option<GeneratedCert>,
    /// More key pairs for the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateRef>,
}

/// A Secret holding `tls.crt` and `tls.key`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRef {
    pub secret_name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedCert {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
}
