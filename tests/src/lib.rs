//! Test support for Mesh: a real Kubernetes control plane and a pod network for backends.
//!
//! - [`ControlPlane`]: etcd + kube-apiserver built from source (see
//!   `tests/harness/build-control-plane.sh`), generated certificates, RBAC, an admin and an
//!   operator identity, Mesh's CRDs installed. [`ControlPlane::shared`] gives every test of a
//!   test binary the same instance; [`create_test_namespace`] isolates tests from each other.
//! - [`PodNetwork`] / [`Pod`]: network namespaces joined to the root namespace by veth pairs,
//!   because the apiserver refuses loopback addresses in EndpointSlices.
//! - [`BackendSpec`]: runs the `mesh-test-backend` program (HTTP/h2c/WebSocket, TCP or UDP echo)
//!   on loopback or inside a [`Pod`].

mod apply;
mod backend;
mod binaries;
mod control_plane;
mod error;
mod exit_cleanup;
mod kubeconfig;
mod namespace;
mod net;
mod pki;
mod pod_network;
mod process;

pub use apply::{ApplyOutcome, apply_each_in_file, apply_yaml, apply_yaml_file, yaml_files_in};
pub use backend::{BackendMode, BackendSpec, RunningBackend, backend_binary};
pub use binaries::{Binaries, build_script_path};
pub use control_plane::{
    ControlPlane, ControlPlaneOptions, OPERATOR_USER, crd_dir, workspace_root,
};
pub use error::{HarnessError, Result};
pub use namespace::{create_test_namespace, ensure_namespace};
pub use net::free_loopback_ports;
pub use pod_network::{Pod, PodNetwork};
pub use process::ManagedProcess;
