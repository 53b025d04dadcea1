//! `mesh run --manifests DIR`: a folder of YAML is the whole world.
//!
//! The folder is polled: a cheap fingerprint (path, size, mtime of every manifest) is
//! compared every [`POLL_INTERVAL`], and the folder is reloaded only when it moved. Polling
//! works the same on every filesystem (bind mounts, ConfigMap volumes with their symlink
//! swaps) where inotify-style events are unreliable.

mod load;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

pub use load::{LoadError, Loaded, load_roots};

use crate::world::{SourceId, World};

/// How often the folders are checked for changes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The world source id used for manifests.
pub const MANIFESTS_SOURCE: SourceId = 1_000;

/// Identity of the folders' content at one moment.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn fingerprint(roots: &[PathBuf]) -> Fingerprint {
    let mut files = Vec::new();
    for root in roots {
        if root.is_file() {
            files.push(root.clone());
        } else if let Ok(found) = load::manifest_files(root) {
            files.extend(found);
        }
    }
    files
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (path, len, modified)
        })
        .collect()
}

/// Loads the folders into `world` once; returns how many objects loaded.
pub fn load_into(roots: &[PathBuf], world: &World) -> usize {
    let Loaded { objects, errors } = load_roots(roots);
    for error in &errors {
        warn!(%error, "manifest skipped");
    }
    let count = objects.len();
    world.replace_source(MANIFESTS_SOURCE, objects);
    count
}

/// Loads the folders, then reloads them whenever a file changes. Runs until cancelled.
pub async fn watch(roots: Vec<PathBuf>, world: World) {
    let count = load_into(&roots, &world);
    info!(objects = count, folders = ?roots, "manifests loaded");
    let mut last = fingerprint(&roots);
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let roots_now = roots.clone();
        let Ok(current) = tokio::task::spawn_blocking(move || fingerprint(&roots_now)).await else {
            continue;
        };
        if current == last {
            continue;
        }
        last = current;
        let roots_now = roots.clone();
        let world_now = world.clone();
        if let Ok(count) =
            tokio::task::spawn_blocking(move || load_into(&roots_now, &world_now)).await
        {
            info!(objects = count, "manifests reloaded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn fingerprint_moves_when_a_file_is_added_or_changes_size() {
        let dir = tempfile::tempdir().unwrap();
        let roots = vec![dir.path().to_path_buf()];
        let empty = fingerprint(&roots);
        fs::write(dir.path().join("a.yaml"), "a: 1\n").unwrap();
        let one = fingerprint(&roots);
        assert_ne!(empty, one);
        fs::write(dir.path().join("a.yaml"), "a: 12\n").unwrap();
        assert_ne!(one, fingerprint(&roots));
    }

    fn service_names(world: &World) -> Vec<String> {
        world
            .view()
            .snapshot
            .services
            .keys()
            .map(|key| key.name.clone())
            .collect()
    }

    #[tokio::test]
    async fn watch_picks_up_new_and_deleted_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("svc.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n",
        )
        .unwrap();
        let world = World::new();
        let mut changes = world.subscribe();
        let task = tokio::spawn(watch(vec![dir.path().to_path_buf()], world.clone()));

        changes.changed().await.unwrap();
        assert_eq!(service_names(&world), ["a"]);

        fs::write(
            dir.path().join("more.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n",
        )
        .unwrap();
        changes.changed().await.unwrap();
        assert_eq!(service_names(&world), ["a", "b"]);

        fs::remove_file(dir.path().join("svc.yaml")).unwrap();
        changes.changed().await.unwrap();
        assert_eq!(service_names(&world), ["b"]);
        task.abort();
    }

    #[test]
    fn config_maps_in_the_folder_reach_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("ca.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca}\ndata: {ca.crt: pem}\n",
        )
        .unwrap();
        let world = World::new();
        assert_eq!(load_into(&[dir.path().to_path_buf()], &world), 1);
        let view = world.view();
        let key = crate::snapshot::ObjectKey::new("default", "ca");
        let data = view.snapshot.config_maps[&key]
            .data
            .clone()
            .unwrap_or_default();
        assert_eq!(data["ca.crt"], "pem");
    }
}
