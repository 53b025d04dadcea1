//! Multi-layer routing (`parentRefs`): the router tree's shape, checked at apply time.
//!
//! A root router (no parents) sits in the entry point tables; a parent router has no
//! service and hands the request to its children; a leaf has a service. What is wrong with
//! the shape is reported on the router it concerns, so one bad child never takes its
//! siblings or unrelated routers down.
use std::collections::{BTreeMap, BTreeSet};

use super::report::Problem;
use crate::config::Router;

/// The tree's shape and the problems found in it.
#[derive(Debug, Default)]
pub(crate) struct Layers<'a> {
    /// Children of every router that has some, by parent name (existing parents only).
    pub children: BTreeMap<&'a str, Vec<&'a str>>,
    /// Shape problems by router name.
    pub problems: BTreeMap<&'a str, Vec<Problem>>,
}

impl<'a> Layers<'a> {
    pub fn analyse(routers: &'a BTreeMap<String, Router>) -> Self {
        let mut layers = Layers::default();
        for (name, router) in routers {
            for parent in &router.parent_refs {
                if routers.contains_key(parent) {
                    let children = layers.children.entry(parent.as_str()).or_default();
                    if !children.contains(&name.as_str()) {
                        children.push(name.as_str());
                    }
                } else {
                    layers.problem(
                        name,
                        Problem::new(
                            "ParentNotFound",
                            format!("parent router `{parent}` does not exist"),
                        ),
                    );
                }
            }
            if !router.parent_refs.is_empty() {
                for option in child_options(router) {
                    layers.problem(
                        name,
                        Problem::new(
                            "InvalidChildRouter",
                            format!(
                                "a child router (it has parentRefs) may not set {option}; \
                                 its root router decides them"
                            ),
                        ),
                    );
                }
            }
        }
        for (name, router) in routers {
            let children = layers.children.get(name.as_str());
            match (router.service.is_empty(), children) {
                (true, None) => layers.problem(
                    name,
                    Problem::new(
                        "NoService",
                        "the router has no service and no child routers",
                    ),
                ),
                (false, Some(children)) => {
                    let message = format!(
                        "the router has a service (`{}`) and child routers ({}); \
                         a parent router hands requests to its children only",
                        router.service,
                        quoted(children)
                    );
                    layers.problem(name, Problem::new("ServiceWithChildren", message));
                }
                _ => {}
            }
        }
        for cycle in cycles(routers) {
            let loop_text = cycle
                .iter()
                .chain(cycle.first())
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(" -> ");
            for name in &cycle {
                layers.problem(
                    name,
                    Problem::new(
                        "RecursionDetected",
                        format!("parentRefs form a cycle: {loop_text} (child -> parent)"),
                    ),
                );
            }
        }
        layers
    }

    fn problem(&mut self, router: &'a str, problem: Problem) {
        self.problems.entry(router).or_default().push(problem);
    }

    /// The routers served, given which ones are valid on their own: valid roots, then valid
    /// children of served parents, down the tree. Each valid router left out gets a
    /// `ParentUnreachable` problem in `problems`.
    pub fn served(
        &self,
        routers: &'a BTreeMap<String, Router>,
        valid: &BTreeSet<&'a str>,
        problems: &mut BTreeMap<&'a str, Vec<Problem>>,
    ) -> BTreeSet<&'a str> {
        let mut served: BTreeSet<&str> = routers
            .iter()
            .filter(|(name, router)| router.parent_refs.is_empty() && valid.contains(name.as_str()))
            .map(|(name, _)| name.as_str())
            .collect();
        let mut frontier: Vec<&str> = served.iter().copied().collect();
        while let Some(parent) = frontier.pop() {
            for child in self.children.get(parent).into_iter().flatten() {
                if valid.contains(child) && served.insert(child) {
                    frontier.push(child);
                }
            }
        }
        for name in valid.difference(&served) {
            let parents = routers
                .get(*name)
                .map(|router| router.parent_refs.as_slice())
                .unwrap_or_default();
            problems.entry(name).or_default().push(Problem::new(
                "ParentUnreachable",
                format!(
                    "no parent router is served, so no request reaches this router \
                     (parents: {}; each must be served itself and lead up to a root router)",
                    quoted(parents)
                ),
            ));
        }
        served
    }
}

/// What a child router may not set, by field name.
fn child_options(router: &Router) -> Vec<&'static str> {
    let mut set = Vec::new();
    if !router.entry_points.is_empty() {
        set.push("entryPoints");
    }
    if router.tls.is_some() {
        set.push("tls");
    }
    if router.observability.is_some() {
        set.push("observability");
    }
    set
}

fn quoted<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|name| format!("`{}`", name.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every cycle of the child -> parent graph (strongly connected components with more than
/// one router, or a router that is its own parent), each in walking order.
fn cycles(routers: &BTreeMap<String, Router>) -> Vec<Vec<&str>> {
    let names: Vec<&str> = routers.keys().map(String::as_str).collect();
    let position: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<usize>> = routers
        .values()
        .map(|router| {
            router
                .parent_refs
                .iter()
                .filter_map(|parent| position.get(parent.as_str()).copied())
                .collect()
        })
        .collect();
    strongly_connected(&edges)
        .into_iter()
        .filter(|component| match component.as_slice() {
            [single] => edges[*single].contains(single),
            _ => true,
        })
        .map(|component| component.into_iter().map(|i| names[i]).collect())
        .collect()
}

/// Tarjan's algorithm, iterative (router trees come from users: no recursion depth limit).
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let count = edges.len();
    let mut index = vec![UNSEEN; count];
    let mut low = vec![0; count];
    let mut on_stack = vec![false; count];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next = 0;
    for start in 0..count {
        if index[start] != UNSEEN {
            continue;
        }
        // (node, next edge to look at)
        let mut work = vec![(start, 0)];
        while let Some(top) = work.last_mut() {
            let (node, edge) = *top;
            if edge == 0 && index[node] == UNSEEN {
                index[node] = next;
                low[node] = next;
                next += 1;
                stack.push(node);
                on_stack[node] = true;
            }
            if let Some(&target) = edges[node].get(edge) {
                top.1 += 1;
                if index[target] == UNSEEN {
                    work.push((target, 0));
                } else if on_stack[target] {
                    low[node] = low[node].min(index[target]);
                }
                continue;
            }
            work.pop();
            if let Some(&(caller, _)) = work.last() {
                low[caller] = low[caller].min(low[node]);
            }
            if low[node] == index[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                component.reverse();
                components.push(component);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routers(list: &[(&str, &str, &[&str])]) -> BTreeMap<String, Router> {
        list.iter()
            .map(|(name, service, parents)| {
                let router = Router {
                    rule: "PathPrefix(`/`)".into(),
                    service: service.to_string(),
                    parent_refs: parents.iter().map(|p| p.to_string()).collect(),
                    ..Router::default()
                };
                (name.to_string(), router)
            })
            .collect()
    }

    fn reasons<'a>(layers: &'a Layers<'_>, name: &str) -> Vec<&'a str> {
        layers
            .problems
            .get(name)
            .map(|list| list.iter().map(|p| p.reason).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_tree_has_no_problems() {
        let config = routers(&[
            ("root", "", &[]),
            ("mid", "", &["root"]),
            ("leaf", "svc", &["mid"]),
            ("other", "svc", &["root"]),
        ]);
        let layers = Layers::analyse(&config);
        assert!(layers.problems.is_empty(), "{:?}", layers.problems);
        assert_eq!(layers.children["root"], vec!["mid", "other"]);
    }

    #[test]
    fn cycles_are_found_with_their_members_only() {
        let config = routers(&[
            ("a", "", &["b"]),
            ("b", "", &["c"]),
            ("c", "", &["a"]),
            ("self", "", &["self"]),
            ("below", "svc", &["a"]),
            ("root", "svc", &[]),
        ]);
        let layers = Layers::analyse(&config);
        for name in ["a", "b", "c", "self"] {
            assert_eq!(reasons(&layers, name), vec!["RecursionDetected"], "{name}");
        }
        assert!(reasons(&layers, "below").is_empty());
        assert!(reasons(&layers, "root").is_empty());
    }

    #[test]
    fn valid_routers_below_unserved_parents_are_unreachable() {
        let config = routers(&[
            ("root", "", &[]),
            ("broken", "", &["root"]),
            ("under-broken", "svc", &["broken"]),
            ("fine", "svc", &["root"]),
        ]);
        let layers = Layers::analyse(&config);
        let valid: BTreeSet<&str> = ["root", "under-broken", "fine"].into();
        let mut problems = BTreeMap::new();
        let served = layers.served(&config, &valid, &mut problems);
        assert_eq!(served, BTreeSet::from(["root", "fine"]));
        assert_eq!(problems["under-broken"][0].reason, "ParentUnreachable");
    }
}
