//! Checks made before anything starts, so each mistake gets one clear message: the harness
//! not built, the mesh binary missing, a port in use, a folder that does not exist.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

use mesh_tests::Binaries;

use crate::args::Args;

/// What the checks found.
pub struct Checked {
    pub binaries: Binaries,
    /// `None` with `--no-mesh`.
    pub mesh_binary: Option<PathBuf>,
    pub kubeconfig_out: PathBuf,
}

pub fn check(args: &Args) -> anyhow::Result<Checked> {
    for dir in &args.apply {
        anyhow::ensure!(dir.is_dir(), "--apply {}: no such directory", dir.display());
    }
    if !args.backends.is_empty() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        anyhow::ensure!(
            root,
            "--backend needs root: it creates a network namespace for the backend (run with sudo, or leave --backend out)"
        );
        mesh_tests::backend_binary()?;
    }
    let binaries = Binaries::cached()?;
    let mesh_binary = if args.no_mesh {
        None
    } else {
        let binary = mesh_binary(std::env::var_os("MESH_BIN").map(PathBuf::from))?;
        check_port_free(
            args.admin_addr,
            false,
            "mesh's admin API",
            "--admin-addr ADDR",
        )?;
        for entrypoint in &args.entrypoints {
            if let Some((addr, udp)) = entrypoint_addr(entrypoint) {
                let what = format!("entry point {entrypoint}");
                check_port_free(addr, udp, &what, "--entrypoint NAME=ADDR")?;
            }
        }
        Some(binary)
    };
    Ok(Checked {
        binaries,
        mesh_binary,
        kubeconfig_out: args
            .kubeconfig_out
            .clone()
            .unwrap_or_else(|| default_kubeconfig_out(std::env::var_os("XDG_RUNTIME_DIR"))),
    })
}

/// `$MESH_BIN` if set, else `mesh` next to this program (both in `target/<profile>/`).
fn mesh_binary(from_env: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = from_env {
        anyhow::ensure!(
            path.is_file(),
            "MESH_BIN={} is not a file; build mesh with `cargo build -p mesh-operator --bin mesh`",
            path.display()
        );
        return Ok(path);
    }
    let exe = std::env::current_exe()?;
    let beside = exe.parent().unwrap_or(Path::new(".")).join("mesh");
    anyhow::ensure!(
        beside.is_file(),
        "no mesh binary at {}: build it with `cargo build -p mesh-operator --bin mesh`, set MESH_BIN=PATH, or pass --no-mesh",
        beside.display()
    );
    Ok(beside)
}

fn default_kubeconfig_out(xdg_runtime_dir: Option<std::ffi::OsString>) -> PathBuf {
    let base = xdg_runtime_dir
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("mesh-dev-cluster").join("kubeconfig")
}

/// The address of `NAME=ADDR[/tcp|/udp]` and whether it is UDP; `:PORT` is every address.
/// `None` when it does not parse: `mesh run` then explains what is wrong with it.
fn entrypoint_addr(entrypoint: &str) -> Option<(SocketAddr, bool)> {
    let (_name, addr) = entrypoint.split_once('=')?;
    let (addr, udp) = match addr.rsplit_once('/') {
        Some((addr, "udp")) => (addr, true),
        Some((addr, "tcp")) => (addr, false),
        Some(_) => return None,
        None => (addr, false),
    };
    let addr = match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    };
    addr.parse().ok().map(|addr| (addr, udp))
}

fn check_port_free(addr: SocketAddr, udp: bool, what: &str, flag: &str) -> anyhow::Result<()> {
    let bound = if udp {
        UdpSocket::bind(addr).map(drop)
    } else {
        TcpListener::bind(addr).map(drop)
    };
    bound.map_err(|error| {
        anyhow::anyhow!(
            "{addr} for {what} is not available ({error}); is another mesh or mesh-dev-cluster running? Choose another address with {flag}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoint_addresses_are_read_like_mesh_run_reads_them() {
        let tcp = |text: &str| entrypoint_addr(text).map(|(addr, udp)| (addr.to_string(), udp));
        assert_eq!(tcp("web=:8000"), Some(("0.0.0.0:8000".into(), false)));
        assert_eq!(
            tcp("web=127.0.0.1:8000/tcp"),
            Some(("127.0.0.1:8000".into(), false))
        );
        assert_eq!(tcp("dns=:5353/udp"), Some(("0.0.0.0:5353".into(), true)));
        assert_eq!(tcp("web"), None);
        assert_eq!(tcp("web=:80/sctp"), None);
    }

    #[test]
    fn a_port_in_use_names_the_address_and_the_flag() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let message = check_port_free(addr, false, "mesh's admin API", "--admin-addr ADDR")
            .expect_err("in use")
            .to_string();
        assert!(
            message.starts_with(&format!("{addr} for mesh's admin API is not available (")),
            "{message}"
        );
        assert!(
            message.ends_with("Choose another address with --admin-addr ADDR"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_mesh_binary_says_how_to_build_it() {
        let message = mesh_binary(Some("/nonexistent/mesh".into()))
            .expect_err("missing")
            .to_string();
        assert_eq!(
            message,
            "MESH_BIN=/nonexistent/mesh is not a file; build mesh with `cargo build -p mesh-operator --bin mesh`"
        );
    }

    #[test]
    fn the_kubeconfig_goes_to_the_runtime_dir_if_there_is_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(
            default_kubeconfig_out(Some(dir.path().into())),
            dir.path().join("mesh-dev-cluster/kubeconfig")
        );
        assert_eq!(
            default_kubeconfig_out(None),
            PathBuf::from("/tmp/mesh-dev-cluster/kubeconfig")
        );
    }
}
