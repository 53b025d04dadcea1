//! Plain `networking.k8s.io/v1` Ingress -> HTTP routers and services (reference §8.3–§8.5).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mesh_crds::status::Reason;
use mesh_proxy::config::router::Domain;
use mesh_proxy::config::service::{
    ResponseForwarding, Server, ServersLoadBalancer, Sticky, StickyCookie, Strategy,
};
use mesh_proxy::config::{Router, RouterObservability, RouterTls, Service};
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

/// A boolean annotation as Go's `strconv.ParseBool` reads it (Traefik decodes them so);
/// anything else is a decode error for the caller to report.
fn parse_bool(name: &str, value: &str) -> Result<bool, Problem> {
    match value.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(Problem::new(
            Reason::UnsupportedValue,
            format!("annotation {ANNOTATION_PREFIX}{name}: {other:?} is not a boolean"),
        )),
    }
}

/// `router.observability.*` (§8.5); `None` when none is set (inherit the entry point's).
fn observability(meta: &Meta) -> Result<Option<RouterObservability>, Problem> {
    const PREFIX: &str = "router.observability.";
    let flag = |field: &str| {
        let name = format!("{PREFIX}{field}");
        annotation(meta, &name)
            .map(|value| parse_bool(&name, value))
            .transpose()
    };
    let access_logs = flag("accesslogs")?;
    let metrics = flag("metrics")?;
    let tracing = flag("tracing")?;
    let trace_verbosity = match annotation(meta, "router.observability.traceVerbosity") {
        None => String::new(),
        Some(level @ ("minimal" | "detailed")) => level.to_string(),
        Some(other) => {
            return Err(Problem::new(
                Reason::UnsupportedValue,
                format!(
                    "annotation {ANNOTATION_PREFIX}{PREFIX}traceVerbosity: {other:?} is not minimal or detailed"
                ),
            ));
        }
    };
    if access_logs.is_none() && metrics.is_none() && tracing.is_none() && trace_verbosity.is_empty()
    {
        return Ok(None);
    }
    Ok(Some(RouterObservability {
        access_logs,
        metrics,
        tracing,
        trace_verbosity,
    }))
}

/// `router.tls.domains.<n>.main` / `.sans` (csv), in the order of `n` (§8.5).
fn tls_domains(meta: &Meta) -> Result<Vec<Domain>, Problem> {
    let prefix = format!("{ANNOTATION_PREFIX}router.tls.domains.");
    let mut domains: BTreeMap<u32, Domain> = BTreeMap::new();
    for (key, value) in &meta.annotations {
        let Some(rest) = key.strip_prefix(&prefix) else {
            continue;
        };
        let parsed = rest
            .split_once('.')
            .and_then(|(index, field)| Some((index.parse::<u32>().ok()?, field)));
        match parsed {
            Some((index, "main")) => {
                domains.entry(index).or_default().main = value.trim().to_string()
            }
            Some((index, "sans")) => domains.entry(index).or_default().sans = csv(value),
            _ => {
                return Err(Problem::new(
                    Reason::UnsupportedValue,
                    format!(
                        "annotation {key}: expected router.tls.domains.<n>.main or router.tls.domains.<n>.sans"
                    ),
                ));
            }
        }
    }
    Ok(domains.into_values().collect())
}

/// §8.2 / §6.11 I-XPROV: a namespace outside `crossProviderNamespaces` may not use the
/// annotations that name objects of a provider.
fn check_cross_provider(ctx: &Context<'_>, meta: &Meta, name: &str) -> Result<(), Problem> {
    if ctx.options.allows_cross_provider_from(&meta.namespace) {
        return Ok(());
    }
    Err(Problem::new(
        Reason::RefNotPermitted,
        format!(
            "annotation {ANNOTATION_PREFIX}{name}: namespace {} may not use provider references (--cross-provider-namespaces)",
            meta.namespace
        ),
    ))
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
    router.observability = observability(meta)?;
    if let Some(middlewares) = annotation(meta, "router.middlewares") {
        check_cross_provider(ctx, meta, "router.middlewares")?;
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
    // Any `router.tls.*` setting makes the router TLS, as `router.tls: "true"` does.
    let tls_flag = annotation(meta, "router.tls")
        .map(|value| parse_bool("router.tls", value))
        .transpose()?;
    let tls_settings = meta
        .annotations
        .keys()
        .any(|key| key.starts_with(&format!("{ANNOTATION_PREFIX}router.tls.")));
    if tls_flag == Some(true) || (tls_flag.is_none() && tls_settings) {
        let mut router_tls = RouterTls::default();
        if let Some(options) = annotation(meta, "router.tls.options") {
            check_cross_provider(ctx, meta, "router.tls.options")?;
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
        router_tls.domains = tls_domains(meta)?;
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
            // A transport that had to skip something (a CA entry) still serves: say so.
            let skipped =
                ctx.transport_warnings(Protocol::Http, &lb.servers_transport, &route.location);
            for warning in skipped {
                ctx.book.degraded(object, warning.reason, warning.message);
            }
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
    // §6.11 I-PATH-SVC: a service annotation that does not decode skips the path.
    let on_service = |problem: Problem| {
        Problem::new(
            problem.reason,
            format!("{location}: Service {key}: {}", problem.message),
        )
    };
    let flag = |name: &str| {
        service_annotation(name)
            .map(|value| parse_bool(name, &value))
            .transpose()
    };
    let native_lb = flag("service.nativelb").map_err(on_service)?;
    let node_port_lb = flag("service.nodeportlb")
        .map_err(on_service)?
        .unwrap_or(false);
    let pass_host_header = flag("service.passhostheader")
        .map_err(on_service)?
        .unwrap_or(true);
    let sticky = if flag("service.sticky.cookie")
        .map_err(on_service)?
        .unwrap_or(false)
    {
        Some(sticky_cookie(&service_annotation, &flag).map_err(on_service)?)
    } else {
        None
    };
    let servers_transport = service_annotation("service.serverstransport")
        .filter(|name| !name.trim().is_empty())
        .map(|name| ingress_servers_transport(ctx, meta, name.trim()))
        .transpose()
        .map_err(on_service)?;
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
            native_lb,
            node_port_lb,
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
        pass_host_header: Some(pass_host_header),
        sticky,
        servers_transport: servers_transport.unwrap_or_default(),
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

/// `service.sticky.cookie.*` (§8.5): path `/` unless set, like the CRD's `sticky.cookie`.
fn sticky_cookie(
    text: &dyn Fn(&str) -> Option<String>,
    flag: &dyn Fn(&str) -> Result<Option<bool>, Problem>,
) -> Result<Sticky, Problem> {
    const PREFIX: &str = "service.sticky.cookie.";
    let field = |name: &str| text(&format!("{PREFIX}{name}"));
    let max_age = match field("maxage") {
        None => 0,
        Some(value) => value.trim().parse().map_err(|_| {
            Problem::new(
                Reason::UnsupportedValue,
                format!(
                    "annotation {ANNOTATION_PREFIX}{PREFIX}maxage: {value:?} is not an integer"
                ),
            )
        })?,
    };
    let same_site = field("samesite").unwrap_or_default();
    if !same_site.is_empty()
        && !["none", "lax", "strict"].contains(&same_site.to_ascii_lowercase().as_str())
    {
        return Err(Problem::new(
            Reason::UnsupportedValue,
            format!(
                "annotation {ANNOTATION_PREFIX}{PREFIX}samesite: {same_site:?} is not none, lax or strict"
            ),
        ));
    }
    Ok(Sticky {
        cookie: Some(StickyCookie {
            name: field("name").unwrap_or_default(),
            secure: flag(&format!("{PREFIX}secure"))?.unwrap_or(false),
            http_only: flag(&format!("{PREFIX}httponly"))?.unwrap_or(false),
            same_site,
            max_age,
            path: Some(field("path").unwrap_or_else(|| "/".to_string())),
            domain: field("domain").unwrap_or_default(),
        }),
    })
}

/// `service.serverstransport` (§8.5): `<ns>-<name>@kubernetescrd` (or `@mesh`) names a
/// ServersTransport by its id, a plain name one of the Service's namespace. Namespaces
/// outside `crossProviderNamespaces` may not use it (§6.11 I-PATH-SVC).
fn ingress_servers_transport(
    ctx: &Context<'_>,
    meta: &Meta,
    name: &str,
) -> Result<String, Problem> {
    let annotation = format!("{ANNOTATION_PREFIX}service.serverstransport");
    check_cross_provider(ctx, meta, "service.serverstransport")?;
    let id = match name.rsplit_once('@') {
        Some((id, "kubernetescrd" | "mesh")) => id.to_string(),
        Some((_, provider)) => {
            return Err(Problem::new(
                Reason::RefInvalid,
                format!(
                    "annotation {annotation}: {name} refers to provider {provider:?}, which Mesh does not have"
                ),
            ));
        }
        None => super::names::object_id(&meta.namespace, name),
    };
    if ctx.config.http.servers_transports.contains_key(&id) {
        return Ok(id);
    }
    Err(Problem::new(
        Reason::ServersTransportNotFound,
        format!("annotation {annotation}: ServersTransport {name} not found"),
    ))
}
