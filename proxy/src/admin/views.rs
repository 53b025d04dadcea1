//! The JSON shapes of the admin API, built from the served generation and the counters.
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Listed;
use crate::config::{Config, Middleware, Router, Service};
use crate::metrics::CountersSnapshot;
use crate::runtime::{ApplyReport, Generation, ObjectReport, ObjectStatus, Problem, Proxy};
use crate::service::ServiceState;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionCount {
    total: usize,
    warnings: usize,
    errors: usize,
}

impl SectionCount {
    fn of(map: &BTreeMap<String, ObjectReport>) -> Self {
        let (total, warnings, errors) = ApplyReport::tally(map);
        SectionCount {
            total,
            warnings,
            errors,
        }
    }
}

pub fn overview(proxy: &Proxy, generation: &Generation) -> serde_json::Value {
    let report = &generation.report;
    serde_json::json!({
        "http": {
            "routers": SectionCount::of(&report.routers),
            "services": SectionCount::of(&report.services),
            "middlewares": SectionCount::of(&report.middlewares),
        },
        "tcp": {
            "routers": SectionCount::of(&generation.tcp.routers),
            "services": SectionCount::of(&generation.tcp.services),
            "middlewares": SectionCount::of(&generation.tcp.middlewares),
        },
        "udp": {
            "routers": SectionCount::of(&generation.udp.routers),
            "services": SectionCount::of(&generation.udp.services),
        },
        "features": {
            "accessLog": proxy.static_config().access_logs,
            "metrics": "prometheus",
            "tracing": "",
        },
        "providers": ["mesh"],
        "generation": generation.number,
        "applySeconds": report.apply_seconds,
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryPointView {
    pub name: String,
    /// As configured.
    pub address: String,
    /// Where it listens (a configured port 0 becomes the real port); absent if not started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_address: Option<String>,
    pub protocol: crate::config::Protocol,
}

pub fn entry_points(proxy: &Proxy) -> Vec<EntryPointView> {
    let bound = proxy.bound_addresses();
    proxy
        .static_config()
        .entry_points
        .iter()
        .map(|(name, ep)| EntryPointView {
            name: name.clone(),
            address: ep.address.to_string(),
            bound_address: bound.entry_points.get(name).map(ToString::to_string),
            protocol: ep.protocol,
        })
        .collect()
}

/// The configuration being served, with private keys redacted.
pub fn raw_data(generation: &Generation) -> serde_json::Value {
    let mut config: Config = (*generation.config).clone();
    for cert in &mut config.tls.certificates {
        redact(&mut cert.pair.key_file);
    }
    for store in config.tls.stores.values_mut() {
        if let Some(pair) = &mut store.default_certificate {
            redact(&mut pair.key_file);
        }
    }
    for transport in config.tcp.servers_transports.values_mut() {
        if let Some(tls) = &mut transport.tls {
            for pair in &mut tls.certificates {
                redact(&mut pair.key_file);
            }
        }
    }
    let mut value = serde_json::to_value(&config).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("generation".into(), generation.number.into());
    }
    value
}

fn redact(secret: &mut String) {
    if !secret.is_empty() {
        *secret = "<redacted>".into();
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterView {
    pub name: String,
    #[serde(flatten)]
    pub config: Router,
    /// The priority used for ordering (the rule length when unset).
    pub effective_priority: i64,
    pub status: ObjectStatus,
    /// Error messages, Traefik's shape.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
    /// The entry points it is served on.
    pub using: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<CountersSnapshot>,
}

impl Listed for RouterView {
    fn name(&self) -> &str {
        &self.name
    }
    fn status(&self) -> &str {
        status_name(self.status)
    }
}

fn status_name(status: ObjectStatus) -> &'static str {
    match status {
        ObjectStatus::Enabled => "enabled",
        ObjectStatus::Warning => "warning",
        ObjectStatus::Disabled => "disabled",
    }
}

/// The entry points a router answers on: its own, or for a child router (parentRefs) those
/// of the root routers above it.
fn entry_points_served(
    name: &str,
    routers: &BTreeMap<String, Router>,
    all_entry_points: &[String],
) -> Vec<String> {
    let mut used = BTreeSet::new();
    let mut seen = BTreeSet::from([name]);
    let mut pending = vec![name];
    while let Some(current) = pending.pop() {
        let Some(router) = routers.get(current) else {
            continue;
        };
        if router.parent_refs.is_empty() {
            used.extend(
                all_entry_points.iter().filter(|ep| {
                    router.entry_points.is_empty() || router.entry_points.contains(ep)
                }),
            );
        }
        for parent in &router.parent_refs {
            if seen.insert(parent.as_str()) {
                pending.push(parent.as_str());
            }
        }
    }
    all_entry_points
        .iter()
        .filter(|ep| used.contains(ep))
        .cloned()
        .collect()
}

pub fn http_routers(proxy: &Proxy, generation: &Generation) -> Vec<RouterView> {
    let stats = proxy.shared.counters.router_snapshots();
    let all_entry_points: Vec<String> = proxy
        .static_config()
        .entry_points
        .iter()
        .filter(|(_, ep)| ep.protocol == crate::config::Protocol::Tcp)
        .map(|(name, _)| name.clone())
        .collect();
    generation
        .config
        .http
        .routers
        .iter()
        .map(|(name, router)| {
            let report = generation.report.routers.get(name);
            let status = report.map_or(ObjectStatus::Disabled, |r| r.status);
            let problems = report.map(|r| r.errors.clone()).unwrap_or_default();
            let using = if status == ObjectStatus::Disabled {
                Vec::new()
            } else {
                entry_points_served(name, &generation.config.http.routers, &all_entry_points)
            };
            let effective_priority = match crate::rule::parse_http(&router.rule) {
                Ok(rule) => rule.priority(router.priority),
                Err(_) => router.priority,
            };
            RouterView {
                name: name.clone(),
                config: router.clone(),
                effective_priority,
                status,
                error: problems.iter().map(|p| p.message.clone()).collect(),
                problems,
                warnings: report.map(|r| r.warnings.clone()).unwrap_or_default(),
                using,
                stats: stats.get(name).cloned(),
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    pub name: String,
    #[serde(flatten)]
    pub config: Service,
    pub status: ObjectStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error: Vec<String>,
    /// Server URL -> UP/DOWN.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub server_status: BTreeMap<String, crate::service::ServerStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ServiceState>,
    pub used_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<CountersSnapshot>,
}

impl Listed for ServiceView {
    fn name(&self) -> &str {
        &self.name
    }
    fn status(&self) -> &str {
        status_name(self.status)
    }
}

pub fn http_services(proxy: &Proxy, generation: &Generation) -> Vec<ServiceView> {
    let stats = proxy.shared.counters.service_snapshots();
    let mut states = generation.services.describe();
    let http = &generation.config.http;
    http.services
        .iter()
        .map(|(name, service)| {
            let report = generation.report.services.get(name);
            let state = states.remove(name);
            ServiceView {
                name: name.clone(),
                config: service.clone(),
                status: report.map_or(ObjectStatus::Disabled, |r| r.status),
                error: report
                    .map(|r| r.errors.iter().map(|p| p.message.clone()).collect())
                    .unwrap_or_default(),
                server_status: state
                    .as_ref()
                    .map(|s| s.server_status.clone())
                    .unwrap_or_default(),
                state,
                used_by: http
                    .routers
                    .iter()
                    .filter(|(_, router)| router.service == *name)
                    .map(|(router, _)| router.clone())
                    .collect(),
                stats: stats.get(name).cloned(),
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MiddlewareView {
    pub name: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(flatten)]
    pub config: Middleware,
    pub status: ObjectStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error: Vec<String>,
    pub used_by: Vec<String>,
}

impl Listed for MiddlewareView {
    fn name(&self) -> &str {
        &self.name
    }
    fn status(&self) -> &str {
        status_name(self.status)
    }
}

pub fn http_middlewares(generation: &Generation) -> Vec<MiddlewareView> {
    let http = &generation.config.http;
    http.middlewares
        .iter()
        .map(|(name, middleware)| {
            let report = generation.report.middlewares.get(name);
            MiddlewareView {
                name: name.clone(),
                kind: middleware.type_name(),
                config: middleware.clone(),
                status: report.map_or(ObjectStatus::Disabled, |r| r.status),
                error: report
                    .map(|r| r.errors.iter().map(|p| p.message.clone()).collect())
                    .unwrap_or_default(),
                used_by: http
                    .routers
                    .iter()
                    .filter(|(_, router)| router.middlewares.contains(name))
                    .map(|(router, _)| router.clone())
                    .collect(),
            }
        })
        .collect()
}

/// A TCP or UDP router, service or middleware: its configuration and its state.
#[derive(Debug, Serialize)]
pub struct Layer4View {
    pub name: String,
    #[serde(flatten)]
    pub config: serde_json::Value,
    pub status: ObjectStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
}

impl Listed for Layer4View {
    fn name(&self) -> &str {
        &self.name
    }
    fn status(&self) -> &str {
        status_name(self.status)
    }
}

/// `/api/tcp/*` and `/api/udp/*` from the TCP and UDP reports of the generation.
pub fn layer4_section(generation: &Generation, kind: &str, section: &str) -> Vec<Layer4View> {
    let config = serde_json::to_value(&*generation.config).unwrap_or_default();
    let reports = match (kind, section) {
        ("tcp", "routers") => Some(&generation.tcp.routers),
        ("tcp", "services") => Some(&generation.tcp.services),
        ("tcp", "middlewares") => Some(&generation.tcp.middlewares),
        ("udp", "routers") => Some(&generation.udp.routers),
        ("udp", "services") => Some(&generation.udp.services),
        _ => None,
    };
    let Some(objects) = config
        .get(kind)
        .and_then(|k| k.get(section))
        .and_then(|s| s.as_object())
    else {
        return Vec::new();
    };
    objects
        .iter()
        .map(|(name, value)| {
            let (status, problems, warnings) = match reports.map(|r| r.get(name)) {
                Some(Some(report)) => (
                    report.status,
                    report.errors.clone(),
                    report.warnings.clone(),
                ),
                Some(None) => (ObjectStatus::Disabled, Vec::new(), Vec::new()),
                None => (
                    ObjectStatus::Disabled,
                    vec![Problem::new(
                        "Unsupported",
                        format!("{} {section} are not served yet", kind.to_uppercase()),
                    )],
                    Vec::new(),
                ),
            };
            Layer4View {
                name: name.clone(),
                config: value.clone(),
                status,
                error: problems.iter().map(|p| p.message.clone()).collect(),
                problems,
                warnings,
            }
        })
        .collect()
}
