//! The world as the controller sees it: every decoded object, per kind.
//!
//! A snapshot is a plain value: the watchers (or the manifests folder) fill it, the translation
//! reads it. Each Mesh object is decoded on its own; one that does not decode is kept as
//! [`Entry::Invalid`] so it can get `Accepted=False, InvalidSpec` while its neighbours work.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use mesh_crds::{
    IngressRouteSpec, IngressRouteTCPSpec, IngressRouteUDPSpec, MiddlewareSpec, MiddlewareTCPSpec,
    ServersTransportSpec, ServersTransportTCPSpec, TLSOptionSpec, TLSStoreSpec, TraefikServiceSpec,
};

/// Label EndpointSlices carry to name their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The kinds whose objects get a status (the ten Mesh kinds and Ingress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    IngressRoute,
    #[serde(rename = "IngressRouteTCP")]
    IngressRouteTcp,
    #[serde(rename = "IngressRouteUDP")]
    IngressRouteUdp,
    Middleware,
    #[serde(rename = "MiddlewareTCP")]
    MiddlewareTcp,
    TraefikService,
    #[serde(rename = "TLSOption")]
    TlsOption,
    #[serde(rename = "TLSStore")]
    TlsStore,
    ServersTransport,
    #[serde(rename = "ServersTransportTCP")]
    ServersTransportTcp,
    Ingress,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 11] = [
        ObjectKind::IngressRoute,
        ObjectKind::IngressRouteTcp,
        ObjectKind::IngressRouteUdp,
        ObjectKind::Middleware,
        ObjectKind::MiddlewareTcp,
        ObjectKind::TraefikService,
        ObjectKind::TlsOption,
        ObjectKind::TlsStore,
        ObjectKind::ServersTransport,
        ObjectKind::ServersTransportTcp,
        ObjectKind::Ingress,
    ];

    /// The Kubernetes `kind` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::IngressRoute => "IngressRoute",
            ObjectKind::IngressRouteTcp => "IngressRouteTCP",
            ObjectKind::IngressRouteUdp => "IngressRouteUDP",
            ObjectKind::Middleware => "Middleware",
            ObjectKind::MiddlewareTcp => "MiddlewareTCP",
            ObjectKind::TraefikService => "TraefikService",
            ObjectKind::TlsOption => "TLSOption",
            ObjectKind::TlsStore => "TLSStore",
            ObjectKind::ServersTransport => "ServersTransport",
            ObjectKind::ServersTransportTcp => "ServersTransportTCP",
            ObjectKind::Ingress => "Ingress",
        }
    }

    pub fn parse(kind: &str) -> Option<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .find(|candidate| candidate.as_str() == kind)
    }

    /// True for the route kinds, whose status carries `routes[]`.
    pub fn has_routes(self) -> bool {
        matches!(
            self,
            ObjectKind::IngressRoute | ObjectKind::IngressRouteTcp | ObjectKind::IngressRouteUdp
        )
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Namespace and name of a namespaced object (`name` alone for cluster-scoped ones).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Which object a status belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: ObjectKind, key: &ObjectKey) -> Self {
        ObjectRef {
            kind,
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(&self.namespace, &self.name)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// The metadata the translation needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub namespace: String,
    pub name: String,
    pub generation: Option<i64>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl Meta {
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(&self.namespace, &self.name)
    }
}

/// A decoded Mesh object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<S> {
    pub meta: Meta,
    pub spec: S,
}

/// One Mesh object as stored: decoded, or kept with the reason it could not be.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<S> {
    Valid(Object<S>),
    Invalid {
        key: ObjectKey,
        generation: Option<i64>,
        error: String,
    },
}

impl<S> Entry<S> {
    pub fn valid(&self) -> Option<&Object<S>> {
        match self {
            Entry::Valid(object) => Some(object),
            Entry::Invalid { .. } => None,
        }
    }
}

/// All objects of one Mesh kind, by namespace/name.
pub type Entries<S> = BTreeMap<ObjectKey, Entry<S>>;

/// Errors of [`Snapshot::apply`] for objects that cannot even be placed (no kind, no name).
/// A Mesh object whose *spec* is wrong is not an error here: it is stored as invalid.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("object has no `kind`")]
    MissingKind,
    #[error("{kind} object has no metadata.name")]
    MissingName { kind: String },
    #[error("kind {kind} ({api_version}) is not part of Mesh's world")]
    UnsupportedKind { kind: String, api_version: String },
    #[error("{kind} {name}: {source}")]
    Decode {
        kind: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The world: Mesh objects, plus the Kubernetes objects they refer to.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub ingress_routes: Entries<IngressRouteSpec>,
    pub ingress_route_tcps: Entries<IngressRouteTCPSpec>,
    pub ingress_route_udps: Entries<IngressRouteUDPSpec>,
    pub middlewares: Entries<MiddlewareSpec>,
    pub middleware_tcps: Entries<MiddlewareTCPSpec>,
    pub traefik_services: Entries<TraefikServiceSpec>,
    pub tls_options: Entries<TLSOptionSpec>,
    pub tls_stores: Entries<TLSStoreSpec>,
    pub servers_transports: Entries<ServersTransportSpec>,
    pub servers_transport_tcps: Entries<ServersTransportTCPSpec>,
    pub ingresses: BTreeMap<ObjectKey, Ingress>,
    pub ingress_classes: BTreeMap<String, IngressClass>,
    pub services: BTreeMap<ObjectKey, Service>,
    /// EndpointSlices by the Service they belong to (namespace + service name), then by name.
    pub endpoint_slices: BTreeMap<ObjectKey, BTreeMap<String, EndpointSlice>>,
    pub secrets: BTreeMap<ObjectKey, Secret>,
    /// ConfigMaps (CA bundles of ServersTransports).
    pub config_maps: BTreeMap<ObjectKey, ConfigMap>,
    pub nodes: BTreeMap<String, Node>,
}

impl Snapshot {
    /// Builds a snapshot from raw objects (a manifests folder, a fixture). Objects that cannot
    /// be placed are returned next to the snapshot rather than failing the whole world.
    pub fn from_objects(
        objects: impl IntoIterator<Item = Value>,
    ) -> (Snapshot, Vec<SnapshotError>) {
        let mut snapshot = Snapshot::default();
        let errors = objects
            .into_iter()
            .filter_map(|object| snapshot.apply(object).err())
            .collect();
        (snapshot, errors)
    }

    /// Inserts or replaces one object, chosen by its `kind` (any API group serving Mesh
    /// kinds is accepted: the watcher decides which groups it reads).
    pub fn apply(&mut self, object: Value) -> Result<(), SnapshotError> {
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .ok_or(SnapshotError::MissingKind)?
            .to_string();
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let meta = read_meta(&object, &kind)?;
        match kind.as_str() {
            "IngressRoute" => insert_mesh(&mut self.ingress_routes, meta, &object),
            "IngressRouteTCP" => insert_mesh(&mut self.ingress_route_tcps, meta, &object),
            "IngressRouteUDP" => insert_mesh(&mut self.ingress_route_udps, meta, &object),
            "Middleware" => insert_mesh(&mut self.middlewares, meta, &object),
            "MiddlewareTCP" => insert_mesh(&mut self.middleware_tcps, meta, &object),
            "TraefikService" => insert_mesh(&mut self.traefik_services, meta, &object),
            "TLSOption" => insert_mesh(&mut self.tls_options, meta, &object),
            "TLSStore" => insert_mesh(&mut self.tls_stores, meta, &object),
            "ServersTransport" => insert_mesh(&mut self.servers_transports, meta, &object),
            "ServersTransportTCP" => insert_mesh(&mut self.servers_transport_tcps, meta, &object),
            "Service" => {
                self.services
                    .insert(meta.key(), decode_kube(object, &kind, &meta)?);
            }
            "Secret" => {
                self.secrets
                    .insert(meta.key(), decode_kube(object, &kind, &meta)?);
            }
            "ConfigMap" => {
                self.config_maps
                    .insert(meta.key(), decode_kube(object, &kind, &meta)?);
            }
            "Ingress" => {
                self.ingresses
                    .insert(meta.key(), decode_kube(object, &kind, &meta)?);
            }
            "IngressClass" => {
                self.ingress_classes
                    .insert(meta.name.clone(), decode_kube(object, &kind, &meta)?);
            }
            "Node" => {
                self.nodes
                    .insert(meta.name.clone(), decode_kube(object, &kind, &meta)?);
            }
            "EndpointSlice" => {
                let slice: EndpointSlice = decode_kube(object, &kind, &meta)?;
                self.insert_endpoint_slice(slice);
            }
            _ => return Err(SnapshotError::UnsupportedKind { kind, api_version }),
        }
        Ok(())
    }

    /// Removes the object of `kind` named `key` (namespace empty for cluster-scoped kinds).
    /// Returns true when something was removed.
    pub fn remove(&mut self, kind: &str, key: &ObjectKey) -> bool {
        match kind {
            "IngressRoute" => self.ingress_routes.remove(key).is_some(),
            "IngressRouteTCP" => self.ingress_route_tcps.remove(key).is_some(),
            "IngressRouteUDP" => self.ingress_route_udps.remove(key).is_some(),
            "Middleware" => self.middlewares.remove(key).is_some(),
            "MiddlewareTCP" => self.middleware_tcps.remove(key).is_some(),
            "TraefikService" => self.traefik_services.remove(key).is_some(),
            "TLSOption" => self.tls_options.remove(key).is_some(),
            "TLSStore" => self.tls_stores.remove(key).is_some(),
            "ServersTransport" => self.servers_transports.remove(key).is_some(),
            "ServersTransportTCP" => self.servers_transport_tcps.remove(key).is_some(),
            "Service" => self.services.remove(key).is_some(),
            "Secret" => self.secrets.remove(key).is_some(),
            "ConfigMap" => self.config_maps.remove(key).is_some(),
            "Ingress" => self.ingresses.remove(key).is_some(),
            "IngressClass" => self.ingress_classes.remove(&key.name).is_some(),
            "Node" => self.nodes.remove(&key.name).is_some(),
            "EndpointSlice" => self.remove_endpoint_slice(key),
            _ => false,
        }
    }

    /// Inserts an EndpointSlice under the Service named by its label; a slice without the
    /// label belongs to no Service and is ignored.
    pub fn insert_endpoint_slice(&mut self, slice: EndpointSlice) {
        let namespace = slice.metadata.namespace.clone().unwrap_or_default();
        let Some(name) = slice.metadata.name.clone() else {
            return;
        };
        // A relabelled slice must not stay listed under its former Service.
        self.remove_endpoint_slice(&ObjectKey::new(&namespace, &name));
        let Some(service) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(SERVICE_NAME_LABEL))
        else {
            return;
        };
        self.endpoint_slices
            .entry(ObjectKey::new(namespace, service.clone()))
            .or_default()
            .insert(name, slice);
    }

    fn remove_endpoint_slice(&mut self, key: &ObjectKey) -> bool {
        let mut removed = false;
        let services: Vec<ObjectKey> = self
            .endpoint_slices
            .range(ObjectKey::new(&key.namespace, "")..)
            .take_while(|(service, _)| service.namespace == key.namespace)
            .filter(|(_, slices)| slices.contains_key(&key.name))
            .map(|(service, _)| service.clone())
            .collect();
        for service in services {
            if let Some(slices) = self.endpoint_slices.get_mut(&service) {
                removed |= slices.remove(&key.name).is_some();
                if slices.is_empty() {
                    self.endpoint_slices.remove(&service);
                }
            }
        }
        removed
    }

    /// The EndpointSlices of Service `key`, in name order.
    pub fn slices_of(&self, key: &ObjectKey) -> impl Iterator<Item = &EndpointSlice> {
        self.endpoint_slices
            .get(key)
            .into_iter()
            .flat_map(|slices| slices.values())
    }
}

fn read_meta(object: &Value, kind: &str) -> Result<Meta, SnapshotError> {
    let metadata = object.get("metadata");
    let text = |field: &str| {
        metadata
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let map = |field: &str| -> BTreeMap<String, String> {
        metadata
            .and_then(|m| m.get(field))
            .and_then(Value::as_object)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let name = text("name")
        .or_else(|| text("generateName"))
        .filter(|name| !name.is_empty())
        .ok_or_else(|| SnapshotError::MissingName {
            kind: kind.to_string(),
        })?;
    Ok(Meta {
        namespace: text("namespace").unwrap_or_default(),
        name,
        generation: metadata
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64),
        labels: map("labels"),
        annotations: map("annotations"),
    })
}

fn insert_mesh<S: DeserializeOwned>(entries: &mut Entries<S>, meta: Meta, object: &Value) {
    let key = meta.key();
    let entry = match decode_spec::<S>(object) {
        Ok(spec) => Entry::Valid(Object { meta, spec }),
        Err(error) => Entry::Invalid {
            key: key.clone(),
            generation: meta.generation,
            error,
        },
    };
    entries.insert(key, entry);
}

/// Decodes `spec`; the error text names the field path serde stopped at.
fn decode_spec<S: DeserializeOwned>(object: &Value) -> Result<S, String> {
    let spec = object
        .get("spec")
        .ok_or_else(|| "spec is missing".to_string())?;
    S::deserialize(spec).map_err(|error| format!("spec: {error}"))
}

fn decode_kube<K: DeserializeOwned>(
    object: Value,
    kind: &str,
    meta: &Meta,
) -> Result<K, SnapshotError> {
    serde_json::from_value(object).map_err(|source| SnapshotError::Decode {
        kind: kind.to_string(),
        name: meta.key().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route(name: &str, spec: Value) -> Value {
        json!({
            "apiVersion": "mesh.io/v1alpha1", "kind": "IngressRoute",
            "metadata": {"namespace": "default", "name": name, "generation": 3},
            "spec": spec,
        })
    }

    #[test]
    fn undecodable_object_is_kept_as_invalid_next_to_valid_ones() {
        let (snapshot, errors) = Snapshot::from_objects([
            route("good", json!({"routes": [{"match": "Host(`a`)"}]})),
            route("bad", json!({"routes": "not a list"})),
        ]);
        assert!(errors.is_empty());
        assert!(
            snapshot.ingress_routes[&ObjectKey::new("default", "good")]
                .valid()
                .is_some()
        );
        match &snapshot.ingress_routes[&ObjectKey::new("default", "bad")] {
            Entry::Invalid {
                generation, error, ..
            } => {
                assert_eq!(*generation, Some(3));
                assert!(error.starts_with("spec:"), "{error}");
            }
            Entry::Valid(_) => panic!("a list of routes that is a string must not decode"),
        }
    }

    #[test]
    fn endpoint_slices_are_indexed_by_service_and_follow_relabelling() {
        let slice = |service: &str| {
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"namespace": "ns", "name": "s1", "labels": {SERVICE_NAME_LABEL: service}},
                "endpoints": [],
            })
        };
        let mut snapshot = Snapshot::default();
        snapshot.apply(slice("api")).unwrap();
        assert_eq!(snapshot.slices_of(&ObjectKey::new("ns", "api")).count(), 1);
        snapshot.apply(slice("web")).unwrap();
        assert_eq!(snapshot.slices_of(&ObjectKey::new("ns", "api")).count(), 0);
        assert_eq!(snapshot.slices_of(&ObjectKey::new("ns", "web")).count(), 1);
        assert!(snapshot.remove("EndpointSlice", &ObjectKey::new("ns", "s1")));
        assert!(snapshot.endpoint_slices.is_empty());
    }

    #[test]
    fn objects_that_cannot_be_placed_are_reported() {
        let (_, errors) = Snapshot::from_objects([
            json!({"metadata": {"name": "x"}}),
            json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "x"}}),
            json!({"kind": "Service", "apiVersion": "v1", "metadata": {}}),
        ]);
        assert_eq!(errors.len(), 3);
        assert!(matches!(errors[0], SnapshotError::MissingKind));
        assert!(matches!(errors[1], SnapshotError::UnsupportedKind { .. }));
        assert!(matches!(errors[2], SnapshotError::MissingName { .. }));
    }
}
