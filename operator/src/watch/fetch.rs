//! Fetches the Secrets and ConfigMaps that became referenced after the world dropped their
//! data (it holds referenced ones only; the watchers still see every one, so the world knows
//! which exist and who reported them).

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DynamicObject};
use kube::{Client, discovery::ApiResource};
use tracing::{debug, warn};

use super::prepare;
use crate::world::World;

/// Wait before retrying a failed GET when nothing else changes meanwhile.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Fetches every Secret and ConfigMap the world asks for, now and after each change. Never
/// returns while the world exists.
pub async fn fetch_referenced_data(client: Client, world: World) {
    let mut changes = world.subscribe();
    loop {
        let complete = fetch_wanted_data(&client, &world).await;
        if complete {
            if changes.changed().await.is_err() {
                return;
            }
        } else {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(RETRY_AFTER) => {}
            }
        }
    }
}

/// One round: GETs each Secret and ConfigMap the world wants back. Returns false when a GET
/// failed (the object stays wanted and a later round tries again).
pub async fn fetch_wanted_data(client: &Client, world: &World) -> bool {
    let mut complete = true;
    for (key, source) in world.data_to_fetch() {
        let resource = match key.kind.as_str() {
            "ConfigMap" => ApiResource::erase::<ConfigMap>(&()),
            _ => ApiResource::erase::<Secret>(&()),
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &key.namespace, &resource);
        match api.get_opt(&key.name).await {
            Ok(Some(object)) => {
                debug!(object = %key, "referenced object fetched");
                world.upsert(source, prepare(object, &resource));
            }
            Ok(None) => {
                // Deleted since the watcher saw it; its delete event may still be on the way.
                world.remove(&key);
            }
            Err(error) => {
                warn!(object = %key, %error, "cannot fetch a referenced object; retrying");
                complete = false;
            }
        }
    }
    complete
}
