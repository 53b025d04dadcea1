//! Provider switches that change what the translation produces (reference §8.1).
//!
//! Only the knobs the pure translation needs live here; connection settings, throttling and
//! label selectors are the watcher's business and stay in the CLI layer.

use serde::{Deserialize, Serialize};

/// The class a Mesh controller answers to when `--ingress-class` is empty.
pub const DEFAULT_INGRESS_CLASS: &str = "mesh";

/// Provider options, named after the reference (`allowCrossNamespace`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ProviderOptions {
    /// Namespaces the controller watches; empty means all. Objects elsewhere are invisible
    /// and looking a Service or Secret up there is an error.
    pub namespaces: Vec<String>,
    /// Only IngressRoute(TCP/UDP) and Ingress objects of this class are processed.
    /// Empty: objects without a class, or with class `traefik` or `mesh`, are processed.
    pub ingress_class: String,
    /// References to Services, Middlewares, TLSOptions, ServersTransports and parents in
    /// another namespace are allowed.
    pub allow_cross_namespace: bool,
    /// Services of type ExternalName may be used as backends.
    pub allow_external_name_services: bool,
    /// A service without any ready server is kept (the proxy answers 503) instead of
    /// dropping the route (404).
    pub allow_empty_services: bool,
    /// Default for `nativeLB`: use the ClusterIP as the only server.
    #[serde(rename = "nativeLBByDefault")]
    pub native_lb_by_default: bool,
    /// Nodes are not watched: `nodePortLB` cannot be honoured.
    pub disable_cluster_scope_resources: bool,
    /// Namespaces allowed to use `name@provider` references; `None` allows every namespace,
    /// an empty list allows none.
    pub cross_provider_namespaces: Option<Vec<String>>,
}

impl ProviderOptions {
    /// True when objects of `namespace` are visible to the controller.
    pub fn watches_namespace(&self, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|watched| watched == namespace)
    }

    /// True when an object whose effective class is `class` belongs to this controller
    /// (reference §8.3, with `mesh` accepted next to `traefik` when no class is configured).
    pub fn serves_class(&self, class: &str) -> bool {
        if self.ingress_class.is_empty() {
            class.is_empty() || class == "traefik" || class == DEFAULT_INGRESS_CLASS
        } else {
            class == self.ingress_class
        }
    }

    /// True when objects in `namespace` may use `name@provider` references.
    pub fn allows_cross_provider_from(&self, namespace: &str) -> bool {
        self.cross_provider_namespaces
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|candidate| candidate == namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_class_option_serves_unclassed_traefik_and_mesh_objects() {
        let options = ProviderOptions::default();
        assert!(options.serves_class(""));
        assert!(options.serves_class("traefik"));
        assert!(options.serves_class("mesh"));
        assert!(!options.serves_class("nginx"));
    }

    #[test]
    fn configured_class_must_match_exactly() {
        let options = ProviderOptions {
            ingress_class: "internal".into(),
            ..Default::default()
        };
        assert!(options.serves_class("internal"));
        assert!(!options.serves_class(""));
        assert!(!options.serves_class("traefik"));
    }

    #[test]
    fn namespaces_filter_and_cross_provider_lists() {
        let options = ProviderOptions {
            namespaces: vec!["a".into()],
            cross_provider_namespaces: Some(vec![]),
            ..Default::default()
        };
        assert!(options.watches_namespace("a"));
        assert!(!options.watches_namespace("b"));
        assert!(!options.allows_cross_provider_from("a"));
        assert!(ProviderOptions::default().allows_cross_provider_from("anything"));
    }
}
