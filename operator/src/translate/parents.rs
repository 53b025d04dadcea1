//! Multi-layer routing (reference §4.5): a child IngressRoute's `parentRefs` become the
//! router names of every route of every parent IngressRoute; the proxy matches the child's
//! routers only after a parent router's rule and middlewares.

use std::collections::BTreeSet;

use mesh_crds::IngressRouteSpec;
use mesh_crds::status::Reason;

use super::backend::Problem;
use super::names::http_router_name;
use super::{Context, class, refs};
use crate::snapshot::{Entry, Object, ObjectKey};

/// The proxy router names a child's routers hang below: every route of every parent,
/// named from the parent's `match` strings (even routes the parent itself drops, as Traefik
/// does; the proxy then reports the missing parent router on the child).
pub(crate) fn parent_router_names(
    ctx: &Context<'_>,
    child: &Object<IngressRouteSpec>,
) -> Result<Vec<String>, Problem> {
    let namespace = &child.meta.namespace;
    let mut names = Vec::new();
    for (index, reference) in child.spec.parent_refs.iter().enumerate() {
        let location = format!("parentRefs[{index}]");
        let resolved = refs::resolve(
            ctx.options,
            namespace,
            &reference.name,
            reference.namespace.as_deref(),
            "parent IngressRoute",
            &location,
        )?;
        let Some(key) = resolved.key else {
            return Err(Problem::new(
                Reason::RefInvalid,
                format!(
                    "{location}: {:?} names a router; a parentRef names an IngressRoute by name \
                     and namespace",
                    reference.name
                ),
            ));
        };
        let parent = match ctx.snapshot.ingress_routes.get(&key) {
            Some(Entry::Valid(parent)) => parent,
            Some(Entry::Invalid { .. }) => {
                return Err(Problem::new(
                    Reason::RefInvalid,
                    format!(
                        "{location}: parent IngressRoute {}/{} has a spec that does not decode \
                         (see its status); no route of this IngressRoute is served",
                        key.namespace, key.name
                    ),
                ));
            }
            None => {
                return Err(Problem::new(
                    Reason::ParentNotFound,
                    format!(
                        "{location}: parent IngressRoute {}/{} not found; no route of this \
                         IngressRoute is served",
                        key.namespace, key.name
                    ),
                ));
            }
        };
        for route in &parent.spec.routes {
            let name = http_router_name(&key.namespace, &key.name, &route.match_);
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    Ok(names)
}

/// What a child IngressRoute may not set as a whole: its root decides entry points and TLS.
pub(crate) fn child_spec_problem(spec: &IngressRouteSpec) -> Option<Problem> {
    let field = if !spec.entry_points.is_empty() {
        "entryPoints"
    } else if spec.tls.is_some() {
        "tls"
    } else {
        return None;
    };
    Some(Problem::new(
        Reason::InvalidSpec,
        format!(
            "{field} may not be set on a child IngressRoute (it has parentRefs): the root \
             IngressRoute's {field} apply; no route of this IngressRoute is served"
        ),
    ))
}

/// IngressRoutes some owned IngressRoute names as a permitted parent: their routes may go
/// without services (requests go on to the children).
pub(crate) fn referenced_parents(ctx: &Context<'_>) -> BTreeSet<ObjectKey> {
    let mut parents = BTreeSet::new();
    for entry in ctx.snapshot.ingress_routes.values() {
        let Entry::Valid(child) = entry else { continue };
        let child_class = class::effective(child.spec.ingress_class_name.as_deref(), &child.meta);
        if !class::owns(ctx, &child.meta, child_class) {
            continue;
        }
        for reference in &child.spec.parent_refs {
            if let Ok(refs::Resolved { key: Some(key), .. }) = refs::resolve(
                ctx.options,
                &child.meta.namespace,
                &reference.name,
                reference.namespace.as_deref(),
                "parent IngressRoute",
                "parentRefs",
            ) {
                parents.insert(key);
            }
        }
    }
    parents
}
