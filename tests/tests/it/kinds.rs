//! The ten Mesh kinds as the CRDs must define them (DESIGN.md, "Kinds and API groups").

use kube::api::ApiResource;
use kube::core::GroupVersionKind;

pub const GROUP: &str = "mesh.io";
pub const VERSION: &str = "v1alpha1";

pub struct Kind {
    pub kind: &'static str,
    pub plural: &'static str,
    pub short_name: &'static str,
}

pub const KINDS: [Kind; 10] = [
    Kind {
        kind: "IngressRoute",
        plural: "ingressroutes",
        short_name: "ir",
    },
    Kind {
        kind: "IngressRouteTCP",
        plural: "ingressroutetcps",
        short_name: "irt",
    },
    Kind {
        kind: "IngressRouteUDP",
        plural: "ingressrouteudps",
        short_name: "iru",
    },
    Kind {
        kind: "Middleware",
        plural: "middlewares",
        short_name: "mw",
    },
    Kind {
        kind: "MiddlewareTCP",
        plural: "middlewaretcps",
        short_name: "mwt",
    },
    Kind {
        kind: "TraefikService",
        plural: "traefikservices",
        short_name: "tsvc",
    },
    Kind {
        kind: "TLSOption",
        plural: "tlsoptions",
        short_name: "tlso",
    },
    Kind {
        kind: "TLSStore",
        plural: "tlsstores",
        short_name: "tlss",
    },
    Kind {
        kind: "ServersTransport",
        plural: "serverstransports",
        short_name: "stp",
    },
    Kind {
        kind: "ServersTransportTCP",
        plural: "serverstransporttcps",
        short_name: "stpt",
    },
];

impl Kind {
    pub fn api_resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(GROUP, VERSION, self.kind),
            self.plural,
        )
    }

    pub fn crd_name(&self) -> String {
        format!("{}.{GROUP}", self.plural)
    }
}

pub fn ingress_route() -> &'static Kind {
    &KINDS[0]
}

pub fn middleware() -> &'static Kind {
    &KINDS[3]
}

/// A valid IngressRoute named `name` (routes Host(`whoami.localhost`) to Service whoami:80).
pub fn sample_ingress_route(name: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "IngressRoute",
        "metadata": { "name": name },
        "spec": {
            "entryPoints": ["web"],
            "routes": [{
                "match": "Host(`whoami.localhost`)",
                "kind": "Rule",
                "services": [{ "name": "whoami", "port": 80 }],
            }],
        },
    })
}

/// A complete `metav1.Condition`-shaped status the operator would write.
pub fn not_ready_status(generation: i64, message: &str) -> serde_json::Value {
    serde_json::json!({
        "observedGeneration": generation,
        "conditions": [{
            "type": "Ready",
            "status": "False",
            "reason": "BackendNotFound",
            "message": message,
            "observedGeneration": generation,
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }],
    })
}
