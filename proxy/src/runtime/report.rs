//! The outcome of an apply: for every router, service and middleware, whether it is served
//! and why not. The admin API shows it, and the operator turns it into status conditions.
use std::collections::BTreeMap;

use serde::Serialize;

/// Traefik's object status vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectStatus {
    /// Served, nothing to report.
    Enabled,
    /// Served, with warnings (e.g. one of its entry points does not exist).
    Warning,
    /// Not served.
    Disabled,
}

/// A machine-readable reason with a human message naming the thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// CamelCase reason, stable for the operator to map: `InvalidRule`, `ServiceNotFound`,
    /// `ServiceInvalid`, `MiddlewareNotFound`, `MiddlewareInvalid`, `UnsupportedMiddleware`,
    /// `UnknownEntryPoint`, `NoValidEntryPoint`, `PriorityTooLarge`, `NoService`,
    /// `TLSOptionNotFound`, `RefInvalid` (TLS option invalid), `TLSOptionsConflict` and
    /// `UnsupportedValue` (TLS option not applicable; warnings), `InvalidSpec`; multi-layer
    /// routing: `ParentNotFound`, `ParentUnreachable`, `ServiceWithChildren`,
    /// `InvalidChildRouter`, `RecursionDetected` (parentRefs cycle), `NoService` (neither a
    /// service nor children).
    pub reason: &'static str,
    pub message: String,
}

impl Problem {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Problem {
            reason,
            message: message.into(),
        }
    }
}

/// A user priority above the maximum is a `PriorityTooLarge` problem (HTTP and TCP routers).
pub(crate) fn check_priority(priority: i64, problems: &mut Vec<Problem>) {
    if priority > crate::rule::MAX_USER_PRIORITY {
        problems.push(Problem::new(
            "PriorityTooLarge",
            format!(
                "priority {priority} is above the maximum {}",
                crate::rule::MAX_USER_PRIORITY
            ),
        ));
    }
}

/// A router's rule, parsed with `parse` (HTTP or TCP); an empty or unparsable rule is an
/// `InvalidRule` problem quoting the rule.
pub(crate) fn parse_rule<R, E: std::fmt::Display>(
    source: &str,
    parse: impl FnOnce(&str) -> Result<R, E>,
    problems: &mut Vec<Problem>,
) -> Option<R> {
    let source = source.trim();
    if source.is_empty() {
        problems.push(Problem::new("InvalidRule", "empty rule"));
        return None;
    }
    parse(source)
        .map_err(|err| {
            problems.push(Problem::new(
                "InvalidRule",
                format!("rule `{source}`: {err}"),
            ))
        })
        .ok()
}

/// One object's state after an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectReport {
    pub status: ObjectStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Problem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
}

impl ObjectReport {
    pub fn from_problems(errors: Vec<Problem>, warnings: Vec<Problem>) -> Self {
        let status = if !errors.is_empty() {
            ObjectStatus::Disabled
        } else if !warnings.is_empty() {
            ObjectStatus::Warning
        } else {
            ObjectStatus::Enabled
        };
        ObjectReport {
            status,
            errors,
            warnings,
        }
    }
}

/// Everything an apply found, keyed by object name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    /// The generation this report describes (1 for the first apply).
    pub generation: u64,
    pub routers: BTreeMap<String, ObjectReport>,
    pub services: BTreeMap<String, ObjectReport>,
    pub middlewares: BTreeMap<String, ObjectReport>,
    /// How long building the generation took, in seconds.
    pub apply_seconds: f64,
}

impl ApplyReport {
    /// The problems of one router (empty when it is served cleanly or unknown).
    pub fn router_errors(&self, name: &str) -> &[Problem] {
        self.routers.get(name).map_or(&[], |r| r.errors.as_slice())
    }

    /// Whether every object is served without errors.
    pub fn is_clean(&self) -> bool {
        [&self.routers, &self.services, &self.middlewares]
            .into_iter()
            .flat_map(|map| map.values())
            .all(|report| report.errors.is_empty())
    }

    /// Counts for the overview: (total, warnings, errors).
    pub fn tally(map: &BTreeMap<String, ObjectReport>) -> (usize, usize, usize) {
        let warnings = map
            .values()
            .filter(|r| r.status == ObjectStatus::Warning)
            .count();
        let errors = map
            .values()
            .filter(|r| r.status == ObjectStatus::Disabled)
            .count();
        (map.len(), warnings, errors)
    }
}
