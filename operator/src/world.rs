//! The objects Mesh currently sees, whatever their source (cluster watchers or a manifests
//! folder), kept as a ready-to-translate [`Snapshot`], plus the signal that they changed.
//!
//! Objects are decoded one by one as they arrive (so one malformed object cannot hide its
//! neighbours, and a change costs one decode, not a rebuild of the world). Next to the
//! snapshot the world remembers, per object, what the status writer needs and the
//! snapshot does not keep: the API group that served it and its current `status`.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use kube::api::DynamicObject;
use serde_json::Value;
use tokio::sync::watch;
use tracing::debug;

use crate::snapshot::{ObjectKey, Snapshot};

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
    /// The object's `status` as last seen (the status writer diffs against it).
    pub status: Option<Value>,
    /// Hash of everything but `status` and bookkeeping metadata: a status write (ours,
    /// echoed back by the watch) or a resync is not a change of the world.
    fingerprint: u64,
}

/// A consistent copy of the world at one version.
#[derive(Debug, Clone, Default)]
pub struct WorldView {
    pub version: u64,
    pub snapshot: Snapshot,
    pub observed: BTreeMap<RawKey, Observed>,
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
    pub fn new() -> World {
        let (changed, _) = watch::channel(0);
        World {
            inner: Arc::new(Mutex::new(WorldView::default())),
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
        let changed = upsert_locked(&mut inner, source, object);
        if changed {
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
            self.bump(inner);
        }
        changed
    }

    /// Records the status Mesh just wrote, so the next diff starts from it even before the
    /// watcher echoes the write back.
    pub fn record_status(&self, key: &RawKey, status: Value) {
        if let Some(observed) = self.lock().observed.get_mut(key) {
            observed.status = Some(status);
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
    if let Some(observed) = inner.observed.get_mut(&key)
        && observed.fingerprint == fingerprint
    {
        observed.status = object.data.get("status").cloned();
        return false;
    }
    let api_version = object
        .types
        .as_ref()
        .map(|types| types.api_version.clone())
        .unwrap_or_default();
    let generation = object.metadata.generation;
    let uid = object.metadata.uid.clone();
    let status = object.data.get("status").cloned();
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
    inner.observed.insert(
        key,
        Observed {
            source,
            api_version,
            generation,
            uid,
            status,
            fingerprint,
        },
    );
    true
}

fn remove_locked(inner: &mut WorldView, key: &RawKey) -> bool {
    if inner.observed.remove(key).is_none() {
        return false;
    }
    inner.snapshot.remove(&key.kind, &key.object_key());
    true
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
        assert_eq!(observed.status, Some(json!({"observedGeneration": 1})));
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
            world.observed(&key).unwrap().status,
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
        let config_map: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}
        }))
        .unwrap();
        assert!(!world.upsert(1, config_map));
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
