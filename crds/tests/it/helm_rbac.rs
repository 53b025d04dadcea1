//! The chart's RBAC stays minimal: read the world, write status, Events and the Lease.
//! (Rendering needs helm; these checks read the templates' rules, which hold no logic: the
//! ClusterRole's and the per-namespace Roles' rules are in `_helpers.tpl`, the Lease's in
//! `rbac/lease-role.yaml`. `tests/tests/it/helm_install.rs` checks the installed result.)

use std::path::PathBuf;

fn template(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../helm/mesh/templates")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// Each rule of a Role/ClusterRole template as (rule text, verbs).
fn rules(text: &str) -> Vec<(String, Vec<String>)> {
    text.split("- apiGroups:")
        .skip(1)
        .map(|rule| {
            let verbs_line = rule
                .lines()
                .find(|line| line.trim_start().starts_with("verbs:"))
                .unwrap_or_default();
            let verbs = verbs_line
                .trim_start()
                .trim_start_matches("verbs:")
                .trim()
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|verb| verb.trim().trim_matches('"').to_string())
                .filter(|verb| !verb.is_empty())
                .collect();
            (rule.to_string(), verbs)
        })
        .collect()
}

/// The templates holding RBAC rules.
const RULE_FILES: [&str; 2] = ["_helpers.tpl", "rbac/lease-role.yaml"];

#[test]
fn no_rule_deletes_escalates_or_uses_wildcards() {
    for file in RULE_FILES {
        let rules = rules(&template(file));
        assert!(!rules.is_empty(), "{file} has no rules");
        for (rule, verbs) in rules {
            assert!(!verbs.is_empty(), "{file}: rule without verbs: {rule}");
            for verb in &verbs {
                assert!(
                    ["get", "list", "watch", "create", "patch", "update"].contains(&verb.as_str()),
                    "{file}: verb {verb:?} is not needed: {rule}"
                );
            }
            assert!(!rule.contains("\"*\""), "{file}: wildcard in {rule}");
        }
    }
}

#[test]
fn create_is_only_for_events_and_the_lease() {
    for file in RULE_FILES {
        for (rule, verbs) in rules(&template(file)) {
            if verbs.iter().any(|verb| verb == "create") {
                assert!(
                    rule.contains("\"events\"") || rule.contains("\"leases\""),
                    "{file}: create allowed beyond events/leases: {rule}"
                );
            }
        }
    }
}

#[test]
fn writes_to_mesh_kinds_are_status_only() {
    let cluster_role = template("_helpers.tpl");
    for (rule, verbs) in rules(&cluster_role) {
        let writes = verbs.iter().any(|verb| verb == "patch" || verb == "update");
        if writes && !rule.contains("events") {
            let status_only = rule.contains("/status") || rule.contains("\"mesh.crdKindStatuses\"");
            assert!(status_only, "write access outside status: {rule}");
            assert!(
                !rule.contains("\"mesh.crdKinds\""),
                "write access to specs: {rule}"
            );
        }
    }
    let helpers = template("_helpers.tpl");
    for kind in mesh_crds::Kind::ALL {
        assert!(
            helpers.contains(&format!("- {}\n", kind.plural())),
            "RBAC misses {}",
            kind.plural()
        );
        assert!(
            helpers.contains(&format!("- {}/status", kind.plural())),
            "RBAC misses {}/status",
            kind.plural()
        );
    }
    for group in ["mesh.io", "traefik.io", "traefik.containo.us"] {
        assert!(
            cluster_role.contains(&format!("\"{group}\"")),
            "RBAC misses group {group}"
        );
    }
}
