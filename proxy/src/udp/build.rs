//! Compiling `udp` into one route per UDP entry point, with a report per router and service.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::udp::{UdpConfig, UdpService as UdpServiceConfig};
use crate::config::{Protocol, StaticConfig};
use crate::runtime::{ObjectReport, Problem};

/// Where a session can go: round robin over addresses, or a weighted mix of services.
#[derive(Debug)]
pub enum UdpService {
    LoadBalancer {
        servers: Vec<String>,
        next: AtomicUsize,
    },
    Weighted {
        children: Vec<(Arc<UdpService>, u32)>,
        total: usize,
        next: AtomicUsize,
    },
}

impl UdpService {
    /// The server for a new session, or `None` when the service has none.
    pub fn pick(&self) -> Option<&str> {
        match self {
            UdpService::LoadBalancer { servers, next } => {
                if servers.is_empty() {
                    return None;
                }
                Some(&servers[next.fetch_add(1, Ordering::Relaxed) % servers.len()])
            }
            UdpService::Weighted {
                children,
                total,
                next,
            } => {
                if *total == 0 {
                    return None;
                }
                let mut position = next.fetch_add(1, Ordering::Relaxed) % total;
                for (child, weight) in children {
                    let weight = *weight as usize;
                    if position < weight {
                        return child.pick();
                    }
                    position -= weight;
                }
                None
            }
        }
    }
}

/// The router serving one UDP entry point.
#[derive(Debug)]
pub struct UdpRoute {
    pub name: Arc<str>,
    pub service: Arc<UdpService>,
}

/// The UDP side of one configuration generation.
#[derive(Debug)]
pub struct UdpGeneration {
    routes: Box<[Option<Arc<UdpRoute>>]>,
    pub routers: BTreeMap<String, ObjectReport>,
    pub services: BTreeMap<String, ObjectReport>,
}

impl UdpGeneration {
    pub fn empty(entry_points: usize) -> UdpGeneration {
        UdpGeneration {
            routes: (0..entry_points).map(|_| None).collect(),
            routers: BTreeMap::new(),
            services: BTreeMap::new(),
        }
    }

    /// The route of entry point `slot`, if a router serves it.
    pub fn route(&self, slot: usize) -> Option<&Arc<UdpRoute>> {
        self.routes.get(slot).and_then(Option::as_ref)
    }

    pub fn build(config: &UdpConfig, static_config: &StaticConfig) -> UdpGeneration {
        let mut built: HashMap<String, Result<Arc<UdpService>, String>> = HashMap::new();
        for name in config.services.keys() {
            // Memoised in `built`, where the routers and the reports read it.
            let _ = build_service(name, &config.services, &mut built, &mut Vec::new());
        }
        let names: Vec<&str> = static_config
            .entry_points
            .keys()
            .map(String::as_str)
            .collect();
        let udp_slots: Vec<usize> = static_config
            .entry_points
            .values()
            .enumerate()
            .filter(|(_, ep)| ep.protocol == Protocol::Udp)
            .map(|(slot, _)| slot)
            .collect();
        let mut routes: Vec<Option<Arc<UdpRoute>>> = names.iter().map(|_| None).collect();
        let mut routers = BTreeMap::new();
        // Descending name order: the first valid router of an entry point takes it.
        for (name, router) in config.routers.iter().rev() {
            let mut problems = Vec::new();
            let mut warnings = Vec::new();
            let slots: Vec<usize> = if router.entry_points.is_empty() {
                udp_slots.clone()
            } else {
                let mut slots = Vec::new();
                for ep in &router.entry_points {
                    match names.iter().position(|n| n == ep) {
                        Some(slot) if udp_slots.contains(&slot) => slots.push(slot),
                        Some(_) => warnings.push(Problem::new(
                            "UnknownEntryPoint",
                            format!("entry point `{ep}` is not a UDP entry point"),
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
                    "no valid UDP entry point for this router",
                ));
            }
            let service = match built.get(&router.service) {
                _ if router.service.is_empty() => {
                    problems.push(Problem::new("NoService", "the router has no service"));
                    None
                }
                None => {
                    problems.push(Problem::new(
                        "ServiceNotFound",
                        format!("service `{}` does not exist", router.service),
                    ));
                    None
                }
                Some(Err(reason)) => {
                    problems.push(Problem::new(
                        "ServiceInvalid",
                        format!("service `{}`: {reason}", router.service),
                    ));
                    None
                }
                Some(Ok(service)) => Some(Arc::clone(service)),
            };
            if let (true, Some(service)) = (problems.is_empty(), service) {
                let route = Arc::new(UdpRoute {
                    name: Arc::from(name.as_str()),
                    service,
                });
                for slot in slots {
                    match &routes[slot] {
                        None => routes[slot] = Some(Arc::clone(&route)),
                        Some(active) => warnings.push(Problem::new(
                            "Conflicted",
                            format!(
                                "entry point `{}` is already served by UDP router `{}`",
                                names[slot], active.name
                            ),
                        )),
                    }
                }
            }
            routers.insert(
                name.clone(),
                ObjectReport::from_problems(problems, warnings),
            );
        }
        let services = config
            .services
            .keys()
            .map(|name| {
                let problems = match built.get(name) {
                    Some(Err(reason)) => vec![Problem::new("ServiceInvalid", reason.clone())],
                    _ => Vec::new(),
                };
                (
                    name.clone(),
                    ObjectReport::from_problems(problems, Vec::new()),
                )
            })
            .collect();
        UdpGeneration {
            routes: routes.into_boxed_slice(),
            routers,
            services,
        }
    }
}

fn build_service(
    name: &str,
    configs: &BTreeMap<String, UdpServiceConfig>,
    built: &mut HashMap<String, Result<Arc<UdpService>, String>>,
    path: &mut Vec<String>,
) -> Result<Arc<UdpService>, String> {
    if let Some(done) = built.get(name) {
        return done.clone();
    }
    if path.iter().any(|seen| seen == name) {
        return Err(format!("weighted services form a cycle through `{name}`"));
    }
    let Some(config) = configs.get(name) else {
        return Err(format!("service `{name}` does not exist"));
    };
    path.push(name.to_owned());
    let result = match (&config.load_balancer, &config.weighted) {
        (Some(lb), None) => {
            let bad = lb.servers.iter().find(|server| {
                !server
                    .address
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            });
            match bad {
                Some(server) => Err(format!(
                    "server address `{}` is not host:port",
                    server.address
                )),
                None => Ok(Arc::new(UdpService::LoadBalancer {
                    servers: lb.servers.iter().map(|s| s.address.clone()).collect(),
                    next: AtomicUsize::new(0),
                })),
            }
        }
        (None, Some(weighted)) => {
            let mut children = Vec::new();
            let mut failure = None;
            for child in &weighted.services {
                match build_service(&child.name, configs, built, path) {
                    Ok(service) => children.push((service, child.weight.unwrap_or(1))),
                    Err(reason) => {
                        failure = Some(format!("child service `{}`: {reason}", child.name));
                        break;
                    }
                }
            }
            match failure {
                Some(reason) => Err(reason),
                None => {
                    let total = children.iter().map(|(_, w)| *w as usize).sum();
                    Ok(Arc::new(UdpService::Weighted {
                        children,
                        total,
                        next: AtomicUsize::new(0),
                    }))
                }
            }
        }
        _ => Err("exactly one of loadBalancer or weighted must be set".to_owned()),
    };
    path.pop();
    built.insert(name.to_owned(), result.clone());
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EntryPoint;

    fn static_config() -> StaticConfig {
        let mut config = StaticConfig::default();
        for flag in ["dns=127.0.0.1:0/udp", "web=127.0.0.1:0"] {
            let (name, ep) = EntryPoint::parse_named(flag).unwrap();
            config.entry_points.insert(name, ep);
        }
        config
    }

    fn build(yaml: &str) -> UdpGeneration {
        UdpGeneration::build(
            &crate::Config::from_yaml(yaml).unwrap().udp,
            &static_config(),
        )
    }

    #[test]
    fn one_router_per_entry_point_in_descending_name_order() {
        let generation = build(
            r#"
udp:
  routers:
    a: {service: dns}
    b: {service: dns}
  services:
    dns: {loadBalancer: {servers: [{address: "127.0.0.1:53"}, {address: "127.0.0.1:54"}]}}
"#,
        );
        let route = generation.route(0).unwrap();
        assert_eq!(&*route.name, "b");
        assert_eq!(generation.routers["a"].warnings[0].reason, "Conflicted");
        assert!(
            generation.route(1).is_none(),
            "TCP entry points get no UDP router"
        );
        assert_eq!(route.service.pick(), Some("127.0.0.1:53"));
        assert_eq!(route.service.pick(), Some("127.0.0.1:54"));
    }

    #[test]
    fn broken_routers_and_services_are_reported() {
        let generation = build(
            r#"
udp:
  routers:
    missing: {service: nope}
    on-tcp: {service: mix, entryPoints: [web]}
    bad: {service: bad}
  services:
    mix: {weighted: {services: [{name: dns, weight: 2}]}}
    dns: {loadBalancer: {servers: [{address: "127.0.0.1:53"}]}}
    bad: {loadBalancer: {servers: [{address: "nowhere"}]}}
"#,
        );
        assert_eq!(
            generation.routers["missing"].errors[0].reason,
            "ServiceNotFound"
        );
        assert_eq!(
            generation.routers["on-tcp"].errors[0].reason,
            "NoValidEntryPoint"
        );
        assert_eq!(
            generation.routers["on-tcp"].warnings[0].reason,
            "UnknownEntryPoint"
        );
        assert_eq!(
            generation.routers["bad"].errors[0].message,
            "service `bad`: server address `nowhere` is not host:port"
        );
        assert_eq!(generation.services["bad"].errors.len(), 1);
        assert!(generation.route(0).is_none());
    }
}
