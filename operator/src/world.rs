//! The objects Mesh currently sees, whatever their source (cluster watchers or a manifests
//! folder), kept as a ready-to-translate [`Snapshot`], plus the signal that they changed.
//!
//! Objects are decoded one by one as they arrive (so one malformed object cannot hide its
//! neighbours, and a change costs one decode, not a rebuild of the world). Next to the
//! snapshot the world remembers, per object, what the status writer needs and the
//! snapshot does not keep: the API group that served it and its current `status`.
//!
//! In cluster mode the world holds the data of referenced Secrets and ConfigMaps only: every
//! other one of a watched namespace is remembered by name, and fetched again (see
//! [`World::data_to_fetch`]) once some object starts referring to it.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use kube::api::DynamicObject;
use serde_json::Value;
use tokio::sync::watch;
use tracing::debug;

use crate::secret_refs::{ReferencedData, referenced_data};
use crate::snapshot::{ObjectKey, Snapshot};

const SECRET: &str = "Secret";
const CONFIG_MAP: &str = "ConfigMap";

/// Kinds that only hold data for other objects: kept while referenced (see [`DataRetention`]).
fn is_data_kind(kind: &str) -> bool {
    kind == SECRET || kind == CONFIG_MAP
}

/// Identity of an object: kind plus namespace and name (the API group is not part of it:
/// the snapshot holds one object per kind/namespace/name whatever group served it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RawKey {
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl RawKey {
    /// The key of `object`; `None` when it lacks a kind or a name.
    pub fn of(object: &DynamicObject) -> Option<RawKey> {
        let types = object.types.as_ref()?;
        Some(RawKey {
            kind: types.kind.clone(),
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone()?,
        })
    }

    pub fn object_key(&self) -> ObjectKey {
        ObjectKey::new(&self.namespace, &self.name)
    }
}

impl std::fmt::Display for RawKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Who put an object in the world (one id per watcher / manifests folder).
pub type SourceId = u32;

/// What the world remembers of each object besides its decoded form.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub source: SourceId,
    /// `apiVersion` that served it (`mesh.io/v1alpha1`, `traefik.io/v1alpha1`, `v1`, ...).
    pub api_version: String,
    pub generation: Option<i64>,
    pub uid: Option<String>,
    /// The object's `status` as last seen (the status writer diffs against it), kept as
    /// compact JSON text: a parsed `Value` costs several times more, for every object.
    status: Option<Box<str>>,
    /// Hash of everything but `status` and bookkeeping metadata: a status write (ours,
    /// echoed back by the watch) or a resync is not a change of the world.
    fingerprint: u64,
}

impl Observed {
    /// The object's `status` as last seen.
    pub fn status(&self) -> Option<Value> {
        self.status
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
    }
}

/// `status` as compact JSON text.
fn compact(status: Option<&Value>) -> Option<Box<str>> {
    status.map(|value| value.to_string().into_boxed_str())
}

/// A consistent copy of the world at one version.
#[derive(Debug, Clone, Default)]
pub struct WorldView {
    pub version: u64,
    pub snapshot: Snapshot,
    pub observed: BTreeMap<RawKey, Observed>,
    data: DataBook,
}

/// Which Secrets and ConfigMaps the world holds the data of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DataRetention {
    /// Every one it is given (manifests mode: the files hold them all anyway).
    #[default]
    All,
    /// Only those some object references; the others are known by name only.
    Referenced,
}

/// The world's bookkeeping of Secrets and ConfigMaps under [`DataRetention::Referenced`].
#[derive(Debug, Clone, Default)]
struct DataBook {
    retention: DataRetention,
    /// What the snapshot's objects refer to, as of the last change of those objects.
    referenced: ReferencedData,
    /// Secrets and ConfigMaps that exist but whose data the snapshot does not hold.
    unheld: BTreeSet<RawKey>,
}

impl DataBook {
    fn is_referenced(&self, key: &RawKey) -> bool {
        self.referenced.contains(&key.kind, &key.object_key())
    }
}

/// The shared, mutable world. Writers call [`World::upsert`] / [`World::remove`] /
/// [`World::replace_source`]; the pipeline waits on [`World::subscribe`] and reads a
/// consistent copy with [`World::view`].
#[derive(Debug, Clone)]
pub struct World {
    inner: Arc<Mutex<WorldView>>,
    changed: Arc<watch::Sender<u64>>,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    /// A world that holds every Secret and ConfigMap it is given.
    pub fn new() -> World {
        World::with_data_retention(DataRetention::All)
    }

    pub fn with_data_retention(retention: DataRetention) -> World {
        let (changed, _) = watch::channel(0);
        let mut view = WorldView::default();
        view.data.retention = retention;
        World {
            inner: Arc::new(Mutex::new(view)),
            changed: Arc::new(changed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, WorldView> {
        // Every mutation below leaves the maps consistent before it can panic (decode
        // happens before insertion), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds or replaces an object. Returns false (and signals nothing) when the object has
    /// no kind/name, is of a kind Mesh does not read, or is unchanged.
    pub fn upsert(&self, source: SourceId, object: DynamicObject) -> bool {
        let mut inner = self.lock();
        let is_data = RawKey::of(&object).is_some_and(|key| is_data_kind(&key.kind));
        let changed = upsert_locked(&mut inner, source, object);
        if changed {
            if !is_data {
                refresh_references(&mut inner);
            }
            self.bump(inner);
        }
        changed
    }

    /// Removes an object; returns whether it was there.
    pub fn remove(&self, key: &RawKey) -> bool {
        let mut inner = self.lock();
        if !remove_locked(&mut inner, key) {
            return false;
        }
        if !is_data_kind(&key.kind) {
            refresh_references(&mut inner);
        }
        self.bump(inner);
        true
    }

    /// Makes `objects` the complete set contributed by `source` (after a relist or a folder
    /// reload): others of that source disappear. Signals once, and only on a real change.
    pub fn replace_source(&self, source: SourceId, objects: Vec<DynamicObject>) -> bool {
        let fresh: BTreeMap<RawKey, DynamicObject> = objects
            .into_iter()
            .filter_map(|object| Some((RawKey::of(&object)?, object)))
            .collect();
        let mut inner = self.lock();
        let stale: Vec<RawKey> = inner
            .observed
            .iter()
            .filter(|(key, observed)| observed.source == source && !fresh.contains_key(*key))
            .map(|(key, _)| key.clone())
            .collect();
        let mut changed = false;
        for key in stale {
            changed |= remove_locked(&mut inner, &key);
        }
        for object in fresh.into_values() {
            changed |= upsert_locked(&mut inner, source, object);
        }
        if changed {
            refresh_references(&mut inner);
            self.bump(inner);
        }
        changed
    }

    /// Records the status Mesh just wrote, so the next diff starts from it even before the
    /// watcher echoes the write back.
    pub fn record_status(&self, key: &RawKey, status: Value) {
        if let Some(observed) = self.lock().observed.get_mut(key) {
            observed.status = compact(Some(&status));
        }
    }

    fn bump(&self, mut inner: MutexGuard<'_, WorldView>) {
        inner.version += 1;
        let version = inner.version;
        drop(inner);
        self.changed.send_replace(version);
    }

    /// What the world knows of one object besides its decoded form.
    pub fn observed(&self, key: &RawKey) -> Option<Observed> {
        self.lock().observed.get(key).cloned()
    }

    /// Runs `read` on the world as it is now, holding it still meanwhile (cheaper than
    /// [`World::view`] for a reader that does not keep it).
    pub fn read<T>(&self, read: impl FnOnce(&WorldView) -> T) -> T {
        read(&self.lock())
    }

    /// A consistent copy of the world.
    pub fn view(&self) -> WorldView {
        self.lock().clone()
    }

    pub fn version(&self) -> u64 {
        self.lock().version
    }

    /// Secrets and ConfigMaps some object references whose data the world dropped, with the
    /// source that reported them: the cluster watcher fetches these and
    /// [`World::upsert`]s them.
    pub fn data_to_fetch(&self) -> Vec<(RawKey, SourceId)> {
        let inner = self.lock();
        let book = &inner.data;
        book.unheld
            .iter()
            .filter(|key| book.is_referenced(key))
            .filter_map(|key| {
                let source = inner.observed.get(key)?.source;
                Some((key.clone(), source))
            })
            .collect()
    }

    /// A receiver that wakes up after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

fn upsert_locked(inner: &mut WorldView, source: SourceId, object: DynamicObject) -> bool {
    let Some(key) = RawKey::of(&object) else {
        return false;
    };
    let fingerprint = fingerprint_of(&object);
    let is_data = is_data_kind(&key.kind);
    // An unchanged Secret/ConfigMap whose data was dropped is taken again once referenced.
    let refetched = is_data && inner.data.unheld.contains(&key) && inner.data.is_referenced(&key);
    if let Some(observed) = inner.observed.get_mut(&key)
        && observed.fingerprint == fingerprint
        && !refetched
    {
        observed.status = compact(object.data.get("status"));
        return false;
    }
    let api_version = object
        .types
        .as_ref()
        .map(|types| types.api_version.clone())
        .unwrap_or_default();
    let generation = object.metadata.generation;
    let uid = object.metadata.uid.clone();
    let status = compact(object.data.get("status"));
    let observed = Observed {
        source,
        api_version,
        generation,
        uid,
        status,
        fingerprint,
    };
    if is_data
        && inner.data.retention == DataRetention::Referenced
        && !inner.data.is_referenced(&key)
    {
        // Nobody reads it: remember that it exists, not what it holds.
        let held = inner.snapshot.remove(&key.kind, &key.object_key());
        inner.data.unheld.insert(key.clone());
        inner.observed.insert(key, observed);
        return held;
    }
    let value = match serde_json::to_value(&object) {
        Ok(value) => value,
        Err(error) => {
            debug!(%key, %error, "object not serialisable; ignored");
            return false;
        }
    };
    if let Err(error) = inner.snapshot.apply(value) {
        // Kinds Mesh does not read, or a core object that does not decode: the snapshot
        // cannot hold it, so neither does the index (a delete must not find it).
        debug!(%key, %error, "object not taken into the snapshot");
        return false;
    }
    if is_data {
        inner.data.unheld.remove(&key);
    }
    inner.observed.insert(key, observed);
    true
}

fn remove_locked(inner: &mut WorldView, key: &RawKey) -> bool {
    if inner.observed.remove(key).is_none() {
        return false;
    }
    inner.snapshot.remove(&key.kind, &key.object_key());
    if is_data_kind(&key.kind) {
        inner.data.unheld.remove(key);
    }
    true
}

/// After a change of the objects: recomputes which Secrets and ConfigMaps they reference
/// and drops the data of those no longer referenced (nothing reads it, so the translation
/// is unchanged).
fn refresh_references(inner: &mut WorldView) {
    if inner.data.retention != DataRetention::Referenced {
        return;
    }
    let referenced = referenced_data(&inner.snapshot);
    let mut dropped = unreferenced(SECRET, inner.snapshot.secrets.keys(), &referenced);
    dropped.extend(unreferenced(
        CONFIG_MAP,
        inner.snapshot.config_maps.keys(),
        &referenced,
    ));
    for key in dropped {
        inner.snapshot.remove(&key.kind, &key.object_key());
        inner.data.unheld.insert(key);
    }
    inner.data.referenced = referenced;
}

/// The keys among `keys` (objects of `kind`) that nothing references.
fn unreferenced<'a>(
    kind: &str,
    keys: impl Iterator<Item = &'a ObjectKey>,
    referenced: &ReferencedData,
) -> Vec<RawKey> {
    keys.filter(|key| !referenced.contains(kind, key))
        .map(|key| RawKey {
            kind: kind.to_owned(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        })
        .collect()
}

/// Same fingerprint = same input to the translation.
fn fingerprint_of(object: &DynamicObject) -> u64 {
    let mut metadata = object.metadata.clone();
    metadata.resource_version = None;
    metadata.managed_fields = None;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    object
        .types
        .as_ref()
        .map(|t| (&t.api_version, &t.kind))
        .hash(&mut hasher);
    serde_json::to_string(&metadata)
        .unwrap_or_default()
        .hash(&mut hasher);
    match &object.data {
        Value::Object(fields) => {
            for (name, value) in fields {
                if name != "status" {
                    name.hash(&mut hasher);
                    value.to_string().hash(&mut hasher);
                }
            }
        }
        other => other.to_string().hash(&mut hasher),
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(kind: &str, name: &str, rv: Option<&str>, spec: Value) -> DynamicObject {
        let mut value = json!({
            "apiVersion": "mesh.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": name, "namespace": "default", "generation": 2},
            "spec": spec,
        });
        if let Some(rv) = rv {
            value["metadata"]["resourceVersion"] = json!(rv);
        }
        serde_json::from_value(value).unwrap()
    }

    fn route(name: &str, rv: Option<&str>) -> DynamicObject {
        object(
            "IngressRoute",
            name,
            rv,
            json!({"routes": [{"match": format!("Host(`{name}`)"), "kind": "Rule"}]}),
        )
    }

    fn names(world: &World) -> Vec<String> {
        world
            .view()
            .snapshot
            .ingress_routes
            .keys()
            .map(|key| key.name.clone())
            .collect()
    }

    #[test]
    fn objects_land_in_the_snapshot_with_their_group_and_status() {
        let world = World::new();
        let mut with_status = route("a", Some("7"));
        with_status.data["status"] = json!({"observedGeneration": 1});
        assert!(world.upsert(1, with_status));
        let view = world.view();
        assert_eq!(names(&world), ["a"]);
        let key = RawKey {
            kind: "IngressRoute".into(),
            namespace: "default".into(),
            name: "a".into(),
        };
        let observed = &view.observed[&key];
        assert_eq!(observed.api_version, "mesh.io/v1alpha1");
        assert_eq!(observed.generation, Some(2));
        assert_eq!(observed.status(), Some(json!({"observedGeneration": 1})));
        assert_eq!(key.to_string(), "IngressRoute default/a");
    }

    #[test]
    fn unchanged_objects_do_not_signal() {
        let world = World::new();
        let mut rx = world.subscribe();
        assert!(world.upsert(1, route("a", Some("1"))));
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        assert!(
            !world.upsert(1, route("a", Some("2"))),
            "a resync is no change"
        );
        assert!(!rx.has_changed().unwrap());
        let mut changed = route("a", Some("3"));
        changed.data["spec"]["routes"][0]["match"] = json!("Host(`b`)");
        assert!(world.upsert(1, changed));
        assert!(rx.has_changed().unwrap());
    }

    #[test]
    fn a_status_write_echoed_back_is_recorded_without_a_change() {
        let world = World::new();
        assert!(world.upsert(1, route("a", Some("1"))));
        let mut echoed = route("a", Some("2"));
        echoed.data["status"] = json!({"observedGeneration": 2});
        assert!(!world.upsert(1, echoed));
        let key = RawKey {
            kind: "IngressRoute".into(),
            namespace: "default".into(),
            name: "a".into(),
        };
        assert_eq!(
            world.observed(&key).unwrap().status(),
            Some(json!({"observedGeneration": 2}))
        );
    }

    #[test]
    fn objects_without_resource_version_compare_by_content() {
        let world = World::new();
        assert!(world.upsert(1, object("Middleware", "m", None, json!({}))));
        assert!(!world.upsert(1, object("Middleware", "m", None, json!({}))));
        assert!(world.upsert(1, object("Middleware", "m", None, json!({"headers": {}}))));
    }

    #[test]
    fn kinds_mesh_does_not_read_are_ignored() {
        let world = World::new();
        let pod: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c", "namespace": "d"}
        }))
        .unwrap();
        assert!(!world.upsert(1, pod));
        assert!(world.view().observed.is_empty());
    }

    #[test]
    fn an_undecodable_route_is_kept_as_invalid() {
        let world = World::new();
        assert!(world.upsert(
            1,
            object("IngressRoute", "bad", None, json!({"routes": "nope"}))
        ));
        assert!(world.upsert(1, route("good", None)));
        let view = world.view();
        assert_eq!(view.snapshot.ingress_routes.len(), 2);
        assert!(
            view.snapshot.ingress_routes[&ObjectKey::new("default", "bad")]
                .valid()
                .is_none()
        );
    }

    #[test]
    fn replace_source_drops_only_that_sources_stale_objects() {
        let world = World::new();
        world.upsert(1, route("a", None));
        world.upsert(1, route("b", None));
        world.upsert(2, route("c", None));
        assert!(world.replace_source(1, vec![route("a", None)]));
        assert_eq!(names(&world), ["a", "c"]);
        assert!(!world.replace_source(1, vec![route("a", None)]));
    }

    fn secret(name: &str, value: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "default"},
            "stringData": {"tls.crt": value, "tls.key": value},
        }))
        .unwrap()
    }

    fn tls_route(name: &str, secret: &str) -> DynamicObject {
        object(
            "IngressRoute",
            name,
            None,
            json!({"routes": [], "tls": {"secretName": secret}}),
        )
    }

    fn held_secrets(world: &World) -> Vec<String> {
        let view = world.view();
        view.snapshot
            .secrets
            .keys()
            .map(|k| k.name.clone())
            .collect()
    }

    fn to_fetch(world: &World) -> Vec<(String, SourceId)> {
        let wanted = world.data_to_fetch().into_iter();
        wanted.map(|(key, source)| (key.name, source)).collect()
    }

    #[test]
    fn unreferenced_secrets_are_known_by_name_only() {
        let world = World::with_data_retention(DataRetention::Referenced);
        world.upsert(1, tls_route("web", "used"));
        world.upsert(7, secret("used", "a"));
        world.upsert(7, secret("unused", "b"));
        assert_eq!(held_secrets(&world), ["used"]);
        assert!(to_fetch(&world).is_empty());
        let unused = RawKey::of(&secret("unused", "b")).unwrap();
        assert_eq!(world.observed(&unused).unwrap().source, 7);
    }

    #[test]
    fn a_secret_becoming_referenced_is_asked_for_and_taken_back() {
        let world = World::with_data_retention(DataRetention::Referenced);
        world.upsert(7, secret("cert", "a"));
        assert!(held_secrets(&world).is_empty());
        assert!(world.upsert(1, tls_route("web", "cert")));
        assert!(held_secrets(&world).is_empty(), "the data was dropped");
        assert_eq!(to_fetch(&world), [("cert".to_owned(), 7)]);
        // The fetched copy is identical to the one seen before, yet must be taken.
        assert!(world.upsert(7, secret("cert", "a")));
        assert_eq!(held_secrets(&world), ["cert"]);
        assert!(to_fetch(&world).is_empty());
        let view = world.view();
        let data = &view.snapshot.secrets[&ObjectKey::new("default", "cert")];
        assert_eq!(data.string_data.as_ref().unwrap()["tls.crt"], "a");
    }

    #[test]
    fn a_secret_no_longer_referenced_loses_its_data() {
        let world = World::with_data_retention(DataRetention::Referenced);
        let route = tls_route("web", "cert");
        let route_key = RawKey::of(&route).unwrap();
        world.upsert(1, route);
        world.upsert(7, secret("cert", "a"));
        assert_eq!(held_secrets(&world), ["cert"]);
        assert!(world.remove(&route_key));
        assert!(held_secrets(&world).is_empty());
        assert!(to_fetch(&world).is_empty());
        world.upsert(1, tls_route("web", "cert"));
        assert_eq!(to_fetch(&world), [("cert".to_owned(), 7)]);
    }

    #[test]
    fn a_deleted_unheld_secret_is_not_asked_for() {
        let world = World::with_data_retention(DataRetention::Referenced);
        let cert = secret("cert", "a");
        let key = RawKey::of(&cert).unwrap();
        world.upsert(7, cert);
        assert!(world.remove(&key));
        world.upsert(1, tls_route("web", "cert"));
        assert!(to_fetch(&world).is_empty());
        assert!(world.observed(&key).is_none());
    }

    #[test]
    fn a_relist_decides_with_the_current_references() {
        let world = World::with_data_retention(DataRetention::Referenced);
        world.replace_source(1, vec![tls_route("web", "b")]);
        world.replace_source(7, vec![secret("a", "1"), secret("b", "2")]);
        assert_eq!(held_secrets(&world), ["b"]);
        world.replace_source(1, vec![tls_route("web", "a")]);
        assert!(held_secrets(&world).is_empty());
        assert_eq!(to_fetch(&world), [("a".to_owned(), 7)]);
    }

    fn config_map(name: &str, ca: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"},
            "data": {"ca.crt": ca},
        }))
        .unwrap()
    }

    fn transport(name: &str, config_map: &str) -> DynamicObject {
        object(
            "ServersTransport",
            name,
            None,
            json!({"rootCAs": [{"configMap": config_map}]}),
        )
    }

    fn held_config_maps(world: &World) -> Vec<String> {
        let view = world.view();
        let names = view.snapshot.config_maps.keys();
        names.map(|k| k.name.clone()).collect()
    }

    #[test]
    fn config_maps_are_held_only_while_referenced() {
        let world = World::with_data_retention(DataRetention::Referenced);
        world.upsert(7, config_map("ca", "pem"));
        world.upsert(7, config_map("other", "pem"));
        assert!(held_config_maps(&world).is_empty());
        let st = transport("st", "ca");
        let st_key = RawKey::of(&st).unwrap();
        assert!(world.upsert(1, st));
        assert_eq!(to_fetch(&world), [("ca".to_owned(), 7)]);
        let wanted = world.data_to_fetch();
        assert_eq!(wanted[0].0.kind, "ConfigMap");
        assert!(world.upsert(7, config_map("ca", "pem")));
        assert_eq!(held_config_maps(&world), ["ca"]);
        assert!(to_fetch(&world).is_empty());
        assert!(world.remove(&st_key));
        assert!(held_config_maps(&world).is_empty());
    }

    #[test]
    fn the_default_world_holds_every_secret() {
        let world = World::new();
        world.upsert(7, secret("unused", "b"));
        assert_eq!(held_secrets(&world), ["unused"]);
        assert!(to_fetch(&world).is_empty());
    }

    #[test]
    fn remove_reports_presence_and_clears_the_snapshot() {
        let world = World::new();
        let a = route("a", None);
        let key = RawKey::of(&a).unwrap();
        world.upsert(1, a);
        assert!(world.remove(&key));
        assert!(!world.remove(&key));
        assert!(names(&world).is_empty());
    }
}
