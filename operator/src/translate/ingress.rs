//! Plain `networking.k8s.io/v1` Ingress -> HTTP routers and services (reference §8.3–§8.5).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mesh_crds::status::Reason;
use mesh_proxy::config::service::{ResponseForwarding, Server, ServersLoadBalancer, Strategy};
use mesh_proxy::config::{Router, RouterTls, Service};
use ring::digest::{SHA256, digest};

use super::backend::{self, Backend, Problem, Readiness};
use super::names::normalize;
use super::{Context, Protocol, RouterOwner, class, tls};
use crate::snapshot::{Meta, ObjectKey, ObjectKind, ObjectRef};

/// Annotation prefix of Traefik's Ingress settings, honoured as is.
const ANNOTATION_PREFIX: &str = "traefik.ingress.kubernetes.io/";
/// IngressClass controllers this controller answers for.
const CONTROLLERS: [&str; 2] = [
    "traefik.io/ingress-controller",
    "mesh.io/ingress-controller",
];
/// The single router built from a rule-less Ingress's default backend.
const DEFAULT_ROUTER: &str = "default-router";
const DEFAULT_BACKEND: &str = "default-backend";

pub(crate) fn translate_ingresses(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    let mut default_backend_taken = false;
    for (key, ingress) in &snapshot.ingresses {
        let meta = meta_of(key, ingress);
        if !ctx.options.watches_namespace(&key.namespace) || !owns(ctx, ingress, &meta) {
            continue;
        }
        let object = ObjectRef::new(ObjectKind::Ingress, key);
        ctx.book.track(&object, meta.generation, true);
        translate_one(ctx, &object, &meta, ingress, &mut default_backend_taken);
    }
}

fn meta_of(key: &ObjectKey, ingress: &Ingress) -> Meta {
    Meta {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        generation: ingress.metadata.generation,
        labels: ingress.metadata.labels.clone().unwrap_or_default(),
        annotations: ingress.metadata.annotations.clone().unwrap_or_default(),
    }
}

/// §8.3: `ingressClassName` must name an IngressClass of a controller Mesh answers for
/// (and, when a class is configured, that very class); otherwise the annotation rule.
fn owns(ctx: &Context<'_>, ingress: &Ingress, meta: &Meta) -> bool {
    match ingress
        .spec
        .as_ref()
        .and_then(|spec| spec.ingress_class_name.as_deref())
    {
        Some(class_name) => {
            let configured = &ctx.options.ingress_class;
            (configured.is_empty() || configured == class_name)
                && ctx
                    .snapshot
                    .ingress_classes
                    .get(class_name)
                    .is_some_and(|class| {
                        class.spec.as_ref().is_some_and(|spec| {
                            CONTROLLERS.contains(&spec.controller.as_deref().unwrap_or_default())
                        })
                    })
        }
        None => ctx.options.serves_class(class::effective(None, meta)),
    }
}

fn annotation<'m>(meta: &'m Meta, key: &str) -> Option<&'m str> {
    meta.annotations
        .get(&format!("{ANNOTATION_PREFIX}{key}"))
        .map(String::as_str)
}

/// One path to route.
struct PathRoute {
    location: String,
    rule: String,
    key: String,
    backend: IngressBackend,
}

fn translate_one(
    ctx: &mut Context<'_>,
    object: &ObjectRef,
    meta: &Meta,
    ingress: &Ingress,
    default_taken: &mut bool,
) {
    let Some(spec) = &ingress.spec else { return };
    let router_template = match router_template(ctx, meta) {
        Ok(template) => template,
        Err(problem) => {
            ctx.book
                .object_problem(object, problem.reason, problem.message);
            return;
        }
    };
    for (i, entry) in spec.tls.iter().flatten().enumerate() {
        if let Some(secret) = entry.secret_name.as_deref().filter(|name| !name.is_empty())
            && let Err(problem) = tls::load_route_certificate(
                ctx,
                &meta.namespace,
                secret,
                &format!("tls[{i}].secretName"),
            )
        {
            ctx.book
                .object_problem(object, problem.reason, problem.message);
        }
    }

    let rules = spec.rules.as_deref().unwrap_or_default();
    if rules.is_empty() {
        let Some(default_backend) = &spec.default_backend else {
            ctx.book.object_problem(
                object,
                Reason::InvalidSpec,
                "the Ingress has neither rules nor a defaultBackend",
            );
            return;
        };
        if *default_taken {
            let message =
                "defaultBackend: another rule-less Ingress already provides the default backend";
            ctx.book.route_failed(
                object,
                0,
                DEFAULT_ROUTER,
                Reason::Conflicted,
                message.to_string(),
            );
            return;
        }
        *default_taken = true;
        let route = PathRoute {
            location: "defaultBackend".into(),
            rule: "PathPrefix(\"/\")".into(),
            key: DEFAULT_ROUTER.into(),
            backend: default_backend.clone(),
        };
        let mut router = router_template.clone();
        router.priority = i64::from(i32::MIN);
        build_path(ctx, object, meta, 0, route, router, Some(DEFAULT_BACKEND));
        return;
    }

    let mut routes = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        let host = rule.host.clone().unwrap_or_default();
        for (p, path) in rule
            .http
            .iter()
            .flat_map(|http| http.paths.iter())
            .enumerate()
        {
            let location = format!("rules[{r}].http.paths[{p}]");
            let path_text = path.path.clone().unwrap_or_default();
            let matcher = match path.path_type.as_str() {
                "Exact" => Some("Path"),
                "Prefix" | "prefix" => Some("PathPrefix"),
                _ => annotation(meta, "router.pathmatcher").or(Some("PathPrefix")),
            };
            let mut parts = Vec::new();
            if !host.is_empty() {
                parts.push(format!("Host(\"{host}\")"));
            }
            if !path_text.is_empty() {
                let matcher = matcher.unwrap_or("PathPrefix");
                parts.push(format!("{matcher}(\"{path_text}\")"));
            }
            let rule_text = parts.join(" && ");
            let key = normalize(&format!(
                "{}-{}-{host}{path_text}",
                meta.namespace, meta.name
            ))
            .trim_start_matches('-')
            .to_string();
            routes.push((
                PathRoute {
                    location,
                    rule: rule_text,
                    key,
                    backend: path.backend.clone(),
                },
                matcher,
            ));
        }
    }
    // §6.11 I-KEY-CONFLICT: colliding keys all get a rule hash suffix.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (route, _) in &routes {
        *counts.entry(route.key.clone()).or_default() += 1;
    }
    for (index, (mut route, matcher)) in routes.into_iter().enumerate() {
        if counts.get(&route.key).copied().unwrap_or_default() > 1 {
            let hash = digest(&SHA256, route.rule.as_bytes());
            let hex: String = hash.as_ref()[..10]
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            route.key = format!("{}-{hex}", route.key);
        }
        if let Some(matcher) = matcher.filter(|m| !["Path", "PathPrefix", "PathRegexp"].contains(m))
        {
            let message = format!(
                "{}: router.pathmatcher {matcher:?} is not one of Path, PathPrefix, PathRegexp",
                route.location
            );
            ctx.book
                .route_failed(object, index, &route.key, Reason::UnsupportedValue, message);
            continue;
        }
        if route.rule.is_empty() {
            let message = format!(
                "{}: neither host nor path: nothing to match",
                route.location
            );
            ctx.book
                .route_failed(object, index, &route.key, Reason::InvalidRule, message);
            continue;
        }
        build_path(
            ctx,
            object,
            meta,
            index,
            route,
            router_template.clone(),
            None,
        );
    }
}

/// Router settings shared by every path of the Ingress (annotations, §8.5).
fn router_template(ctx: &Context<'_>, meta: &Meta) -> Result<Router, Problem> {
    let mut router = Router::default();
    if let Some(entry_points) = annotation(meta, "router.entrypoints") {
        router.entry_points = csv(entry_points);
    }
    if let Some(priority) = annotation(meta, "router.priority") {
        router.priority = priority.trim().parse().map_err(|_| {
            Problem::new(
                Reason::UnsupportedValue,
                format!(
                    "annotation {ANNOTATION_PREFIX}router.priority: {priority:?} is not an integer"
                ),
            )
        })?;
    }
    if let Some(middlewares) = annotation(meta, "router.middlewares") {
        for name in csv(middlewares) {
            // Ingresses name Mesh Middlewares as <ns>-<name>@kubernetescrd (Traefik's form).
            let id = name
                .strip_suffix("@kubernetescrd")
                .or_else(|| name.strip_suffix("@mesh"))
                .unwrap_or(&name)
                .to_string();
            if !ctx.config.http.middlewares.contains_key(&id) {
                return Err(Problem::new(
                    Reason::MiddlewareNotFound,
                    format!(
                        "annotation {ANNOTATION_PREFIX}router.middlewares: Middleware {name} not found (write <namespace>-<name>@kubernetescrd)"
                    ),
                ));
            }
            router.middlewares.push(id);
        }
    }
    if annotation(meta, "router.tls") == Some("true") {
        let mut router_tls = RouterTls::default();
        if let Some(options) = annotation(meta, "router.tls.options") {
            let id = options
                .strip_suffix("@kubernetescrd")
                .unwrap_or(options)
                .to_string();
            if !ctx.config.tls.options.contains_key(&id) {
                return Err(Problem::new(
                    Reason::TLSOptionNotFound,
                    format!(
                        "annotation {ANNOTATION_PREFIX}router.tls.options: TLSOption {options} not found"
                    ),
                ));
            }
            router_tls.options = id;
        }
        router_tls.cert_resolver = annotation(meta, "router.tls.certresolver")
            .unwrap_or_default()
            .to_string();
        router.tls = Some(router_tls);
    }
    Ok(router)
}

fn csv(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn build_path(
    ctx: &mut Context<'_>,
    object: &ObjectRef,
    meta: &Meta,
    index: usize,
    route: PathRoute,
    mut router: Router,
    service_name: Option<&str>,
) {
    match servers(ctx, meta, &route) {
        Ok((key, lb)) => {
            let service_name = service_name.map_or(key, str::to_string);
            ctx.config
                .http
                .services
                .entry(service_name.clone())
                .or_insert_with(|| Service::load_balancer(lb));
            router.rule = route.rule;
            router.service = service_name;
            ctx.config.http.routers.insert(route.key.clone(), router);
            ctx.router_owners.insert(
                route.key.clone(),
                RouterOwner {
                    object: object.clone(),
                    route_index: Some(index),
                    protocol: Protocol::Http,
                },
            );
            ctx.book.route_built(object, index, &route.key);
        }
        Err(problem) => {
            ctx.book
                .route_failed(object, index, &route.key, problem.reason, problem.message)
        }
    }
}

/// The servers of a path's backend (§8.4): same-namespace Service, port by number or name
/// (no ExternalName leniency), scheme inference overridable by `service.serversscheme`.
fn servers(
    ctx: &Context<'_>,
    meta: &Meta,
    route: &PathRoute,
) -> Result<(String, ServersLoadBalancer), Problem> {
    let location = &route.location;
    let Some(backend_service) = &route.backend.service else {
        return Err(Problem::new(
            Reason::UnsupportedValue,
            format!("{location}: only Service backends are supported (resource backends are not)"),
        ));
    };
    let port = backend_service
        .port
        .as_ref()
        .and_then(|port| match (&port.name, port.number) {
            (Some(name), _) if !name.is_empty() => Some(IntOrString::String(name.clone())),
            (_, Some(number)) if number != 0 => Some(IntOrString::Int(number)),
            _ => None,
        });
    let (key, service) =
        backend::lookup_service(ctx, &meta.namespace, &backend_service.name, None, location)?;
    if backend::is_external_name(service) && !ctx.options.allow_external_name_services {
        return Err(Problem::new(
            Reason::ExternalNameNotAllowed,
            format!(
                "{location}: Service {key} is of type ExternalName, which is not allowed (--allow-external-name-services)"
            ),
        ));
    }
    let mut resolved =
        backend::find_port(service, port.as_ref()).map_err(|(reason, message)| {
            Problem::new(reason, format!("{location}: Service {key}: {message}"))
        })?;
    if resolved.external_name_mismatch {
        return Err(Problem::new(
            Reason::PortNotFound,
            format!(
                "{location}: Service {key}: port {} is not declared",
                resolved.number
            ),
        ));
    }
    let service_annotations = service.metadata.annotations.clone().unwrap_or_default();
    let service_annotation = |name: &str| {
        service_annotations
            .get(&format!("{ANNOTATION_PREFIX}{name}"))
            .cloned()
    };
    let scheme = match service_annotation("service.serversscheme") {
        Some(scheme) => scheme,
        None => backend::infer_scheme(None, &resolved)
            .map_err(|m| Problem::new(Reason::UnsupportedValue, m))?
            .to_string(),
    };
    let flag = |name: &str| service_annotation(name).map(|value| value == "true");
    let endpoints = {
        resolved.external_name_mismatch = false;
        let backend = Backend {
            key: key.clone(),
            service,
            port: resolved,
        };
        backend::endpoints(
            ctx,
            &backend,
            flag("service.nativelb"),
            flag("service.nodeportlb").unwrap_or(false),
            Readiness::Http,
            location,
        )?
    };
    if endpoints.is_empty() && !ctx.options.allow_empty_services {
        return Err(Problem::new(
            Reason::NoEndpoints,
            format!("{location}: Service {key} has no ready endpoints"),
        ));
    }
    let port_text = port.as_ref().map(backend::port_text).unwrap_or_default();
    let lb = ServersLoadBalancer {
        servers: endpoints
            .into_iter()
            .map(|endpoint| Server {
                fenced: endpoint.fenced,
                ..Server::new(format!("{scheme}://{}", endpoint.address))
            })
            .collect(),
        strategy: Some(Strategy::Wrr),
        pass_host_header: Some(flag("service.passhostheader").unwrap_or(true)),
        response_forwarding: Some(ResponseForwarding {
            flush_interval: Some(mesh_proxy::config::transport::Duration::from_millis(100)),
        }),
        ..ServersLoadBalancer::default()
    };
    Ok((
        normalize(&format!(
            "{}-{}-{port_text}",
            meta.namespace, backend_service.name
        )),
        lb,
    ))
}
