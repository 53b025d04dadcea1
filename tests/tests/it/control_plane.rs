//! The harness itself: identities, start-up failures, CRD installation errors.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, PostParams};
use mesh_tests::{ControlPlane, ControlPlaneOptions, HarnessError, OPERATOR_USER};

async fn who_am_i(client: kube::Client) -> anyhow::Result<(String, Vec<String>)> {
    let review = Api::<SelfSubjectReview>::all(client)
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    let user = review
        .status
        .and_then(|status| status.user_info)
        .unwrap_or_default();
    Ok((
        user.username.unwrap_or_default(),
        user.groups.unwrap_or_default(),
    ))
}

#[tokio::test]
async fn kubeconfigs_authenticate_as_admin_and_as_the_operator() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;

    let (admin, admin_groups) = who_am_i(plane.admin_client().await?).await?;
    assert_eq!(admin, "admin");
    assert!(
        admin_groups.iter().any(|group| group == "system:masters"),
        "{admin_groups:?}"
    );

    let (operator, operator_groups) = who_am_i(plane.operator_client().await?).await?;
    assert_eq!(operator, OPERATOR_USER);
    assert!(
        operator_groups
            .iter()
            .any(|group| group == "system:serviceaccounts:mesh-system"),
        "{operator_groups:?}"
    );
    assert!(
        !operator_groups
            .iter()
            .any(|group| group == "system:masters")
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_apiserver_start_reports_its_log_tail() -> anyhow::Result<()> {
    let options = ControlPlaneOptions {
        extra_apiserver_args: vec!["--no-such-flag-for-mesh".into()],
    };
    let error = ControlPlane::start_with(options)
        .await
        .expect_err("the apiserver must refuse the flag");
    let message = error.to_string();
    assert!(matches!(error, HarnessError::StartUp { .. }), "{message}");
    assert!(
        message.starts_with("kube-apiserver did not start: exited with"),
        "{message}"
    );
    assert!(message.contains("--- last lines of"), "{message}");
    assert!(
        message.contains("unknown flag: --no-such-flag-for-mesh"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn installing_crds_from_an_empty_directory_is_an_error() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let empty = tempfile::tempdir()?;
    let error = plane
        .install_crds(empty.path())
        .await
        .expect_err("no CRDs to install");
    assert!(matches!(error, HarnessError::NoCrds(_)), "{error}");
    assert!(error.to_string().contains("gen-crds"), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_broken_crd_manifest_is_rejected_with_the_apiserver_message() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("broken.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: broken.mesh.io\nspec:\n  group: mesh.io\n  names: {kind: Broken, plural: broken}\n  scope: Namespaced\n  versions: []\n",
    )?;
    let error = plane
        .install_crds(dir.path())
        .await
        .expect_err("an invalid CRD");
    let chain = format!("{:#}", anyhow::Error::from(error));
    assert!(chain.contains("installing CRD broken.mesh.io"), "{chain}");
    assert!(chain.contains("spec.versions: Invalid value"), "{chain}");
    Ok(())
}
