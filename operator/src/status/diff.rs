//! The `status` to write: desired conditions merged with what the object already shows,
//! so `lastTransitionTime` moves only when a condition's status flips and a write that
//! would change nothing is skipped.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use mesh_crds::status::{
    ConditionType, MeshStatus, RouteObjectStatus, RouteStatus, conditions_equal_ignoring_time,
    find_condition,
};
use serde_json::Value;

use crate::translate::ObjectStatus;

/// The status an object shows today, as far as Mesh reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentStatus {
    pub observed_generation: Option<i64>,
    pub conditions: Vec<Condition>,
    pub routes: Vec<RouteStatus>,
}

impl CurrentStatus {
    /// Reads `status` leniently: a field another writer mangled counts as absent.
    pub fn parse(status: Option<&Value>) -> CurrentStatus {
        let Some(status) = status else {
            return CurrentStatus::default();
        };
        let field = |name: &str| status.get(name).cloned().unwrap_or(Value::Null);
        CurrentStatus {
            observed_generation: status.get("observedGeneration").and_then(Value::as_i64),
            conditions: serde_json::from_value(field("conditions")).unwrap_or_default(),
            routes: serde_json::from_value(field("routes")).unwrap_or_default(),
        }
    }
}

impl CurrentStatus {
    /// The `status` object, shaped as the kind's status (`routes` only for route kinds).
    pub fn to_value(&self, has_routes: bool) -> Value {
        let value = if has_routes {
            serde_json::to_value(RouteObjectStatus {
                observed_generation: self.observed_generation,
                conditions: self.conditions.clone(),
                routes: self.routes.clone(),
            })
        } else {
            serde_json::to_value(MeshStatus {
                observed_generation: self.observed_generation,
                conditions: self.conditions.clone(),
            })
        };
        value.unwrap_or(Value::Null)
    }
}

/// The status to write for `desired`, or `None` when the object already shows it.
pub fn next_status(
    desired: &ObjectStatus,
    has_routes: bool,
    current: &CurrentStatus,
    now: &Time,
) -> Option<Value> {
    let mut conditions = merge_conditions(desired.to_conditions(now), &current.conditions);
    let routes = if has_routes {
        desired.to_route_statuses()
    } else {
        Vec::new()
    };
    // `Programmed` names the config generation that first served the object as it is.
    // Every rebuild makes a new generation; rewriting every object's status for that
    // alone would cost one write per object per change anywhere in the cluster.
    if current.observed_generation == desired.observed_generation
        && current.routes == routes
        && equal_but_programmed_message(&current.conditions, &conditions)
    {
        keep_programmed_message(&mut conditions, &current.conditions);
    }
    let unchanged = current.observed_generation == desired.observed_generation
        && conditions_equal_ignoring_time(&current.conditions, &conditions)
        && current.routes == routes;
    if unchanged {
        return None;
    }
    let value = if has_routes {
        serde_json::to_value(RouteObjectStatus {
            observed_generation: desired.observed_generation,
            conditions,
            routes,
        })
    } else {
        serde_json::to_value(MeshStatus {
            observed_generation: desired.observed_generation,
            conditions,
        })
    };
    value.ok()
}

fn without_programmed_message(conditions: &[Condition]) -> Vec<Condition> {
    conditions
        .iter()
        .cloned()
        .map(|mut condition| {
            if condition.type_ == ConditionType::Programmed.as_str() {
                condition.message.clear();
            }
            condition
        })
        .collect()
}

fn equal_but_programmed_message(a: &[Condition], b: &[Condition]) -> bool {
    conditions_equal_ignoring_time(
        &without_programmed_message(a),
        &without_programmed_message(b),
    )
}

fn keep_programmed_message(conditions: &mut [Condition], current: &[Condition]) {
    let Some(previous) = find_condition(current, ConditionType::Programmed) else {
        return;
    };
    if let Some(programmed) = conditions
        .iter_mut()
        .find(|condition| condition.type_ == previous.type_)
    {
        programmed.message = previous.message.clone();
    }
}

/// Keeps the previous `lastTransitionTime` of every condition whose status did not flip.
fn merge_conditions(mut desired: Vec<Condition>, current: &[Condition]) -> Vec<Condition> {
    for condition in &mut desired {
        let previous = ConditionType::ALL
            .into_iter()
            .find(|type_| type_.as_str() == condition.type_)
            .and_then(|type_| find_condition(current, type_));
        if let Some(previous) = previous
            && previous.status == condition.status
        {
            condition.last_transition_time = previous.last_transition_time.clone();
        }
    }
    desired
}

/// A JSON merge patch that turns `current` into `next` on the `status` subresource:
/// fields `next` no longer has are removed explicitly (a merge patch keeps what it omits).
pub fn merge_patch(current: Option<&Value>, next: Value) -> Value {
    let mut status = next;
    if let (Some(Value::Object(current)), Value::Object(next)) = (current, &mut status) {
        for key in current.keys() {
            if !next.contains_key(key) {
                next.insert(key.clone(), Value::Null);
            }
        }
    }
    serde_json::json!({ "status": status })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::{ConditionState, RouteVerdict};
    use k8s_openapi::jiff::Timestamp;
    use mesh_crds::status::{ConditionStatus, Reason};
    use serde_json::json;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn desired(ready: bool, generation: i64) -> ObjectStatus {
        let (status, reason, message) = if ready {
            (ConditionStatus::True, Reason::Ready, "")
        } else {
            (
                ConditionStatus::False,
                Reason::BackendNotFound,
                "routes[0].services[0]: Service default/api not found",
            )
        };
        ObjectStatus {
            observed_generation: Some(generation),
            conditions: vec![
                ConditionState::new(ConditionType::Ready, status, reason, message),
                ConditionState::new(
                    ConditionType::Accepted,
                    ConditionStatus::True,
                    Reason::Accepted,
                    "",
                ),
            ],
            routes: vec![RouteVerdict {
                index: 0,
                router: "default-web-1".into(),
                ready,
                reason: (!ready).then_some(Reason::BackendNotFound),
                message: (!ready).then(|| message.to_string()),
            }],
        }
    }

    fn written(desired: &ObjectStatus, current: &CurrentStatus, now: i64) -> Option<CurrentStatus> {
        next_status(desired, true, current, &at(now)).map(|v| CurrentStatus::parse(Some(&v)))
    }

    #[test]
    fn a_fresh_object_gets_its_full_status() {
        let status = written(&desired(true, 1), &CurrentStatus::default(), 100).unwrap();
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(status.conditions.len(), 2);
        assert_eq!(status.conditions[0].type_, "Ready");
        assert_eq!(status.conditions[0].last_transition_time, at(100));
        assert_eq!(status.routes[0].router, "default-web-1");
    }

    #[test]
    fn an_unchanged_status_is_not_written_again() {
        let first = written(&desired(true, 1), &CurrentStatus::default(), 100).unwrap();
        assert_eq!(written(&desired(true, 1), &first, 200), None);
    }

    #[test]
    fn transition_time_moves_only_for_conditions_that_flip() {
        let first = written(&desired(true, 1), &CurrentStatus::default(), 100).unwrap();
        let second = written(&desired(false, 2), &first, 200).unwrap();
        assert_eq!(second.conditions[0].status, "False");
        assert_eq!(
            second.conditions[0].last_transition_time,
            at(200),
            "Ready flipped"
        );
        assert_eq!(
            second.conditions[1].last_transition_time,
            at(100),
            "Accepted did not"
        );
        assert_eq!(second.observed_generation, Some(2));
        assert!(!second.routes[0].ready);
    }

    fn programmed(status: &mut ObjectStatus, generation: u64) {
        status
            .conditions
            .retain(|c| c.type_ != ConditionType::Programmed);
        status.conditions.push(ConditionState::new(
            ConditionType::Programmed,
            ConditionStatus::True,
            Reason::Programmed,
            format!("config generation {generation}"),
        ));
    }

    #[test]
    fn a_new_config_generation_alone_rewrites_nothing() {
        let mut status = desired(true, 1);
        programmed(&mut status, 7);
        let first = written(&status, &CurrentStatus::default(), 100).unwrap();
        programmed(&mut status, 8);
        assert_eq!(
            written(&status, &first, 200),
            None,
            "only the proxy generation moved"
        );

        // A real change takes the new generation along.
        let mut broken = desired(false, 1);
        programmed(&mut broken, 9);
        let second = written(&broken, &first, 300).unwrap();
        let message = &find_condition(&second.conditions, ConditionType::Programmed)
            .unwrap()
            .message;
        assert_eq!(message, "config generation 9");
    }

    #[test]
    fn a_new_generation_alone_is_written() {
        let first = written(&desired(true, 1), &CurrentStatus::default(), 100).unwrap();
        let second = written(&desired(true, 2), &first, 200).unwrap();
        assert_eq!(second.observed_generation, Some(2));
        assert_eq!(second.conditions[0].last_transition_time, at(100));
    }

    #[test]
    fn kinds_without_routes_write_no_routes() {
        let value =
            next_status(&desired(true, 1), false, &CurrentStatus::default(), &at(1)).unwrap();
        assert!(value.get("routes").is_none());
        assert!(value.get("conditions").is_some());
    }

    #[test]
    fn mangled_current_status_is_overwritten_not_fatal() {
        let current = CurrentStatus::parse(Some(&json!({"conditions": "garbage", "routes": 3})));
        assert_eq!(current, CurrentStatus::default());
        assert!(written(&desired(true, 1), &current, 1).is_some());
    }

    #[test]
    fn merge_patch_removes_fields_the_new_status_drops() {
        let patch = merge_patch(
            Some(&json!({"routes": [], "conditions": [], "legacy": 1})),
            json!({"conditions": [{"type": "Ready"}]}),
        );
        assert_eq!(
            patch,
            json!({"status": {"conditions": [{"type": "Ready"}], "routes": null, "legacy": null}})
        );
        assert_eq!(
            merge_patch(None, json!({"a": 1})),
            json!({"status": {"a": 1}})
        );
    }
}
