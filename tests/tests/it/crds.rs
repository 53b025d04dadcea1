//! The generated CRDs install and become Established; one example of each kind is accepted.

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject};
use mesh_tests::{ControlPlane, apply_yaml_file, workspace_root};

use crate::kinds::{GROUP, KINDS, VERSION};

#[tokio::test]
async fn all_ten_crds_are_established_with_status_category_and_short_names() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(plane.admin_client().await?);
    let installed: BTreeSet<String> = crds
        .list(&Default::default())
        .await?
        .into_iter()
        .filter(|crd| crd.spec.group == GROUP)
        .filter_map(|crd| crd.metadata.name)
        .collect();
    let expected: BTreeSet<String> = KINDS.iter().map(|kind| kind.crd_name()).collect();
    assert_eq!(installed, expected);

    for kind in &KINDS {
        let crd = crds.get(&kind.crd_name()).await?;
        let established = crd
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        assert!(established, "{} is not Established", kind.kind);
        assert_eq!(crd.spec.names.kind, kind.kind);
        let categories = crd.spec.names.categories.clone().unwrap_or_default();
        assert!(
            categories.iter().any(|c| c == "mesh"),
            "{}: categories {categories:?}",
            kind.kind
        );
        let short_names = crd.spec.names.short_names.clone().unwrap_or_default();
        assert!(
            short_names.iter().any(|s| s == kind.short_name),
            "{}: short names {short_names:?}",
            kind.kind
        );
        let version = crd
            .spec
            .versions
            .iter()
            .find(|version| version.name == VERSION)
            .ok_or_else(|| anyhow::anyhow!("{} has no {VERSION}", kind.kind))?;
        assert!(
            version.served && version.storage,
            "{}: {VERSION} must be served and stored",
            kind.kind
        );
        let has_status = version
            .subresources
            .as_ref()
            .is_some_and(|sub| sub.status.is_some());
        assert!(has_status, "{} has no status subresource", kind.kind);
    }
    Ok(())
}

#[tokio::test]
async fn one_example_of_each_kind_is_accepted() -> anyhow::Result<()> {
    let (_, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let dir = workspace_root().join("examples/kinds");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|error| anyhow::anyhow!("reading {}: {error}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();

    let mut applied_kinds = BTreeSet::new();
    for file in &files {
        for object in apply_yaml_file(&client, file, &namespace).await? {
            let kind = object
                .types
                .as_ref()
                .map(|types| types.kind.clone())
                .unwrap_or_default();
            assert!(
                object.metadata.uid.is_some(),
                "{} in {} has no uid",
                kind,
                file.display()
            );
            applied_kinds.insert(kind);
        }
    }
    let expected: BTreeSet<String> = KINDS.iter().map(|kind| kind.kind.to_string()).collect();
    assert_eq!(
        applied_kinds, expected,
        "examples/kinds must hold one object of each kind"
    );

    // Each is readable back through its own API.
    for kind in &KINDS {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &namespace, &kind.api_resource());
        let listed = api.list(&Default::default()).await?;
        assert_eq!(
            listed.items.len(),
            1,
            "{} objects in {namespace}",
            kind.kind
        );
    }
    Ok(())
}
