//! Integration tests of the harness and of Mesh's CRDs, against a real kube-apiserver.
//!
//! One test binary: every test shares one control plane ([`ControlPlane::shared`]) and
//! works in its own `test-<random>` namespace.

mod backend;
mod control_plane;
mod crds;
mod dev_cluster;
mod helm;
mod helm_install;
mod http_client;
mod kinds;
mod kubectl;
mod operator_leader;
mod operator_manifests;
mod operator_outage;
mod operator_parents;
mod operator_routing;
mod operator_status;
mod operator_support;
mod operator_traefik_service;
mod plugin;
mod plugin_admin;
mod pod_network;
mod rbac;
mod status;
mod validation;

use std::path::PathBuf;

use mesh_tests::{ControlPlane, create_test_namespace};

/// The backend binary Cargo built for these tests.
pub fn backend_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mesh-test-backend"))
}

/// The shared control plane, an admin client and a fresh namespace.
pub async fn admin_in_fresh_namespace()
-> anyhow::Result<(&'static ControlPlane, kube::Client, String)> {
    let plane = ControlPlane::shared().await?;
    let client = plane.admin_client().await?;
    let namespace = create_test_namespace(&client).await?;
    Ok((plane, client, namespace))
}

/// The HTTP status code of a failed API call, if it was refused by the apiserver.
pub fn api_error_code<T: std::fmt::Debug>(result: &Result<T, kube::Error>) -> Option<u16> {
    match result {
        Err(kube::Error::Api(status)) => Some(status.code),
        _ => None,
    }
}
