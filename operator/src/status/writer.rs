//! Writes statuses to the cluster: only while this replica holds the Lease, only what
//! changed, rate-limited, with a Warning Event when an object turns not-Ready.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use mesh_crds::Kind;
use mesh_crds::status::{ConditionType, find_condition};
use serde_json::Value;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::diff::{CurrentStatus, merge_patch, next_status};
use super::limiter::RateLimiter;
use crate::snapshot::ObjectRef;
use crate::translate::ObjectStatus;
use crate::world::{Observed, RawKey, World};

/// The statuses of one applied configuration.
#[derive(Debug, Clone, Default)]
pub struct StatusBatch {
    pub generation: u64,
    pub statuses: Arc<BTreeMap<ObjectRef, ObjectStatus>>,
}

/// Field manager of status writes (server-side bookkeeping of who owns `status`).
pub const FIELD_MANAGER: &str = "mesh-status";
/// How long to wait before retrying writes that failed.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Writes in flight at once.
const CONCURRENCY: usize = 16;

pub struct StatusWriter {
    client: Client,
    world: World,
    recorder: Recorder,
    limiter: RateLimiter,
}

/// What happened to one object's status.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Unchanged,
    Written,
    /// Gone from the cluster or not a kind with a writable status.
    Skipped,
    Failed,
}

impl StatusWriter {
    pub fn new(client: Client, world: World, identity: &str) -> StatusWriter {
        let reporter = Reporter {
            controller: "mesh".into(),
            instance: Some(identity.to_owned()),
        };
        StatusWriter {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            world,
            limiter: RateLimiter::new(100, 500),
        }
    }

    /// Writes every new batch while `leader` is true; a batch is re-read whole when
    /// leadership is gained (the previous holder may have left statuses stale).
    pub async fn run(
        self,
        mut batches: watch::Receiver<StatusBatch>,
        mut leader: watch::Receiver<bool>,
    ) {
        let mut retry = false;
        loop {
            let leading = *leader.borrow_and_update();
            if leading {
                let batch = batches.borrow_and_update().clone();
                retry = !self.write_batch(&batch, &leader).await;
            }
            tokio::select! {
                changed = batches.changed() => if changed.is_err() { return },
                changed = leader.changed() => {
                    if changed.is_err() { return }
                    if *leader.borrow() {
                        info!("status writer: leading, resyncing every status");
                    } else {
                        info!("status writer: lease lost, not writing");
                    }
                }
                _ = tokio::time::sleep(RETRY_AFTER), if retry && leading => {}
            }
        }
    }

    /// Writes what changed; returns false when some writes failed (and should be retried).
    async fn write_batch(&self, batch: &StatusBatch, leader: &watch::Receiver<bool>) -> bool {
        let now = Time(Timestamp::now());
        // Owned names and statuses: borrowing them across `buffer_unordered` trips the
        // compiler's higher-ranked Send check for spawned futures. Each status is cloned
        // only when its write starts, so a batch of many objects is not copied whole.
        let statuses = Arc::clone(&batch.statuses);
        let objects: Vec<ObjectRef> = statuses.keys().cloned().collect();
        let writes = objects.into_iter().filter_map(|object| {
            let desired = statuses.get(&object)?.clone();
            Some(self.write_one(object, desired, &now, leader))
        });
        let outcomes: Vec<Outcome> = futures::stream::iter(writes)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let written = outcomes.iter().filter(|o| **o == Outcome::Written).count();
        let failed = outcomes.iter().filter(|o| **o == Outcome::Failed).count();
        if written > 0 || failed > 0 {
            debug!(
                generation = batch.generation,
                written, failed, "statuses written"
            );
        }
        failed == 0
    }

    async fn write_one(
        &self,
        object: ObjectRef,
        desired: ObjectStatus,
        now: &Time,
        leader: &watch::Receiver<bool>,
    ) -> Outcome {
        let object = &object;
        // Ingress has no conditions in its status: its verdict is served, not written.
        let Some(kind) = Kind::from_kind(object.kind.as_str()) else {
            return Outcome::Skipped;
        };
        let key = RawKey {
            kind: object.kind.as_str().to_owned(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        };
        let Some(observed) = self.world.observed(&key) else {
            return Outcome::Skipped;
        };
        let observed_status = observed.status();
        let current = CurrentStatus::parse(observed_status.as_ref());
        let Some(next) = next_status(&desired, kind.has_route_status(), &current, now) else {
            return Outcome::Unchanged;
        };
        self.limiter.acquire().await;
        // Leadership may have moved while we waited for a token.
        if !*leader.borrow() {
            return Outcome::Skipped;
        }
        let group = observed.api_version.split('/').next().unwrap_or_default();
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &object.namespace,
            &kind.api_resource(group),
        );
        let patch = merge_patch(observed_status.as_ref(), next.clone());
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match api
            .patch_status(&object.name, &params, &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                self.world.record_status(&key, next.clone());
                self.announce_transition(object, &observed, &current, &next)
                    .await;
                Outcome::Written
            }
            Err(kube::Error::Api(status)) if status.is_not_found() => Outcome::Skipped,
            Err(error) => {
                warn!(object = %object, %error, "status write failed; will retry");
                Outcome::Failed
            }
        }
    }

    /// A Warning Event when Ready turns False, or stays False for a new reason: the
    /// moments a user wants to see in `kubectl describe` / `kubectl get events`.
    async fn announce_transition(
        &self,
        object: &ObjectRef,
        observed: &Observed,
        current: &CurrentStatus,
        next: &Value,
    ) {
        let next = CurrentStatus::parse(Some(next));
        let Some(event) = transition_event(current, &next) else {
            return;
        };
        let reference = ObjectReference {
            api_version: Some(observed.api_version.clone()),
            kind: Some(object.kind.as_str().to_owned()),
            name: Some(object.name.clone()),
            namespace: Some(object.namespace.clone()),
            uid: observed.uid.clone(),
            ..ObjectReference::default()
        };
        if let Err(error) = self.recorder.publish(&event, &reference).await {
            warn!(object = %object, %error, "event not recorded");
        }
    }
}

/// The Event for a change from `before` to `after`, if it deserves one.
fn transition_event(before: &CurrentStatus, after: &CurrentStatus) -> Option<Event> {
    let after = find_condition(&after.conditions, ConditionType::Ready)?;
    if after.status != "False" {
        return None;
    }
    let before = find_condition(&before.conditions, ConditionType::Ready);
    let same = before.is_some_and(|b| b.status == "False" && b.reason == after.reason);
    if same {
        return None;
    }
    let mut note = after.message.clone();
    // The Events API caps the note at 1 kB.
    if note.len() > 1000 {
        let mut cut = 1000;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
    }
    Some(Event {
        type_: EventType::Warning,
        reason: after.reason.clone(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(ready: &str, reason: &str) -> CurrentStatus {
        CurrentStatus::parse(Some(&json!({
            "conditions": [{
                "type": "Ready", "status": ready, "reason": reason, "message": "m",
                "lastTransitionTime": "2026-01-01T00:00:00Z"
            }]
        })))
    }

    #[test]
    fn events_only_for_transitions_to_false() {
        let none = CurrentStatus::default();
        let event = transition_event(&none, &status("False", "BackendNotFound")).unwrap();
        assert_eq!(event.reason, "BackendNotFound");
        assert_eq!(event.type_, EventType::Warning);
        assert_eq!(event.note.as_deref(), Some("m"));
        assert!(
            transition_event(
                &status("True", "Ready"),
                &status("False", "BackendNotFound")
            )
            .is_some()
        );
        assert!(
            transition_event(
                &status("False", "BackendNotFound"),
                &status("False", "SecretNotFound")
            )
            .is_some(),
            "a new reason is a new problem"
        );
        assert!(
            transition_event(
                &status("False", "BackendNotFound"),
                &status("False", "BackendNotFound")
            )
            .is_none()
        );
        assert!(
            transition_event(
                &status("False", "BackendNotFound"),
                &status("True", "Ready")
            )
            .is_none()
        );
        assert!(transition_event(&none, &none).is_none());
    }
}
