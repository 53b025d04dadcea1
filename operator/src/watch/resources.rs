//! Which resources `mesh run` watches, with which selectors.

use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::discovery::ApiResource;
use mesh_crds::Kind;

/// Secrets Helm keeps its releases in: large, numerous, never referenced by routes.
pub const SECRET_LABEL_SELECTOR: &str = "owner!=helm";
pub const SECRET_FIELD_SELECTOR: &str = "type!=helm.sh/release.v1";

/// One watcher to run.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub resource: ApiResource,
    /// `None`: all namespaces (or a cluster-scoped kind).
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
}

impl WatchSpec {
    /// `IngressRoute.mesh.io in apps`, for logs.
    pub fn describe(&self) -> String {
        let group = if self.resource.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.resource.group)
        };
        let scope = self.namespace.as_deref().unwrap_or("all namespaces");
        format!("{}{group} in {scope}", self.resource.kind)
    }
}

/// Every watcher for the given groups, namespaces (empty = all) and CR label selector.
pub fn watch_specs(
    groups: &[String],
    namespaces: &[String],
    label_selector: &str,
) -> Vec<WatchSpec> {
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    };
    let labels = (!label_selector.is_empty()).then(|| label_selector.to_owned());
    let mut specs = Vec::new();
    for scope in &scopes {
        for group in groups {
            for kind in Kind::ALL {
                specs.push(WatchSpec {
                    resource: kind.api_resource(group),
                    namespace: scope.clone(),
                    label_selector: labels.clone(),
                    field_selector: None,
                });
            }
        }
        // ConfigMaps: the world keeps the data of referenced ones only (ServersTransport CAs).
        let namespaced = [
            ApiResource::erase::<Service>(&()),
            ApiResource::erase::<EndpointSlice>(&()),
            ApiResource::erase::<Ingress>(&()),
            ApiResource::erase::<ConfigMap>(&()),
        ];
        for resource in namespaced {
            specs.push(WatchSpec {
                resource,
                namespace: scope.clone(),
                label_selector: None,
                field_selector: None,
            });
        }
        specs.push(WatchSpec {
            resource: ApiResource::erase::<Secret>(&()),
            namespace: scope.clone(),
            label_selector: Some(SECRET_LABEL_SELECTOR.to_owned()),
            field_selector: Some(SECRET_FIELD_SELECTOR.to_owned()),
        });
    }
    for resource in [
        ApiResource::erase::<Node>(&()),
        ApiResource::erase::<IngressClass>(&()),
    ] {
        specs.push(WatchSpec {
            resource,
            namespace: None,
            label_selector: None,
            field_selector: None,
        });
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_watcher_per_kind_group_and_namespace() {
        let groups = vec!["mesh.io".to_owned(), "traefik.io".to_owned()];
        let specs = watch_specs(&groups, &[], "team=a");
        // 10 kinds x 2 groups + Service, EndpointSlice, Ingress, ConfigMap, Secret + Node,
        // IngressClass.
        assert_eq!(specs.len(), 27);
        let route = &specs[0];
        assert_eq!(route.resource.api_version, "mesh.io/v1alpha1");
        assert_eq!(route.resource.plural, "ingressroutes");
        assert_eq!(route.label_selector.as_deref(), Some("team=a"));
        assert_eq!(route.describe(), "IngressRoute.mesh.io in all namespaces");
        assert!(
            specs
                .iter()
                .any(|s| s.resource.api_version == "traefik.io/v1alpha1")
        );

        let secret = specs.iter().find(|s| s.resource.kind == "Secret").unwrap();
        assert_eq!(secret.label_selector.as_deref(), Some("owner!=helm"));
        assert_eq!(
            secret.field_selector.as_deref(),
            Some("type!=helm.sh/release.v1")
        );
        let service = specs.iter().find(|s| s.resource.kind == "Service").unwrap();
        assert_eq!(
            service.label_selector, None,
            "the label selector is for Mesh kinds only"
        );
    }

    #[test]
    fn namespaces_multiply_namespaced_watchers_only() {
        let namespaces = vec!["a".to_owned(), "b".to_owned()];
        let specs = watch_specs(&["mesh.io".to_owned()], &namespaces, "");
        assert_eq!(specs.len(), 2 * (10 + 5) + 2);
        assert_eq!(
            specs.iter().filter(|s| s.resource.kind == "Node").count(),
            1
        );
        assert!(
            specs
                .iter()
                .filter(|s| s.resource.kind != "Node" && s.resource.kind != "IngressClass")
                .all(|s| s.namespace.is_some())
        );
        assert_eq!(specs[0].label_selector, None);
    }
}
