//! Reference resolution (reference §4.3): `name@provider` forms, namespace defaulting, and
//! the cross-namespace / cross-provider permissions.

use mesh_crds::status::Reason;

use super::backend::Problem;
use super::names::{normalize, object_id};
use crate::options::ProviderOptions;
use crate::snapshot::ObjectKey;

/// Provider suffixes that mean "this controller" (`x@kubernetescrd` in Traefik manifests).
const OWN_PROVIDERS: [&str; 2] = ["kubernetescrd", "mesh"];

/// A permitted reference to a Mesh object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The object's id in the proxy configuration.
    pub id: String,
    /// The object when it is named by namespace/name; `None` for the `id@provider` form,
    /// which names the id directly.
    pub key: Option<ObjectKey>,
}

/// Resolves a reference to a Middleware, TLSOption, MiddlewareTCP, parent or chain entry
/// written in namespace `parent_namespace`. `what` names the kind in messages.
pub(crate) fn resolve(
    options: &ProviderOptions,
    parent_namespace: &str,
    name: &str,
    namespace: Option<&str>,
    what: &str,
    location: &str,
) -> Result<Resolved, Problem> {
    if let Some((local, provider)) = name.rsplit_once('@') {
        if !options.allows_cross_provider_from(parent_namespace) {
            return Err(Problem::new(
                Reason::RefNotPermitted,
                format!(
                    "{location}: {what} {name}: namespace {parent_namespace} may not use name@provider references"
                ),
            ));
        }
        if !OWN_PROVIDERS.contains(&provider) {
            return Err(Problem::new(
                Reason::RefInvalid,
                format!(
                    "{location}: {what} {name} refers to provider {provider:?}, which Mesh does not have"
                ),
            ));
        }
        if !options.allow_cross_namespace {
            return Err(Problem::new(
                Reason::RefNotPermitted,
                format!(
                    "{location}: {what} {name} may name another namespace; the @{provider} form needs \
                     cross-namespace references enabled"
                ),
            ));
        }
        let id = match namespace.filter(|ns| !ns.is_empty()) {
            Some(ns) => object_id(ns, local),
            None => normalize(local),
        };
        return Ok(Resolved { id, key: None });
    }
    let namespace = namespace
        .filter(|ns| !ns.is_empty())
        .unwrap_or(parent_namespace);
    if namespace != parent_namespace && !options.allow_cross_namespace {
        return Err(Problem::new(
            Reason::RefNotPermitted,
            format!(
                "{location}: {what} {namespace}/{name} is in another namespace than {parent_namespace} \
                 (cross-namespace references are disabled)"
            ),
        ));
    }
    Ok(Resolved {
        id: object_id(namespace, name),
        key: Some(ObjectKey::new(namespace, name)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(cross_namespace: bool) -> ProviderOptions {
        ProviderOptions {
            allow_cross_namespace: cross_namespace,
            ..Default::default()
        }
    }

    #[test]
    fn plain_names_default_to_the_parent_namespace() {
        let resolved = resolve(
            &options(false),
            "default",
            "multiple---hyphens",
            None,
            "Middleware",
            "routes[0]",
        )
        .unwrap();
        assert_eq!(resolved.id, "default-multiple-hyphens");
        assert_eq!(
            resolved.key,
            Some(ObjectKey::new("default", "multiple---hyphens"))
        );
    }

    #[test]
    fn other_namespaces_need_the_switch() {
        let denied = resolve(
            &options(false),
            "default",
            "auth",
            Some("foo"),
            "Middleware",
            "routes[0].middlewares[1]",
        );
        let problem = denied.unwrap_err();
        assert_eq!(problem.reason, Reason::RefNotPermitted);
        assert!(
            problem
                .message
                .starts_with("routes[0].middlewares[1]: Middleware foo/auth"),
            "{}",
            problem.message
        );
        let allowed = resolve(
            &options(true),
            "default",
            "auth",
            Some("foo"),
            "Middleware",
            "x",
        )
        .unwrap();
        assert_eq!(allowed.id, "foo-auth");
    }

    #[test]
    fn own_provider_form_needs_cross_namespace_and_other_providers_are_invalid() {
        let denied = resolve(
            &options(false),
            "default",
            "foo-auth@kubernetescrd",
            None,
            "Middleware",
            "x",
        );
        assert_eq!(denied.unwrap_err().reason, Reason::RefNotPermitted);
        let allowed = resolve(
            &options(true),
            "default",
            "foo-auth@kubernetescrd",
            None,
            "Middleware",
            "x",
        )
        .unwrap();
        assert_eq!(
            allowed,
            Resolved {
                id: "foo-auth".into(),
                key: None
            }
        );
        let file = resolve(
            &options(true),
            "default",
            "auth@file",
            None,
            "Middleware",
            "x",
        );
        assert_eq!(file.unwrap_err().reason, Reason::RefInvalid);
    }

    #[test]
    fn cross_provider_namespaces_gate_the_at_form() {
        let opts = ProviderOptions {
            allow_cross_namespace: true,
            cross_provider_namespaces: Some(vec!["other".into()]),
            ..Default::default()
        };
        let denied = resolve(&opts, "default", "a@mesh", None, "Middleware", "x");
        assert_eq!(denied.unwrap_err().reason, Reason::RefNotPermitted);
    }
}
