//! The status subresource: /status changes status only; spec changes bump the generation.

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::kinds;

#[tokio::test]
async fn status_patch_changes_status_not_spec_and_spec_update_bumps_generation()
-> anyhow::Result<()> {
    let (_, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, &namespace, &kinds::ingress_route().api_resource());
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(kinds::sample_ingress_route("web"))?,
        )
        .await?;
    assert_eq!(created.metadata.generation, Some(1));
    let original_spec = created.data["spec"].clone();

    // A /status patch that also tries to change the spec: only the status sticks.
    let status =
        kinds::not_ready_status(1, "routes[0].services[0]: Service default/whoami not found");
    let patch = json!({ "spec": { "entryPoints": ["changed-through-status"] }, "status": status });
    let patched = api
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    assert_eq!(patched.data["status"], status);
    assert_eq!(patched.data["spec"], original_spec);
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "a status change is not a new generation"
    );

    // A spec change through the main resource bumps the generation and keeps the status.
    let spec_patch =
        json!({ "spec": { "entryPoints": ["websecure"] }, "status": { "observedGeneration": 99 } });
    let updated = api
        .patch("web", &PatchParams::default(), &Patch::Merge(&spec_patch))
        .await?;
    assert_eq!(updated.metadata.generation, Some(2));
    assert_eq!(updated.data["spec"]["entryPoints"], json!(["websecure"]));
    assert_eq!(
        updated.data["status"], status,
        "the main resource must ignore status"
    );
    Ok(())
}
