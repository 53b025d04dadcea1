//! Building the runtime services of one configuration generation.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::task::AbortHandle;

use super::balancer::{LoadBalancer, LoadBalancerSpec, Picker, Server};
use super::composite::{
    Child, Failover, HighestRandomWeight, Mirror, Mirroring, Weighted, parse_status_ranges,
};
use super::health::{ActiveCheck, HealthCheckError, PassivePolicy};
use super::middlewares::WithMiddlewares;
use super::rendezvous::Rendezvous;
use super::sticky::StickyCookie;
use super::wrr::WrrOrder;
use super::{HttpService, ServiceState};
use crate::config::HttpConfig;
use crate::config::service::{
    ServersLoadBalancer, Service, ServiceKind, ServiceKindError, Strategy, WeightedService,
};
use crate::config::transport::ServersTransport;
use crate::middleware::{ChainCompiler, MiddlewareError};
use crate::upstream::{FlushPolicy, ServerTarget, TargetError, Transport, TransportError};

/// A service that could not be built; routers using it cannot be served.
#[derive(Debug, Clone, thiserror::Error)]
#[error("service {service}: {reason}")]
pub struct ServiceBuildError {
    pub service: String,
    pub reason: ServiceErrorReason,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceErrorReason {
    #[error(transparent)]
    Kind(#[from] ServiceKindError),
    #[error("servers[{index}]: {source}")]
    Server {
        index: usize,
        #[source]
        source: TargetError,
    },
    #[error("serversTransport `{0}` does not exist")]
    TransportNotFound(String),
    #[error("serversTransport `{name}`: {source}")]
    Transport {
        name: String,
        #[source]
        source: Arc<TransportError>,
    },
    #[error(transparent)]
    HealthCheck(#[from] HealthCheckError),
    #[error("service `{0}` does not exist")]
    MissingService(String),
    #[error("service `{0}` is invalid")]
    InvalidChild(String),
    #[error("recursion detected: {0}")]
    Recursion(String),
    #[error("failover.errors.status: {0}")]
    Status(#[from] super::composite::StatusRangeError),
    #[error("mirrors[{index}].percent is {percent}, above 100")]
    Percent { index: usize, percent: u32 },
    #[error("health checks need a tokio runtime; build services inside one")]
    NoRuntime,
    #[error("service-level {0}")]
    Middleware(#[source] MiddlewareError),
}

enum Node {
    LoadBalancer(LoadBalancer),
    Composite(&'static str, Child),
}

impl Node {
    fn service(&self) -> Child {
        match self {
            Node::LoadBalancer(lb) => Arc::new(lb.clone()),
            Node::Composite(_, service) => Arc::clone(service),
        }
    }
}

/// All runtime services of one config generation. Dropping it stops its health checks.
pub struct Services {
    nodes: HashMap<String, (Node, Child)>,
    transports: HashMap<String, Arc<Transport>>,
    health_tasks: Vec<AbortHandle>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.nodes.keys().collect();
        names.sort();
        f.debug_struct("Services")
            .field("services", &names)
            .finish()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for task in &self.health_tasks {
            task.abort();
        }
    }
}

impl Services {
    /// Builds every service of `http.services`. `previous` carries health state and
    /// connection pools over. Services that fail are left out and reported; the others work.
    pub fn build(
        http: &HttpConfig,
        previous: Option<&Services>,
    ) -> (Services, Vec<ServiceBuildError>) {
        let mut builder = Builder {
            config: http,
            previous,
            services: Services {
                nodes: HashMap::with_capacity(http.services.len()),
                transports: HashMap::new(),
                health_tasks: Vec::new(),
            },
            failed: HashMap::new(),
            transport_errors: HashMap::new(),
            visiting: Vec::new(),
            chains: ChainCompiler::new(&http.middlewares),
        };
        for name in http.services.keys() {
            builder.resolve(name);
        }
        let mut errors: Vec<ServiceBuildError> = builder
            .failed
            .into_iter()
            .map(|(service, reason)| ServiceBuildError { service, reason })
            .collect();
        errors.sort_by(|a, b| a.service.cmp(&b.service));
        (builder.services, errors)
    }

    /// The service to hand requests to, if it was built.
    pub fn get(&self, name: &str) -> Option<Arc<dyn HttpService>> {
        self.nodes.get(name).map(|(_, service)| Arc::clone(service))
    }

    /// Every built service with its servers' health, for the admin API.
    pub fn describe(&self) -> BTreeMap<String, ServiceState> {
        self.nodes
            .iter()
            .map(|(name, (node, service))| {
                let state = match node {
                    Node::LoadBalancer(lb) => lb.state(),
                    Node::Composite(kind, _) => ServiceState {
                        kind,
                        available: service.is_available(),
                        server_status: BTreeMap::new(),
                    },
                };
                (name.clone(), state)
            })
            .collect()
    }

    /// The servers of a load balancer by URL, whose state carries over.
    fn previous_servers(&self, service: &str) -> HashMap<&str, &Server> {
        match self.nodes.get(service) {
            Some((Node::LoadBalancer(lb), _)) => lb
                .servers()
                .iter()
                .map(|server| (server.target.url(), server))
                .collect(),
            _ => HashMap::new(),
        }
    }
}

struct Builder<'a> {
    config: &'a HttpConfig,
    previous: Option<&'a Services>,
    services: Services,
    failed: HashMap<String, ServiceErrorReason>,
    transport_errors: HashMap<String, Arc<TransportError>>,
    /// Services being built, to detect cycles.
    visiting: Vec<String>,
    /// Service-level middlewares, each compiled once per generation.
    chains: ChainCompiler<'a>,
}

/// Names without `@provider` refer to the referrer's provider first, as in Traefik.
fn qualify(reference: &str, referrer: &str) -> Option<String> {
    let (_, provider) = referrer.split_once('@')?;
    (!reference.contains('@')).then(|| format!("{reference}@{provider}"))
}

impl Builder<'_> {
    /// Builds `name` (once) and returns it, or records why it failed.
    fn resolve(&mut self, name: &str) -> Option<Child> {
        if let Some((_, service)) = self.services.nodes.get(name) {
            return Some(Arc::clone(service));
        }
        if self.failed.contains_key(name) {
            return None;
        }
        let config = self.config.services.get(name)?;
        if self.visiting.iter().any(|visiting| visiting == name) {
            let mut path = self.visiting.clone();
            path.push(name.to_owned());
            self.failed.insert(
                name.to_owned(),
                ServiceErrorReason::Recursion(path.join(" -> ")),
            );
            return None;
        }
        // Checked before building, so a service that cannot be used starts no health check.
        let chain = match self.chains.chain(&config.middlewares) {
            Ok(chain) => chain,
            Err(error) => {
                self.failed
                    .insert(name.to_owned(), ServiceErrorReason::Middleware(error));
                return None;
            }
        };
        self.visiting.push(name.to_owned());
        let built = self.build_one(name, config);
        self.visiting.pop();
        match built {
            Ok(node) => {
                let service = WithMiddlewares::wrap(chain, node.service());
                self.services
                    .nodes
                    .insert(name.to_owned(), (node, Arc::clone(&service)));
                Some(service)
            }
            Err(reason) => {
                // A cycle may already have been recorded for this name deeper down.
                self.failed.entry(name.to_owned()).or_insert(reason);
                None
            }
        }
    }

    /// A child of `parent`, with the reason the parent fails if it cannot be had.
    fn child(
        &mut self,
        reference: &str,
        parent: &str,
    ) -> Result<(String, Child), ServiceErrorReason> {
        let name = if self.config.services.contains_key(reference) {
            reference.to_owned()
        } else {
            qualify(reference, parent)
                .filter(|qualified| self.config.services.contains_key(qualified))
                .ok_or_else(|| ServiceErrorReason::MissingService(reference.to_owned()))?
        };
        match self.resolve(&name) {
            Some(service) => Ok((name, service)),
            None => match self.failed.get(&name) {
                Some(ServiceErrorReason::Recursion(path)) => {
                    Err(ServiceErrorReason::Recursion(path.clone()))
                }
                _ => Err(ServiceErrorReason::InvalidChild(name)),
            },
        }
    }

    fn build_one(&mut self, name: &str, config: &Service) -> Result<Node, ServiceErrorReason> {
        match config.kind()? {
            ServiceKind::LoadBalancer(lb) => self.load_balancer(name, lb).map(Node::LoadBalancer),
            ServiceKind::Weighted(weighted) => {
                let children = self.weighted_children(&weighted.services, name)?;
                let sticky = weighted
                    .sticky
                    .as_ref()
                    .and_then(|sticky| sticky.cookie.as_ref())
                    .map(|cookie| StickyCookie::new(cookie, name));
                Ok(Node::Composite(
                    "weighted",
                    Arc::new(Weighted::new(children, sticky)),
                ))
            }
            ServiceKind::HighestRandomWeight(hrw) => {
                let children = self.weighted_children(&hrw.services, name)?;
                Ok(Node::Composite(
                    "highestRandomWeight",
                    Arc::new(HighestRandomWeight::new(children)),
                ))
            }
            ServiceKind::Mirroring(mirroring) => {
                let (_, main) = self.child(&mirroring.service, name)?;
                let mut mirrors = Vec::with_capacity(mirroring.mirrors.len());
                for (index, mirror) in mirroring.mirrors.iter().enumerate() {
                    if mirror.percent > 100 {
                        return Err(ServiceErrorReason::Percent {
                            index,
                            percent: mirror.percent,
                        });
                    }
                    let (_, service) = self.child(&mirror.name, name)?;
                    mirrors.push(Mirror::new(service, mirror.percent));
                }
                let service = Mirroring::new(
                    main,
                    mirrors,
                    mirroring.mirror_body.unwrap_or(true),
                    mirroring.max_body_size.unwrap_or(-1),
                );
                Ok(Node::Composite("mirroring", Arc::new(service)))
            }
            ServiceKind::Failover(failover) => {
                let statuses = match &failover.errors {
                    Some(errors) => parse_status_ranges(&errors.status)?,
                    None => Vec::new(),
                };
                let max_body = failover
                    .errors
                    .as_ref()
                    .and_then(|errors| errors.max_request_body_bytes)
                    .unwrap_or(-1);
                let (_, main) = self.child(&failover.service, name)?;
                let (_, fallback) = self.child(&failover.fallback, name)?;
                let service = Failover::new(main, fallback, statuses, max_body);
                Ok(Node::Composite("failover", Arc::new(service)))
            }
        }
    }

    /// The children of a weighted or highestRandomWeight service: name as written, service,
    /// weight (default 1).
    fn weighted_children(
        &mut self,
        children: &[WeightedService],
        parent: &str,
    ) -> Result<Vec<(Arc<str>, Child, u32)>, ServiceErrorReason> {
        let mut built = Vec::with_capacity(children.len());
        for child in children {
            let (_, service) = self.child(&child.name, parent)?;
            built.push((
                Arc::from(child.name.as_str()),
                service,
                child.weight.unwrap_or(1),
            ));
        }
        Ok(built)
    }

    fn load_balancer(
        &mut self,
        name: &str,
        config: &ServersLoadBalancer,
    ) -> Result<LoadBalancer, ServiceErrorReason> {
        let transport = self.transport(&config.servers_transport, name)?;
        let active = config
            .health_check
            .as_ref()
            .map(ActiveCheck::new)
            .transpose()?
            .map(Arc::new);
        let runtime = match &active {
            Some(_) => Some(
                tokio::runtime::Handle::try_current().map_err(|_| ServiceErrorReason::NoRuntime)?,
            ),
            None => None,
        };
        let previous_servers = self
            .previous
            .map(|previous| previous.previous_servers(name))
            .unwrap_or_default();
        let mut servers = Vec::with_capacity(config.servers.len());
        for (index, server) in config.servers.iter().enumerate() {
            let target = ServerTarget::parse(&server.url, server.preserve_path)
                .map_err(|source| ServiceErrorReason::Server { index, source })?;
            servers.push(Server::new(
                target,
                previous_servers.get(server.url.as_str()).copied(),
                server.fenced,
                server.weight.unwrap_or(1),
            ));
        }
        let service_name: Arc<str> = Arc::from(name);
        if let (Some(check), Some(runtime)) = (&active, &runtime) {
            for server in &servers {
                let task = runtime.spawn(Arc::clone(check).run(
                    Arc::clone(&service_name),
                    server.target.clone(),
                    Arc::clone(&server.health),
                    Arc::clone(&transport),
                ));
                self.services.health_tasks.push(task.abort_handle());
            }
        }
        let weights = || -> Vec<u32> {
            config
                .servers
                .iter()
                .map(|server| server.weight.unwrap_or(1))
                .collect()
        };
        let picker = match config.strategy.unwrap_or_default() {
            Strategy::Wrr => Picker::Wrr(WrrOrder::new(&weights())),
            Strategy::P2c => Picker::P2c,
            Strategy::Hrw => Picker::Hrw(Rendezvous::new(
                config
                    .servers
                    .iter()
                    .map(|server| (server.url.as_str(), server.weight.unwrap_or(1))),
            )),
            Strategy::LeastTime => Picker::LeastTime(WrrOrder::new(&weights())),
        };
        Ok(LoadBalancer::new(LoadBalancerSpec {
            name: service_name,
            servers,
            picker,
            sticky: config
                .sticky
                .as_ref()
                .and_then(|sticky| sticky.cookie.as_ref())
                .map(|cookie| StickyCookie::new(cookie, name)),
            transport,
            pass_host_header: config.passes_host_header(),
            flush: FlushPolicy::from_config(
                config
                    .response_forwarding
                    .as_ref()
                    .and_then(|forwarding| forwarding.flush_interval),
            ),
            passive: config.passive_health_check.as_ref().map(PassivePolicy::new),
        }))
    }

    /// The configured transport a reference names; `None` for the built-in default.
    fn transport_config(
        &self,
        reference: &str,
        service: &str,
    ) -> Result<Option<(&str, &ServersTransport)>, ServiceErrorReason> {
        let transports = &self.config.servers_transports;
        if let Some((name, config)) = transports.get_key_value(reference) {
            return Ok(Some((name.as_str(), config)));
        }
        if matches!(reference, "" | "default" | "default@internal") {
            return Ok(None);
        }
        qualify(reference, service)
            .and_then(|qualified| transports.get_key_value(qualified.as_str()))
            .map(|(name, config)| Some((name.as_str(), config)))
            .ok_or_else(|| ServiceErrorReason::TransportNotFound(reference.to_owned()))
    }

    /// The transport named by a load balancer: built once per generation, reused from the
    /// previous one when its configuration did not change (keeping warm connections).
    fn transport(
        &mut self,
        reference: &str,
        service: &str,
    ) -> Result<Arc<Transport>, ServiceErrorReason> {
        let default = ServersTransport::default();
        let (key, config) = match self.transport_config(reference, service)? {
            Some((name, config)) => (name.to_owned(), config),
            None => (String::new(), &default),
        };
        if let Some(transport) = self.services.transports.get(&key) {
            return Ok(Arc::clone(transport));
        }
        if let Some(source) = self.transport_errors.get(&key) {
            return Err(ServiceErrorReason::Transport {
                name: key,
                source: Arc::clone(source),
            });
        }
        let reused = self
            .previous
            .and_then(|previous| previous.transports.get(&key))
            .filter(|transport| transport.is_built_from(config))
            .cloned();
        let transport = match reused {
            Some(transport) => transport,
            None => match Transport::new(config) {
                Ok(transport) => Arc::new(transport),
                Err(error) => {
                    let source = Arc::new(error);
                    self.transport_errors
                        .insert(key.clone(), Arc::clone(&source));
                    return Err(ServiceErrorReason::Transport { name: key, source });
                }
            },
        };
        self.services.transports.insert(key, Arc::clone(&transport));
        Ok(transport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(value: serde_json::Value) -> HttpConfig {
        serde_json::from_value(value).expect("valid config")
    }

    fn checked_service() -> HttpConfig {
        http(serde_json::json!({"services": {"svc": {"loadBalancer": {
            "servers": [{"url": "http://127.0.0.1:1"}],
            "healthCheck": {"path": "/health", "interval": "1h"}
        }}}}))
    }

    #[tokio::test]
    async fn health_tasks_end_with_their_generation() {
        let (services, errors) = Services::build(&checked_service(), None);
        assert!(errors.is_empty(), "{errors:?}");
        let health = services
            .previous_servers("svc")
            .get("http://127.0.0.1:1")
            .map(|server| Arc::clone(&server.health))
            .expect("server health");
        assert_eq!(services.health_tasks.len(), 1);
        drop(services);
        // The aborted task drops its handle on the health state.
        while Arc::strong_count(&health) > 1 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_service_dropped_from_the_config_loses_its_checks() {
        let (first, _) = Services::build(&checked_service(), None);
        let (second, _) = Services::build(&http(serde_json::json!({})), Some(&first));
        drop(first);
        assert!(second.health_tasks.is_empty());
        assert!(second.get("svc").is_none());
    }

    #[test]
    fn health_checks_outside_a_runtime_are_an_error_not_a_panic() {
        let (services, errors) = Services::build(&checked_service(), None);
        assert_eq!(errors.len(), 1);
        assert!(matches!(errors[0].reason, ServiceErrorReason::NoRuntime));
        assert!(services.get("svc").is_none());
    }

    #[test]
    fn unchanged_transports_are_reused_across_generations() {
        let config = http(serde_json::json!({
            "services": {"svc": {"loadBalancer": {"servers": [], "serversTransport": "t"}}},
            "serversTransports": {"t": {"maxIdleConnsPerHost": 3}},
        }));
        let (first, _) = Services::build(&config, None);
        let (second, _) = Services::build(&config, Some(&first));
        assert!(Arc::ptr_eq(&first.transports["t"], &second.transports["t"]));

        let mut changed = config.clone();
        if let Some(transport) = changed.servers_transports.get_mut("t") {
            transport.max_idle_conns_per_host = 4;
        }
        let (third, _) = Services::build(&changed, Some(&second));
        assert!(!Arc::ptr_eq(
            &second.transports["t"],
            &third.transports["t"]
        ));
    }

    #[test]
    fn references_without_provider_resolve_in_the_referrers_provider() {
        let config = http(serde_json::json!({"services": {
            "top@file": {"weighted": {"services": [{"name": "child"}]}},
            "child@file": {"loadBalancer": {"servers": []}},
        }}));
        let (services, errors) = Services::build(&config, None);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(services.get("top@file").is_some());
    }
}
