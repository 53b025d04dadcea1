//! The proxy's dynamic configuration: everything that can change without a restart.
//!
//! [`Config`] mirrors Traefik's dynamic configuration file (`http.routers.<name>.rule`,
//! `http.services.<name>.loadBalancer.servers[].url`, ...) in camelCase, so a Traefik file
//! provider document deserialises as is. Every map is a `BTreeMap`: the serialised form (what
//! `/api/rawdata` returns) is deterministic. See `docs/proxy-config.md` for the documented form.
//!
//! Static settings (entry points, admin address) live in [`StaticConfig`]: changing them needs
//! a restart.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod middleware;
pub mod router;
pub mod service;
mod static_config;
pub mod tcp;
pub mod tls;
pub mod transport;
pub mod udp;

pub use middleware::Middleware;
pub use router::{Router, RouterObservability, RouterTls};
pub use service::Service;
pub use static_config::{
    AccessLogFormat, EntryPoint, EntryPointParseError, Protocol, StaticConfig,
};
pub use tcp::TcpConfig;
pub use tls::TlsConfig;
pub use transport::ServersTransport;
pub use udp::UdpConfig;

/// The whole dynamic configuration applied to the proxy at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    pub http: HttpConfig,
    pub tcp: TcpConfig,
    pub udp: UdpConfig,
    pub tls: TlsConfig,
}

/// `http`: routers, the services and middlewares they reference, and servers transports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpConfig {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub routers: BTreeMap<String, Router>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub middlewares: BTreeMap<String, Middleware>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub servers_transports: BTreeMap<String, ServersTransport>,
}

/// A configuration document that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigParseError {
    #[error("invalid YAML configuration: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("invalid JSON configuration: {0}")]
    Json(#[from] serde_json::Error),
}

impl Config {
    /// Reads the YAML form (JSON is valid YAML, so this reads both).
    pub fn from_yaml(text: &str) -> Result<Config, ConfigParseError> {
        Ok(serde_yaml::from_str(text)?)
    }

    /// Reads the JSON form.
    pub fn from_json(text: &str) -> Result<Config, ConfigParseError> {
        Ok(serde_json::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRAEFIK_STYLE: &str = r#"
http:
  routers:
    api:
      rule: Host(`api.example.com`) && PathPrefix(`/v1`)
      entryPoints: [web]
      middlewares: [strip]
      service: api
      priority: 10
      observability: { accessLogs: false }
  middlewares:
    strip:
      stripPrefix: { prefixes: [/v1] }
  services:
    api:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:8080
"#;

    #[test]
    fn reads_traefik_dynamic_configuration() {
        let config = Config::from_yaml(TRAEFIK_STYLE).unwrap();
        let router = &config.http.routers["api"];
        assert_eq!(router.rule, "Host(`api.example.com`) && PathPrefix(`/v1`)");
        assert_eq!(router.entry_points, vec!["web"]);
        assert_eq!(router.middlewares, vec!["strip"]);
        assert_eq!(router.service, "api");
        assert_eq!(router.priority, 10);
        assert_eq!(
            router.observability.as_ref().and_then(|o| o.access_logs),
            Some(false)
        );
        let strip = config.http.middlewares["strip"]
            .strip_prefix
            .as_ref()
            .unwrap();
        assert_eq!(strip.prefixes, vec!["/v1"]);
        assert!(config.http.services["api"].load_balancer.is_some());
    }

    #[test]
    fn json_round_trip_is_lossless_and_omits_empty_sections() {
        let config = Config::from_yaml(TRAEFIK_STYLE).unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("serversTransports"), "{json}");
        assert_eq!(Config::from_json(&json).unwrap(), config);
    }

    #[test]
    fn malformed_document_is_an_error_naming_the_field() {
        let err =
            Config::from_yaml("http:\n  routers:\n    a:\n      priority: high\n").unwrap_err();
        assert!(err.to_string().contains("priority"), "{err}");
    }
}
