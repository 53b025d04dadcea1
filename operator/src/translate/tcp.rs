//! IngressRouteTCP -> TCP routers and services (reference §1.3, §6.7, §7.3).
//!
//! Unlike HTTP, a failing service entry drops only that entry (§6.7 P-SVC); a route whose
//! every service failed is dropped (Traefik keeps a router pointing at nothing).

use mesh_crds::IngressRouteTCPSpec;
use mesh_crds::ingress_route_tcp::{RouteTCP, ServiceTCP};
use mesh_crds::status::Reason;
use mesh_proxy::config::tcp::{
    ProxyProtocol, TcpLoadBalancer, TcpRouter, TcpRouterTls, TcpServer, TcpService, TcpWeighted,
    TcpWeightedService,
};
use mesh_proxy::rule::{RuleSyntax, parse_tcp_with};

use super::backend::{Problem, port_text};
use super::names::{object_id, tcp_router_name};
use super::stream::{self, StreamServiceRef};
use super::{Context, Protocol, RouterOwner, class, middleware, refs, tls};
use crate::snapshot::{Entry, Object, ObjectKey, ObjectKind, ObjectRef};

pub(crate) fn translate_ingress_route_tcps(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    for (key, entry) in &snapshot.ingress_route_tcps {
        let object = ObjectRef::new(ObjectKind::IngressRouteTcp, key);
        match entry {
            Entry::Invalid {
                generation, error, ..
            } => class::track_invalid(ctx, &object, *generation, error),
            Entry::Valid(route) => {
                let class = class::effective(route.spec.ingress_class_name.as_deref(), &route.meta);
                if !class::owns(ctx, &route.meta, class) {
                    continue;
                }
                ctx.book.track(&object, route.meta.generation, true);
                translate_one(ctx, &object, route);
            }
        }
    }
}

fn translate_one(
    ctx: &mut Context<'_>,
    object: &ObjectRef,
    ingress_route: &Object<IngressRouteTCPSpec>,
) {
    let namespace = &ingress_route.meta.namespace;
    let spec = &ingress_route.spec;
    if let Some(tls_spec) = &spec.tls
        && !tls_spec.passthrough
        && let Some(secret) = tls_spec
            .secret_name
            .as_deref()
            .filter(|name| !name.is_empty())
        && let Err(problem) = tls::load_route_certificate(ctx, namespace, secret, "tls.secretName")
    {
        ctx.book
            .object_problem(object, problem.reason, problem.message);
    }
    for (index, route) in spec.routes.iter().enumerate() {
        let location = format!("routes[{index}]");
        let router_name = tcp_router_name(namespace, &ingress_route.meta.name, &route.match_);
        match build_router(ctx, object, ingress_route, route, &location, &router_name) {
            Ok(mut router) => {
                if let Some(tls_spec) = &spec.tls {
                    let site = tls::RouteSite {
                        object,
                        index,
                        router: &router_name,
                    };
                    let Some(option_id) = tls::route_option_id(
                        ctx,
                        &site,
                        namespace,
                        tls_spec.options.as_ref(),
                        &format!("{location}: tls.options"),
                    ) else {
                        continue;
                    };
                    router.tls = Some(TcpRouterTls {
                        passthrough: tls_spec.passthrough,
                        options: option_id,
                        cert_resolver: tls_spec.cert_resolver.clone().unwrap_or_default(),
                        domains: tls::domains(&tls_spec.domains),
                    });
                }
                ctx.config.tcp.routers.insert(router_name.clone(), router);
                ctx.router_owners.insert(
                    router_name.clone(),
                    RouterOwner {
                        object: object.clone(),
                        route_index: Some(index),
                        protocol: Protocol::Tcp,
                    },
                );
                ctx.book.route_built(object, index, &router_name);
            }
            Err(problem) => {
                ctx.book
                    .route_failed(object, index, &router_name, problem.reason, problem.message)
            }
        }
    }
}

fn build_router(
    ctx: &mut Context<'_>,
    object: &ObjectRef,
    ingress_route: &Object<IngressRouteTCPSpec>,
    route: &RouteTCP,
    location: &str,
    router_name: &str,
) -> Result<TcpRouter, Problem> {
    let namespace = &ingress_route.meta.namespace;
    if route.match_.trim().is_empty() {
        return Err(Problem::new(
            Reason::InvalidRule,
            format!("{location}: match is empty"),
        ));
    }
    // The proxy would refuse the router anyway; saying so here names the route and column.
    let syntax = RuleSyntax::from_config(route.syntax.as_deref());
    if let Err(error) = parse_tcp_with(&route.match_, syntax) {
        return Err(Problem::new(
            Reason::InvalidRule,
            format!("{location}: match {:?}: {error}", route.match_),
        ));
    }
    if ingress_route.spec.tls.is_none()
        && let Some(host) = tls::rule_sni_hosts(&route.match_)
            .into_iter()
            .find(|host| host != "*")
    {
        // Without TLS there is no SNI to match: the router could never be chosen (§2.4).
        return Err(Problem::new(
            Reason::InvalidRule,
            format!(
                "{location}: HostSNI(`{host}`) needs a tls section; \
                 only HostSNI(`*`) works without TLS"
            ),
        ));
    }
    let middlewares = route
        .middlewares
        .iter()
        .enumerate()
        .map(|(i, reference)| {
            middleware::route_middleware_tcp(
                ctx,
                namespace,
                reference,
                &format!("{location}.middlewares[{i}]"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    if route.services.is_empty() {
        return Err(Problem::new(
            Reason::InvalidSpec,
            format!("{location}: no services (a route needs at least one service)"),
        ));
    }

    let mut built = Vec::new();
    let mut failures = Vec::new();
    for (i, service) in route.services.iter().enumerate() {
        let service_location = format!("{location}.services[{i}]");
        match load_balancer(ctx, namespace, service, &service_location) {
            Ok((lb, warnings)) => {
                for warning in warnings {
                    ctx.book.degraded(object, warning.reason, warning.message);
                }
                built.push((service, lb));
            }
            Err(problem) => failures.push(problem),
        }
    }
    if built.is_empty() {
        // Every entry failed: the first cause is the route's.
        return Err(failures.remove(0));
    }
    for problem in failures {
        // The route still serves with the remaining services.
        ctx.book
            .object_problem(object, problem.reason, problem.message.clone());
        ctx.book.degraded(
            object,
            Reason::RoutesDropped,
            format!("{}; that service is left out", problem.message),
        );
    }
    let service = if let [(_, lb)] = built.as_slice() {
        ctx.config.tcp.services.insert(
            router_name.to_string(),
            TcpService {
                load_balancer: Some(lb.clone()),
                weighted: None,
            },
        );
        router_name.to_string()
    } else {
        let mut children = Vec::with_capacity(built.len());
        for (service, lb) in built {
            let child = format!(
                "{router_name}-{}-{}",
                service.name,
                port_text(&service.port)
            );
            ctx.config.tcp.services.insert(
                child.clone(),
                TcpService {
                    load_balancer: Some(lb),
                    weighted: None,
                },
            );
            children.push(TcpWeightedService {
                name: child,
                weight: Some(u32::try_from(service.weight).unwrap_or(0)),
            });
        }
        let weighted = TcpWeighted { services: children };
        ctx.config.tcp.services.insert(
            router_name.to_string(),
            TcpService {
                load_balancer: None,
                weighted: Some(weighted),
            },
        );
        router_name.to_string()
    };
    Ok(TcpRouter {
        entry_points: ingress_route.spec.entry_points.clone(),
        middlewares,
        service,
        rule: route.match_.clone(),
        rule_syntax: route.syntax.clone().unwrap_or_default(),
        priority: route.priority.unwrap_or_default(),
        tls: None,
    })
}

fn load_balancer(
    ctx: &Context<'_>,
    namespace: &str,
    service: &ServiceTCP,
    location: &str,
) -> Result<(TcpLoadBalancer, Vec<Problem>), Problem> {
    let reference = StreamServiceRef {
        name: &service.name,
        namespace: service.namespace.as_deref(),
        port: &service.port,
        native_lb: service.native_lb,
        node_port_lb: service.node_port_lb,
    };
    let (addresses, mut warnings) = stream::addresses(ctx, namespace, &reference, location)?;
    let servers_transport = match service
        .servers_transport
        .as_deref()
        .filter(|name| !name.is_empty())
    {
        Some(name) => servers_transport_tcp(ctx, namespace, name, location)?,
        None => String::new(),
    };
    warnings.extend(ctx.transport_warnings(Protocol::Tcp, &servers_transport, location));
    let termination_delay = if servers_transport.is_empty() {
        service.termination_delay
    } else {
        None
    };
    let lb = TcpLoadBalancer {
        servers: addresses
            .into_iter()
            .map(|address| TcpServer {
                address,
                tls: service.tls,
            })
            .collect(),
        servers_transport,
        proxy_protocol: service.proxy_protocol.as_ref().map(|proxy| ProxyProtocol {
            version: proxy
                .version
                .and_then(|v| u8::try_from(v).ok())
                .unwrap_or(2),
        }),
        termination_delay,
    };
    Ok((lb, warnings))
}

/// ServersTransportTCP names resolve in the IngressRouteTCP's namespace (§11.2).
fn servers_transport_tcp(
    ctx: &Context<'_>,
    namespace: &str,
    name: &str,
    location: &str,
) -> Result<String, Problem> {
    let resolved = if name.contains('@') {
        refs::resolve(
            ctx.options,
            namespace,
            name,
            None,
            "ServersTransportTCP",
            location,
        )?
    } else {
        refs::Resolved {
            id: object_id(namespace, name),
            key: Some(ObjectKey::new(namespace, name)),
        }
    };
    if ctx.config.tcp.servers_transports.contains_key(&resolved.id) {
        return Ok(resolved.id);
    }
    let shown = resolved
        .key
        .map_or_else(|| name.to_string(), |key| key.to_string());
    Err(Problem::new(
        Reason::ServersTransportNotFound,
        format!("{location}: ServersTransportTCP {shown} not found"),
    ))
}
