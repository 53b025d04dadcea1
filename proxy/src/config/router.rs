//! `http.routers.<name>`: which requests a router takes and where it sends them.
use serde::{Deserialize, Serialize};

/// One HTTP router.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Router {
    /// Entry points the router listens on; empty means every entry point.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    /// Middleware names, run in this order before the service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
    /// The service name (`http.services.<name>`).
    pub service: String,
    /// The rule (reference §2), e.g. ``Host(`a.example`) && PathPrefix(`/api`)``.
    pub rule: String,
    /// Deprecated rule syntax selector (`v2`/`v3`), kept for round trips; only v3 is served.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rule_syntax: String,
    /// 0 means "the length of the rule".
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: i64,
    /// Present (even empty) makes the router a TLS router.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<RouterTls>,
    /// Unset toggles inherit the static defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observability: Option<RouterObservability>,
    /// Parent router names (multi-layer routing): set, the router is only matched after a
    /// parent's rule and middlewares, and takes no entry points, TLS or observability.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<String>,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// `http.routers.<name>.tls`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouterTls {
    /// TLS option name (`tls.options.<name>`); empty means `default`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub options: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_resolver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}

/// A domain a certificate resolver should obtain a certificate for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Domain {
    pub main: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

/// Per-router observability toggles; `None` inherits the static default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouterObservability {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<bool>,
    /// `minimal` or `detailed`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trace_verbosity: String,
}
