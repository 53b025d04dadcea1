//! Compiling `tcp.routers` into per-entry-point indexes, with a report per router, service
//! and middleware. A bad router never keeps the others from serving.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::middleware::{TcpMiddleware, compile_chain};
use super::service::{TcpService, TcpServiceError, build_services};
use crate::config::tcp::{TcpConfig, TcpRouter};
use crate::config::{Protocol, StaticConfig};
use crate::rule::{RuleSyntax, TcpIndexEntry, TcpRouterIndex, parse_tcp_with};
use crate::runtime::{ObjectReport, Problem, check_priority, parse_rule};
use crate::tls::TlsBuilder;

/// How a TCP router treats TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTls {
    /// No `tls`: plain TCP, only ``HostSNI(`*`)`` and `ClientIP` rules.
    Plain,
    /// `tls.passthrough`: route on the ClientHello, forward the encrypted bytes.
    Passthrough,
    /// Terminate with this TLS option, forward the decrypted bytes.
    Terminate { options: String },
}

/// A TCP router ready to serve.
#[derive(Debug)]
pub struct TcpRoute {
    pub name: Arc<str>,
    pub service: Arc<TcpService>,
    pub tls: RouteTls,
    pub middlewares: Vec<TcpMiddleware>,
}

/// The TCP routers of one entry point: plain ones are tried on non-TLS connections, TLS ones
/// (passthrough or terminating) on TLS connections.
pub struct TcpEntryPoint {
    pub plain: TcpRouterIndex<Arc<TcpRoute>>,
    pub tls: TcpRouterIndex<Arc<TcpRoute>>,
}

/// Entries of the two indexes (plain, TLS) of one entry point.
type EntryPointRoutes = (
    Vec<TcpIndexEntry<Arc<TcpRoute>>>,
    Vec<TcpIndexEntry<Arc<TcpRoute>>>,
);

/// The TCP side of one configuration generation.
pub struct TcpGeneration {
    entry_points: Box<[TcpEntryPoint]>,
    pub routers: BTreeMap<String, ObjectReport>,
    pub services: BTreeMap<String, ObjectReport>,
    pub middlewares: BTreeMap<String, ObjectReport>,
}

impl TcpGeneration {
    pub fn empty(entry_points: usize) -> TcpGeneration {
        TcpGeneration {
            entry_points: (0..entry_points)
                .map(|_| TcpEntryPoint {
                    plain: TcpRouterIndex::new(Vec::new()),
                    tls: TcpRouterIndex::new(Vec::new()),
                })
                .collect(),
            routers: BTreeMap::new(),
            services: BTreeMap::new(),
            middlewares: BTreeMap::new(),
        }
    }

    /// The routers of entry point `slot` (`None` for an unknown slot).
    pub fn entry_point(&self, slot: usize) -> Option<&TcpEntryPoint> {
        self.entry_points.get(slot)
    }

    /// Compiles `config`; TLS options of terminating routers are checked against `tls`.
    pub fn build(
        config: &TcpConfig,
        static_config: &StaticConfig,
        tls: &TlsBuilder,
    ) -> TcpGeneration {
        let services = build_services(&config.services, &config.servers_transports);
        let entry_point_names: Vec<&str> = static_config
            .entry_points
            .keys()
            .map(String::as_str)
            .collect();
        let mut per_entry_point: Vec<EntryPointRoutes> = entry_point_names
            .iter()
            .map(|_| (Vec::new(), Vec::new()))
            .collect();
        let mut in_flight = HashMap::new();
        let mut middleware_errors = BTreeMap::new();
        let mut routers = BTreeMap::new();

        for (name, router) in &config.routers {
            let mut problems = Vec::new();
            let mut warnings = Vec::new();
            let slots = resolve_entry_points(
                router,
                static_config,
                &entry_point_names,
                &mut problems,
                &mut warnings,
            );
            let syntax = RuleSyntax::from_config(Some(&router.rule_syntax));
            let rule = parse_rule(
                &router.rule,
                |source| parse_tcp_with(source, syntax),
                &mut problems,
            );
            if let Some(rule) = &rule
                && router.tls.is_none()
                && rule.requires_tls()
            {
                problems.push(Problem::new(
                    "InvalidRule",
                    "the rule has a HostSNI matcher, but the router has no TLS",
                ));
            }
            check_priority(router.priority, &mut problems);
            let route_tls = match &router.tls {
                None => RouteTls::Plain,
                Some(tls_config) if tls_config.passthrough => RouteTls::Passthrough,
                Some(tls_config) => {
                    problems.extend(tls.router_problem(&tls_config.options));
                    RouteTls::Terminate {
                        options: tls_config.options.clone(),
                    }
                }
            };
            let service = match services.get(&router.service) {
                _ if router.service.is_empty() => {
                    problems.push(Problem::new("NoService", "the router has no service"));
                    None
                }
                None => {
                    let message = format!("service `{}` does not exist", router.service);
                    problems.push(Problem::new("ServiceNotFound", message));
                    None
                }
                Some(Err(err)) => {
                    problems.push(Problem::new(
                        "ServiceInvalid",
                        format!("service `{}`: {err}", router.service),
                    ));
                    None
                }
                Some(Ok(service)) => Some(Arc::clone(service)),
            };
            let chain =
                match compile_chain(&router.middlewares, &config.middlewares, &mut in_flight) {
                    Ok(chain) => Some(chain),
                    Err(err) => {
                        if let super::middleware::TcpMiddlewareError::Invalid { name, .. } = &err {
                            middleware_errors.insert(name.clone(), err.to_string());
                        }
                        problems.push(Problem::new(err.reason(), err.to_string()));
                        None
                    }
                };
            if let (true, Some(rule), Some(service), Some(middlewares)) =
                (problems.is_empty(), rule, service, chain)
            {
                let priority = rule.priority(router.priority);
                let route = Arc::new(TcpRoute {
                    name: Arc::from(name.as_str()),
                    service,
                    tls: route_tls,
                    middlewares,
                });
                for slot in slots {
                    let entry = TcpIndexEntry {
                        name: name.clone(),
                        rule: rule.clone(),
                        priority,
                        value: Arc::clone(&route),
                    };
                    let (plain, tls) = &mut per_entry_point[slot];
                    if route.tls == RouteTls::Plain {
                        plain.push(entry)
                    } else {
                        tls.push(entry)
                    }
                }
            }
            routers.insert(
                name.clone(),
                ObjectReport::from_problems(problems, warnings),
            );
        }

        let service_reports = services
            .iter()
            .map(|(name, built)| {
                let problems = match built {
                    Ok(_) => Vec::new(),
                    Err(err) => vec![service_problem(err)],
                };
                (
                    name.clone(),
                    ObjectReport::from_problems(problems, Vec::new()),
                )
            })
            .collect();
        let middleware_reports = config
            .middlewares
            .keys()
            .map(|name| {
                let problems = match middleware_errors.get(name) {
                    Some(message) => vec![Problem::new("MiddlewareInvalid", message.clone())],
                    None => Vec::new(),
                };
                (
                    name.clone(),
                    ObjectReport::from_problems(problems, Vec::new()),
                )
            })
            .collect();
        TcpGeneration {
            entry_points: per_entry_point
                .into_iter()
                .map(|(plain, tls)| TcpEntryPoint {
                    plain: TcpRouterIndex::new(plain),
                    tls: TcpRouterIndex::new(tls),
                })
                .collect(),
            routers,
            services: service_reports,
            middlewares: middleware_reports,
        }
    }
}

fn service_problem(err: &TcpServiceError) -> Problem {
    let reason = match err {
        TcpServiceError::TransportNotFound(_) => "ServersTransportNotFound",
        TcpServiceError::Unsupported(_) => "UnsupportedValue",
        TcpServiceError::Tls(_) => "RefInvalid",
        TcpServiceError::ProxyProtocolVersion(_) => "UnsupportedValue",
        TcpServiceError::Recursion(_) => "RecursionDetected",
        _ => "ServiceInvalid",
    };
    Problem::new(reason, err.to_string())
}

/// Slots of the router's entry points: the listed ones that are TCP entry points, or every
/// TCP entry point when none is listed.
fn resolve_entry_points(
    router: &TcpRouter,
    static_config: &StaticConfig,
    names: &[&str],
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Vec<usize> {
    let is_tcp = |name: &str| {
        static_config
            .entry_points
            .get(name)
            .is_some_and(|ep| ep.protocol == Protocol::Tcp)
    };
    let slots: Vec<usize> = if router.entry_points.is_empty() {
        names
            .iter()
            .enumerate()
            .filter(|(_, name)| is_tcp(name))
            .map(|(slot, _)| slot)
            .collect()
    } else {
        let mut slots = Vec::new();
        for ep in &router.entry_points {
            match names.iter().position(|name| name == ep) {
                Some(slot) if is_tcp(ep) => slots.push(slot),
                Some(_) => warnings.push(Problem::new(
                    "UnknownEntryPoint",
                    format!("entry point `{ep}` is a UDP entry point"),
                )),
                None => warnings.push(Problem::new(
                    "UnknownEntryPoint",
                    format!("entry point `{ep}` does not exist"),
                )),
            }
        }
        slots
    };
    if slots.is_empty() {
        problems.push(Problem::new(
            "NoValidEntryPoint",
            "no valid TCP entry point for this router",
        ));
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EntryPoint;

    fn static_config() -> StaticConfig {
        let mut config = StaticConfig::default();
        for flag in ["db=127.0.0.1:0", "dns=127.0.0.1:0/udp"] {
            let (name, ep) = EntryPoint::parse_named(flag).unwrap();
            config.entry_points.insert(name, ep);
        }
        config
    }

    fn build(yaml: &str) -> TcpGeneration {
        let config = crate::Config::from_yaml(yaml).unwrap();
        let tls = TlsBuilder::new(&config.tls, 2, None);
        TcpGeneration::build(&config.tcp, &static_config(), &tls)
    }

    fn errors(generation: &TcpGeneration, router: &str) -> Vec<(&'static str, String)> {
        generation.routers[router]
            .errors
            .iter()
            .map(|p| (p.reason, p.message.clone()))
            .collect()
    }

    #[test]
    fn valid_routers_are_indexed_by_tls_mode() {
        let generation = build(
            r#"
tcp:
  routers:
    plain: {rule: "HostSNI(`*`)", service: db}
    pass: {rule: "HostSNI(`pg.example.test`)", service: db, tls: {passthrough: true}}
    end: {rule: "HostSNI(`redis.example.test`)", service: db, tls: {}}
  services:
    db: {loadBalancer: {servers: [{address: "127.0.0.1:5432"}]}}
"#,
        );
        let db = generation.entry_point(0).unwrap();
        assert_eq!(db.plain.len(), 1);
        assert_eq!(db.tls.len(), 2);
        let ip = "127.0.0.1".parse().unwrap();
        let pass = db.tls.lookup(Some("pg.example.test"), &[], ip).unwrap();
        assert_eq!(pass.tls, RouteTls::Passthrough);
        let end = db.tls.lookup(Some("redis.example.test"), &[], ip).unwrap();
        assert_eq!(
            end.tls,
            RouteTls::Terminate {
                options: String::new()
            }
        );
        assert!(
            generation.entry_point(1).unwrap().plain.is_empty(),
            "UDP entry points get no TCP router"
        );
    }

    #[test]
    fn broken_routers_are_reported_and_left_out() {
        let generation = build(
            r#"
tcp:
  routers:
    sni-without-tls: {rule: "HostSNI(`a.example.test`)", service: db}
    no-service: {rule: "HostSNI(`*`)", service: missing}
    bad-option: {rule: "HostSNI(`b.example.test`)", service: db, tls: {options: nope}}
    udp-only: {rule: "HostSNI(`*`)", service: db, entryPoints: [dns]}
    bad-middleware: {rule: "HostSNI(`*`)", service: db, middlewares: [ghost]}
  services:
    db: {loadBalancer: {servers: [{address: "127.0.0.1:5432"}]}}
"#,
        );
        assert_eq!(
            errors(&generation, "sni-without-tls"),
            [(
                "InvalidRule",
                "the rule has a HostSNI matcher, but the router has no TLS".to_owned()
            )]
        );
        assert_eq!(
            errors(&generation, "no-service"),
            [(
                "ServiceNotFound",
                "service `missing` does not exist".to_owned()
            )]
        );
        assert_eq!(
            errors(&generation, "bad-option"),
            [(
                "TLSOptionNotFound",
                "TLS option `nope` does not exist".to_owned()
            )]
        );
        assert_eq!(errors(&generation, "udp-only")[0].0, "NoValidEntryPoint");
        assert_eq!(
            generation.routers["udp-only"].warnings[0].reason,
            "UnknownEntryPoint"
        );
        assert_eq!(
            errors(&generation, "bad-middleware"),
            [(
                "MiddlewareNotFound",
                "middleware `ghost` does not exist".to_owned()
            )]
        );
        let db = generation.entry_point(0).unwrap();
        assert!(db.plain.is_empty() && db.tls.is_empty());
    }
}
