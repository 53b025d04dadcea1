//! Findings collected during a translation, and the status each object ends up with.
//!
//! Translators record what they find (a spec problem, a missing reference, a fallback) on the
//! objects involved; [`StatusBook::finish`] turns the findings into DESIGN.md's conditions.
//! Nothing here knows the time: the runtime stamps `lastTransitionTime` when it writes.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use mesh_crds::status::{
    ConditionStatus, ConditionType, MAX_ROUTE_STATUSES, Reason, RouteStatus, aggregate_reasons,
    new_condition,
};

use crate::snapshot::{Entry, Object, ObjectRef};

/// A condition without its timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionState {
    pub type_: ConditionType,
    pub status: ConditionStatus,
    pub reason: Reason,
    pub message: String,
}

impl ConditionState {
    pub fn new(
        type_: ConditionType,
        status: ConditionStatus,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        ConditionState {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

/// The verdict on one `spec.routes[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteVerdict {
    pub index: usize,
    /// The router built (or that would have been built) from the route.
    pub router: String,
    pub ready: bool,
    pub reason: Option<Reason>,
    pub message: Option<String>,
}

/// The status the translation computed for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStatus {
    pub observed_generation: Option<i64>,
    /// Ready, Accepted, ResolvedRefs, Programmed and (only while True) Degraded.
    pub conditions: Vec<ConditionState>,
    /// One verdict per route, for the route kinds.
    pub routes: Vec<RouteVerdict>,
}

impl ObjectStatus {
    pub fn condition(&self, type_: ConditionType) -> Option<&ConditionState> {
        self.conditions
            .iter()
            .find(|condition| condition.type_ == type_)
    }

    /// Replaces `Programmed` (the runtime knows whether the proxy runs the config) and
    /// recomputes `Ready` from it.
    pub fn set_programmed(
        &mut self,
        status: ConditionStatus,
        reason: Reason,
        message: impl Into<String>,
    ) {
        let programmed = ConditionState::new(ConditionType::Programmed, status, reason, message);
        match self
            .conditions
            .iter_mut()
            .find(|c| c.type_ == ConditionType::Programmed)
        {
            Some(existing) => *existing = programmed,
            None => self.conditions.push(programmed),
        }
        let ready = summarize_ready(&self.conditions);
        self.conditions.retain(|c| c.type_ != ConditionType::Ready);
        self.conditions.insert(0, ready);
    }

    /// The conditions as `metav1.Condition`s stamped with `now` (the status writer keeps
    /// the previous time when a condition's status did not flip).
    pub fn to_conditions(&self, now: &Time) -> Vec<Condition> {
        self.conditions
            .iter()
            .map(|c| {
                new_condition(
                    c.type_,
                    c.status,
                    c.reason,
                    c.message.clone(),
                    self.observed_generation,
                    now.clone(),
                )
            })
            .collect()
    }

    /// `status.routes`, bounded to [`MAX_ROUTE_STATUSES`] entries.
    pub fn to_route_statuses(&self) -> Vec<RouteStatus> {
        self.routes
            .iter()
            .take(MAX_ROUTE_STATUSES as usize)
            .map(|route| RouteStatus {
                index: u32::try_from(route.index).unwrap_or(u32::MAX),
                router: route.router.clone(),
                ready: route.ready,
                reason: route.reason.map(|reason| reason.as_str().to_string()),
                message: route.message.clone(),
            })
            .collect()
    }
}

/// One problem and its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub reason: Reason,
    pub message: String,
    /// The route it concerns; `None` for the object as a whole.
    pub route: Option<usize>,
}

#[derive(Debug, Default)]
struct Record {
    generation: Option<i64>,
    has_routes: bool,
    spec: Vec<Finding>,
    refs: Vec<Finding>,
    degraded: Vec<Finding>,
    routes: BTreeMap<usize, RouteVerdict>,
}

/// Findings per object, collected while translating.
#[derive(Debug, Default)]
pub(crate) struct StatusBook {
    records: BTreeMap<ObjectRef, Record>,
}

/// True for the reasons that say the spec itself is wrong (Accepted=False), as opposed to a
/// reference that cannot be resolved (ResolvedRefs=False).
fn is_spec_reason(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::InvalidSpec
            | Reason::InvalidRule
            | Reason::InvalidKind
            | Reason::UnsupportedValue
            | Reason::NoValidEntryPoint
            | Reason::Conflicted
            | Reason::RecursionDetected
    )
}

impl StatusBook {
    /// Registers an object this controller owns; only registered objects get a status.
    pub fn track(&mut self, object: &ObjectRef, generation: Option<i64>, has_routes: bool) {
        let record = self.records.entry(object.clone()).or_default();
        record.generation = generation;
        record.has_routes = has_routes;
    }

    /// Registers a stored object and hands back its decoded form; one whose spec did not
    /// decode is reported `InvalidSpec` instead, and `None` comes back.
    pub fn track_entry<'e, S>(
        &mut self,
        object: &ObjectRef,
        entry: &'e Entry<S>,
    ) -> Option<&'e Object<S>> {
        let has_routes = object.kind.has_routes();
        match entry {
            Entry::Invalid {
                generation, error, ..
            } => {
                self.track(object, *generation, has_routes);
                self.object_problem(
                    object,
                    Reason::InvalidSpec,
                    format!("spec does not decode: {error}"),
                );
                None
            }
            Entry::Valid(valid) => {
                self.track(object, valid.meta.generation, has_routes);
                Some(valid)
            }
        }
    }

    /// A problem with the object as a whole (the object is not, or only partly, used).
    pub fn object_problem(
        &mut self,
        object: &ObjectRef,
        reason: Reason,
        message: impl Into<String>,
    ) {
        let Some(record) = self.records.get_mut(object) else {
            return;
        };
        let finding = Finding {
            reason,
            message: message.into(),
            route: None,
        };
        let list = if is_spec_reason(reason) {
            &mut record.spec
        } else {
            &mut record.refs
        };
        if !list.contains(&finding) {
            list.push(finding);
        }
    }

    /// Something was dropped or fell back but the object still serves (Degraded=True).
    pub fn degraded(&mut self, object: &ObjectRef, reason: Reason, message: impl Into<String>) {
        let Some(record) = self.records.get_mut(object) else {
            return;
        };
        let finding = Finding {
            reason,
            message: message.into(),
            route: None,
        };
        if !record.degraded.contains(&finding) {
            record.degraded.push(finding);
        }
    }

    /// `routes[index]` produced router `router`.
    pub fn route_built(&mut self, object: &ObjectRef, index: usize, router: &str) {
        let Some(record) = self.records.get_mut(object) else {
            return;
        };
        record.routes.entry(index).or_insert_with(|| RouteVerdict {
            index,
            router: router.to_string(),
            ready: true,
            reason: None,
            message: None,
        });
    }

    /// `routes[index]` was dropped (or is unusable); `message` names the route and the cause.
    pub fn route_failed(
        &mut self,
        object: &ObjectRef,
        index: usize,
        router: &str,
        reason: Reason,
        message: String,
    ) {
        let Some(record) = self.records.get_mut(object) else {
            return;
        };
        let finding = Finding {
            reason,
            message: message.clone(),
            route: Some(index),
        };
        let list = if is_spec_reason(reason) {
            &mut record.spec
        } else {
            &mut record.refs
        };
        if !list.contains(&finding) {
            list.push(finding);
        }
        let verdict = record.routes.entry(index).or_insert_with(|| RouteVerdict {
            index,
            router: router.to_string(),
            ready: false,
            reason: None,
            message: None,
        });
        verdict.ready = false;
        // The first cause is the one the route reports; the conditions list them all.
        if verdict.reason.is_none() {
            verdict.reason = Some(reason);
            verdict.message = Some(message);
        }
    }

    pub fn finish(self) -> BTreeMap<ObjectRef, ObjectStatus> {
        self.records
            .into_iter()
            .map(|(object, record)| (object, record.into_status()))
            .collect()
    }
}

impl Record {
    fn into_status(self) -> ObjectStatus {
        let routes: Vec<RouteVerdict> = self.routes.into_values().collect();
        let built = routes.iter().filter(|route| route.ready).count();
        let dropped = routes.len() - built;
        let mut conditions = Vec::with_capacity(5);

        let object_spec_problem = self.spec.iter().any(|finding| finding.route.is_none());
        let accepted = if self.has_routes
            && routes.is_empty()
            && self.spec.is_empty()
            && self.refs.is_empty()
        {
            ConditionState::new(
                ConditionType::Accepted,
                ConditionStatus::False,
                Reason::InvalidSpec,
                "spec.routes is empty",
            )
        } else if object_spec_problem || (self.has_routes && built == 0 && !self.spec.is_empty()) {
            failed(ConditionType::Accepted, &self.spec)
        } else {
            ConditionState::new(
                ConditionType::Accepted,
                ConditionStatus::True,
                Reason::Accepted,
                "",
            )
        };
        conditions.push(accepted);

        conditions.push(if self.refs.is_empty() {
            ConditionState::new(
                ConditionType::ResolvedRefs,
                ConditionStatus::True,
                Reason::ResolvedRefs,
                "",
            )
        } else {
            failed(ConditionType::ResolvedRefs, &self.refs)
        });

        conditions.push(ConditionState::new(
            ConditionType::Programmed,
            ConditionStatus::Unknown,
            Reason::Pending,
            "waiting for the proxy to load the configuration",
        ));

        let mut degraded = self.degraded;
        if dropped > 0 && built > 0 {
            degraded.insert(
                0,
                Finding {
                    reason: Reason::RoutesDropped,
                    message: dropped_summary(&routes, dropped),
                    route: None,
                },
            );
        }
        if !degraded.is_empty() {
            let mut condition = failed(ConditionType::Degraded, &degraded);
            condition.status = ConditionStatus::True;
            conditions.push(condition);
        }

        conditions.insert(0, summarize_ready(&conditions));
        ObjectStatus {
            observed_generation: self.generation,
            conditions,
            routes,
        }
    }
}

/// How many routes were dropped, and why for the first few (the rest are in `routes[]`).
fn dropped_summary(routes: &[RouteVerdict], dropped: usize) -> String {
    const SHOWN: usize = 3;
    let causes: Vec<&str> = routes
        .iter()
        .filter(|route| !route.ready)
        .filter_map(|route| route.message.as_deref())
        .take(SHOWN)
        .collect();
    let more = if dropped > SHOWN {
        format!("; {} more in status.routes", dropped - SHOWN)
    } else {
        String::new()
    };
    format!(
        "{dropped} of {} routes dropped: {}{more}",
        routes.len(),
        causes.join("; ")
    )
}

fn failed(type_: ConditionType, findings: &[Finding]) -> ConditionState {
    let reason =
        aggregate_reasons(findings.iter().map(|f| f.reason)).unwrap_or(Reason::MultipleReasons);
    let message = findings
        .iter()
        .map(|f| f.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    ConditionState::new(type_, ConditionStatus::False, reason, message)
}

/// DESIGN.md's Ready: False with the most severe failure, Unknown while anything is not known,
/// else True (reason `Ready`, or the Degraded reason while Degraded is True).
fn summarize_ready(conditions: &[ConditionState]) -> ConditionState {
    const INPUTS: [ConditionType; 3] = [
        ConditionType::Accepted,
        ConditionType::ResolvedRefs,
        ConditionType::Programmed,
    ];
    let find = |type_| {
        conditions
            .iter()
            .find(|c: &&ConditionState| c.type_ == type_)
    };
    let failures: Vec<&ConditionState> = INPUTS
        .iter()
        .filter_map(|t| find(*t))
        .filter(|c| c.status == ConditionStatus::False)
        .collect();
    if let Some(first) = failures.first() {
        let message = failures
            .iter()
            .map(|c| c.message.as_str())
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>();
        return ConditionState::new(
            ConditionType::Ready,
            ConditionStatus::False,
            first.reason,
            message.join("; "),
        );
    }
    if let Some(unknown) = INPUTS
        .iter()
        .find(|t| find(**t).is_none_or(|c| c.status == ConditionStatus::Unknown))
    {
        return ConditionState::new(
            ConditionType::Ready,
            ConditionStatus::Unknown,
            Reason::Pending,
            format!("{unknown} is not known yet"),
        );
    }
    match find(ConditionType::Degraded) {
        Some(degraded) if degraded.status == ConditionStatus::True => ConditionState::new(
            ConditionType::Ready,
            ConditionStatus::True,
            degraded.reason,
            degraded.message.clone(),
        ),
        _ => ConditionState::new(
            ConditionType::Ready,
            ConditionStatus::True,
            Reason::Ready,
            "",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectKind;

    fn ir() -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::IngressRoute,
            namespace: "default".into(),
            name: "web".into(),
        }
    }

    fn condition(status: &ObjectStatus, type_: ConditionType) -> (ConditionStatus, Reason, String) {
        let c = status.condition(type_).expect("condition present");
        (c.status, c.reason, c.message.clone())
    }

    #[test]
    fn healthy_object_waits_for_the_proxy() {
        let mut book = StatusBook::default();
        book.track(&ir(), Some(2), true);
        book.route_built(&ir(), 0, "default-web-abc");
        let mut status = book.finish().remove(&ir()).expect("tracked");
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(
            condition(&status, ConditionType::Ready).0,
            ConditionStatus::Unknown
        );
        assert!(status.condition(ConditionType::Degraded).is_none());
        status.set_programmed(
            ConditionStatus::True,
            Reason::Programmed,
            "config generation 7",
        );
        assert_eq!(
            condition(&status, ConditionType::Ready),
            (ConditionStatus::True, Reason::Ready, String::new())
        );
    }

    #[test]
    fn one_dropped_route_of_two_degrades_and_fails_resolved_refs() {
        let mut book = StatusBook::default();
        book.track(&ir(), None, true);
        book.route_built(&ir(), 0, "r0");
        let message = "routes[1].services[0]: Service default/api not found".to_string();
        book.route_failed(&ir(), 1, "r1", Reason::BackendNotFound, message.clone());
        let status = book.finish().remove(&ir()).expect("tracked");
        assert_eq!(
            condition(&status, ConditionType::Accepted).0,
            ConditionStatus::True
        );
        assert_eq!(
            condition(&status, ConditionType::ResolvedRefs),
            (
                ConditionStatus::False,
                Reason::BackendNotFound,
                message.clone()
            )
        );
        assert_eq!(
            condition(&status, ConditionType::Degraded).1,
            Reason::RoutesDropped
        );
        assert_eq!(
            condition(&status, ConditionType::Ready).1,
            Reason::BackendNotFound
        );
        assert_eq!(status.routes[1].message.as_deref(), Some(message.as_str()));
        assert!(!status.routes[1].ready && status.routes[0].ready);
    }

    #[test]
    fn invalid_only_route_rejects_the_object() {
        let mut book = StatusBook::default();
        book.track(&ir(), None, true);
        book.route_failed(
            &ir(),
            0,
            "",
            Reason::InvalidRule,
            "routes[0]: match is empty".into(),
        );
        let status = book.finish().remove(&ir()).expect("tracked");
        assert_eq!(
            condition(&status, ConditionType::Accepted).1,
            Reason::InvalidRule
        );
        assert_eq!(
            condition(&status, ConditionType::Ready).0,
            ConditionStatus::False
        );
    }

    #[test]
    fn different_reasons_aggregate_to_multiple_reasons() {
        let mut book = StatusBook::default();
        book.track(&ir(), None, true);
        book.route_failed(
            &ir(),
            0,
            "a",
            Reason::BackendNotFound,
            "routes[0]: x".into(),
        );
        book.route_failed(
            &ir(),
            1,
            "b",
            Reason::MiddlewareNotFound,
            "routes[1]: y".into(),
        );
        let status = book.finish().remove(&ir()).expect("tracked");
        assert_eq!(
            condition(&status, ConditionType::ResolvedRefs),
            (
                ConditionStatus::False,
                Reason::MultipleReasons,
                "routes[0]: x; routes[1]: y".into()
            )
        );
    }

    #[test]
    fn untracked_objects_get_no_status() {
        let mut book = StatusBook::default();
        book.object_problem(&ir(), Reason::InvalidSpec, "x");
        assert!(book.finish().is_empty());
    }
}
