//! Cluster mode: one kube-runtime watcher per (resource, namespace) feeding the [`World`].
//!
//! Everything is watched as `DynamicObject` so the API group of Mesh's kinds is a runtime
//! value (`--api-groups`) and every object reaches the snapshot undecoded: decoding happens
//! per object there, so a malformed one is reported instead of breaking its watcher.

mod fetch;
mod resources;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, discovery::ApiResource};
use tokio::sync::watch as tokio_watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

pub use fetch::{fetch_referenced_data, fetch_wanted_data};
pub use resources::{WatchSpec, watch_specs};

use crate::world::{RawKey, SourceId, World};

/// Tells when every watcher has delivered its first complete list: statuses computed
/// before that would report objects "missing" that are merely not listed yet.
#[derive(Debug, Clone)]
pub struct InitialSync {
    pending: Arc<AtomicUsize>,
    done: Arc<tokio_watch::Sender<bool>>,
}

impl InitialSync {
    pub fn new(watchers: usize) -> InitialSync {
        let (done, _) = tokio_watch::channel(watchers == 0);
        InitialSync {
            pending: Arc::new(AtomicUsize::new(watchers)),
            done: Arc::new(done),
        }
    }

    /// One watcher finished its first list.
    fn one_done(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.send_replace(true);
        }
    }

    /// Resolves once every watcher has synced.
    pub async fn wait(&self) {
        let mut rx = self.done.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|done| *done).await;
    }

    pub fn is_done(&self) -> bool {
        *self.done.borrow()
    }
}

/// Starts every watcher on `tasks`; returns the initial-sync tracker.
pub fn spawn_watchers(
    client: Client,
    specs: Vec<WatchSpec>,
    world: World,
    tasks: &mut JoinSet<()>,
) -> InitialSync {
    let sync = InitialSync::new(specs.len());
    for (index, spec) in specs.into_iter().enumerate() {
        let source = index as SourceId;
        tasks.spawn(run_watcher(
            client.clone(),
            spec,
            source,
            world.clone(),
            sync.clone(),
        ));
    }
    sync
}

fn api_for(client: Client, spec: &WatchSpec) -> Api<DynamicObject> {
    match &spec.namespace {
        Some(namespace) => Api::namespaced_with(client, namespace, &spec.resource),
        None => Api::all_with(client, &spec.resource),
    }
}

/// Runs one watcher forever (errors are retried with backoff by kube-runtime).
async fn run_watcher(
    client: Client,
    spec: WatchSpec,
    source: SourceId,
    world: World,
    sync: InitialSync,
) {
    let api = api_for(client, &spec);
    let mut config = watcher::Config::default().any_semantic();
    if let Some(labels) = &spec.label_selector {
        config = config.labels(labels);
    }
    if let Some(fields) = &spec.field_selector {
        config = config.fields(fields);
    }
    let label = spec.describe();
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut listing: Vec<DynamicObject> = Vec::new();
    let mut synced = false;
    let mark_synced = |synced: &mut bool| {
        if !*synced {
            *synced = true;
            sync.one_done();
        }
    };
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => listing.clear(),
            Ok(Event::InitApply(object)) => listing.push(prepare(object, &spec.resource)),
            Ok(Event::InitDone) => {
                let count = listing.len();
                world.replace_source(source, std::mem::take(&mut listing));
                debug!(watcher = %label, objects = count, "listed");
                mark_synced(&mut synced);
            }
            Ok(Event::Apply(object)) => {
                world.upsert(source, prepare(object, &spec.resource));
            }
            Ok(Event::Delete(object)) => {
                if let Some(key) = RawKey::of(&prepare(object, &spec.resource)) {
                    world.remove(&key);
                }
            }
            Err(error) => {
                // A group whose CRDs are not installed answers 404: nothing to wait for.
                if is_not_found(&error) {
                    if !synced {
                        info!(watcher = %label, "resource not served by the apiserver; skipped until it appears");
                    }
                    mark_synced(&mut synced);
                } else {
                    warn!(watcher = %label, %error, "watch failed; retrying");
                }
            }
        }
    }
}

fn is_not_found(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.is_not_found(),
        _ => false,
    }
}

/// Annotation `kubectl apply` keeps a full copy of the applied object in (Secret data
/// included); never read by Mesh.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Lists and watches do not always carry `apiVersion`/`kind` on each item; the world keys
/// objects by kind, so fill them in. `managedFields` and the last-applied annotation are
/// dropped: they are never read and are often the largest part of an object.
fn prepare(mut object: DynamicObject, resource: &ApiResource) -> DynamicObject {
    if object.types.is_none() {
        object.types = Some(kube::api::TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
    }
    object.metadata.managed_fields = None;
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            object.metadata.annotations = None;
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn initial_sync_waits_for_every_watcher() {
        let sync = InitialSync::new(2);
        assert!(!sync.is_done());
        sync.one_done();
        assert!(!sync.is_done());
        sync.one_done();
        assert!(sync.is_done());
        sync.wait().await;
        assert!(InitialSync::new(0).is_done());
    }

    #[test]
    fn prepare_fills_types_and_drops_managed_fields_and_last_applied() {
        let resource = ApiResource::erase::<k8s_openapi::api::core::v1::Service>(&());
        let mut object = DynamicObject::new("s", &resource);
        object.types = None;
        object.metadata.managed_fields = Some(vec![Default::default()]);
        object.metadata.annotations = Some(
            [
                (LAST_APPLIED.to_owned(), "{\"spec\":{}}".to_owned()),
                ("team".to_owned(), "a".to_owned()),
            ]
            .into(),
        );
        let object = prepare(object, &resource);
        assert_eq!(object.types.as_ref().unwrap().kind, "Service");
        assert!(object.metadata.managed_fields.is_none());
        let annotations = object.metadata.annotations.unwrap_or_default();
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["team"]);
    }
}
