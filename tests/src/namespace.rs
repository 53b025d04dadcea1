//! Per-test namespaces. Nothing deletes them: without a controller-manager a namespace
//! deletion never finalizes, and the whole etcd goes away with the test binary.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::error::{HarnessError, Result};

/// Creates a namespace named `test-<random>` and returns its name.
pub async fn create_test_namespace(client: &kube::Client) -> Result<String> {
    let suffix: String = std::iter::repeat_with(fastrand::lowercase)
        .take(8)
        .collect();
    let name = format!("test-{suffix}");
    create(client, &name).await?;
    Ok(name)
}

/// Creates `name` unless it exists.
pub async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<()> {
    match create(client, name).await {
        Err(HarnessError::Kube {
            source: kube::Error::Api(status),
            ..
        }) if status.code == 409 => Ok(()),
        other => other,
    }
}

async fn create(client: &kube::Client, name: &str) -> Result<()> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .map_err(HarnessError::kube(format!("creating namespace {name}")))?;
    Ok(())
}
