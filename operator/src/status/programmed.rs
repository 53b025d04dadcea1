//! `Programmed`: what the proxy actually runs, folded into the translation's statuses.
//!
//! The translation leaves `Programmed=Unknown/Pending`; once the proxy has applied a config
//! the runtime knows its generation and which routers it rejected, and every object gets
//! its final `Programmed` (and, through it, `Ready`).

use std::collections::BTreeMap;

use mesh_crds::status::{ConditionStatus, ConditionType, Reason};

use crate::snapshot::ObjectRef;
use crate::translate::{ObjectStatus, RouterOwner};

/// What the proxy said about one applied configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyVerdict {
    /// The proxy's config generation now serving.
    pub generation: u64,
    /// Routers the proxy refused, with its explanation.
    pub rejected_routers: BTreeMap<String, Rejection>,
}

/// Why the proxy refused a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The proxy's CamelCase reason (`InvalidRule`, `MiddlewareNotFound`, ...).
    pub reason: String,
    pub message: String,
}

/// Sets `Programmed` on every status from the proxy's verdict, and marks the routes whose
/// router the proxy refused.
pub fn apply_verdict(
    statuses: &mut BTreeMap<ObjectRef, ObjectStatus>,
    router_owners: &BTreeMap<String, RouterOwner>,
    verdict: &ProxyVerdict,
) {
    let mut rejected: BTreeMap<&ObjectRef, Vec<(&str, Option<usize>, &Rejection)>> =
        BTreeMap::new();
    for (router, rejection) in &verdict.rejected_routers {
        if let Some(owner) = router_owners.get(router) {
            rejected
                .entry(&owner.object)
                .or_default()
                .push((router.as_str(), owner.route_index, rejection));
        }
    }
    let generation = verdict.generation;
    for (object, status) in statuses.iter_mut() {
        let accepted = status
            .condition(ConditionType::Accepted)
            .is_none_or(|c| c.status != ConditionStatus::False);
        if !accepted {
            // No message: Ready repeats every False message, and the cause is already
            // in Accepted.
            status.set_programmed(ConditionStatus::False, Reason::Pending, "");
            continue;
        }
        let has_live_route = status.routes.iter().any(|route| route.ready);
        if !status.routes.is_empty() && !has_live_route && !rejected.contains_key(object) {
            // Every route was dropped by the translation: nothing of it runs. The cause
            // is in Accepted/ResolvedRefs, which Ready already quotes.
            status.set_programmed(ConditionStatus::False, Reason::Pending, "");
            continue;
        }
        let Some(refused) = rejected.get(object) else {
            status.set_programmed(
                ConditionStatus::True,
                Reason::Programmed,
                format!("config generation {generation}"),
            );
            continue;
        };
        let mut messages = Vec::new();
        for (router, route_index, rejection) in refused {
            let place = match route_index {
                Some(index) => format!("routes[{index}]"),
                None => format!("router {router}"),
            };
            let message = format!("{place}: rejected by the proxy: {}", rejection.message);
            if let Some(route) = route_index
                .and_then(|index| status.routes.iter_mut().find(|route| route.index == index))
            {
                route.ready = false;
                // The proxy's reasons mostly share Mesh's vocabulary; others stay Pending.
                route.reason = Some(Reason::parse(&rejection.reason).unwrap_or(Reason::Pending));
                route.message = Some(message.clone());
            }
            messages.push(message);
        }
        let live_routes = status.routes.iter().filter(|route| route.ready).count();
        let programmed = if status.routes.is_empty() || live_routes == 0 {
            ConditionStatus::False
        } else {
            // Some routes run: the object is programmed, the refused ones are listed.
            ConditionStatus::True
        };
        let reason = if programmed == ConditionStatus::True {
            Reason::Programmed
        } else {
            Reason::Pending
        };
        status.set_programmed(
            programmed,
            reason,
            format!("config generation {generation}; {}", messages.join("; ")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectKind;
    use crate::translate::{ConditionState, Protocol, RouteVerdict};

    fn object(name: &str) -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::IngressRoute,
            namespace: "default".into(),
            name: name.into(),
        }
    }

    fn status(accepted: bool, routes: usize) -> ObjectStatus {
        let accepted = if accepted {
            ConditionState::new(ConditionType::Accepted, ConditionStatus::True, Reason::Accepted, "")
        } else {
            ConditionState::new(
                ConditionType::Accepted,
                ConditionStatus::False,
                Reason::InvalidRule,
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
                ConditionState::new(ConditionType::Programmed, ConditionStatus::Unknown, Reason::Pending, ""),
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
                (
                    router.to_string(),
                    RouterOwner {
                        object: object(name),
                        route_index: Some(*index),
                        protocol: Protocol::Http,
                    },
                )
            })
            .collect()
    }

    fn condition(status: &ObjectStatus, type_: ConditionType) -> (ConditionStatus, Reason, String) {
        let c = status.condition(type_).unwrap();
        (c.status, c.reason, c.message.clone())
    }

    #[test]
    fn accepted_objects_become_programmed_with_the_generation() {
        let mut statuses = BTreeMap::from([(object("a"), status(true, 1))]);
        let verdict = ProxyVerdict {
            generation: 12,
            rejected_routers: BTreeMap::new(),
        };
        apply_verdict(&mut statuses, &owners(&[("r0", "a", 0)]), &verdict);
        let a = &statuses[&object("a")];
        assert_eq!(
            condition(a, ConditionType::Programmed),
            (ConditionStatus::True, Reason::Programmed, "config generation 12".into())
        );
        assert_eq!(condition(a, ConditionType::Ready).0, ConditionStatus::True);
    }

    #[test]
    fn objects_not_accepted_are_not_programmed() {
        let mut statuses = BTreeMap::from([(object("a"), status(false, 1))]);
        apply_verdict(&mut statuses, &BTreeMap::new(), &ProxyVerdict::default());
        let a = &statuses[&object("a")];
        assert_eq!(condition(a, ConditionType::Programmed).0, ConditionStatus::False);
        assert_eq!(condition(a, ConditionType::Ready).1, Reason::InvalidRule);
    }

    #[test]
    fn objects_whose_routes_were_all_dropped_are_not_programmed() {
        let mut dropped = status(true, 1);
        dropped.routes[0].ready = false;
        let mut statuses = BTreeMap::from([(object("a"), dropped)]);
        apply_verdict(&mut statuses, &BTreeMap::new(), &ProxyVerdict { generation: 5, ..Default::default() });
        let a = &statuses[&object("a")];
        assert_eq!(
            condition(a, ConditionType::Programmed),
            (ConditionStatus::False, Reason::Pending, String::new())
        );
        assert_eq!(condition(a, ConditionType::Ready).0, ConditionStatus::False);
    }

    #[test]
    fn routers_the_proxy_refuses_mark_their_route_and_object() {
        let mut statuses = BTreeMap::from([
            (object("a"), status(true, 2)),
            (object("b"), status(true, 1)),
        ]);
        let verdict = ProxyVerdict {
            generation: 3,
            rejected_routers: BTreeMap::from([
                (
                    "r1".to_string(),
                    Rejection {
                        reason: "UnknownEntryPoint".into(),
                        message: "unknown entry point `nope`".into(),
                    },
                ),
                (
                    "b0".to_string(),
                    Rejection {
                        reason: "ServiceNotFound".into(),
                        message: "service missing".into(),
                    },
                ),
            ]),
        };
        let owners = owners(&[("r0", "a", 0), ("r1", "a", 1), ("b0", "b", 0)]);
        apply_verdict(&mut statuses, &owners, &verdict);

        let a = &statuses[&object("a")];
        let (status, reason, message) = condition(a, ConditionType::Programmed);
        assert_eq!((status, reason), (ConditionStatus::True, Reason::Programmed));
        assert!(message.contains("routes[1]: rejected by the proxy: unknown entry point `nope`"), "{message}");
        assert!(a.routes[0].ready);
        assert!(!a.routes[1].ready);
        assert_eq!(a.routes[1].reason, Some(Reason::UnknownEntryPoint));

        let b = &statuses[&object("b")];
        assert_eq!(condition(b, ConditionType::Programmed).0, ConditionStatus::False);
        assert_eq!(b.routes[0].reason, Some(Reason::Pending), "not a Mesh reason");
        assert_eq!(condition(b, ConditionType::Ready).0, ConditionStatus::False);
    }
}
