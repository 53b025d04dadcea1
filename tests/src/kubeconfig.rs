//! Kubeconfig files for the harness's identities.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{HarnessError, Result};

/// A kubeconfig with one cluster, one bearer-token user and one current context.
pub(crate) fn render(server: &str, ca_file: &Path, user: &str, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: mesh-harness
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: {user}
  user:
    token: {token}
contexts:
- name: {user}@mesh-harness
  context:
    cluster: mesh-harness
    user: {user}
current-context: {user}@mesh-harness
",
        ca = ca_file.display(),
    )
}

/// A client for the current context of the kubeconfig at `path`.
pub(crate) async fn client_from(path: &Path) -> Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|source| HarnessError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    })?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|source| HarnessError::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })?;
    kube::Client::try_from(config)
        .map_err(HarnessError::kube(format!("client for {}", path.display())))
}
