//! `tls`: certificates (PEM), TLS options and certificate stores.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsConfig {
    /// Key pairs; those without `stores` go to the `default` store.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, TlsOptions>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stores: BTreeMap<String, TlsStore>,
}

/// A certificate chain and its private key, both PEM text.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CertificatePair {
    pub cert_file: String,
    pub key_file: String,
    /// Where the pair came from, for people reading the admin API (e.g.
    /// `Secret default/web-tls`); never part of the key material.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
}

// Never print a private key, even in debug logs.
impl std::fmt::Debug for CertificatePair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificatePair")
            .field(
                "cert_file",
                &format_args!("<{} bytes>", self.cert_file.len()),
            )
            .field("key_file", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Certificate {
    #[serde(flatten)]
    pub pair: CertificatePair,
    /// Store names; empty means `default`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
}

/// `tls.options.<name>` (reference §1.8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsOptions {
    /// `VersionTLS12`, `VersionTLS13`, ...; empty means TLS 1.2.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub min_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub curve_preferences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<ClientAuth>,
    /// Refuse handshakes whose SNI matches no certificate.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sni_strict: bool,
    /// Empty means `h2, http/1.1, acme-tls/1`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn_protocols: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable_session_tickets: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientAuth {
    /// PEM documents of the CAs client certificates must chain to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ca_files: Vec<String>,
    /// `NoClientCert`, `RequestClientCert`, `RequireAnyClientCert`,
    /// `VerifyClientCertIfGiven` or `RequireAndVerifyClientCert`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_auth_type: String,
}

/// `tls.stores.<name>`; only `default` is used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsStore {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_certificate: Option<CertificatePair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_generated_cert: Option<GeneratedCert>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneratedCert {
    pub resolver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<super::router::Domain>,
}
