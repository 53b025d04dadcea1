//! The latest status of every object, as this replica computed it: logged when it changes
//! and served by the admin API at `/api/status` (in every mode, leader or not).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use mesh_crds::status::{ConditionType, find_condition};
use serde_json::{Value, json};
use tracing::{info, warn};

use super::diff::{CurrentStatus, next_status};
use crate::snapshot::ObjectRef;
use crate::translate::ObjectStatus;

#[derive(Debug, Default)]
struct Board {
    generation: u64,
    /// Typed rather than JSON: a parsed `Value` per object costs several times more.
    statuses: BTreeMap<ObjectRef, CurrentStatus>,
    /// Whether this replica writes statuses to the cluster (`None` in manifests mode).
    leader: Option<bool>,
}

/// Shared handle on the board.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard {
    inner: Arc<RwLock<Board>>,
}

impl StatusBoard {
    pub fn new() -> StatusBoard {
        StatusBoard::default()
    }

    /// Records the statuses of config generation `generation`; logs every object whose
    /// status changed and returns how many did.
    pub fn publish(
        &self,
        generation: u64,
        statuses: &BTreeMap<ObjectRef, ObjectStatus>,
        now: &Time,
    ) -> usize {
        let mut board = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        board.generation = generation;
        board
            .statuses
            .retain(|object, _| statuses.contains_key(object));
        let mut changed = 0;
        let unseen = CurrentStatus::default();
        for (object, desired) in statuses {
            let current = board.statuses.get(object).unwrap_or(&unseen);
            let Some(next) = next_status(desired, object.kind.has_routes(), current, now) else {
                continue;
            };
            changed += 1;
            let next = CurrentStatus::parse(Some(&next));
            log_status(object, &next);
            board.statuses.insert(object.clone(), next);
        }
        changed
    }

    pub fn set_leader(&self, leader: bool) {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .leader = Some(leader);
    }

    /// The `status` of one object, as published.
    pub fn status_of(&self, object: &ObjectRef) -> Option<Value> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .statuses
            .get(object)
            .map(|status| status.to_value(object.kind.has_routes()))
    }

    /// The body of `/api/status`.
    pub fn to_json(&self) -> Value {
        let board = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let objects: Vec<Value> = board
            .statuses
            .iter()
            .map(|(object, status)| {
                json!({
                    "kind": object.kind.as_str(),
                    "namespace": object.namespace,
                    "name": object.name,
                    "status": status.to_value(object.kind.has_routes()),
                })
            })
            .collect();
        let mut body = json!({ "generation": board.generation, "objects": objects });
        if let Some(leader) = board.leader {
            body["leader"] = json!(leader);
        }
        body
    }
}

fn log_status(object: &ObjectRef, status: &CurrentStatus) {
    let Some(ready) = find_condition(&status.conditions, ConditionType::Ready) else {
        return;
    };
    if ready.status == "True" {
        info!(object = %object, ready = %ready.status, reason = %ready.reason, detail = %ready.message, "status");
    } else {
        warn!(object = %object, ready = %ready.status, reason = %ready.reason, detail = %ready.message, "status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectKind;
    use crate::translate::ConditionState;
    use k8s_openapi::jiff::Timestamp;
    use mesh_crds::status::{ConditionStatus, Reason};

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn object(name: &str) -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::Middleware,
            namespace: "default".into(),
            name: name.into(),
        }
    }

    fn ready(ok: bool) -> ObjectStatus {
        let condition = if ok {
            ConditionState::new(
                ConditionType::Ready,
                ConditionStatus::True,
                Reason::Ready,
                "",
            )
        } else {
            ConditionState::new(
                ConditionType::Ready,
                ConditionStatus::False,
                Reason::SecretNotFound,
                "basicAuth: Secret default/users not found",
            )
        };
        ObjectStatus {
            observed_generation: Some(1),
            conditions: vec![condition],
            routes: vec![],
        }
    }

    #[test]
    fn publishes_changes_only_and_serves_them_as_json() {
        let board = StatusBoard::new();
        let statuses = BTreeMap::from([(object("a"), ready(true)), (object("b"), ready(false))]);
        assert_eq!(board.publish(1, &statuses, &at(10)), 2);
        assert_eq!(board.publish(2, &statuses, &at(20)), 0, "nothing changed");

        let body = board.to_json();
        assert_eq!(body["generation"], 2);
        assert_eq!(body["objects"][1]["name"], "b");
        assert_eq!(body["objects"][1]["kind"], "Middleware");
        let condition = &body["objects"][1]["status"]["conditions"][0];
        assert_eq!(condition["reason"], "SecretNotFound");
        assert_eq!(
            condition["message"],
            "basicAuth: Secret default/users not found"
        );
        assert!(body.get("leader").is_none());
    }

    #[test]
    fn deleted_objects_leave_the_board_and_times_are_kept() {
        let board = StatusBoard::new();
        board.publish(
            1,
            &BTreeMap::from([(object("a"), ready(false)), (object("b"), ready(true))]),
            &at(10),
        );
        board.publish(2, &BTreeMap::from([(object("a"), ready(false))]), &at(20));
        assert!(board.status_of(&object("b")).is_none());
        let a = board.status_of(&object("a")).unwrap();
        assert_eq!(a["conditions"][0]["lastTransitionTime"], json!(at(10)));
        board.set_leader(true);
        assert_eq!(board.to_json()["leader"], true);
    }
}
