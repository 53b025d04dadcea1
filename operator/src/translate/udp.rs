//! IngressRouteUDP -> UDP routers and services (reference §1.4, §6.8). UDP routes have no
//! rule: routers are named by route index.

use mesh_crds::IngressRouteUDPSpec;
use mesh_crds::status::Reason;
use mesh_proxy::config::udp::{
    UdpLoadBalancer, UdpRouter, UdpServer, UdpService, UdpWeighted, UdpWeightedService,
};

use super::backend::{Problem, port_text};
use super::names::udp_router_name;
use super::stream::{self, StreamServiceRef};
use super::{Context, Protocol, RouterOwner, class};
use crate::snapshot::{Entry, Object, ObjectKind, ObjectRef};

pub(crate) fn translate_ingress_route_udps(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    for (key, entry) in &snapshot.ingress_route_udps {
        let object = ObjectRef::new(ObjectKind::IngressRouteUdp, key);
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
    ingress_route: &Object<IngressRouteUDPSpec>,
) {
    let namespace = &ingress_route.meta.namespace;
    for (index, route) in ingress_route.spec.routes.iter().enumerate() {
        let location = format!("routes[{index}]");
        let router_name = udp_router_name(namespace, &ingress_route.meta.name, index);
        if route.services.is_empty() {
            let message = format!("{location}: no services (a route needs at least one service)");
            ctx.book
                .route_failed(object, index, &router_name, Reason::InvalidSpec, message);
            continue;
        }
        let mut built = Vec::new();
        let mut failures: Vec<Problem> = Vec::new();
        for (i, service) in route.services.iter().enumerate() {
            let reference = StreamServiceRef {
                name: &service.name,
                namespace: service.namespace.as_deref(),
                port: &service.port,
                native_lb: service.native_lb,
                node_port_lb: service.node_port_lb,
            };
            match stream::addresses(
                ctx,
                namespace,
                &reference,
                &format!("{location}.services[{i}]"),
            ) {
                Ok((addresses, warnings)) => {
                    for warning in warnings {
                        ctx.book.degraded(object, warning.reason, warning.message);
                    }
                    let lb = UdpLoadBalancer {
                        servers: addresses
                            .into_iter()
                            .map(|address| UdpServer { address })
                            .collect(),
                    };
                    built.push((service, lb));
                }
                Err(problem) => failures.push(problem),
            }
        }
        if built.is_empty() {
            let problem = failures.remove(0);
            ctx.book
                .route_failed(object, index, &router_name, problem.reason, problem.message);
            continue;
        }
        for problem in failures {
            ctx.book
                .object_problem(object, problem.reason, problem.message.clone());
            ctx.book.degraded(
                object,
                Reason::RoutesDropped,
                format!("{}; that service is left out", problem.message),
            );
        }
        if let [(_, lb)] = built.as_slice() {
            ctx.config.udp.services.insert(
                router_name.clone(),
                UdpService {
                    load_balancer: Some(lb.clone()),
                    weighted: None,
                },
            );
        } else {
            let mut children = Vec::with_capacity(built.len());
            for (service, lb) in built {
                let child = format!(
                    "{router_name}-{}-{}",
                    service.name,
                    port_text(&service.port)
                );
                ctx.config.udp.services.insert(
                    child.clone(),
                    UdpService {
                        load_balancer: Some(lb),
                        weighted: None,
                    },
                );
                children.push(UdpWeightedService {
                    name: child,
                    weight: Some(u32::try_from(service.weight).unwrap_or(0)),
                });
            }
            ctx.config.udp.services.insert(
                router_name.clone(),
                UdpService {
                    load_balancer: None,
                    weighted: Some(UdpWeighted { services: children }),
                },
            );
        }
        let router = UdpRouter {
            entry_points: ingress_route.spec.entry_points.clone(),
            service: router_name.clone(),
        };
        ctx.config.udp.routers.insert(router_name.clone(), router);
        ctx.router_owners.insert(
            router_name.clone(),
            RouterOwner {
                object: object.clone(),
                route_index: Some(index),
                protocol: Protocol::Udp,
            },
        );
        ctx.book.route_built(object, index, &router_name);
    }
}
