//! The chart's RBAC, applied as admin and exercised with the operator's own token.

use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams,
    WatchParams,
};
use kube::core::GroupVersionKind;
use mesh_tests::{ControlPlane, apply_yaml, ensure_namespace, workspace_root};
use serde::Deserialize;
use serde_json::json;

use crate::api_error_code;
use crate::kinds::{self, KINDS};

const RELEASE_NAMESPACE: &str = "mesh-system";

/// `helm template` of the chart, applied as admin (once per test binary is enough, but
/// applying is idempotent, so every test that needs it just calls this).
/// Returns the rendered manifests.
async fn install_chart_rbac(plane: &ControlPlane, admin: &kube::Client) -> anyhow::Result<String> {
    let chart = workspace_root().join("helm/mesh");
    let output = tokio::process::Command::new(&plane.binaries().helm)
        .args(["template", "mesh"])
        .arg(&chart)
        .args(["--namespace", RELEASE_NAMESPACE])
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "helm template {} failed: {}",
        chart.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let rendered = String::from_utf8(output.stdout)?;
    ensure_namespace(admin, RELEASE_NAMESPACE).await?;
    apply_yaml(admin, &rendered, RELEASE_NAMESPACE).await?;
    Ok(rendered)
}

/// The Lease name the chart's Role grants access to (`resourceNames` of its leases rule).
fn granted_lease_name(rendered: &str) -> anyhow::Result<String> {
    for document in serde_yaml::Deserializer::from_str(rendered) {
        let value = serde_yaml::Value::deserialize(document)?;
        if value["kind"].as_str() != Some("Role") {
            continue;
        }
        let rules = value["rules"].as_sequence().cloned().unwrap_or_default();
        for rule in rules {
            let on_leases = rule["resources"]
                .as_sequence()
                .is_some_and(|r| r.iter().any(|r| r.as_str() == Some("leases")));
            if let (true, Some(name)) = (on_leases, rule["resourceNames"][0].as_str()) {
                return Ok(name.to_string());
            }
        }
    }
    anyhow::bail!("the chart renders no Role granting a named Lease:\n{rendered}")
}

fn core_resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// What the operator watches besides its own kinds (DESIGN.md, "Data flow").
fn watched_core_resources() -> Vec<ApiResource> {
    vec![
        core_resource("", "v1", "Service", "services"),
        core_resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
        core_resource("", "v1", "Secret", "secrets"),
        core_resource("", "v1", "ConfigMap", "configmaps"),
        core_resource("", "v1", "Node", "nodes"),
        core_resource("networking.k8s.io", "v1", "Ingress", "ingresses"),
        core_resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses"),
    ]
}

async fn can_list_and_watch(client: &kube::Client, resource: &ApiResource) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    api.list(&Default::default())
        .await
        .map_err(|error| anyhow::anyhow!("operator cannot list {}: {error}", resource.plural))?;
    let mut events = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .map_err(|error| anyhow::anyhow!("operator cannot watch {}: {error}", resource.plural))?
        .boxed();
    // The first event (or the end of the 1 s watch) proves the watch was authorized.
    if let Some(Err(error)) = events.next().await {
        anyhow::bail!("operator watch of {} failed: {error}", resource.plural);
    }
    Ok(())
}

async fn allowed(client: &kube::Client, attributes: ResourceAttributes) -> anyhow::Result<bool> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(attributes),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(answer.status.is_some_and(|status| status.allowed))
}

fn attributes(
    verb: &str,
    group: &str,
    resource: &str,
    subresource: Option<&str>,
    namespace: &str,
) -> ResourceAttributes {
    ResourceAttributes {
        verb: Some(verb.into()),
        group: Some(group.into()),
        resource: Some(resource.into()),
        subresource: subresource.map(String::from),
        namespace: Some(namespace.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn operator_can_list_and_watch_what_it_reads() -> anyhow::Result<()> {
    let (plane, admin, _) = crate::admin_in_fresh_namespace().await?;
    install_chart_rbac(plane, &admin).await?;
    let operator = plane.operator_client().await?;

    for kind in &KINDS {
        can_list_and_watch(&operator, &kind.api_resource()).await?;
    }
    for resource in watched_core_resources() {
        can_list_and_watch(&operator, &resource).await?;
    }
    Ok(())
}

#[tokio::test]
async fn operator_can_patch_status_and_use_its_lease_and_events() -> anyhow::Result<()> {
    let (plane, admin, namespace) = crate::admin_in_fresh_namespace().await?;
    let rendered = install_chart_rbac(plane, &admin).await?;
    let operator = plane.operator_client().await?;

    let resource = kinds::ingress_route().api_resource();
    Api::<DynamicObject>::namespaced_with(admin, &namespace, &resource)
        .create(
            &PostParams::default(),
            &serde_json::from_value(kinds::sample_ingress_route("app"))?,
        )
        .await?;
    let as_operator: Api<DynamicObject> =
        Api::namespaced_with(operator.clone(), &namespace, &resource);
    let status =
        kinds::not_ready_status(1, "routes[0].services[0]: Service default/whoami not found");
    let patched = as_operator
        .patch_status(
            "app",
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await?;
    assert_eq!(patched.data["status"], status);

    for kind in &KINDS {
        let attributes = attributes(
            "patch",
            kinds::GROUP,
            kind.plural,
            Some("status"),
            &namespace,
        );
        assert!(
            allowed(&operator, attributes).await?,
            "operator cannot patch {}/status",
            kind.plural
        );
    }
    // The Lease, for real: create, read, renew.
    let lease_name = granted_lease_name(&rendered)?;
    let leases: Api<Lease> = Api::namespaced(operator.clone(), RELEASE_NAMESPACE);
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(lease_name.clone()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("mesh-0".into()),
            ..Default::default()
        }),
    };
    leases.create(&PostParams::default(), &lease).await?;
    let mut current = leases.get(&lease_name).await?;
    current.spec = Some(LeaseSpec {
        holder_identity: Some("mesh-1".into()),
        ..Default::default()
    });
    let renewed = leases
        .replace(&lease_name, &PostParams::default(), &current)
        .await?;
    assert_eq!(
        renewed
            .spec
            .and_then(|spec| spec.holder_identity)
            .as_deref(),
        Some("mesh-1")
    );
    // Only that Lease: others in the namespace are not the operator's business.
    let other = leases.get("someone-elses-lease").await;
    assert_eq!(api_error_code(&other), Some(403), "{other:?}");

    let core_events = allowed(
        &operator,
        attributes("create", "", "events", None, &namespace),
    )
    .await?;
    let new_events = allowed(
        &operator,
        attributes("create", "events.k8s.io", "events", None, &namespace),
    )
    .await?;
    assert!(core_events || new_events, "operator cannot create Events");
    Ok(())
}

#[tokio::test]
async fn operator_is_forbidden_to_create_secrets_or_delete_resources() -> anyhow::Result<()> {
    let (plane, admin, namespace) = crate::admin_in_fresh_namespace().await?;
    install_chart_rbac(plane, &admin).await?;
    let operator = plane.operator_client().await?;

    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("stolen".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let created = Api::<Secret>::namespaced(operator.clone(), &namespace)
        .create(&PostParams::default(), &secret)
        .await;
    assert_eq!(api_error_code(&created), Some(403), "{created:?}");

    let resource = kinds::ingress_route().api_resource();
    Api::<DynamicObject>::namespaced_with(admin.clone(), &namespace, &resource)
        .create(
            &PostParams::default(),
            &serde_json::from_value(kinds::sample_ingress_route("keep"))?,
        )
        .await?;
    let deleted = Api::<DynamicObject>::namespaced_with(operator, &namespace, &resource)
        .delete("keep", &DeleteParams::default())
        .await;
    assert_eq!(
        api_error_code(&deleted),
        Some(403),
        "{:?}",
        deleted.map(|_| ())
    );
    // Still there.
    Api::<DynamicObject>::namespaced_with(admin, &namespace, &resource)
        .get("keep")
        .await?;
    Ok(())
}
