//! The eleven kinds `kubectl mesh` shows: Mesh's ten and `networking.k8s.io/v1` Ingress,
//! named the ways kubectl accepts (kind, plural, singular, short name, any case).

use kube::core::{ApiResource, GroupVersionKind};
use mesh_crds::Kind;

/// A kind `status`, `describe` and the dashboard list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ResourceKind {
    Mesh(Kind),
    Ingress,
}

impl ResourceKind {
    /// Mesh's ten kinds in their usual order, then Ingress.
    pub const ALL: [ResourceKind; 11] = [
        ResourceKind::Mesh(Kind::IngressRoute),
        ResourceKind::Mesh(Kind::IngressRouteTCP),
        ResourceKind::Mesh(Kind::IngressRouteUDP),
        ResourceKind::Mesh(Kind::Middleware),
        ResourceKind::Mesh(Kind::MiddlewareTCP),
        ResourceKind::Mesh(Kind::TraefikService),
        ResourceKind::Mesh(Kind::TLSOption),
        ResourceKind::Mesh(Kind::TLSStore),
        ResourceKind::Mesh(Kind::ServersTransport),
        ResourceKind::Mesh(Kind::ServersTransportTCP),
        ResourceKind::Ingress,
    ];

    /// The `kind` field (`IngressRoute`, `Ingress`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Mesh(kind) => kind.as_str(),
            ResourceKind::Ingress => "Ingress",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            ResourceKind::Mesh(kind) => kind.plural(),
            ResourceKind::Ingress => "ingresses",
        }
    }

    pub fn short_name(self) -> &'static str {
        match self {
            ResourceKind::Mesh(kind) => kind.short_name(),
            ResourceKind::Ingress => "ing",
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            ResourceKind::Mesh(_) => mesh_crds::GROUP,
            ResourceKind::Ingress => "networking.k8s.io",
        }
    }

    /// `ingressroutes.mesh.io`, how RBAC messages and `kubectl auth can-i` name it.
    pub fn qualified_plural(self) -> String {
        format!("{}.{}", self.plural(), self.group())
    }

    pub fn api_resource(self) -> ApiResource {
        match self {
            ResourceKind::Mesh(kind) => kind.api_resource(mesh_crds::GROUP),
            ResourceKind::Ingress => ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("networking.k8s.io", "v1", "Ingress"),
                "ingresses",
            ),
        }
    }

    /// The kind `name` designates: its kind, plural, singular or short name in any case,
    /// optionally qualified by its group (`ingressroutes.mesh.io`).
    pub fn parse(name: &str) -> Option<ResourceKind> {
        let lower = name.trim().to_ascii_lowercase();
        ResourceKind::ALL.into_iter().find(|kind| {
            let base = lower
                .strip_suffix(&format!(".{}", kind.group()))
                .unwrap_or(&lower);
            let kind_name = kind.as_str().to_ascii_lowercase();
            base == kind_name || base == kind.plural() || base == kind.short_name()
        })
    }

    /// The names `parse` accepts, for a usage error.
    pub fn names_help() -> String {
        ResourceKind::ALL
            .iter()
            .map(|kind| format!("{} ({})", kind.plural(), kind.short_name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_as_kubectl_names_them() {
        let ir = Some(ResourceKind::Mesh(Kind::IngressRoute));
        for name in [
            "IngressRoute",
            "ingressroute",
            "ingressroutes",
            "ir",
            "IR",
            "ingressroutes.mesh.io",
        ] {
            assert_eq!(ResourceKind::parse(name), ir, "{name}");
        }
        assert_eq!(
            ResourceKind::parse("irt"),
            Some(ResourceKind::Mesh(Kind::IngressRouteTCP))
        );
        assert_eq!(
            ResourceKind::parse("middlewaretcps"),
            Some(ResourceKind::Mesh(Kind::MiddlewareTCP))
        );
        assert_eq!(ResourceKind::parse("ing"), Some(ResourceKind::Ingress));
        assert_eq!(
            ResourceKind::parse("ingresses.networking.k8s.io"),
            Some(ResourceKind::Ingress)
        );
    }

    #[test]
    fn unknown_names_and_wrong_groups_are_refused() {
        assert_eq!(ResourceKind::parse("pods"), None);
        assert_eq!(ResourceKind::parse("ingressroutes.traefik.io"), None);
        assert_eq!(ResourceKind::parse(""), None);
        assert!(ResourceKind::names_help().contains("ingressroutes (ir)"));
    }

    #[test]
    fn every_kind_has_a_distinct_api_resource() {
        let plurals: std::collections::BTreeSet<_> = ResourceKind::ALL
            .iter()
            .map(|kind| kind.api_resource().plural)
            .collect();
        assert_eq!(plurals.len(), ResourceKind::ALL.len());
        assert_eq!(
            ResourceKind::Ingress.api_resource().api_version,
            "networking.k8s.io/v1"
        );
    }
}
