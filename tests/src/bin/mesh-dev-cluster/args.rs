//! The command line of `mesh-dev-cluster`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A real local kube-apiserver with Mesh running against it, for trying Mesh.
#[derive(Debug, clap::Parser)]
#[command(
    name = "mesh-dev-cluster",
    about = "A real local kube-apiserver + etcd with Mesh's CRDs and `mesh run` against it, for trying Mesh",
    long_about = "A real local kube-apiserver + etcd with Mesh's CRDs and `mesh run` against it, for trying Mesh.

Starts etcd and kube-apiserver (built once by tests/harness/build-control-plane.sh) on free
loopback ports, installs Mesh's CRDs, creates the mesh-system namespace, writes an admin
kubeconfig, applies the manifest folders given with --apply, runs `mesh run` against the
apiserver, prints the KUBECONFIG to export and what to try, and waits for Ctrl-C or SIGTERM.
Then it stops mesh, kube-apiserver and etcd and removes the kubeconfig.

There is no controller-manager, scheduler or kubelet: Pods never run and nothing creates
EndpointSlices for Services. The apiserver refuses EndpointSlices with loopback addresses
(127.0.0.0/8); such objects are reported and skipped. --backend gives a Service a real
endpoint (needs root).",
    after_help = "Example:
  cargo build -p mesh-operator --bin mesh && cargo build -p mesh-tests --bins
  target/debug/mesh-dev-cluster --apply examples/quickstart
  sudo target/debug/mesh-dev-cluster --apply examples/quickstart --backend whoami"
)]
pub struct Args {
    /// Where to write the admin kubeconfig [default: $XDG_RUNTIME_DIR/mesh-dev-cluster/kubeconfig,
    /// else /tmp/mesh-dev-cluster/kubeconfig].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,

    /// Apply every *.yaml/*.yml in DIR (repeatable, in order; files sorted by name). Namespaced
    /// objects without a namespace go to `default`; missing namespaces are created. Objects the
    /// apiserver refuses are reported with its reason; the rest are applied.
    #[arg(long = "apply", value_name = "DIR")]
    pub apply: Vec<PathBuf>,

    /// Start the test backend (HTTP) in a pod network namespace and give Service [NS/]NAME an
    /// EndpointSlice pointing at it, on the Service's first targetPort (repeatable; needs root
    /// and iproute2; the Service must exist, e.g. from --apply).
    #[arg(long = "backend", value_name = "[NS/]SERVICE")]
    pub backends: Vec<String>,

    /// Keep the control plane's files (certificates, etcd data, logs) in DIR and leave them
    /// there at exit [default: a temporary directory, removed at exit].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Entry point of `mesh run`, `NAME=ADDR[/tcp|/udp]` (repeatable); `:8000` listens on every
    /// address.
    #[arg(long = "entrypoint", value_name = "NAME=ADDR", default_values = ["web=:8000"])]
    pub entrypoints: Vec<String>,

    /// Address of mesh's admin API (`kubectl mesh ... --admin-url http://ADDR`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    pub admin_addr: SocketAddr,

    /// Do not run mesh: only the apiserver, the CRDs and the applied folders.
    #[arg(long)]
    pub no_mesh: bool,

    /// Extra flags for `mesh run`, after `--` (e.g. `-- --access-log`). The mesh binary is
    /// $MESH_BIN, else `mesh` next to this program (target/debug/mesh).
    #[arg(last = true, value_name = "MESH_RUN_FLAGS")]
    pub mesh_args: Vec<String>,
}
