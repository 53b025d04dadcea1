//! The admin API's JSON as Mesh serves it (`proxy/src/admin/views.rs`,
//! `proxy/src/admin/certificates.rs`), read leniently: every field defaults, so a newer
//! controller with more fields, or an older one with fewer, still reads. Mapped to the
//! shared model rows here and nowhere else.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{
    CertRow, EntryPointRow, MiddlewareRow, Protocol, RouterRow, ServerRow, ServiceRow,
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Version {
    #[serde(rename = "Version")]
    pub version: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Overview {
    pub generation: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StatusBoard {
    pub leader: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct EntryPoint {
    name: String,
    address: String,
    bound_address: Option<String>,
    protocol: String,
}

impl EntryPoint {
    pub fn row(self) -> EntryPointRow {
        EntryPointRow {
            name: self.name,
            address: self.bound_address.unwrap_or(self.address),
            protocol: self.protocol,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Problem {
    reason: String,
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RouterTls {
    passthrough: bool,
    options: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Stats {
    requests: u64,
    #[serde(rename = "5xx")]
    server_errors: u64,
}

/// An HTTP, TCP or UDP router (TCP and UDP lack some fields).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Router {
    name: String,
    entry_points: Vec<String>,
    /// The entry points it is served on (HTTP): used when `entryPoints` is empty.
    using: Vec<String>,
    middlewares: Vec<String>,
    service: String,
    rule: String,
    priority: i64,
    effective_priority: Option<i64>,
    tls: Option<RouterTls>,
    status: String,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    stats: Option<Stats>,
}

impl Router {
    pub fn row(self, protocol: Protocol) -> RouterRow {
        let tls = match &self.tls {
            None => String::new(),
            Some(tls) if tls.passthrough => "tls(passthrough)".to_owned(),
            Some(tls) if !tls.options.is_empty() => format!("tls({})", tls.options),
            Some(_) => "tls".to_owned(),
        };
        let entry_points = if self.entry_points.is_empty() {
            self.using
        } else {
            self.entry_points
        };
        let stats = self.stats.unwrap_or_default();
        RouterRow {
            protocol,
            name: self.name,
            entry_points,
            rule: self.rule,
            priority: self.effective_priority.unwrap_or(self.priority),
            service: self.service,
            middlewares: self.middlewares,
            tls,
            state: self.status,
            problems: self
                .problems
                .iter()
                .chain(&self.warnings)
                .map(|p| format!("{}: {}", p.reason, p.message))
                .collect(),
            requests: stats.requests,
            server_errors: stats.server_errors,
        }
    }
}

/// An HTTP, TCP or UDP service.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Service {
    name: String,
    load_balancer: Option<Value>,
    weighted: Option<Value>,
    mirroring: Option<Value>,
    failover: Option<Value>,
    status: String,
    server_status: BTreeMap<String, String>,
    used_by: Vec<String>,
}

impl Service {
    pub fn row(self, protocol: Protocol) -> ServiceRow {
        let type_ = [
            ("loadBalancer", self.load_balancer.is_some()),
            ("weighted", self.weighted.is_some()),
            ("mirroring", self.mirroring.is_some()),
            ("failover", self.failover.is_some()),
        ]
        .into_iter()
        .find_map(|(name, present)| present.then_some(name))
        .unwrap_or_default()
        .to_owned();
        // Servers as configured; their health as the load balancer sees it when known.
        let configured: Vec<String> = self
            .load_balancer
            .as_ref()
            .and_then(|lb| lb.get("servers"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|server| {
                server
                    .get("url")
                    .or_else(|| server.get("address"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        let mut servers: Vec<ServerRow> = configured
            .iter()
            .map(|url| ServerRow {
                url: url.clone(),
                status: self
                    .server_status
                    .get(url)
                    .cloned()
                    .unwrap_or_else(|| "UP".to_owned()),
            })
            .collect();
        servers.extend(
            self.server_status
                .iter()
                .filter(|(url, _)| !configured.contains(url))
                .map(|(url, status)| ServerRow {
                    url: url.clone(),
                    status: status.clone(),
                }),
        );
        ServiceRow {
            protocol,
            name: self.name,
            type_,
            state: self.status,
            servers,
            used_by: self.used_by,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Middleware {
    name: String,
    #[serde(rename = "type")]
    type_: Option<String>,
    status: String,
    error: Vec<String>,
}

impl Middleware {
    pub fn row(self, protocol: Protocol) -> MiddlewareRow {
        MiddlewareRow {
            protocol,
            name: self.name,
            type_: self.type_.unwrap_or_default(),
            state: self.status,
            problems: self.error,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Certificate {
    name: String,
    source: String,
    default_certificate: bool,
    common_name: String,
    subject: String,
    sans: Vec<String>,
    issuer: String,
    not_before: Option<DateTime<Utc>>,
    not_after: Option<DateTime<Utc>>,
    serial_number: String,
    fingerprint_sha256: String,
    routers: Vec<String>,
    tcp_routers: Vec<String>,
    error: Option<String>,
}

impl Certificate {
    pub fn row(self) -> CertRow {
        let subject = if !self.common_name.is_empty() {
            self.common_name
        } else if !self.subject.is_empty() {
            self.subject
        } else {
            self.name.clone()
        };
        let source = match (self.source.is_empty(), self.default_certificate) {
            (false, _) => self.source,
            (true, true) => "default certificate".to_owned(),
            (true, false) => self.name,
        };
        let mut routers = self.routers;
        routers.extend(self.tcp_routers);
        CertRow {
            subject,
            sans: self.sans,
            issuer: self.issuer,
            not_before: self.not_before,
            not_after: self.not_after,
            source,
            routers,
            serial_number: self.serial_number,
            fingerprint_sha256: self.fingerprint_sha256,
            error: self.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_router_maps_with_its_counters_and_problems() {
        let router: Router = serde_json::from_value(serde_json::json!({
            "name": "default-web-0", "entryPoints": ["web"], "middlewares": ["strip"],
            "service": "app", "rule": "Host(`a`)", "effectivePriority": 9,
            "tls": {"options": "strict"}, "status": "warning",
            "warnings": [{"reason": "UnknownEntryPoint", "message": "entry point `x`"}],
            "using": ["web"], "stats": {"requests": 10, "5xx": 3, "2xx": 7},
            "unknownField": true
        }))
        .unwrap();
        let row = router.row(Protocol::Http);
        assert_eq!(row.priority, 9);
        assert_eq!(row.tls, "tls(strict)");
        assert_eq!(row.problems, ["UnknownEntryPoint: entry point `x`"]);
        assert!((row.error_rate() - 0.3).abs() < 1e-9);
    }

    #[test]
    fn a_tcp_passthrough_router_and_a_service_with_a_down_server() {
        let router: Router = serde_json::from_value(serde_json::json!({
            "name": "db", "rule": "HostSNI(`db`)", "service": "db",
            "tls": {"passthrough": true}, "status": "enabled"
        }))
        .unwrap();
        assert_eq!(router.row(Protocol::Tcp).tls, "tls(passthrough)");
        let service: Service = serde_json::from_value(serde_json::json!({
            "name": "app", "status": "enabled",
            "loadBalancer": {"servers": [{"url": "http://a"}, {"url": "http://b"}]},
            "serverStatus": {"http://b": "DOWN"}, "usedBy": ["web"]
        }))
        .unwrap();
        let row = service.row(Protocol::Http);
        assert_eq!(row.type_, "loadBalancer");
        let servers: Vec<(&str, &str)> = row
            .servers
            .iter()
            .map(|s| (s.url.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(servers, [("http://a", "UP"), ("http://b", "DOWN")]);
    }

    #[test]
    fn an_unreadable_certificate_keeps_its_error_and_source() {
        let cert: Certificate = serde_json::from_value(serde_json::json!({
            "name": "tls.certificates[1]", "source": "Secret default/broken",
            "error": "not a valid X.509 certificate", "routers": [], "tcpRouters": []
        }))
        .unwrap();
        let row = cert.row();
        assert_eq!(row.subject, "tls.certificates[1]");
        assert_eq!(row.source, "Secret default/broken");
        assert_eq!(row.error.as_deref(), Some("not a valid X.509 certificate"));
        assert_eq!(row.not_after, None);
    }
}
