//! IngressRoute -> HTTP routers and services (reference §1.1, §6.3).

use mesh_crds::IngressRouteSpec;
use mesh_crds::ingress_route::Route;
use mesh_crds::status::Reason;
use mesh_proxy::config::service::{Weighted, WeightedService};
use mesh_proxy::config::{Router, RouterObservability, RouterTls, Service};
use mesh_proxy::rule::{RuleSyntax, parse_http_with};

use super::backend::Problem;
use super::load_balancer::{self, Staged};
use super::names::http_router_name;
use super::{Context, Protocol, RouterOwner, class, middleware, parents, tls};
use crate::snapshot::{Entry, Object, ObjectKey, ObjectKind, ObjectRef};

pub(crate) fn translate_ingress_routes(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    let parents = parents::referenced_parents(ctx);
    for (key, entry) in &snapshot.ingress_routes {
        let object = ObjectRef::new(ObjectKind::IngressRoute, key);
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
                let is_parent = parents.contains(&ObjectKey::new(
                    route.meta.namespace.as_str(),
                    route.meta.name.as_str(),
                ));
                translate_one(ctx, &object, route, is_parent);
            }
        }
    }
}

fn translate_one(
    ctx: &mut Context<'_>,
    object: &ObjectRef,
    ingress_route: &Object<IngressRouteSpec>,
    is_parent: bool,
) {
    let namespace = &ingress_route.meta.namespace;
    let spec = &ingress_route.spec;
    // A child is refused as a whole rather than served without its parent's match.
    let parent_refs = if spec.parent_refs.is_empty() {
        Vec::new()
    } else {
        let names = match parents::child_spec_problem(spec) {
            Some(problem) => Err(problem),
            None => parents::parent_router_names(ctx, ingress_route),
        };
        match names {
            Ok(names) => names,
            Err(problem) => {
                ctx.book
                    .object_problem(object, problem.reason, problem.message);
                return;
            }
        }
    };
    let route_tls = match &spec.tls {
        Some(tls_spec) => {
            if let Some(secret) = tls_spec
                .secret_name
                .as_deref()
                .filter(|name| !name.is_empty())
                && let Err(problem) =
                    tls::load_route_certificate(ctx, namespace, secret, "tls.secretName")
            {
                ctx.book
                    .object_problem(object, problem.reason, problem.message);
            }
            Some(tls_spec)
        }
        None => None,
    };

    for (index, route) in spec.routes.iter().enumerate() {
        let location = format!("routes[{index}]");
        let router_name = http_router_name(namespace, &ingress_route.meta.name, &route.match_);
        let site = RouteSite {
            location: &location,
            router_name: &router_name,
            is_parent,
        };
        match build_router(ctx, ingress_route, route, &site) {
            Ok((mut router, staged)) => {
                router.parent_refs.clone_from(&parent_refs);
                for warning in staged.commit(ctx) {
                    ctx.book.degraded(object, warning.reason, warning.message);
                }
                if let Some(tls_spec) = route_tls {
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
                    tls::claim_hosts(
                        ctx,
                        object,
                        index,
                        &router_name,
                        &router.rule,
                        &option_id,
                        &spec.entry_points,
                    );
                    router.tls = Some(RouterTls {
                        options: option_id,
                        cert_resolver: tls_spec.cert_resolver.clone().unwrap_or_default(),
                        domains: tls::domains(&tls_spec.domains),
                    });
                }
                ctx.config.http.routers.insert(router_name.clone(), router);
                ctx.router_owners.insert(
                    router_name.clone(),
                    RouterOwner {
                        object: object.clone(),
                        route_index: Some(index),
                        protocol: Protocol::Http,
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

/// Where a route sits: its place in the spec, its router, and whether children hang below it.
struct RouteSite<'a> {
    location: &'a str,
    router_name: &'a str,
    /// Some child IngressRoute names this one in parentRefs: a route may go without services.
    is_parent: bool,
}

/// One route: rule checks, middlewares, then services (§6.3 order).
fn build_router(
    ctx: &Context<'_>,
    ingress_route: &Object<IngressRouteSpec>,
    route: &Route,
    site: &RouteSite<'_>,
) -> Result<(Router, Staged), Problem> {
    let RouteSite {
        location,
        router_name,
        is_parent,
    } = *site;
    let namespace = &ingress_route.meta.namespace;
    if !ingress_route.spec.parent_refs.is_empty() && route.observability.is_some() {
        return Err(Problem::new(
            Reason::InvalidSpec,
            format!(
                "{location}: observability may not be set on a route of a child IngressRoute \
                 (it has parentRefs): the root router's observability applies"
            ),
        ));
    }
    if let Some(kind) = route
        .kind
        .as_deref()
        .filter(|kind| !kind.is_empty() && *kind != "Rule")
    {
        return Err(Problem::new(
            Reason::InvalidKind,
            format!("{location}: kind {kind:?} is not Rule"),
        ));
    }
    if route.match_.trim().is_empty() {
        return Err(Problem::new(
            Reason::InvalidRule,
            format!("{location}: match is empty"),
        ));
    }
    // The proxy would refuse the router anyway; saying so here names the route and column.
    let syntax = RuleSyntax::from_config(route.syntax.as_deref());
    if let Err(error) = parse_http_with(&route.match_, syntax) {
        return Err(Problem::new(
            Reason::InvalidRule,
            format!("{location}: match {:?}: {error}", route.match_),
        ));
    }
    let middlewares = route
        .middlewares
        .iter()
        .enumerate()
        .map(|(i, reference)| {
            middleware::route_middleware(
                ctx,
                namespace,
                reference,
                &format!("{location}.middlewares[{i}]"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut staged = Staged::default();
    let service = match route.services.as_slice() {
        // The proxy hands the request to the children matching below this router.
        [] if is_parent => String::new(),
        [] => {
            return Err(Problem::new(
                Reason::InvalidSpec,
                format!(
                    "{location}: no services (a route needs at least one service, unless a \
                     child IngressRoute names this one in parentRefs)"
                ),
            ));
        }
        [single] => load_balancer::service_name(
            ctx,
            &mut staged,
            namespace,
            single,
            Some(router_name),
            &format!("{location}.services[0]"),
        )?,
        several => {
            let mut children = Vec::with_capacity(several.len());
            for (i, child) in several.iter().enumerate() {
                let name = load_balancer::service_name(
                    ctx,
                    &mut staged,
                    namespace,
                    child,
                    None,
                    &format!("{location}.services[{i}]"),
                )?;
                children.push(WeightedService {
                    name,
                    weight: Some(u32::try_from(child.weight).unwrap_or(0)),
                });
            }
            let weighted = Weighted {
                services: children,
                ..Weighted::default()
            };
            staged.services.push((
                router_name.to_string(),
                Service {
                    weighted: Some(weighted),
                    ..Service::default()
                },
            ));
            router_name.to_string()
        }
    };

    let router = Router {
        entry_points: ingress_route.spec.entry_points.clone(),
        middlewares,
        service,
        rule: route.match_.clone(),
        rule_syntax: route.syntax.clone().unwrap_or_default(),
        priority: route.priority.unwrap_or_default(),
        tls: None,
        observability: route.observability.as_ref().map(|o| RouterObservability {
            access_logs: o.access_logs,
            metrics: o.metrics,
            tracing: o.tracing,
            trace_verbosity: o.trace_verbosity.clone().unwrap_or_default(),
        }),
        parent_refs: Vec::new(),
    };
    Ok((router, staged))
}
