//! The status every Mesh object carries: `observedGeneration`, standard `metav1.Condition`s
//! and, for IngressRoute*, one verdict per route.
//!
//! Condition semantics follow the Kubernetes API conventions: `lastTransitionTime` moves only
//! when `status` flips, `Ready` summarises the other conditions, and `Degraded` is present
//! only while it is True.

use std::fmt;

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Upper bound of `status.routes`: status must stay small whatever the spec size.
pub const MAX_ROUTE_STATUSES: u32 = 64;

/// Status of Middleware, MiddlewareTCP, TraefikService, TLSOption, TLSStore and
/// ServersTransport(TCP).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeshStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Vec<Condition>,
}

/// Status of IngressRoute, IngressRouteTCP and IngressRouteUDP.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteObjectStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Vec<Condition>,
    /// One entry per `spec.routes[i]`, at most 64 (`MAX_ROUTE_STATUSES`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::routes")]
    pub routes: Vec<RouteStatus>,
}

/// The verdict on one `spec.routes[index]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    /// Position of the route in `spec.routes`.
    pub index: u32,
    /// Name of the router built from it (as shown by the admin API).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub router: String,
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The condition types Mesh writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// Summary of the others; what `kubectl wait --for=condition=Ready` reads.
    Ready,
    /// The spec is valid and at least one route was built.
    Accepted,
    /// Every reference exists and is permitted.
    ResolvedRefs,
    /// The proxy serves it.
    Programmed,
    /// Something was dropped or fell back; present only while True.
    Degraded,
}

impl ConditionType {
    pub const ALL: [ConditionType; 5] = [
        ConditionType::Ready,
        ConditionType::Accepted,
        ConditionType::ResolvedRefs,
        ConditionType::Programmed,
        ConditionType::Degraded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::Accepted => "Accepted",
            ConditionType::ResolvedRefs => "ResolvedRefs",
            ConditionType::Programmed => "Programmed",
            ConditionType::Degraded => "Degraded",
        }
    }
}

impl fmt::Display for ConditionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `True`, `False` or `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }

    /// Reads a condition's `status`; anything unexpected counts as Unknown.
    pub fn parse(value: &str) -> ConditionStatus {
        match value {
            "True" => ConditionStatus::True,
            "False" => ConditionStatus::False,
            _ => ConditionStatus::Unknown,
        }
    }
}

impl From<bool> for ConditionStatus {
    fn from(value: bool) -> Self {
        if value {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident),+ $(,)?) => {
        /// The reasons Mesh puts in conditions (CamelCase, a stable API).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $variant,)+
        }

        impl Reason {
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => stringify!($variant),)+
                }
            }

            /// The reason named `value`, if Mesh defines it.
            pub fn parse(value: &str) -> Option<Reason> {
                match value {
                    $(stringify!($variant) => Some(Reason::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

reasons! {
    // True reasons.
    Ready,
    Accepted,
    ResolvedRefs,
    Programmed,
    /// Not processed yet (status Unknown).
    Pending,
    /// Several different problems; the message lists them.
    MultipleReasons,
    // Accepted=False.
    InvalidSpec,
    InvalidRule,
    InvalidKind,
    UnsupportedValue,
    NoValidEntryPoint,
    Conflicted,
    RecursionDetected,
    // ResolvedRefs=False.
    BackendNotFound,
    PortNotFound,
    PortNotDefined,
    ExternalNameNotAllowed,
    RefNotPermitted,
    MiddlewareNotFound,
    RefInvalid,
    SecretNotFound,
    InvalidSecret,
    InvalidCertificateRef,
    TLSOptionNotFound,
    ServersTransportNotFound,
    ParentNotFound,
    // Degraded=True.
    RoutesDropped,
    ExternalNamePortMismatch,
    NoEndpoints,
    TLSOptionsConflict,
    UnknownEntryPoint,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one reason for a set of problems: itself when they all agree, else `MultipleReasons`.
/// `None` when there is no problem.
pub fn aggregate_reasons<I: IntoIterator<Item = Reason>>(reasons: I) -> Option<Reason> {
    let mut reasons = reasons.into_iter();
    let first = reasons.next()?;
    if reasons.all(|other| other == first) {
        Some(first)
    } else {
        Some(Reason::MultipleReasons)
    }
}

/// Builds a condition; `lastTransitionTime` is `now` (see [`set_condition`] to keep it).
pub fn new_condition(
    type_: ConditionType,
    status: ConditionStatus,
    reason: Reason,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        type_: type_.as_str().to_string(),
        status: status.as_str().to_string(),
        reason: reason.as_str().to_string(),
        message: message.into(),
        observed_generation,
        last_transition_time: now,
    }
}

/// Inserts or replaces the condition of `new.type_`. `lastTransitionTime` becomes `now` when
/// the condition is new or its `status` flips, and is kept otherwise (a new reason or message
/// is not a transition). Returns true when anything other than the time changed.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition, now: Time) -> bool {
    match conditions
        .iter_mut()
        .find(|existing| existing.type_ == new.type_)
    {
        Some(existing) => {
            new.last_transition_time = if existing.status == new.status {
                existing.last_transition_time.clone()
            } else {
                now
            };
            let changed = !condition_equal_ignoring_time(existing, &new);
            *existing = new;
            changed
        }
        None => {
            new.last_transition_time = now;
            conditions.push(new);
            true
        }
    }
}

/// Removes the condition of `type_`; returns true when one was there.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: ConditionType) -> bool {
    let before = conditions.len();
    conditions.retain(|condition| condition.type_ != type_.as_str());
    conditions.len() != before
}

/// The condition of `type_`, if present.
pub fn find_condition(conditions: &[Condition], type_: ConditionType) -> Option<&Condition> {
    conditions
        .iter()
        .find(|condition| condition.type_ == type_.as_str())
}

fn condition_equal_ignoring_time(a: &Condition, b: &Condition) -> bool {
    a.type_ == b.type_
        && a.status == b.status
        && a.reason == b.reason
        && a.message == b.message
        && a.observed_generation == b.observed_generation
}

/// True when both lists hold the same conditions (by type, in any order), ignoring
/// `lastTransitionTime`: the status writer skips a patch that would change nothing else.
pub fn conditions_equal_ignoring_time(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter().all(|left| {
            b.iter()
                .find(|right| right.type_ == left.type_)
                .is_some_and(|right| condition_equal_ignoring_time(left, right))
        })
}

/// The `Ready` condition summarising Accepted, ResolvedRefs and Programmed:
/// - any of them False: Ready=False with the reason of the most severe one
///   (Accepted, then ResolvedRefs, then Programmed) and every False message;
/// - else any missing or Unknown: Ready=Unknown, reason Pending;
/// - else Ready=True, reason `Ready`, or the `Degraded` reason while Degraded is True
///   (the object serves traffic, but not all of it as written).
pub fn summarize_ready(
    conditions: &[Condition],
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    const INPUTS: [ConditionType; 3] = [
        ConditionType::Accepted,
        ConditionType::ResolvedRefs,
        ConditionType::Programmed,
    ];
    let status_of = |type_| {
        find_condition(conditions, type_).map_or(ConditionStatus::Unknown, |c| {
            ConditionStatus::parse(&c.status)
        })
    };

    let failed: Vec<&Condition> = INPUTS
        .iter()
        .filter_map(|type_| find_condition(conditions, *type_))
        .filter(|condition| ConditionStatus::parse(&condition.status) == ConditionStatus::False)
        .collect();
    if let Some(most_severe) = failed.first() {
        let reason = Reason::parse(&most_severe.reason).unwrap_or(Reason::MultipleReasons);
        let message = failed
            .iter()
            .map(|condition| condition.message.as_str())
            .filter(|message| !message.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return new_condition(
            ConditionType::Ready,
            ConditionStatus::False,
            reason,
            message,
            observed_generation,
            now,
        );
    }

    if let Some(pending) = INPUTS
        .iter()
        .find(|type_| status_of(**type_) == ConditionStatus::Unknown)
    {
        let message = format!("{pending} is not known yet");
        return new_condition(
            ConditionType::Ready,
            ConditionStatus::Unknown,
            Reason::Pending,
            message,
            observed_generation,
            now,
        );
    }

    match find_condition(conditions, ConditionType::Degraded)
        .filter(|degraded| ConditionStatus::parse(&degraded.status) == ConditionStatus::True)
    {
        Some(degraded) => new_condition(
            ConditionType::Ready,
            ConditionStatus::True,
            Reason::parse(&degraded.reason).unwrap_or(Reason::MultipleReasons),
            degraded.message.clone(),
            observed_generation,
            now,
        ),
        None => new_condition(
            ConditionType::Ready,
            ConditionStatus::True,
            Reason::Ready,
            "",
            observed_generation,
            now,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("valid test timestamp"))
    }

    fn condition(
        type_: ConditionType,
        status: ConditionStatus,
        reason: Reason,
        message: &str,
    ) -> Condition {
        new_condition(type_, status, reason, message, Some(3), at(0))
    }

    #[test]
    fn set_condition_adds_a_new_condition_with_now() {
        let mut conditions = Vec::new();
        let added = set_condition(
            &mut conditions,
            condition(
                ConditionType::Accepted,
                ConditionStatus::True,
                Reason::Accepted,
                "",
            ),
            at(100),
        );
        assert!(added);
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, at(100));
    }

    #[test]
    fn set_condition_keeps_transition_time_while_status_is_unchanged() {
        let mut conditions = Vec::new();
        let false_backend = condition(
            ConditionType::ResolvedRefs,
            ConditionStatus::False,
            Reason::BackendNotFound,
            "a",
        );
        set_condition(&mut conditions, false_backend, at(100));

        let new_reason = condition(
            ConditionType::ResolvedRefs,
            ConditionStatus::False,
            Reason::PortNotFound,
            "b",
        );
        assert!(set_condition(&mut conditions, new_reason, at(200)));
        assert_eq!(conditions[0].last_transition_time, at(100));
        assert_eq!(conditions[0].reason, "PortNotFound");

        let same = condition(
            ConditionType::ResolvedRefs,
            ConditionStatus::False,
            Reason::PortNotFound,
            "b",
        );
        assert!(
            !set_condition(&mut conditions, same, at(300)),
            "nothing but time changed"
        );
        assert_eq!(conditions[0].last_transition_time, at(100));
    }

    #[test]
    fn set_condition_moves_transition_time_when_status_flips() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            condition(
                ConditionType::Programmed,
                ConditionStatus::Unknown,
                Reason::Pending,
                "",
            ),
            at(100),
        );
        set_condition(
            &mut conditions,
            condition(
                ConditionType::Programmed,
                ConditionStatus::True,
                Reason::Programmed,
                "",
            ),
            at(200),
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].status, "True");
        assert_eq!(conditions[0].last_transition_time, at(200));
    }

    #[test]
    fn remove_condition_reports_whether_it_was_present() {
        let mut conditions = vec![condition(
            ConditionType::Degraded,
            ConditionStatus::True,
            Reason::RoutesDropped,
            "",
        )];
        assert!(remove_condition(&mut conditions, ConditionType::Degraded));
        assert!(conditions.is_empty());
        assert!(!remove_condition(&mut conditions, ConditionType::Degraded));
    }

    #[test]
    fn equality_ignores_time_and_order_but_not_content() {
        let a = vec![
            condition(
                ConditionType::Accepted,
                ConditionStatus::True,
                Reason::Accepted,
                "",
            ),
            condition(
                ConditionType::Ready,
                ConditionStatus::True,
                Reason::Ready,
                "",
            ),
        ];
        let mut b = a.clone();
        b.reverse();
        b[0].last_transition_time = at(999);
        assert!(conditions_equal_ignoring_time(&a, &b));

        b[0].message = "changed".into();
        assert!(!conditions_equal_ignoring_time(&a, &b));
        assert!(!conditions_equal_ignoring_time(&a, &a[..1]));

        let mut other_generation = a.clone();
        other_generation[1].observed_generation = Some(4);
        assert!(!conditions_equal_ignoring_time(&a, &other_generation));
    }

    fn all_good() -> Vec<Condition> {
        vec![
            condition(
                ConditionType::Accepted,
                ConditionStatus::True,
                Reason::Accepted,
                "",
            ),
            condition(
                ConditionType::ResolvedRefs,
                ConditionStatus::True,
                Reason::ResolvedRefs,
                "",
            ),
            condition(
                ConditionType::Programmed,
                ConditionStatus::True,
                Reason::Programmed,
                "",
            ),
        ]
    }

    #[test]
    fn ready_is_true_when_everything_is_true() {
        let ready = summarize_ready(&all_good(), Some(3), at(5));
        assert_eq!(
            (
                ready.type_.as_str(),
                ready.status.as_str(),
                ready.reason.as_str()
            ),
            ("Ready", "True", "Ready")
        );
        assert_eq!(ready.observed_generation, Some(3));
    }

    #[test]
    fn ready_is_unknown_pending_while_a_condition_is_missing_or_unknown() {
        let ready = summarize_ready(&all_good()[..2], Some(3), at(5));
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("Unknown", "Pending")
        );
        assert!(ready.message.contains("Programmed"), "{}", ready.message);

        let mut conditions = all_good();
        conditions[1].status = "Unknown".into();
        let ready = summarize_ready(&conditions, Some(3), at(5));
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("Unknown", "Pending")
        );
    }

    #[test]
    fn ready_takes_the_most_severe_false_reason_and_every_message() {
        let mut conditions = all_good();
        conditions[1] = condition(
            ConditionType::ResolvedRefs,
            ConditionStatus::False,
            Reason::BackendNotFound,
            "routes[1].services[0]: Service default/api not found",
        );
        conditions[2] = condition(
            ConditionType::Programmed,
            ConditionStatus::False,
            Reason::Pending,
            "waiting",
        );
        let ready = summarize_ready(&conditions, Some(3), at(5));
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "BackendNotFound")
        );
        assert_eq!(
            ready.message,
            "routes[1].services[0]: Service default/api not found; waiting"
        );

        conditions[0] = condition(
            ConditionType::Accepted,
            ConditionStatus::False,
            Reason::InvalidRule,
            "bad rule",
        );
        let ready = summarize_ready(&conditions, Some(3), at(5));
        assert_eq!(ready.reason, "InvalidRule");
    }

    #[test]
    fn ready_keeps_an_unknown_reason_readable_as_multiple_reasons() {
        let mut conditions = all_good();
        conditions[0].status = "False".into();
        conditions[0].reason = "SomethingNew".into();
        let ready = summarize_ready(&conditions, None, at(5));
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "MultipleReasons")
        );
    }

    #[test]
    fn degraded_objects_are_ready_with_the_degradation_as_reason() {
        let mut conditions = all_good();
        conditions.push(condition(
            ConditionType::Degraded,
            ConditionStatus::True,
            Reason::RoutesDropped,
            "routes[1] dropped",
        ));
        let ready = summarize_ready(&conditions, Some(3), at(5));
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "RoutesDropped")
        );
        assert_eq!(ready.message, "routes[1] dropped");
    }

    #[test]
    fn aggregate_reasons_collapses_agreement_and_flags_disagreement() {
        assert_eq!(aggregate_reasons([]), None);
        assert_eq!(
            aggregate_reasons([Reason::BackendNotFound, Reason::BackendNotFound]),
            Some(Reason::BackendNotFound)
        );
        assert_eq!(
            aggregate_reasons([Reason::BackendNotFound, Reason::SecretNotFound]),
            Some(Reason::MultipleReasons)
        );
    }

    #[test]
    fn reasons_round_trip_through_their_names() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(*reason));
        }
        assert_eq!(Reason::parse("NotAReason"), None);
        assert_eq!(Reason::TLSOptionNotFound.as_str(), "TLSOptionNotFound");
    }
}
