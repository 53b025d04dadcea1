//! The translation at the sizes DESIGN.md targets: every object still gets its router and
//! its status (no timing asserted here; the benchmark program measures time).

use mesh_crds::status::{ConditionStatus, ConditionType};
use mesh_operator::options::ProviderOptions;
use mesh_operator::snapshot::Snapshot;
use mesh_operator::translate::translate;
use serde_json::json;

fn world(routes: usize) -> Snapshot {
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"namespace": "default", "name": "api"},
               "spec": {"ports": [{"name": "web", "port": 80}]}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
               "metadata": {"namespace": "default", "name": "api-1",
                            "labels": {"kubernetes.io/service-name": "api"}},
               "ports": [{"name": "web", "port": 8080}],
               "endpoints": [{"addresses": ["10.0.0.1"]}]}),
    ];
    for i in 0..routes {
        // Every tenth route points at a Service that does not exist.
        let service = if i % 10 == 9 { "missing" } else { "api" };
        objects.push(json!({
            "apiVersion": "mesh.io/v1alpha1", "kind": "IngressRoute",
            "metadata": {"namespace": "default", "name": format!("route-{i}"), "generation": 1},
            "spec": {"routes": [{"match": format!("Host(`r{i}.example.com`)"),
                                 "services": [{"name": service, "port": 80}]}]},
        }));
    }
    let (snapshot, errors) = Snapshot::from_objects(objects);
    assert!(errors.is_empty(), "{errors:?}");
    snapshot
}

#[test]
fn ten_thousand_routes_each_get_a_router_or_a_reason() {
    let translation = translate(&world(10_000), &ProviderOptions::default());
    assert_eq!(translation.config.http.routers.len(), 9_000);
    assert_eq!(translation.statuses.len(), 10_000);
    let failed = translation
        .statuses
        .values()
        .filter(|status| {
            status
                .condition(ConditionType::ResolvedRefs)
                .is_some_and(|c| c.status == ConditionStatus::False)
        })
        .count();
    assert_eq!(failed, 1_000);
    assert_eq!(translation.router_owners.len(), 9_000);
}
