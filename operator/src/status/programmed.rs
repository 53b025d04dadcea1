//! `Programmed`: what the proxy actually runs, folded into the translation's statuses.
//!
//! The translation leaves `Programmed=Unknown/Pending`; once the proxy has applied a config
//! the runtime knows its generation and which routers it refused or only warned about
//! (rule syntax, missing middlewares, unknown entry points: checks only the proxy makes).
//! Each finding lands on the route and the condition it belongs to, so a bad rule reads
//! `Accepted=False, InvalidRule` exactly as if the translation had found it.

use std::collections::BTreeMap;

use mesh_crds::status::{ConditionStatus, ConditionType, Reason};

use crate::snapshot::ObjectRef;
use crate::translate::{ConditionState, ObjectStatus, RouterOwner};

/// What the proxy said about one applied configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyVerdict {
    /// The proxy's config generation now serving.
    pub generation: u64,
    /// Routers the proxy refused (not served) or warned about (served), by name.
    pub findings: BTreeMap<String, RouterFinding>,
}

impl ProxyVerdict {
    /// How many routers the proxy refused.
    pub fn refused(&self) -> usize {
        self.findings
            .values()
            .filter(|finding| finding.refused)
            .count()
    }
}

/// The proxy's word on one router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterFinding {
    /// True: the router is not served. False: served, with a warning.
    pub refused: bool,
    /// The proxy's CamelCase reason (`InvalidRule`, `MiddlewareNotFound`, ...).
    pub reason: String,
    pub message: String,
}

/// Where a proxy finding belongs in Mesh's conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    /// The spec is wrong: Accepted.
    Spec,
    /// A reference does not resolve: ResolvedRefs.
    Reference,
    /// Neither: only Programmed says it.
    Other,
}

/// The proxy's reason in Mesh's vocabulary.
fn mesh_reason(proxy_reason: &str) -> (Reason, Category) {
    match proxy_reason {
        "InvalidRule" => (Reason::InvalidRule, Category::Spec),
        "InvalidSpec" | "NoService" => (Reason::InvalidSpec, Category::Spec),
        "NoValidEntryPoint" | "UnknownEntryPoint" => (Reason::NoValidEntryPoint, Category::Spec),
        "UnsupportedMiddleware" | "PriorityTooLarge" | "TlsNotServed" => {
            (Reason::UnsupportedValue, Category::Spec)
        }
        "ServiceWithChildren" | "InvalidChildRouter" => (Reason::InvalidSpec, Category::Spec),
        "RecursionDetected" => (Reason::RecursionDetected, Category::Spec),
        // No served parent router above it: the parent is missing or itself refused.
        "ParentNotFound" | "ParentUnreachable" => (Reason::ParentNotFound, Category::Reference),
        "ServiceNotFound" => (Reason::BackendNotFound, Category::Reference),
        "MiddlewareNotFound" => (Reason::MiddlewareNotFound, Category::Reference),
        "ServiceInvalid" | "MiddlewareInvalid" => (Reason::RefInvalid, Category::Reference),
        other => match Reason::parse(other) {
            Some(reason) => (reason, Category::Other),
            None => (Reason::Pending, Category::Other),
        },
    }
}

/// Sets `Programmed` on every status from the proxy's verdict, and lands the proxy's
/// findings on the routes and conditions they concern.
pub fn apply_verdict(
    statuses: &mut BTreeMap<ObjectRef, ObjectStatus>,
    router_owners: &BTreeMap<String, RouterOwner>,
    verdict: &ProxyVerdict,
) {
    let mut by_object: BTreeMap<&ObjectRef, Vec<Located<'_>>> = BTreeMap::new();
    for (router, finding) in &verdict.findings {
        if let Some(owner) = router_owners.get(router) {
            by_object.entry(&owner.object).or_default().push(Located {
                router,
                route_index: owner.route_index,
                finding,
            });
        }
    }
    for (object, status) in statuses.iter_mut() {
        if let Some(findings) = by_object.get(object) {
            for located in findings {
                fold_finding(status, located.router, located.route_index, located.finding);
            }
        }
        set_programmed(status, verdict.generation);
    }
}

/// A finding and the router and route it concerns.
struct Located<'a> {
    router: &'a str,
    route_index: Option<usize>,
    finding: &'a RouterFinding,
}

fn fold_finding(
    status: &mut ObjectStatus,
    router: &str,
    route_index: Option<usize>,
    finding: &RouterFinding,
) {
    let (reason, category) = mesh_reason(&finding.reason);
    let place = match route_index {
        Some(index) => format!("routes[{index}]"),
        None => format!("router {router}"),
    };
    let message = format!("{place}: {}", finding.message);
    if !finding.refused {
        // Served anyway: Degraded, under the proxy's own reason when Mesh has it.
        let warning = Reason::parse(&finding.reason).unwrap_or(reason);
        add_degraded(status, warning, &message);
        return;
    }
    if let Some(route) =
        route_index.and_then(|index| status.routes.iter_mut().find(|route| route.index == index))
    {
        route.ready = false;
        route.reason = Some(reason);
        route.message = Some(message.clone());
    }
    let live = status.routes.iter().filter(|route| route.ready).count();
    let target = match category {
        Category::Spec if live == 0 => Some(ConditionType::Accepted),
        Category::Reference => Some(ConditionType::ResolvedRefs),
        _ => None,
    };
    if let Some(target) = target {
        add_failure(status, target, reason, &message);
    }
    if live > 0 {
        let dropped = status.routes.len() - live;
        let total = status.routes.len();
        add_degraded(
            status,
            Reason::RoutesDropped,
            &format!("{dropped} of {total} routes dropped"),
        );
    }
}

/// Turns condition `type_` False with `reason`, or adds to its failure when already False.
fn add_failure(status: &mut ObjectStatus, type_: ConditionType, reason: Reason, message: &str) {
    match status.conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) if existing.status == ConditionStatus::False => {
            if existing.reason != reason {
                existing.reason = Reason::MultipleReasons;
            }
            if !existing.message.contains(message) {
                existing.message = join(&existing.message, message);
            }
        }
        Some(existing) => {
            *existing = ConditionState::new(type_, ConditionStatus::False, reason, message);
        }
        None => status.conditions.push(ConditionState::new(
            type_,
            ConditionStatus::False,
            reason,
            message,
        )),
    }
}

/// Makes `Degraded=True` carry `reason`; a RoutesDropped count replaces the previous one.
fn add_degraded(status: &mut ObjectStatus, reason: Reason, message: &str) {
    match status
        .conditions
        .iter_mut()
        .find(|c| c.type_ == ConditionType::Degraded)
    {
        Some(existing) if existing.reason == reason && reason == Reason::RoutesDropped => {
            existing.message = message.to_owned();
        }
        Some(existing) => {
            if existing.reason != reason {
                existing.reason = Reason::MultipleReasons;
            }
            if !existing.message.contains(message) {
                existing.message = join(&existing.message, message);
            }
        }
        None => status.conditions.push(ConditionState::new(
            ConditionType::Degraded,
            ConditionStatus::True,
            reason,
            message,
        )),
    }
}

fn join(first: &str, second: &str) -> String {
    if first.is_empty() {
        second.to_owned()
    } else {
        format!("{first}; {second}")
    }
}

fn set_programmed(status: &mut ObjectStatus, generation: u64) {
    let accepted = status
        .condition(ConditionType::Accepted)
        .is_none_or(|c| c.status != ConditionStatus::False);
    let nothing_runs = !status.routes.is_empty() && status.routes.iter().all(|route| !route.ready);
    if !accepted || nothing_runs {
        // No message: Ready repeats every False message, and the cause is already in
        // Accepted or ResolvedRefs.
        status.set_programmed(ConditionStatus::False, Reason::Pending, "");
    } else {
        status.set_programmed(
            ConditionStatus::True,
            Reason::Programmed,
            format!("config generation {generation}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectKind;
    use crate::translate::{Protocol, RouteVerdict};

    fn object(name: &str) -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::IngressRoute,
            namespace: "default".into(),
            name: name.into(),
        }
    }

    fn status(accepted: bool, routes: usize) -> ObjectStatus {
        let accepted = if accepted {
            ConditionState::new(
                ConditionType::Accepted,
                ConditionStatus::True,
                Reason::Accepted,
                "",
            )
        } else {
            ConditionState::new(
                ConditionType::Accepted,
                ConditionStatus::False,
                Reason::InvalidSpec,
                "routes[0]: bad",
            )
        };
        ObjectStatus {
            observed_generation: Some(4),
            conditions: vec![
                accepted,
                ConditionState::new(
                    ConditionType::ResolvedRefs,
                    ConditionStatus::True,
                    Reason::ResolvedRefs,
                    "",
                ),
                ConditionState::new(
                    ConditionType::Programmed,
                    ConditionStatus::Unknown,
                    Reason::Pending,
                    "",
                ),
            ],
            routes: (0..routes)
                .map(|index| RouteVerdict {
                    index,
                    router: format!("r{index}"),
                    ready: true,
                    reason: None,
                    message: None,
                })
                .collect(),
        }
    }

    fn owners(names: &[(&str, &str, usize)]) -> BTreeMap<String, RouterOwner> {
        names
            .iter()
            .map(|(router, name, index)| {
                let owner = RouterOwner {
                    object: object(name),
                    route_index: Some(*index),
                    protocol: Protocol::Http,
                };
                (router.to_string(), owner)
            })
            .collect()
    }

    fn refused(reason: &str, message: &str) -> RouterFinding {
        RouterFinding {
            refused: true,
            reason: reason.into(),
            message: message.into(),
        }
    }

    fn condition(status: &ObjectStatus, type_: ConditionType) -> (ConditionStatus, Reason, String) {
        let c = status
            .condition(type_)
            .unwrap_or_else(|| panic!("{type_} present"));
        (c.status, c.reason, c.message.clone())
    }

    fn verdict(generation: u64, findings: &[(&str, RouterFinding)]) -> ProxyVerdict {
        ProxyVerdict {
            generation,
            findings: findings
                .iter()
                .map(|(name, f)| (name.to_string(), f.clone()))
                .collect(),
        }
    }

    #[test]
    fn accepted_objects_become_programmed_with_the_generation() {
        let mut statuses = BTreeMap::from([(object("a"), status(true, 1))]);
        apply_verdict(&mut statuses, &owners(&[("r0", "a", 0)]), &verdict(12, &[]));
        let a = &statuses[&object("a")];
        assert_eq!(
            condition(a, ConditionType::Programmed),
            (
                ConditionStatus::True,
                Reason::Programmed,
                "config generation 12".into()
            )
        );
        assert_eq!(
            condition(a, ConditionType::Ready),
            (ConditionStatus::True, Reason::Ready, String::new())
        );
    }

    #[test]
    fn objects_not_accepted_are_not_programmed() {
        let mut statuses = BTreeMap::from([(object("a"), status(false, 1))]);
        apply_verdict(&mut statuses, &BTreeMap::new(), &ProxyVerdict::default());
        let a = &statuses[&object("a")];
        assert_eq!(
            condition(a, ConditionType::Programmed),
            (ConditionStatus::False, Reason::Pending, String::new())
        );
        assert_eq!(
            condition(a, ConditionType::Ready),
            (
                ConditionStatus::False,
                Reason::InvalidSpec,
                "routes[0]: bad".into()
            )
        );
    }

    #[test]
    fn objects_whose_routes_were_all_dropped_are_not_programmed() {
        let mut dropped = status(true, 1);
        dropped.routes[0].ready = false;
        let mut statuses = BTreeMap::from([(object("a"), dropped)]);
        apply_verdict(&mut statuses, &BTreeMap::new(), &verdict(5, &[]));
        let a = &statuses[&object("a")];
        assert_eq!(
            condition(a, ConditionType::Programmed).0,
            ConditionStatus::False
        );
        assert_eq!(condition(a, ConditionType::Ready).0, ConditionStatus::False);
    }

    #[test]
    fn a_rule_only_the_proxy_can_parse_rejects_a_single_route_object() {
        let mut statuses = BTreeMap::from([(object("a"), status(true, 1))]);
        let findings = [(
            "r0",
            refused("InvalidRule", "rule `Host(` does not parse: unexpected end"),
        )];
        apply_verdict(
            &mut statuses,
            &owners(&[("r0", "a", 0)]),
            &verdict(3, &findings),
        );
        let a = &statuses[&object("a")];
        let message = "routes[0]: rule `Host(` does not parse: unexpected end".to_string();
        assert_eq!(
            condition(a, ConditionType::Accepted),
            (ConditionStatus::False, Reason::InvalidRule, message.clone())
        );
        assert_eq!(
            condition(a, ConditionType::Ready),
            (ConditionStatus::False, Reason::InvalidRule, message)
        );
        assert_eq!(
            condition(a, ConditionType::Programmed).0,
            ConditionStatus::False
        );
        assert_eq!(a.routes[0].reason, Some(Reason::InvalidRule));
        assert!(!a.routes[0].ready);
    }

    #[test]
    fn a_refused_route_among_others_degrades_and_names_the_missing_reference() {
        let mut statuses = BTreeMap::from([(object("a"), status(true, 2))]);
        let findings = [(
            "r1",
            refused(
                "MiddlewareNotFound",
                "middleware `default-auth` does not exist",
            ),
        )];
        apply_verdict(
            &mut statuses,
            &owners(&[("r0", "a", 0), ("r1", "a", 1)]),
            &verdict(3, &findings),
        );
        let a = &statuses[&object("a")];
        assert_eq!(
            condition(a, ConditionType::Accepted).0,
            ConditionStatus::True
        );
        assert_eq!(
            condition(a, ConditionType::ResolvedRefs),
            (
                ConditionStatus::False,
                Reason::MiddlewareNotFound,
                "routes[1]: middleware `default-auth` does not exist".into()
            )
        );
        assert_eq!(
            condition(a, ConditionType::Degraded),
            (
                ConditionStatus::True,
                Reason::RoutesDropped,
                "1 of 2 routes dropped".into()
            )
        );
        assert_eq!(
            condition(a, ConditionType::Programmed),
            (
                ConditionStatus::True,
                Reason::Programmed,
                "config generation 3".into()
            )
        );
        assert_eq!(
            condition(a, ConditionType::Ready).1,
            Reason::MiddlewareNotFound
        );
        assert!(a.routes[0].ready && !a.routes[1].ready);
    }

    #[test]
    fn multi_layer_findings_land_on_the_condition_they_concern() {
        let cases = [
            (
                "ParentNotFound",
                ConditionType::ResolvedRefs,
                Reason::ParentNotFound,
            ),
            (
                "ParentUnreachable",
                ConditionType::ResolvedRefs,
                Reason::ParentNotFound,
            ),
            (
                "ServiceWithChildren",
                ConditionType::Accepted,
                Reason::InvalidSpec,
            ),
            (
                "InvalidChildRouter",
                ConditionType::Accepted,
                Reason::InvalidSpec,
            ),
            (
                "RecursionDetected",
                ConditionType::Accepted,
                Reason::RecursionDetected,
            ),
            ("NoService", ConditionType::Accepted, Reason::InvalidSpec),
        ];
        for (proxy_reason, type_, reason) in cases {
            let mut statuses = BTreeMap::from([(object("a"), status(true, 1))]);
            let findings = [("r0", refused(proxy_reason, "the proxy's message"))];
            apply_verdict(
                &mut statuses,
                &owners(&[("r0", "a", 0)]),
                &verdict(4, &findings),
            );
            let a = &statuses[&object("a")];
            let expected = (
                ConditionStatus::False,
                reason,
                "routes[0]: the proxy's message".to_string(),
            );
            assert_eq!(condition(a, type_), expected, "{proxy_reason}");
            assert_eq!(
                condition(a, ConditionType::Ready).1,
                reason,
                "{proxy_reason}"
            );
            assert_eq!(a.routes[0].reason, Some(reason), "{proxy_reason}");
        }
    }

    #[test]
    fn warnings_degrade_without_dropping() {
        let mut statuses = BTreeMap::from([(object("a"), status(true, 1))]);
        let warning = RouterFinding {
            refused: false,
            reason: "UnknownEntryPoint".into(),
            message: "entry point `nope` does not exist".into(),
        };
        apply_verdict(
            &mut statuses,
            &owners(&[("r0", "a", 0)]),
            &verdict(2, &[("r0", warning)]),
        );
        let a = &statuses[&object("a")];
        assert_eq!(
            condition(a, ConditionType::Degraded),
            (
                ConditionStatus::True,
                Reason::UnknownEntryPoint,
                "routes[0]: entry point `nope` does not exist".into()
            )
        );
        assert_eq!(condition(a, ConditionType::Ready).0, ConditionStatus::True);
        assert_eq!(
            condition(a, ConditionType::Ready).1,
            Reason::UnknownEntryPoint
        );
        assert!(a.routes[0].ready);
    }

    #[test]
    fn unknown_proxy_reasons_stay_pending_on_the_route() {
        let mut statuses = BTreeMap::from([
            (object("a"), status(true, 1)),
            (object("b"), status(true, 1)),
        ]);
        let findings = [("b0", refused("SomethingNew", "odd"))];
        apply_verdict(
            &mut statuses,
            &owners(&[("a0", "a", 0), ("b0", "b", 0)]),
            &verdict(3, &findings),
        );
        let b = &statuses[&object("b")];
        assert_eq!(b.routes[0].reason, Some(Reason::Pending));
        assert_eq!(
            condition(b, ConditionType::Programmed).0,
            ConditionStatus::False
        );
        assert_eq!(
            condition(b, ConditionType::Accepted).0,
            ConditionStatus::True
        );
        assert_eq!(
            condition(&statuses[&object("a")], ConditionType::Programmed).0,
            ConditionStatus::True
        );
    }
}
