//! Building a configuration generation: validate every router, compile what is valid, and
//! record a problem for everything else. A bad router never keeps the others from serving.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use super::layers::Layers;
use super::report::{ApplyReport, ObjectReport, Problem, check_priority, parse_rule};
use crate::config::{Config, HttpConfig, Protocol, Router, StaticConfig};
use crate::metrics::CounterRegistry;
use crate::middleware::{ChainCompiler, MiddlewareChain, MiddlewareError};
use crate::router::{Route, RouteTarget, RouterTable};
use crate::rule::{HttpRouterIndex, HttpRule, IndexEntry, parse_http};
use crate::service::{ServiceBuildError, ServiceErrorReason, Services};
use crate::tcp::TcpGeneration;
use crate::tls::{TlsBuilder, TlsGeneration, TlsRouterHosts};
use crate::udp::UdpGeneration;

/// One configuration, compiled: what the request path reads through the arc-swap.
pub struct Generation {
    pub number: u64,
    pub config: Arc<Config>,
    /// Per entry point, in the order of [`StaticConfig::entry_points`].
    pub(crate) tables: Box<[Arc<RouterTable>]>,
    pub services: Arc<Services>,
    pub report: Arc<ApplyReport>,
    /// Certificates and TLS options, swapped together with the routers that use them.
    pub tls: Arc<TlsGeneration>,
    /// TCP routers and services, with their reports.
    pub tcp: Arc<TcpGeneration>,
    /// The UDP router of each UDP entry point, with reports.
    pub udp: Arc<UdpGeneration>,
}

impl Generation {
    /// The generation served before the first apply: no routers, every request is a 404.
    pub(crate) fn empty(entry_points: usize) -> Self {
        let (services, _) = Services::build(&Default::default(), None);
        Generation {
            number: 0,
            config: Arc::new(Config::default()),
            tables: (0..entry_points)
                .map(|_| Arc::new(RouterTable::empty()))
                .collect(),
            services: Arc::new(services),
            report: Arc::new(ApplyReport::default()),
            tls: Arc::new(TlsGeneration::empty(entry_points)),
            tcp: Arc::new(TcpGeneration::empty(entry_points)),
            udp: Arc::new(UdpGeneration::empty(entry_points)),
        }
    }
}

pub(crate) struct BuildInput<'a> {
    pub static_config: &'a StaticConfig,
    pub config: Config,
    pub number: u64,
    pub previous: &'a Generation,
    pub counters: &'a CounterRegistry,
}

/// Entries of the two indexes (plain, TLS) of one entry point.
type EntryPointRoutes = (Vec<IndexEntry<Arc<Route>>>, Vec<IndexEntry<Arc<Route>>>);

pub(crate) fn build_generation(input: BuildInput<'_>) -> Generation {
    let started = Instant::now();
    let BuildInput {
        static_config,
        config,
        number,
        previous,
        counters,
    } = input;
    let http = &config.http;

    let (services, service_errors) = Services::build(http, Some(&previous.services));
    let service_errors: HashMap<&str, &ServiceBuildError> = service_errors
        .iter()
        .map(|err| (err.service.as_str(), err))
        .collect();

    let entry_point_names: Vec<&str> = static_config
        .entry_points
        .keys()
        .map(String::as_str)
        .collect();
    let http_entry_points: Vec<&str> = static_config
        .entry_points
        .iter()
        .filter(|(_, ep)| ep.protocol == Protocol::Tcp)
        .map(|(name, _)| name.as_str())
        .collect();

    let mut per_entry_point: Vec<EntryPointRoutes> = entry_point_names
        .iter()
        .map(|_| (Vec::new(), Vec::new()))
        .collect();
    let mut chains = ChainCompiler::new(&http.middlewares);
    let mut tls_builder =
        TlsBuilder::new(&config.tls, entry_point_names.len(), Some(&previous.tls));

    let layers = Layers::analyse(&http.routers);
    let checks = RouterChecks {
        static_config,
        http,
        layers: &layers,
        entry_point_names: &entry_point_names,
        http_entry_points: &http_entry_points,
        services: &services,
        service_errors: &service_errors,
    };
    // Routers valid on their own (rule, middlewares, service or children), not yet served.
    let mut compiled: HashMap<&str, Compiled> = HashMap::new();
    let mut router_problems: BTreeMap<&str, (Vec<Problem>, Vec<Problem>)> = BTreeMap::new();
    for (name, router) in &http.routers {
        let checked = checks.check(name, router, &mut chains, &mut tls_builder);
        if let Some(parts) = checked.compiled {
            compiled.insert(name, parts);
        }
        router_problems.insert(name, (checked.problems, checked.warnings));
    }

    let valid: BTreeSet<&str> = compiled.keys().copied().collect();
    let mut unreachable = BTreeMap::new();
    let served = layers.served(&http.routers, &valid, &mut unreachable);
    for (name, problems) in unreachable {
        if let Some((errors, _)) = router_problems.get_mut(name) {
            errors.extend(problems);
        }
    }

    place_routers(
        &http.routers,
        &layers,
        &served,
        compiled,
        counters,
        static_config,
        &mut per_entry_point,
    );
    let mut router_reports: BTreeMap<String, ObjectReport> = router_problems
        .into_iter()
        .map(|(name, (errors, warnings))| {
            (
                name.to_string(),
                ObjectReport::from_problems(errors, warnings),
            )
        })
        .collect();

    let tables = per_entry_point
        .into_iter()
        .map(|(plain, tls)| {
            Arc::new(RouterTable {
                plain: HttpRouterIndex::new(plain),
                tls: HttpRouterIndex::new(tls),
                log_unrouted: static_config.access_logs,
            })
        })
        .collect();

    let middleware_reports = http
        .middlewares
        .keys()
        .map(|name| {
            let report = match chains.check(name) {
                Ok(()) => ObjectReport::from_problems(Vec::new(), Vec::new()),
                Err(err) => ObjectReport::from_problems(vec![middleware_problem(&err)], Vec::new()),
            };
            (name.clone(), report)
        })
        .collect();
    let service_reports = http
        .services
        .keys()
        .map(|name| {
            let problems = match service_errors.get(name.as_str()) {
                Some(err) => vec![Problem::new(
                    service_problem_reason(&err.reason),
                    err.reason.to_string(),
                )],
                None => Vec::new(),
            };
            (
                name.clone(),
                ObjectReport::from_problems(problems, Vec::new()),
            )
        })
        .collect();

    let tcp = TcpGeneration::build(&config.tcp, static_config, &tls_builder);
    let udp = UdpGeneration::build(&config.udp, static_config);
    let (tls, tls_warnings) = tls_builder.finish();
    for (router, warning) in tls_warnings {
        if let Some(report) = router_reports.get_mut(&router) {
            let mut warnings = std::mem::take(&mut report.warnings);
            warnings.push(warning);
            *report = ObjectReport::from_problems(std::mem::take(&mut report.errors), warnings);
        }
    }

    let router_names: BTreeSet<&str> = http.routers.keys().map(String::as_str).collect();
    counters.retain(&|name| router_names.contains(name), &|name| {
        http.services.contains_key(name)
    });

    let report = ApplyReport {
        generation: number,
        routers: router_reports,
        services: service_reports,
        middlewares: middleware_reports,
        apply_seconds: started.elapsed().as_secs_f64(),
    };
    Generation {
        number,
        config: Arc::new(config),
        tables,
        services: Arc::new(services),
        report: Arc::new(report),
        tls: Arc::new(tls),
        tcp: Arc::new(tcp),
        udp: Arc::new(udp),
    }
}

/// Builds the served routers, children before the parents whose indexes hold them, and
/// puts the roots into their entry points' indexes.
fn place_routers<'a>(
    routers: &'a BTreeMap<String, Router>,
    layers: &Layers<'a>,
    served: &BTreeSet<&'a str>,
    mut compiled: HashMap<&'a str, Compiled>,
    counters: &CounterRegistry,
    static_config: &StaticConfig,
    per_entry_point: &mut [EntryPointRoutes],
) {
    // Children are built before their parents, whose indexes hold them.
    let mut built: HashMap<&str, (Arc<Route>, HttpRule, i64)> = HashMap::new();
    for name in children_first(routers, layers, served) {
        let (Some(router), Some(parts)) = (routers.get(name), compiled.remove(name)) else {
            continue;
        };
        let target = match parts.target {
            Target::Service(service) => RouteTarget::Service(service),
            Target::Children => {
                let entries = layers
                    .children
                    .get(name)
                    .into_iter()
                    .flatten()
                    .filter_map(|child| {
                        built.get(child).map(|(route, rule, priority)| IndexEntry {
                            name: child.to_string(),
                            rule: rule.clone(),
                            priority: *priority,
                            value: Arc::clone(route),
                        })
                    })
                    .collect();
                RouteTarget::Children(HttpRouterIndex::new(entries))
            }
        };
        let route = make_route(name, router, target, parts.chain, counters, static_config);
        if !router.parent_refs.is_empty() {
            built.insert(name, (route, parts.rule, parts.priority));
            continue;
        }
        // The rule moves into the last entry point's index; only extra ones clone it.
        let mut rule = Some(parts.rule);
        for (i, slot) in parts.slots.iter().enumerate() {
            let rule = if i + 1 == parts.slots.len() {
                rule.take()
            } else {
                rule.clone()
            };
            let Some(rule) = rule else { continue };
            let entry = IndexEntry {
                name: name.to_string(),
                rule,
                priority: parts.priority,
                value: Arc::clone(&route),
            };
            let (plain, tls) = &mut per_entry_point[*slot];
            if router.tls.is_some() {
                tls.push(entry)
            } else {
                plain.push(entry)
            }
        }
    }
}

/// What checking one router on its own needs from the rest of the configuration.
struct RouterChecks<'a> {
    static_config: &'a StaticConfig,
    http: &'a HttpConfig,
    layers: &'a Layers<'a>,
    entry_point_names: &'a [&'a str],
    http_entry_points: &'a [&'a str],
    services: &'a Services,
    service_errors: &'a HashMap<&'a str, &'a ServiceBuildError>,
}

/// One router checked on its own: its findings, and what to serve when it has no errors.
struct CheckedRouter {
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    compiled: Option<Compiled>,
}

impl RouterChecks<'_> {
    /// Entry points, rule, priority, TLS option, service or children, and middlewares.
    /// Whether the router is reachable from a root is decided later, over all routers.
    fn check(
        &self,
        name: &str,
        router: &Router,
        chains: &mut ChainCompiler<'_>,
        tls_builder: &mut TlsBuilder,
    ) -> CheckedRouter {
        let mut problems = self.layers.problems.get(name).cloned().unwrap_or_default();
        let mut warnings = Vec::new();
        let is_child = !router.parent_refs.is_empty();
        let has_children = self.layers.children.contains_key(name);

        // A child is reached through its parent: entry points and TLS are the root's.
        let entry_points = if is_child {
            Vec::new()
        } else {
            resolve_entry_points(
                router,
                self.http_entry_points,
                &self.static_config.entry_points,
                &mut warnings,
                &mut problems,
            )
        };
        let slots: Vec<usize> = entry_points
            .iter()
            .filter_map(|ep| self.entry_point_names.iter().position(|n| n == ep))
            .collect();
        let rule = parse_rule(&router.rule, parse_http, &mut problems);
        check_priority(router.priority, &mut problems);
        if let Some(router_tls) = router.tls.as_ref().filter(|_| !is_child) {
            problems.extend(tls_builder.router_problem(&router_tls.options));
            // Hosts pick the TLS option at handshake time, even for a router not served.
            for slot in slots.iter().filter(|_| rule.is_some()) {
                let hosts = rule.as_ref().map(|rule| rule.hosts().to_vec());
                tls_builder.claim(
                    *slot,
                    TlsRouterHosts {
                        router: name.to_string(),
                        hosts: hosts.unwrap_or_default(),
                        options: router_tls.options.clone(),
                    },
                );
            }
        }
        // Layers reports a missing service, and a service next to children.
        let service = if has_children || router.service.is_empty() {
            None
        } else {
            resolve_service(
                router,
                self.http,
                self.services,
                self.service_errors,
                &mut problems,
            )
        };
        let chain = match chains.chain(&router.middlewares) {
            Ok(chain) => Some(chain),
            Err(err) => {
                problems.push(middleware_problem(&err));
                None
            }
        };

        let target = match service {
            Some(service) => Some(Target::Service(service)),
            None if has_children => Some(Target::Children),
            None => None,
        };
        let compiled = match (problems.is_empty(), rule, chain, target) {
            (true, Some(rule), Some(chain), Some(target)) => Some(Compiled {
                priority: rule.priority(router.priority),
                rule,
                chain,
                target,
                slots,
            }),
            _ => None,
        };
        CheckedRouter {
            problems,
            warnings,
            compiled,
        }
    }
}

fn resolve_entry_points<'a>(
    router: &'a Router,
    http_entry_points: &[&'a str],
    all: &BTreeMap<String, crate::config::EntryPoint>,
    warnings: &mut Vec<Problem>,
    problems: &mut Vec<Problem>,
) -> Vec<&'a str> {
    if router.entry_points.is_empty() {
        if http_entry_points.is_empty() {
            problems.push(Problem::new(
                "NoValidEntryPoint",
                "no TCP entry point is configured",
            ));
        }
        return http_entry_points.to_vec();
    }
    let mut valid = Vec::with_capacity(router.entry_points.len());
    for ep in &router.entry_points {
        match all.get(ep) {
            Some(entry) if entry.protocol == Protocol::Tcp => valid.push(ep.as_str()),
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
    if valid.is_empty() {
        problems.push(Problem::new(
            "NoValidEntryPoint",
            "no valid entry point for this router",
        ));
    }
    valid
}

fn resolve_service(
    router: &Router,
    http: &HttpConfig,
    services: &Services,
    service_errors: &HashMap<&str, &ServiceBuildError>,
    problems: &mut Vec<Problem>,
) -> Option<Arc<dyn crate::service::HttpService>> {
    let name = router.service.as_str();
    if !http.services.contains_key(name) {
        problems.push(Problem::new(
            "ServiceNotFound",
            format!("service `{name}` does not exist"),
        ));
        return None;
    }
    if let Some(err) = service_errors.get(name) {
        problems.push(Problem::new(
            service_problem_reason(&err.reason),
            format!("service `{name}`: {}", err.reason),
        ));
        return None;
    }
    let service = services.get(name);
    if service.is_none() {
        problems.push(Problem::new(
            "ServiceInvalid",
            format!("service `{name}` could not be built"),
        ));
    }
    service
}

fn middleware_problem(err: &MiddlewareError) -> Problem {
    Problem::new(middleware_reason(err), err.to_string())
}

fn middleware_reason(err: &MiddlewareError) -> &'static str {
    match err {
        MiddlewareError::NotFound(_) => "MiddlewareNotFound",
        MiddlewareError::Unsupported { .. } => "UnsupportedMiddleware",
        MiddlewareError::Kind { .. } | MiddlewareError::Invalid { .. } => "MiddlewareInvalid",
        MiddlewareError::Recursion { .. } => "RecursionDetected",
    }
}

/// A service's own middlewares keep their middleware reason, so the router using the
/// service says what is wrong rather than only that the service is.
fn service_problem_reason(reason: &ServiceErrorReason) -> &'static str {
    match reason {
        ServiceErrorReason::Middleware(err) => middleware_reason(err),
        _ => "ServiceInvalid",
    }
}

fn make_route(
    name: &str,
    router: &Router,
    target: RouteTarget,
    chain: MiddlewareChain,
    counters: &CounterRegistry,
    static_config: &StaticConfig,
) -> Arc<Route> {
    let observability = router.observability.as_ref();
    let metrics = observability.and_then(|o| o.metrics).unwrap_or(true);
    let access_log = observability
        .and_then(|o| o.access_logs)
        .unwrap_or(static_config.access_logs);
    let has_service = matches!(target, RouteTarget::Service(_));
    Arc::new(Route {
        name: Arc::from(name),
        service_name: Arc::from(router.service.as_str()),
        chain,
        target,
        router_counters: metrics.then(|| counters.router(name)),
        service_counters: (metrics && has_service).then(|| counters.service(&router.service)),
        access_log,
    })
}

/// A router valid on its own, waiting to be placed in the tree.
struct Compiled {
    rule: HttpRule,
    priority: i64,
    chain: MiddlewareChain,
    target: Target,
    /// Entry point slots (roots only).
    slots: Vec<usize>,
}

enum Target {
    Service(Arc<dyn crate::service::HttpService>),
    /// Its children, built later.
    Children,
}

/// The served routers in an order where every child comes before its parents.
fn children_first<'a>(
    routers: &'a BTreeMap<String, Router>,
    layers: &Layers<'a>,
    served: &BTreeSet<&'a str>,
) -> Vec<&'a str> {
    let mut order = Vec::with_capacity(served.len());
    let mut seen = BTreeSet::new();
    let roots = routers
        .iter()
        .filter(|(name, router)| router.parent_refs.is_empty() && served.contains(name.as_str()))
        .map(|(name, _)| name.as_str());
    for root in roots {
        // (router, its children are already pushed)
        let mut stack = vec![(root, false)];
        while let Some((name, expanded)) = stack.pop() {
            if expanded {
                order.push(name);
                continue;
            }
            if !seen.insert(name) {
                continue;
            }
            stack.push((name, true));
            for child in layers.children.get(name).into_iter().flatten() {
                if served.contains(child) && !seen.contains(child) {
                    stack.push((child, false));
                }
            }
        }
    }
    order
}
