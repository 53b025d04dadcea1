//! The ten kinds as runtime values: names, API resources for any of the groups serving
//! them, and decoding of one object at a time (a malformed object must not take its
//! neighbours down).

use std::fmt;

use kube::core::{ApiResource, GroupVersionKind};
use serde::de::DeserializeOwned;

use crate::{
    IngressRoute, IngressRouteTCP, IngressRouteUDP, Middleware, MiddlewareTCP, ServersTransport,
    ServersTransportTCP, TLSOption, TLSStore, TraefikService, VERSION,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    IngressRoute,
    IngressRouteTCP,
    IngressRouteUDP,
    Middleware,
    MiddlewareTCP,
    TraefikService,
    TLSOption,
    TLSStore,
    ServersTransport,
    ServersTransportTCP,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::IngressRoute,
        Kind::IngressRouteTCP,
        Kind::IngressRouteUDP,
        Kind::Middleware,
        Kind::MiddlewareTCP,
        Kind::TraefikService,
        Kind::TLSOption,
        Kind::TLSStore,
        Kind::ServersTransport,
        Kind::ServersTransportTCP,
    ];

    /// The `kind` field of the objects.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IngressRoute => "IngressRoute",
            Kind::IngressRouteTCP => "IngressRouteTCP",
            Kind::IngressRouteUDP => "IngressRouteUDP",
            Kind::Middleware => "Middleware",
            Kind::MiddlewareTCP => "MiddlewareTCP",
            Kind::TraefikService => "TraefikService",
            Kind::TLSOption => "TLSOption",
            Kind::TLSStore => "TLSStore",
            Kind::ServersTransport => "ServersTransport",
            Kind::ServersTransportTCP => "ServersTransportTCP",
        }
    }

    /// The kind called `name` (exact `kind` spelling).
    pub fn from_kind(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The resource name in URLs (`ingressroutes`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::IngressRoute => "ingressroutes",
            Kind::IngressRouteTCP => "ingressroutetcps",
            Kind::IngressRouteUDP => "ingressrouteudps",
            Kind::Middleware => "middlewares",
            Kind::MiddlewareTCP => "middlewaretcps",
            Kind::TraefikService => "traefikservices",
            Kind::TLSOption => "tlsoptions",
            Kind::TLSStore => "tlsstores",
            Kind::ServersTransport => "serverstransports",
            Kind::ServersTransportTCP => "serverstransporttcps",
        }
    }

    /// The kubectl short name (Mesh's CRDs only; Traefik's have none).
    pub fn short_name(self) -> &'static str {
        match self {
            Kind::IngressRoute => "ir",
            Kind::IngressRouteTCP => "irt",
            Kind::IngressRouteUDP => "iru",
            Kind::Middleware => "mw",
            Kind::MiddlewareTCP => "mwt",
            Kind::TraefikService => "tsvc",
            Kind::TLSOption => "tlso",
            Kind::TLSStore => "tlss",
            Kind::ServersTransport => "stp",
            Kind::ServersTransportTCP => "stpt",
        }
    }

    /// True for the kinds whose status has `routes[]`.
    pub fn has_route_status(self) -> bool {
        matches!(
            self,
            Kind::IngressRoute | Kind::IngressRouteTCP | Kind::IngressRouteUDP
        )
    }

    /// The API resource of this kind in `group` (`mesh.io`, `traefik.io`, ...), version v1alpha1.
    pub fn api_resource(self, group: &str) -> ApiResource {
        let gvk = GroupVersionKind::gvk(group, VERSION, self.as_str());
        ApiResource::from_gvk_with_plural(&gvk, self.plural())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decoded object of any of the ten kinds (boxed: the specs differ a lot in size).
#[derive(Debug, Clone, PartialEq)]
pub enum MeshObject {
    IngressRoute(Box<IngressRoute>),
    IngressRouteTCP(Box<IngressRouteTCP>),
    IngressRouteUDP(Box<IngressRouteUDP>),
    Middleware(Box<Middleware>),
    MiddlewareTCP(Box<MiddlewareTCP>),
    TraefikService(Box<TraefikService>),
    TLSOption(Box<TLSOption>),
    TLSStore(Box<TLSStore>),
    ServersTransport(Box<ServersTransport>),
    ServersTransportTCP(Box<ServersTransportTCP>),
}

impl MeshObject {
    pub fn kind(&self) -> Kind {
        match self {
            MeshObject::IngressRoute(_) => Kind::IngressRoute,
            MeshObject::IngressRouteTCP(_) => Kind::IngressRouteTCP,
            MeshObject::IngressRouteUDP(_) => Kind::IngressRouteUDP,
            MeshObject::Middleware(_) => Kind::Middleware,
            MeshObject::MiddlewareTCP(_) => Kind::MiddlewareTCP,
            MeshObject::TraefikService(_) => Kind::TraefikService,
            MeshObject::TLSOption(_) => Kind::TLSOption,
            MeshObject::TLSStore(_) => Kind::TLSStore,
            MeshObject::ServersTransport(_) => Kind::ServersTransport,
            MeshObject::ServersTransportTCP(_) => Kind::ServersTransportTCP,
        }
    }

    pub fn metadata(&self) -> &kube::core::ObjectMeta {
        match self {
            MeshObject::IngressRoute(o) => &o.metadata,
            MeshObject::IngressRouteTCP(o) => &o.metadata,
            MeshObject::IngressRouteUDP(o) => &o.metadata,
            MeshObject::Middleware(o) => &o.metadata,
            MeshObject::MiddlewareTCP(o) => &o.metadata,
            MeshObject::TraefikService(o) => &o.metadata,
            MeshObject::TLSOption(o) => &o.metadata,
            MeshObject::TLSStore(o) => &o.metadata,
            MeshObject::ServersTransport(o) => &o.metadata,
            MeshObject::ServersTransportTCP(o) => &o.metadata,
        }
    }
}

/// Why an object could not be decoded; the message is meant for `Accepted=False, InvalidSpec`.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown kind {0:?}")]
    UnknownKind(String),
    #[error("invalid {kind} {name}: {source}")]
    InvalidSpec {
        kind: Kind,
        /// `namespace/name` when known, else `<unnamed>`.
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Decodes one object of `kind` from its JSON form (`apiVersion` may name any group:
/// `mesh.io`, `traefik.io`, `traefik.containo.us`).
pub fn decode(kind: Kind, value: serde_json::Value) -> Result<MeshObject, DecodeError> {
    let name = object_name(&value);
    let invalid = |source| DecodeError::InvalidSpec {
        kind,
        name: name.clone(),
        source,
    };
    Ok(match kind {
        Kind::IngressRoute => {
            MeshObject::IngressRoute(Box::new(from_value(value).map_err(invalid)?))
        }
        Kind::IngressRouteTCP => {
            MeshObject::IngressRouteTCP(Box::new(from_value(value).map_err(invalid)?))
        }
        Kind::IngressRouteUDP => {
            MeshObject::IngressRouteUDP(Box::new(from_value(value).map_err(invalid)?))
        }
        Kind::Middleware => MeshObject::Middleware(Box::new(from_value(value).map_err(invalid)?)),
        Kind::MiddlewareTCP => {
            MeshObject::MiddlewareTCP(Box::new(from_value(value).map_err(invalid)?))
        }
        Kind::TraefikService => {
            MeshObject::TraefikService(Box::new(from_value(value).map_err(invalid)?))
        }
        Kind::TLSOption => MeshObject::TLSOption(Box::new(from_value(value).map_err(invalid)?)),
        Kind::TLSStore => MeshObject::TLSStore(Box::new(from_value(value).map_err(invalid)?)),
        Kind::ServersTransport => {
            MeshObject::ServersTransport(Box::new(from_value(value).map_err(invalid)?))
        }
        Kind::ServersTransportTCP => {
            MeshObject::ServersTransportTCP(Box::new(from_value(value).map_err(invalid)?))
        }
    })
}

/// Decodes an object whose `kind` field says what it is.
pub fn decode_any(value: serde_json::Value) -> Result<MeshObject, DecodeError> {
    let kind_name = value
        .get("kind")
        .and_then(|kind| kind.as_str())
        .unwrap_or_default();
    let kind = Kind::from_kind(kind_name)
        .ok_or_else(|| DecodeError::UnknownKind(kind_name.to_string()))?;
    decode(kind, value)
}

fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value)
}

fn object_name(value: &serde_json::Value) -> String {
    let metadata = value.get("metadata");
    let field = |key| metadata.and_then(|m| m.get(key)).and_then(|v| v.as_str());
    match (field("namespace"), field("name")) {
        (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
        (None, Some(name)) => name.to_string(),
        _ => "<unnamed>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use serde_json::json;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_kind(kind.as_str()), Some(kind));
        }
        assert_eq!(
            Kind::from_kind("ingressroute"),
            None,
            "kind names are case-sensitive"
        );
        assert_eq!(Kind::from_kind("Ingress"), None);
    }

    #[test]
    fn api_resource_uses_the_requested_group() {
        let resource = Kind::IngressRouteTCP.api_resource("traefik.io");
        assert_eq!(resource.group, "traefik.io");
        assert_eq!(resource.version, "v1alpha1");
        assert_eq!(resource.api_version, "traefik.io/v1alpha1");
        assert_eq!(resource.kind, "IngressRouteTCP");
        assert_eq!(resource.plural, "ingressroutetcps");

        let legacy = Kind::Middleware.api_resource(crate::TRAEFIK_LEGACY_GROUP);
        assert_eq!(legacy.api_version, "traefik.containo.us/v1alpha1");
        assert_eq!(legacy.plural, "middlewares");
    }

    #[test]
    fn decode_reads_any_group_and_applies_defaults() {
        let value = json!({
            "apiVersion": "traefik.containo.us/v1alpha1",
            "kind": "IngressRouteUDP",
            "metadata": { "name": "dns", "namespace": "default" },
            "spec": { "routes": [{ "services": [{ "name": "coredns", "port": 53 }] }] },
        });
        let MeshObject::IngressRouteUDP(route) =
            decode(Kind::IngressRouteUDP, value).expect("valid object")
        else {
            panic!("wrong variant");
        };
        assert_eq!(route.metadata.name.as_deref(), Some("dns"));
        assert_eq!(route.spec.routes[0].services[0].weight, 1);
    }

    #[test]
    fn a_malformed_object_names_itself_and_the_field() {
        let value = json!({
            "apiVersion": "mesh.io/v1alpha1",
            "kind": "IngressRoute",
            "metadata": { "name": "broken", "namespace": "apps" },
            "spec": { "routes": [{ "match": "Host(`a`)", "priority": "high" }] },
        });
        let error = decode(Kind::IngressRoute, value).expect_err("priority is a number");
        let message = error.to_string();
        assert!(
            message.starts_with("invalid IngressRoute apps/broken: "),
            "{message}"
        );
        assert!(message.contains("high"), "{message}");

        let wrong_type = json!({ "metadata": {}, "spec": { "routes": "not a list" } });
        let message = decode(Kind::IngressRoute, wrong_type)
            .expect_err("routes is a list")
            .to_string();
        assert!(message.contains("<unnamed>"), "{message}");
    }

    #[test]
    fn missing_required_route_fields_only_affect_that_route() {
        // Traefik skips a route without `match` and a TCP service without `port`; the
        // object itself stays readable so its other routes still work.
        let value = json!({
            "metadata": { "name": "partial" },
            "spec": { "routes": [
                { "services": [{ "name": "a", "port": 80 }] },
                { "match": "HostSNI(`*`)", "services": [{ "name": "b" }] },
            ] },
        });
        let MeshObject::IngressRouteTCP(route) =
            decode(Kind::IngressRouteTCP, value).expect("decodes")
        else {
            panic!("wrong variant");
        };
        assert_eq!(route.spec.routes[0].match_, "");
        assert_eq!(route.spec.routes[1].services[0].port, IntOrString::Int(0));

        let no_routes = json!({ "metadata": { "name": "empty" }, "spec": {} });
        let MeshObject::IngressRoute(route) =
            decode(Kind::IngressRoute, no_routes).expect("decodes")
        else {
            panic!("wrong variant");
        };
        assert!(route.spec.routes.is_empty());
    }

    #[test]
    fn decode_any_dispatches_on_the_kind_field() {
        let value = json!({
            "apiVersion": "mesh.io/v1alpha1",
            "kind": "TLSStore",
            "metadata": { "name": "default" },
            "spec": { "defaultCertificate": { "secretName": "cert" } },
        });
        let object = decode_any(value).expect("valid TLSStore");
        assert_eq!(object.kind(), Kind::TLSStore);
        assert_eq!(object.metadata().name.as_deref(), Some("default"));

        let error = decode_any(json!({ "kind": "Gateway" })).expect_err("not a Mesh kind");
        assert_eq!(error.to_string(), "unknown kind \"Gateway\"");
    }

    #[test]
    fn unknown_fields_are_ignored_like_traefik_does() {
        let value = json!({
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "IngressRouteTCP",
            "metadata": { "name": "legacy" },
            "spec": { "routes": [{ "match": "HostSNI(`*`)", "kind": "Rule", "services": [] }] },
        });
        assert!(decode(Kind::IngressRouteTCP, value).is_ok());
    }
}
