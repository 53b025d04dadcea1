//! TraefikService -> weighted / highestRandomWeight / mirroring / failover services
//! (reference §1.7, §4.2, §6.5).

use mesh_crds::status::Reason;
use mesh_crds::{LoadBalancerSpec, TraefikServiceSpec};
use mesh_proxy::config::Service;
use mesh_proxy::config::service::{
    Failover, FailoverErrors, HighestRandomWeight, MirrorService, Mirroring, Sticky, StickyCookie,
    Weighted, WeightedService,
};

use super::Context;
use super::backend::Problem;
use super::load_balancer::{self, Staged};
use super::names::object_id;
use crate::snapshot::{Object, ObjectKind, ObjectRef};

/// A built TraefikService and the TraefikServices it refers to (checked once all are built).
struct Built {
    object: ObjectRef,
    id: String,
    traefik_children: Vec<Child>,
}

/// A TraefikService used by another one.
struct Child {
    id: String,
    /// The service the parent names: `id`, or the one carrying the reference's middlewares.
    service: String,
    location: String,
    /// namespace/name as written, for messages.
    shown: String,
}

pub(crate) fn translate_traefik_services(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    let mut built = Vec::new();
    for (key, entry) in &snapshot.traefik_services {
        if !ctx.options.watches_namespace(&key.namespace) {
            continue;
        }
        let object = ObjectRef::new(ObjectKind::TraefikService, key);
        let Some(service) = ctx.book.track_entry(&object, entry) else {
            continue;
        };
        let mut staged = Staged::default();
        let mut traefik_children = Vec::new();
        match build(ctx, &mut staged, &mut traefik_children, service) {
            Ok(composite) => {
                let id = object_id(&key.namespace, &key.name);
                for warning in staged.commit(ctx) {
                    ctx.book.degraded(&object, warning.reason, warning.message);
                }
                ctx.config.http.services.insert(id.clone(), composite);
                built.push(Built {
                    object,
                    id,
                    traefik_children,
                });
            }
            Err(problem) => ctx
                .book
                .object_problem(&object, problem.reason, problem.message),
        }
    }
    drop_dangling(ctx, built);
    ctx.translated_traefik_services = true;
}

/// A TraefikService whose child TraefikService was not built is removed too, until
/// nothing changes, so no emitted service points at a missing one.
fn drop_dangling(ctx: &mut Context<'_>, mut built: Vec<Built>) {
    loop {
        let broken: Vec<usize> = built
            .iter()
            .enumerate()
            .filter(|(_, b)| {
                b.traefik_children
                    .iter()
                    .any(|child| !ctx.config.http.services.contains_key(&child.id))
            })
            .map(|(i, _)| i)
            .collect();
        if broken.is_empty() {
            return;
        }
        for i in broken.into_iter().rev() {
            let b = built.remove(i);
            ctx.config.http.services.remove(&b.id);
            // A middlewares carrier points at the child too; its other users are dropped
            // as well, since they name the same child.
            for child in b.traefik_children.iter().filter(|c| c.service != c.id) {
                ctx.config.http.services.remove(&child.service);
            }
            for child in &b.traefik_children {
                if !ctx.config.http.services.contains_key(&child.id) {
                    ctx.book.object_problem(
                        &b.object,
                        Reason::BackendNotFound,
                        format!(
                            "{}: TraefikService {} is not usable (see its status)",
                            child.location, child.shown
                        ),
                    );
                }
            }
        }
    }
}

fn child(
    ctx: &Context<'_>,
    staged: &mut Staged,
    traefik_children: &mut Vec<Child>,
    namespace: &str,
    spec: &LoadBalancerSpec,
    location: &str,
) -> Result<String, Problem> {
    let name = load_balancer::service_name(ctx, staged, namespace, spec, None, location)?;
    if spec.is_traefik_service() {
        // The TraefikService itself, not the service carrying this reference's middlewares.
        let id = load_balancer::traefik_service_name(ctx, namespace, spec, location)?;
        let shown = match spec.namespace.as_deref().filter(|ns| !ns.is_empty()) {
            _ if spec.name.contains('@') => spec.name.clone(),
            Some(ns) => format!("{ns}/{}", spec.name),
            None => format!("{namespace}/{}", spec.name),
        };
        traefik_children.push(Child {
            id,
            service: name.clone(),
            location: location.to_string(),
            shown,
        });
    }
    Ok(name)
}

/// The children of `weighted` or `highestRandomWeight` (named by `field`), with their
/// weight (default 1, 0 kept).
fn weighted_children(
    ctx: &Context<'_>,
    staged: &mut Staged,
    traefik_children: &mut Vec<Child>,
    namespace: &str,
    entries: &[LoadBalancerSpec],
    field: &str,
) -> Result<Vec<WeightedService>, Problem> {
    let mut services = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let name = child(
            ctx,
            staged,
            traefik_children,
            namespace,
            entry,
            &format!("{field}.services[{i}]"),
        )?;
        services.push(WeightedService {
            name,
            weight: Some(u32::try_from(entry.weight).unwrap_or(0)),
        });
    }
    Ok(services)
}

fn build(
    ctx: &mut Context<'_>,
    staged: &mut Staged,
    traefik_children: &mut Vec<Child>,
    service: &Object<TraefikServiceSpec>,
) -> Result<Service, Problem> {
    let namespace = &service.meta.namespace;
    let spec = &service.spec;
    let object = ObjectRef::new(ObjectKind::TraefikService, &service.meta.key());
    let set: Vec<&str> = [
        spec.weighted.as_ref().map(|_| "weighted"),
        spec.mirroring.as_ref().map(|_| "mirroring"),
        spec.highest_random_weight
            .as_ref()
            .map(|_| "highestRandomWeight"),
        spec.failover.as_ref().map(|_| "failover"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if set.len() > 1 {
        ctx.book.degraded(
            &object,
            Reason::UnsupportedValue,
            format!(
                "several service types are set ({}); only {} is used",
                set.join(", "),
                set[0]
            ),
        );
    }

    if let Some(weighted) = &spec.weighted {
        let services = weighted_children(
            ctx,
            staged,
            traefik_children,
            namespace,
            &weighted.services,
            "weighted",
        )?;
        let sticky = weighted
            .sticky
            .as_ref()
            .and_then(|s| s.cookie.as_ref())
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
        return Ok(Service {
            weighted: Some(Weighted {
                services,
                sticky,
                health_check: None,
            }),
            ..Service::default()
        });
    }
    if let Some(mirroring) = &spec.mirroring {
        let main = child(
            ctx,
            staged,
            traefik_children,
            namespace,
            &mirroring.service,
            "mirroring",
        )?;
        let mut mirrors = Vec::with_capacity(mirroring.mirrors.len());
        for (i, mirror) in mirroring.mirrors.iter().enumerate() {
            let location = format!("mirroring.mirrors[{i}]");
            let name = child(
                ctx,
                staged,
                traefik_children,
                namespace,
                &mirror.service,
                &location,
            )?;
            let percent = mirror.percent.unwrap_or_default();
            let percent = u32::try_from(percent)
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| {
                    Problem::new(
                        Reason::UnsupportedValue,
                        format!("{location}.percent: {percent} is not within 0..=100"),
                    )
                })?;
            mirrors.push(MirrorService { name, percent });
        }
        return Ok(Service {
            mirroring: Some(Mirroring {
                service: main,
                mirror_body: mirroring.mirror_body,
                max_body_size: mirroring.max_body_size,
                mirrors,
                health_check: None,
            }),
            ..Service::default()
        });
    }
    if let Some(hrw) = &spec.highest_random_weight {
        let services = weighted_children(
            ctx,
            staged,
            traefik_children,
            namespace,
            &hrw.services,
            "highestRandomWeight",
        )?;
        return Ok(Service {
            highest_random_weight: Some(HighestRandomWeight { services }),
            ..Service::default()
        });
    }
    if let Some(failover) = &spec.failover {
        let main = child(
            ctx,
            staged,
            traefik_children,
            namespace,
            &failover.service,
            "failover.service",
        )?;
        let fallback = child(
            ctx,
            staged,
            traefik_children,
            namespace,
            &failover.fallback,
            "failover.fallback",
        )?;
        return Ok(Service {
            failover: Some(Failover {
                service: main,
                fallback,
                health_check: None,
                errors: Some(FailoverErrors {
                    status: failover.errors.status.clone(),
                    max_request_body_bytes: Some(failover.errors.max_request_body_bytes),
                }),
            }),
            ..Service::default()
        });
    }
    Err(Problem::new(
        Reason::InvalidSpec,
        "no service type is set (one of weighted, mirroring, highestRandomWeight, failover)",
    ))
}
