//! Listing the Mesh kinds and Ingresses as [`Resource`]s: the status conditions and
//! per-route verdicts the operator wrote, decoded leniently (one odd object must not hide
//! the others).

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, DynamicObject, ListParams, TypeMeta};
use mesh_crds::status::RouteStatus;
use serde_json::Value;

use super::connect::{Cluster, Scope};
use super::errors::{Operation, api_error, crds_missing, is_type_not_served};
use super::kinds::ResourceKind;
use crate::error::{CliError, CliResult};
use crate::model::Resource;

/// The API handle for `kind` over `scope`.
pub(super) fn api(cluster: &Cluster, kind: ResourceKind, scope: &Scope) -> Api<DynamicObject> {
    let resource = kind.api_resource();
    match scope.namespace() {
        Some(namespace) => Api::namespaced_with(cluster.client.clone(), namespace, &resource),
        None => Api::all_with(cluster.client.clone(), &resource),
    }
}

/// Lists `kinds` in `scope` (with an optional label selector), unsorted.
///
/// A Mesh kind whose CRD is not installed is skipped, unless every requested Mesh kind is
/// missing: then the CRDs are not installed and that is the error. Permission and
/// connection problems are errors naming the verb and resource.
pub(crate) async fn list_resources(
    cluster: &Cluster,
    scope: &Scope,
    selector: Option<&str>,
    kinds: &[ResourceKind],
) -> CliResult<Vec<Resource>> {
    let (resources, _served) = list_served(cluster, scope, selector, kinds).await?;
    Ok(resources)
}

/// [`list_resources`], also telling which kinds are served (for the watchers).
pub(super) async fn list_served(
    cluster: &Cluster,
    scope: &Scope,
    selector: Option<&str>,
    kinds: &[ResourceKind],
) -> CliResult<(Vec<Resource>, Vec<ResourceKind>)> {
    let mut params = ListParams::default();
    if let Some(selector) = selector {
        params = params.labels(selector);
    }
    let lists = futures::future::join_all(kinds.iter().map(|&kind| {
        let api = api(cluster, kind, scope);
        let params = params.clone();
        async move { (kind, api.list(&params).await) }
    }))
    .await;
    let mut resources = Vec::new();
    let mut served = Vec::new();
    let mut missing_mesh = 0;
    let mut first_error: Option<CliError> = None;
    for (kind, list) in lists {
        match list {
            Ok(list) => {
                served.push(kind);
                resources.extend(list.items.into_iter().map(|o| to_resource(kind, o)));
            }
            Err(error) if is_type_not_served(&error) && kind != ResourceKind::Ingress => {
                missing_mesh += 1;
            }
            Err(error) => {
                let operation = Operation::new("list", kind.qualified_plural(), scope.namespace());
                first_error.get_or_insert_with(|| api_error(cluster, &operation, error));
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    let mesh_requested = kinds
        .iter()
        .filter(|k| matches!(k, ResourceKind::Mesh(_)))
        .count();
    if mesh_requested > 0 && missing_mesh == mesh_requested {
        return Err(crds_missing(cluster));
    }
    Ok((resources, served))
}

/// The object `name` of `kind` in `namespace`; a clear error when it (or its kind) does
/// not exist.
pub(crate) async fn get_resource(
    cluster: &Cluster,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
) -> CliResult<Resource> {
    let scope = Scope::Namespace(namespace.to_owned());
    match api(cluster, kind, &scope).get_opt(name).await {
        Ok(Some(object)) => Ok(to_resource(kind, object)),
        Ok(None) => Err(CliError::usage(format!(
            "{} {name} not found in namespace {namespace}",
            kind.as_str()
        ))
        .with_hint(format!(
            "`kubectl mesh status -n {namespace} --kind {}` lists them; -n picks another namespace",
            kind.short_name()
        ))),
        Err(error) if is_type_not_served(&error) => Err(crds_missing(cluster)),
        Err(error) => Err(api_error(
            cluster,
            &Operation::new("get", kind.qualified_plural(), Some(namespace)),
            error,
        )),
    }
}

/// A listed or watched object as a [`Resource`].
pub(crate) fn to_resource(kind: ResourceKind, mut object: DynamicObject) -> Resource {
    // List items of built-in kinds come without apiVersion/kind.
    if object.types.is_none() {
        let resource = kind.api_resource();
        object.types = Some(TypeMeta {
            api_version: resource.api_version,
            kind: resource.kind,
        });
    }
    object.metadata.managed_fields = None;
    let status = &object.data["status"];
    let conditions = status["conditions"]
        .as_array()
        .map(|list| list.iter().filter_map(condition).collect())
        .unwrap_or_default();
    let routes = status["routes"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|route| serde_json::from_value::<RouteStatus>(route.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let observed_generation = status["observedGeneration"].as_i64();
    Resource {
        kind: kind.as_str().to_owned(),
        group: kind.group().to_owned(),
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        generation: object.metadata.generation,
        observed_generation,
        created: object
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(to_chrono),
        conditions,
        routes,
        object: serde_json::to_value(&object).unwrap_or(Value::Null),
    }
}

/// One `metav1.Condition`, tolerating a missing or odd `lastTransitionTime`.
fn condition(value: &Value) -> Option<Condition> {
    let text = |field: &str| value[field].as_str().unwrap_or_default().to_owned();
    let type_ = text("type");
    if type_.is_empty() {
        return None;
    }
    let transition = value["lastTransitionTime"]
        .as_str()
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    Some(Condition {
        type_,
        status: text("status"),
        reason: text("reason"),
        message: text("message"),
        last_transition_time: Time(transition),
        observed_generation: value["observedGeneration"].as_i64(),
    })
}

/// A Kubernetes timestamp as chrono's.
pub(crate) fn to_chrono(time: &Time) -> Option<DateTime<Utc>> {
    let timestamp = time.0;
    DateTime::from_timestamp(
        timestamp.as_second(),
        timestamp.subsec_nanosecond().max(0) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn status_conditions_and_routes_are_read_and_managed_fields_dropped() {
        let resource = to_resource(
            ResourceKind::Mesh(mesh_crds::Kind::IngressRoute),
            object(json!({
                "apiVersion": "mesh.io/v1alpha1", "kind": "IngressRoute",
                "metadata": {
                    "name": "web", "namespace": "shop", "generation": 3,
                    "creationTimestamp": "2026-01-02T03:04:05Z",
                    "managedFields": [{"manager": "kubectl"}]
                },
                "status": {
                    "observedGeneration": 2,
                    "conditions": [
                        {"type": "Ready", "status": "False", "reason": "BackendNotFound",
                         "message": "routes[0].services[0]: Service shop/api not found",
                         "lastTransitionTime": "2026-01-02T03:05:00Z"},
                        {"status": "True"},
                        {"type": "Accepted", "status": "True", "reason": "Accepted", "message": ""}
                    ],
                    "routes": [{"index": 0, "router": "shop-web-0", "ready": false,
                                "reason": "BackendNotFound"}, {"bogus": 1}]
                }
            })),
        );
        assert_eq!(resource.key(), "IngressRoute/shop/web");
        assert_eq!(resource.reason(), "BackendNotFound");
        assert_eq!(
            resource.conditions.len(),
            2,
            "the condition without a type is skipped"
        );
        assert_eq!(resource.routes.len(), 1);
        assert_eq!(
            (resource.generation, resource.observed_generation),
            (Some(3), Some(2))
        );
        assert_eq!(
            resource.created.map(|t| t.to_rfc3339()),
            Some("2026-01-02T03:04:05+00:00".to_string())
        );
        assert!(resource.object["metadata"].get("managedFields").is_none());
        assert_eq!(resource.object["kind"], "IngressRoute");
    }

    #[test]
    fn an_ingress_listed_without_type_meta_gets_it() {
        let resource = to_resource(
            ResourceKind::Ingress,
            object(json!({"metadata": {"name": "legacy", "namespace": "default"}})),
        );
        assert_eq!(resource.object["apiVersion"], "networking.k8s.io/v1");
        assert_eq!(resource.object["kind"], "Ingress");
        assert_eq!(resource.ready(), "Unknown");
    }
}
