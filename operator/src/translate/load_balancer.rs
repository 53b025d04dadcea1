//! A service reference (`LoadBalancerSpec`, reference §1.2) -> HTTP services of the proxy
//! configuration: a servers load balancer for a Kubernetes Service, or the id of a
//! TraefikService; either with the reference's service-level middlewares.
//!
//! Services are staged and only committed when the whole route (or TraefikService) resolves,
//! so a failure never leaves half-built services behind (Traefik leaks them; Mesh does not).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mesh_crds::LoadBalancerSpec;
use mesh_crds::status::Reason;
use mesh_proxy::config::Service;
use mesh_proxy::config::service::{
    PassiveHealthCheck, ResponseForwarding, Server, ServerHealthCheck, ServersLoadBalancer, Sticky,
    StickyCookie, Strategy, Weighted, WeightedService,
};
use mesh_proxy::config::transport::Duration;

use super::backend::{self, Backend, Problem, Readiness};
use super::names::{object_id, service_port_id, service_with_middlewares_id};
use super::{Context, Protocol};
use super::{middleware, refs};

/// Services built for one route or object, not yet in the configuration.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    pub services: Vec<(String, Service)>,
    /// Things that work but not as written (Degraded findings).
    pub warnings: Vec<Problem>,
}

impl Staged {
    pub fn commit(self, ctx: &mut Context<'_>) -> Vec<Problem> {
        for (name, service) in self.services {
            ctx.config.http.services.insert(name, service);
        }
        self.warnings
    }
}

/// Converts a duration written as int (seconds) or Go string.
pub(crate) fn duration(value: &IntOrString) -> Result<Duration, String> {
    match value {
        IntOrString::Int(seconds) => Ok(Duration::from_secs(i64::from(*seconds))),
        IntOrString::String(text) => Duration::parse(text).map_err(|error| error.to_string()),
    }
}

/// Resolves `spec` written in `parent_namespace` and returns the name of the service to
/// use. `own_name` names the servers load balancer when the reference is a Kubernetes
/// Service (the router name for a single-service route); otherwise `ns-name-port` is used.
pub(crate) fn service_name(
    ctx: &Context<'_>,
    staged: &mut Staged,
    parent_namespace: &str,
    spec: &LoadBalancerSpec,
    own_name: Option<&str>,
    location: &str,
) -> Result<String, Problem> {
    match spec.kind.as_deref().unwrap_or_default() {
        "" | "Service" => {}
        "TraefikService" => {
            return traefik_service_with_middlewares(
                ctx,
                staged,
                parent_namespace,
                spec,
                own_name,
                location,
            );
        }
        other => {
            return Err(Problem::new(
                Reason::InvalidKind,
                format!("{location}: kind {other:?} is not one of Service, TraefikService"),
            ));
        }
    }
    if spec.name.contains('@') {
        return Err(Problem::new(
            Reason::RefInvalid,
            format!(
                "{location}: Service {}: a Kubernetes Service cannot come from another provider",
                spec.name
            ),
        ));
    }
    let lb = servers_load_balancer(ctx, staged, parent_namespace, spec, location)?;
    let namespace = spec
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(parent_namespace);
    let middlewares = service_middlewares(ctx, namespace, spec, location)?;
    let name = match own_name {
        Some(name) => name.to_string(),
        None => {
            let id = service_port_id(
                namespace,
                &spec.name,
                &spec
                    .port
                    .as_ref()
                    .map(backend::port_text)
                    .unwrap_or_default(),
            );
            if middlewares.is_empty() {
                id
            } else {
                service_with_middlewares_id(&id, &middlewares)
            }
        }
    };
    staged.services.push((
        name.clone(),
        Service {
            middlewares,
            ..Service::load_balancer(lb)
        },
    ));
    Ok(name)
}

/// The service-level middlewares of a service reference (reference §1.2, §4.3): resolved
/// like a route's, relative to the referenced service's namespace.
fn service_middlewares(
    ctx: &Context<'_>,
    service_namespace: &str,
    spec: &LoadBalancerSpec,
    location: &str,
) -> Result<Vec<String>, Problem> {
    spec.middlewares
        .iter()
        .enumerate()
        .map(|(i, reference)| {
            middleware::route_middleware(
                ctx,
                service_namespace,
                reference,
                &format!("{location}.middlewares[{i}]"),
            )
        })
        .collect()
}

/// A TraefikService reference. The TraefikService is shared by name, so the reference's
/// service-level middlewares go on a one-child service of its own, named like a Kubernetes
/// Service's (`own_name`, or the middlewares hashed into the TraefikService's id).
fn traefik_service_with_middlewares(
    ctx: &Context<'_>,
    staged: &mut Staged,
    parent_namespace: &str,
    spec: &LoadBalancerSpec,
    own_name: Option<&str>,
    location: &str,
) -> Result<String, Problem> {
    let id = traefik_service_name(ctx, parent_namespace, spec, location)?;
    if spec.middlewares.is_empty() {
        return Ok(id);
    }
    let namespace = spec
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty() && !spec.name.contains('@'))
        .unwrap_or(parent_namespace);
    let middlewares = service_middlewares(ctx, namespace, spec, location)?;
    let name = match own_name {
        Some(name) => name.to_string(),
        None => service_with_middlewares_id(&id, &middlewares),
    };
    let only_child = Weighted {
        services: vec![WeightedService {
            name: id,
            weight: Some(1),
        }],
        ..Weighted::default()
    };
    staged.services.push((
        name.clone(),
        Service {
            weighted: Some(only_child),
            middlewares,
            ..Service::default()
        },
    ));
    Ok(name)
}

/// A TraefikService reference: permitted and existing (already translated, or at least
/// decoded when TraefikServices are being translated themselves).
pub(crate) fn traefik_service_name(
    ctx: &Context<'_>,
    parent_namespace: &str,
    spec: &LoadBalancerSpec,
    location: &str,
) -> Result<String, Problem> {
    let resolved = refs::resolve(
        ctx.options,
        parent_namespace,
        &spec.name,
        spec.namespace.as_deref(),
        "TraefikService",
        location,
    )?;
    let exists = match &resolved.key {
        Some(key) => ctx
            .snapshot
            .traefik_services
            .get(key)
            .is_some_and(|entry| entry.valid().is_some()),
        None => ctx.snapshot.traefik_services.iter().any(|(key, entry)| {
            entry.valid().is_some() && object_id(&key.namespace, &key.name) == resolved.id
        }),
    };
    let shown = resolved
        .key
        .as_ref()
        .map_or_else(|| spec.name.clone(), ToString::to_string);
    if !exists {
        return Err(Problem::new(
            Reason::BackendNotFound,
            format!("{location}: TraefikService {shown} not found"),
        ));
    }
    if ctx.translated_traefik_services && !ctx.config.http.services.contains_key(&resolved.id) {
        return Err(Problem::new(
            Reason::BackendNotFound,
            format!("{location}: TraefikService {shown} is not usable (see its status)"),
        ));
    }
    Ok(resolved.id)
}

/// Reference §5.3 for HTTP: the servers of a Kubernetes Service plus the LB settings.
fn servers_load_balancer(
    ctx: &Context<'_>,
    staged: &mut Staged,
    parent_namespace: &str,
    spec: &LoadBalancerSpec,
    location: &str,
) -> Result<ServersLoadBalancer, Problem> {
    let (key, service) = backend::lookup_service(
        ctx,
        parent_namespace,
        &spec.name,
        spec.namespace.as_deref(),
        location,
    )?;
    let port = backend::find_port(service, spec.port.as_ref()).map_err(|(reason, message)| {
        Problem::new(reason, format!("{location}: Service {key}: {message}"))
    })?;
    if spec.health_check.is_some() && !backend::is_external_name(service) {
        return Err(Problem::new(
            Reason::UnsupportedValue,
            format!(
                "{location}: healthCheck is only allowed for ExternalName services, and Service {key} is not one"
            ),
        ));
    }
    let scheme = backend::infer_scheme(spec.scheme.as_deref(), &port).map_err(|message| {
        Problem::new(Reason::UnsupportedValue, format!("{location}: {message}"))
    })?;
    let mut lb = ServersLoadBalancer {
        strategy: Some(strategy(spec.strategy.as_deref(), location)?),
        pass_host_header: Some(spec.pass_host_header),
        ..ServersLoadBalancer::default()
    };
    let flush = spec
        .response_forwarding
        .as_ref()
        .map_or("100ms", |forwarding| forwarding.flush_interval.as_str());
    let flush = Duration::parse(flush).map_err(|error| {
        Problem::new(
            Reason::UnsupportedValue,
            format!("{location}: responseForwarding.flushInterval: {error}"),
        )
    })?;
    lb.response_forwarding = Some(ResponseForwarding {
        flush_interval: Some(flush),
    });
    lb.sticky = spec
        .sticky
        .as_ref()
        .and_then(|sticky| sticky.cookie.as_ref())
        .map(|cookie| Sticky {
            cookie: Some(StickyCookie {
                name: cookie.name.clone().unwrap_or_default(),
                secure: cookie.secure,
                http_only: cookie.http_only,
                same_site: cookie.same_site.clone().unwrap_or_default(),
                max_age: cookie.max_age.unwrap_or_default(),
                path: Some(cookie.path.clone().unwrap_or_else(|| "/".to_string())),
                domain: cookie.domain.clone().unwrap_or_default(),
            }),
        });
    if let Some(check) = &spec.health_check {
        lb.health_check = Some(health_check(check, location)?);
    }
    if let Some(passive) = &spec.passive_health_check {
        let window = duration(&passive.failure_window).map_err(|error| {
            Problem::new(
                Reason::UnsupportedValue,
                format!("{location}: passiveHealthCheck.failureWindow: {error}"),
            )
        })?;
        lb.passive_health_check = Some(PassiveHealthCheck {
            failure_window: Some(window),
            max_failed_attempts: Some(u32::try_from(passive.max_failed_attempts).unwrap_or(1)),
        });
    }
    if let Some(transport) = spec
        .servers_transport
        .as_deref()
        .filter(|name| !name.is_empty())
    {
        lb.servers_transport =
            servers_transport(ctx, parent_namespace, &key.namespace, transport, location)?;
        let skipped = ctx.transport_warnings(Protocol::Http, &lb.servers_transport, location);
        staged.warnings.extend(skipped);
    }
    if port.external_name_mismatch {
        staged.warnings.push(Problem::new(
            Reason::ExternalNamePortMismatch,
            format!(
                "{location}: port {} is not among the ports ExternalName Service {key} declares; using {} anyway",
                port.number, port.number
            ),
        ));
    }
    let backend = Backend {
        key: key.clone(),
        service,
        port,
    };
    let endpoints = backend::endpoints(
        ctx,
        &backend,
        spec.native_lb,
        spec.node_port_lb,
        Readiness::Http,
        location,
    )?;
    if endpoints.is_empty() {
        let message = format!("{location}: Service {key} has no ready endpoints");
        if !ctx.options.allow_empty_services {
            return Err(Problem::new(Reason::NoEndpoints, message));
        }
        staged.warnings.push(Problem::new(
            Reason::NoEndpoints,
            format!("{message}; requests get 503"),
        ));
    }
    lb.servers = endpoints
        .into_iter()
        .map(|endpoint| Server {
            fenced: endpoint.fenced,
            ..Server::new(format!("{scheme}://{}", endpoint.address))
        })
        .collect();
    Ok(lb)
}

fn strategy(strategy: Option<&str>, location: &str) -> Result<Strategy, Problem> {
    match strategy.unwrap_or_default() {
        "" | "wrr" | "RoundRobin" => Ok(Strategy::Wrr),
        "p2c" => Ok(Strategy::P2c),
        "hrw" => Ok(Strategy::Hrw),
        "leasttime" => Ok(Strategy::LeastTime),
        other => Err(Problem::new(
            Reason::UnsupportedValue,
            format!(
                "{location}: load-balancing strategy {other:?} is not one of wrr, p2c, hrw, leasttime"
            ),
        )),
    }
}

fn health_check(
    check: &mesh_crds::common::HealthCheck,
    location: &str,
) -> Result<ServerHealthCheck, Problem> {
    let parse = |field: &str, value: &IntOrString| {
        duration(value).map_err(|error| {
            Problem::new(
                Reason::UnsupportedValue,
                format!("{location}: healthCheck.{field}: {error}"),
            )
        })
    };
    let interval = parse("interval", &check.interval)?;
    let unhealthy = match &check.unhealthy_interval {
        Some(value) => parse("unhealthyInterval", value)?,
        None => interval,
    };
    Ok(ServerHealthCheck {
        scheme: check.scheme.clone().unwrap_or_default(),
        mode: check.mode.clone().unwrap_or_default(),
        path: check.path.clone().unwrap_or_default(),
        method: check.method.clone().unwrap_or_default(),
        status: check.status.and_then(|status| u16::try_from(status).ok()),
        port: check.port.and_then(|port| u16::try_from(port).ok()),
        interval: Some(interval),
        unhealthy_interval: Some(unhealthy),
        timeout: Some(parse("timeout", &check.timeout)?),
        hostname: check.hostname.clone().unwrap_or_default(),
        follow_redirects: Some(check.follow_redirects),
        headers: check.headers.clone(),
    })
}

/// A ServersTransport named on a service: in the *Service's* namespace (HTTP), or
/// `name@provider`. It must exist.
pub(crate) fn servers_transport(
    ctx: &Context<'_>,
    parent_namespace: &str,
    transport_namespace: &str,
    name: &str,
    location: &str,
) -> Result<String, Problem> {
    let resolved = if name.contains('@') {
        refs::resolve(
            ctx.options,
            parent_namespace,
            name,
            None,
            "ServersTransport",
            location,
        )?
    } else {
        refs::Resolved {
            id: object_id(transport_namespace, name),
            key: Some(crate::snapshot::ObjectKey::new(transport_namespace, name)),
        }
    };
    if ctx
        .config
        .http
        .servers_transports
        .contains_key(&resolved.id)
    {
        return Ok(resolved.id);
    }
    let shown = resolved
        .key
        .map_or_else(|| name.to_string(), |key| key.to_string());
    Err(Problem::new(
        Reason::ServersTransportNotFound,
        format!("{location}: ServersTransport {shown} not found"),
    ))
}
