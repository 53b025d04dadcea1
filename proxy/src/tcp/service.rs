//! TCP services: a round-robin load balancer over server addresses, or a weighted mix of
//! other TCP services. Built once per apply; picking a server is one atomic increment.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::upstream_tls::{UpstreamTls, upstream_tls};
use crate::config::tcp::{TcpServersTransport, TcpService as TcpServiceConfig};

/// Traefik's `dialTimeout` default.
const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a connection can go.
#[derive(Debug)]
pub enum TcpService {
    LoadBalancer(LoadBalancer),
    Weighted(Weighted),
}

#[derive(Debug)]
pub struct LoadBalancer {
    /// Addresses, with whether the server speaks TLS (`servers[].tls`).
    servers: Vec<(String, bool)>,
    next: AtomicUsize,
    pub dial_timeout: Duration,
    /// Built when a server speaks TLS, from the servers transport's `tls` block.
    tls: Option<UpstreamTls>,
    /// PROXY protocol version to send first, if any.
    proxy_protocol: Option<u8>,
}

/// Children picked in proportion to their weights: position `n % total` falls in the child
/// whose cumulative weight range holds it, so every `total` connections follow the weights
/// exactly.
#[derive(Debug)]
pub struct Weighted {
    children: Vec<(Arc<TcpService>, u32)>,
    total: usize,
    next: AtomicUsize,
}

/// Where to dial, how long to wait for the connection, and whether to start TLS.
#[derive(Debug, Clone)]
pub struct Target {
    pub address: String,
    pub dial_timeout: Duration,
    pub tls: Option<UpstreamTls>,
    pub proxy_protocol: Option<u8>,
}

impl TcpService {
    /// The next server, or `None` when the service has none.
    pub fn pick(&self) -> Option<Target> {
        match self {
            TcpService::LoadBalancer(lb) => {
                if lb.servers.is_empty() {
                    return None;
                }
                let n = lb.next.fetch_add(1, Ordering::Relaxed) % lb.servers.len();
                let (address, tls) = &lb.servers[n];
                Some(Target {
                    address: address.clone(),
                    dial_timeout: lb.dial_timeout,
                    tls: if *tls { lb.tls.clone() } else { None },
                    proxy_protocol: lb.proxy_protocol,
                })
            }
            TcpService::Weighted(weighted) => {
                if weighted.total == 0 {
                    return None;
                }
                let mut position = weighted.next.fetch_add(1, Ordering::Relaxed) % weighted.total;
                for (child, weight) in &weighted.children {
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

/// Why a TCP service cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcpServiceError {
    #[error("exactly one of loadBalancer or weighted must be set")]
    Shape,
    #[error("service `{0}` does not exist")]
    NotFound(String),
    #[error("weighted services form a cycle through `{0}`")]
    Recursion(String),
    #[error("serversTransport `{0}` does not exist")]
    TransportNotFound(String),
    #[error("proxyProtocol version {0} does not exist (expected 1 or 2)")]
    ProxyProtocolVersion(u8),
    #[error("serversTransport tls: {0}")]
    Tls(String),
    #[error("{0} is not supported for TCP servers yet")]
    Unsupported(&'static str),
    #[error("server address `{0}` is not host:port")]
    BadAddress(String),
    #[error("child service `{child}`: {reason}")]
    Child {
        child: String,
        reason: Box<TcpServiceError>,
    },
}

/// Builds every TCP service; each gets its service or the reason it cannot serve.
pub fn build_services(
    services: &BTreeMap<String, TcpServiceConfig>,
    transports: &BTreeMap<String, TcpServersTransport>,
) -> BTreeMap<String, Result<Arc<TcpService>, TcpServiceError>> {
    let mut builder = Builder {
        services,
        transports,
        done: HashMap::new(),
    };
    services
        .keys()
        .map(|name| (name.clone(), builder.build(name, &mut Vec::new())))
        .collect()
}

struct Builder<'a> {
    services: &'a BTreeMap<String, TcpServiceConfig>,
    transports: &'a BTreeMap<String, TcpServersTransport>,
    done: HashMap<String, Result<Arc<TcpService>, TcpServiceError>>,
}

impl Builder<'_> {
    fn build(
        &mut self,
        name: &str,
        path: &mut Vec<String>,
    ) -> Result<Arc<TcpService>, TcpServiceError> {
        if let Some(done) = self.done.get(name) {
            return done.clone();
        }
        if path.iter().any(|seen| seen == name) {
            return Err(TcpServiceError::Recursion(name.to_owned()));
        }
        let Some(config) = self.services.get(name) else {
            return Err(TcpServiceError::NotFound(name.to_owned()));
        };
        path.push(name.to_owned());
        let built = match (&config.load_balancer, &config.weighted) {
            (Some(lb), None) => self.load_balancer(lb),
            (None, Some(weighted)) => {
                let mut children = Vec::new();
                let mut failure = None;
                for child in &weighted.services {
                    match self.build(&child.name, path) {
                        Ok(service) => children.push((service, child.weight.unwrap_or(1))),
                        Err(reason) => {
                            failure = Some(TcpServiceError::Child {
                                child: child.name.clone(),
                                reason: Box::new(reason),
                            });
                            break;
                        }
                    }
                }
                match failure {
                    Some(err) => Err(err),
                    None => {
                        let total = children.iter().map(|(_, weight)| *weight as usize).sum();
                        Ok(Arc::new(TcpService::Weighted(Weighted {
                            children,
                            total,
                            next: AtomicUsize::new(0),
                        })))
                    }
                }
            }
            _ => Err(TcpServiceError::Shape),
        };
        path.pop();
        self.done.insert(name.to_owned(), built.clone());
        built
    }

    fn load_balancer(
        &self,
        lb: &crate::config::tcp::TcpLoadBalancer,
    ) -> Result<Arc<TcpService>, TcpServiceError> {
        // The deprecated service-level setting, unless the transport has its own.
        let mut proxy_protocol = lb.proxy_protocol.as_ref().map(|p| p.version);
        let mut dial_timeout = DEFAULT_DIAL_TIMEOUT;
        let mut transport_tls = None;
        if !lb.servers_transport.is_empty() {
            let transport = self
                .transports
                .get(&lb.servers_transport)
                .ok_or_else(|| TcpServiceError::TransportNotFound(lb.servers_transport.clone()))?;
            if let Some(protocol) = &transport.proxy_protocol {
                proxy_protocol = Some(protocol.version);
            }
            // Zero or negative means "no limit" in Go; keep the default instead of waiting forever.
            if let Some(timeout) = transport
                .dial_timeout
                .and_then(|t| t.to_std())
                .filter(|t| !t.is_zero())
            {
                dial_timeout = timeout;
            }
            transport_tls = transport.tls.as_ref();
        }
        // An empty block means version 2, as in Traefik's CRD defaults.
        let proxy_protocol = match proxy_protocol {
            None => None,
            Some(0 | 2) => Some(2),
            Some(1) => Some(1),
            Some(other) => return Err(TcpServiceError::ProxyProtocolVersion(other)),
        };
        let mut servers = Vec::with_capacity(lb.servers.len());
        for server in &lb.servers {
            let valid = server
                .address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(TcpServiceError::BadAddress(server.address.clone()));
            }
            servers.push((server.address.clone(), server.tls));
        }
        let tls = if lb.servers.iter().any(|server| server.tls) {
            Some(upstream_tls(transport_tls)?)
        } else {
            None
        };
        Ok(Arc::new(TcpService::LoadBalancer(LoadBalancer {
            servers,
            next: AtomicUsize::new(0),
            dial_timeout,
            tls,
            proxy_protocol,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tcp::{TcpLoadBalancer, TcpServer, TcpWeighted, TcpWeightedService};

    fn lb(addresses: &[&str]) -> TcpServiceConfig {
        TcpServiceConfig {
            load_balancer: Some(TcpLoadBalancer {
                servers: addresses
                    .iter()
                    .map(|a| TcpServer {
                        address: a.to_string(),
                        tls: false,
                    })
                    .collect(),
                ..TcpLoadBalancer::default()
            }),
            weighted: None,
        }
    }

    fn weighted(children: &[(&str, u32)]) -> TcpServiceConfig {
        TcpServiceConfig {
            load_balancer: None,
            weighted: Some(TcpWeighted {
                services: children
                    .iter()
                    .map(|(name, weight)| TcpWeightedService {
                        name: name.to_string(),
                        weight: Some(*weight),
                    })
                    .collect(),
            }),
        }
    }

    fn build(
        services: &[(&str, TcpServiceConfig)],
    ) -> BTreeMap<String, Result<Arc<TcpService>, TcpServiceError>> {
        let services = services
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect();
        build_services(&services, &BTreeMap::new())
    }

    #[test]
    fn load_balancers_rotate_and_weighted_services_follow_their_weights() {
        let built = build(&[
            ("a", lb(&["127.0.0.1:1", "127.0.0.1:2"])),
            ("b", lb(&["127.0.0.1:3"])),
            ("mix", weighted(&[("a", 3), ("b", 1)])),
        ]);
        let a = built["a"].as_ref().unwrap();
        let picks: Vec<String> = (0..4).map(|_| a.pick().unwrap().address).collect();
        assert_eq!(
            picks,
            ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1", "127.0.0.1:2"]
        );
        let mix = built["mix"].as_ref().unwrap();
        let from_b = (0..8)
            .filter(|_| mix.pick().unwrap().address == "127.0.0.1:3")
            .count();
        assert_eq!(from_b, 2, "weight 1 of 4");
        assert_eq!(mix.pick().unwrap().dial_timeout, DEFAULT_DIAL_TIMEOUT);
    }

    #[test]
    fn broken_services_say_why() {
        let built = build(&[
            ("loop-a", weighted(&[("loop-b", 1)])),
            ("loop-b", weighted(&[("loop-a", 1)])),
            ("dangling", weighted(&[("missing", 1)])),
            ("bad-address", lb(&["no-port"])),
            ("empty", TcpServiceConfig::default()),
        ]);
        let reason = |name: &str| built[name].as_ref().unwrap_err().to_string();
        assert!(reason("loop-a").contains("cycle"), "{}", reason("loop-a"));
        assert_eq!(
            reason("dangling"),
            "child service `missing`: service `missing` does not exist"
        );
        assert_eq!(
            reason("bad-address"),
            "server address `no-port` is not host:port"
        );
        assert_eq!(
            reason("empty"),
            "exactly one of loadBalancer or weighted must be set"
        );
        let empty = build(&[("none", lb(&[]))]);
        assert!(empty["none"].as_ref().unwrap().pick().is_none());
    }
}
