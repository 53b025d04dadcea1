//! From "the world changed" to "the proxy runs it and every object knows": coalesce
//! changes, translate, apply to the data plane, fold in its verdict, publish statuses.
//!
//! Changes arriving while a rebuild runs are coalesced into the next one (the world's
//! change signal keeps only the latest version), and `--throttle` adds a pause after each
//! rebuild, as Traefik's `throttleDuration` does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use mesh_proxy::config::Config;
use tokio::sync::watch;
use tracing::{debug, info};

use crate::options::ProviderOptions;
use crate::status::{ProxyVerdict, StatusBatch, StatusBoard, apply_verdict};
use crate::translate::translate;
use crate::world::World;

/// Where configurations go: the proxy, or a test double.
pub trait DataPlane: Send + Sync + 'static {
    /// Runs `config` from now on; says which generation that is and what it refused.
    fn apply(&self, config: Config) -> ProxyVerdict;
}

/// Figures of the last rebuild, for logs and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rebuild {
    /// World version the rebuild read.
    pub world_version: u64,
    /// Proxy config generation it produced.
    pub generation: u64,
    pub objects: usize,
    pub translate: Duration,
    pub apply: Duration,
}

pub struct Pipeline {
    pub world: World,
    pub options: ProviderOptions,
    pub throttle: Duration,
    pub data_plane: Arc<dyn DataPlane>,
    pub board: StatusBoard,
    pub batches: watch::Sender<StatusBatch>,
    pub rebuilds: watch::Sender<Rebuild>,
}

impl Pipeline {
    /// Rebuilds once now, then after every change of the world. Never returns while the
    /// world exists.
    pub async fn run(self) {
        let mut changes = self.world.subscribe();
        loop {
            changes.borrow_and_update();
            self.rebuild().await;
            if !self.throttle.is_zero() {
                tokio::time::sleep(self.throttle).await;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// One full rebuild from the current world.
    pub async fn rebuild(&self) -> Rebuild {
        let world = self.world.clone();
        let options = self.options.clone();
        let data_plane = Arc::clone(&self.data_plane);
        // Translation and compilation are CPU work: keep them off the async workers that
        // serve traffic.
        let built = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let (world_version, mut translation) =
                world.read(|view| (view.version, translate(&view.snapshot, &options)));
            let translate_time = started.elapsed();
            let applied_at = Instant::now();
            let config = std::mem::take(&mut translation.config);
            let verdict = data_plane.apply(config);
            (
                world_version,
                translation,
                verdict,
                translate_time,
                applied_at.elapsed(),
            )
        })
        .await;
        let (world_version, translation, verdict, translate_time, apply_time) = match built {
            Ok(result) => result,
            Err(error) => {
                // A panic in translate or apply must not take the controller down: the
                // previous configuration keeps serving and the next change retries.
                tracing::error!(%error, "rebuild failed; keeping the previous configuration");
                return Rebuild::default();
            }
        };

        let mut statuses = translation.statuses;
        apply_verdict(&mut statuses, &translation.router_owners, &verdict);
        let now = Time(Timestamp::now());
        let changed = self.board.publish(verdict.generation, &statuses, &now);
        let rebuild = Rebuild {
            world_version,
            generation: verdict.generation,
            objects: statuses.len(),
            translate: translate_time,
            apply: apply_time,
        };
        self.batches.send_replace(StatusBatch {
            generation: verdict.generation,
            statuses: Arc::new(statuses),
        });
        self.rebuilds.send_replace(rebuild);
        // The previous configuration and statuses are gone by now: give their pages back.
        tokio::task::spawn_blocking(crate::heap::release_free_memory);
        let log = if changed > 0 {
            info_rebuild
        } else {
            debug_rebuild
        };
        log(&rebuild, changed, verdict.refused());
        rebuild
    }
}

fn info_rebuild(rebuild: &Rebuild, changed: usize, rejected: usize) {
    info!(
        generation = rebuild.generation,
        objects = rebuild.objects,
        statuses_changed = changed,
        rejected_routers = rejected,
        translate_ms = rebuild.translate.as_secs_f64() * 1e3,
        apply_ms = rebuild.apply.as_secs_f64() * 1e3,
        "rebuilt"
    );
}

fn debug_rebuild(rebuild: &Rebuild, changed: usize, rejected: usize) {
    debug!(
        generation = rebuild.generation,
        objects = rebuild.objects,
        statuses_changed = changed,
        rejected_routers = rejected,
        translate_ms = rebuild.translate.as_secs_f64() * 1e3,
        apply_ms = rebuild.apply.as_secs_f64() * 1e3,
        "rebuilt"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use kube::api::DynamicObject;
    use serde_json::json;

    /// Records every configuration it is given.
    #[derive(Default)]
    struct Recorder {
        configs: Mutex<Vec<Config>>,
    }

    impl DataPlane for Recorder {
        fn apply(&self, config: Config) -> ProxyVerdict {
            let mut configs = self.configs.lock().unwrap();
            configs.push(config);
            ProxyVerdict {
                generation: configs.len() as u64,
                findings: Default::default(),
            }
        }
    }

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn route(name: &str, service: &str) -> DynamicObject {
        object(json!({
            "apiVersion": "mesh.io/v1alpha1", "kind": "IngressRoute",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"entryPoints": ["web"], "routes": [{
                "match": format!("Host(`{name}.localhost`)"), "kind": "Rule",
                "services": [{"name": service, "port": 80}]
            }]}
        }))
    }

    fn pipeline(
        world: &World,
        data_plane: Arc<Recorder>,
    ) -> (Pipeline, watch::Receiver<StatusBatch>) {
        let (batches, batches_rx) = watch::channel(StatusBatch::default());
        let (rebuilds, _) = watch::channel(Rebuild::default());
        let pipeline = Pipeline {
            world: world.clone(),
            options: ProviderOptions::default(),
            throttle: Duration::ZERO,
            data_plane,
            board: StatusBoard::new(),
            batches,
            rebuilds,
        };
        (pipeline, batches_rx)
    }

    fn ready_of(batch: &StatusBatch, name: &str) -> (String, String) {
        let (_, status) = batch
            .statuses
            .iter()
            .find(|(object, _)| object.name == name)
            .expect("status for the object");
        let ready = &status.conditions[0];
        (
            format!("{:?}", ready.status),
            ready.reason.as_str().to_owned(),
        )
    }

    #[tokio::test]
    async fn a_rebuild_programs_the_proxy_and_reports_status() {
        let world = World::new();
        world.upsert(1, route("missing", "nope"));
        let data_plane = Arc::new(Recorder::default());
        let (pipeline, batches) = pipeline(&world, data_plane.clone());
        let rebuild = pipeline.rebuild().await;
        assert_eq!(rebuild.generation, 1);
        assert_eq!(data_plane.configs.lock().unwrap().len(), 1);
        let batch = batches.borrow().clone();
        assert_eq!(batch.generation, 1);
        assert_eq!(
            ready_of(&batch, "missing"),
            ("False".into(), "BackendNotFound".into())
        );
        let served = pipeline.board.to_json();
        assert_eq!(served["objects"][0]["name"], "missing");
    }

    #[tokio::test]
    async fn changes_trigger_rebuilds() {
        let world = World::new();
        let data_plane = Arc::new(Recorder::default());
        let (pipeline, mut batches) = pipeline(&world, data_plane.clone());
        let task = tokio::spawn(pipeline.run());
        batches.changed().await.unwrap();
        assert!(batches.borrow_and_update().statuses.is_empty());

        world.upsert(1, route("web", "whoami"));
        batches.changed().await.unwrap();
        let batch = batches.borrow_and_update().clone();
        assert_eq!(batch.statuses.len(), 1);
        assert!(batch.generation >= 2);
        task.abort();
    }
}
