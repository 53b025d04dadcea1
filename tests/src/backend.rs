//! Running the `mesh-test-backend` program, on loopback or inside a [`crate::Pod`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{HarnessError, Result};
use crate::process::ManagedProcess;

const STARTUP_LIMIT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The path of the `mesh-test-backend` binary.
///
/// `$MESH_TEST_BACKEND` wins; otherwise it is looked up next to the running test binary
/// or binary (`target/<profile>/`), where Cargo puts it when `mesh-tests` is built. Integration tests
/// of this crate can use `env!("CARGO_BIN_EXE_mesh-test-backend")` instead.
pub fn backend_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MESH_TEST_BACKEND") {
        return Ok(PathBuf::from(path));
    }
    let exe =
        std::env::current_exe().map_err(HarnessError::io("locating the running test binary"))?;
    // A binary of this crate sits next to it: target/<profile>/<bin>; a test binary one
    // level down: target/<profile>/deps/<test>.
    let own_dir = exe.parent();
    let candidate = [own_dir, own_dir.and_then(Path::parent)]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("mesh-test-backend"))
        .find(|path| path.is_file());
    candidate.ok_or_else(|| HarnessError::MissingTool {
        tool: "mesh-test-backend".into(),
        hint: "build it with `cargo build -p mesh-tests --bin mesh-test-backend` or set MESH_TEST_BACKEND".into(),
    })
}

/// What the backend serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendMode {
    /// HTTP/1.1 and h2c, WebSocket echo (see the binary's docs for the controls).
    Http,
    /// Echoes TCP bytes.
    TcpEcho,
    /// Echoes UDP datagrams.
    UdpEcho,
}

/// A backend to start: its name (in every answer), mode and port.
#[derive(Debug, Clone)]
pub struct BackendSpec {
    pub binary: PathBuf,
    pub name: String,
    pub mode: BackendMode,
    pub port: u16,
    /// TCP/UDP echo: greet each connection / prefix each datagram with the name.
    pub announce: bool,
}

impl BackendSpec {
    pub fn new(
        binary: impl Into<PathBuf>,
        name: impl Into<String>,
        mode: BackendMode,
        port: u16,
    ) -> Self {
        Self {
            binary: binary.into(),
            name: name.into(),
            mode,
            port,
            announce: false,
        }
    }

    pub fn announce(mut self) -> Self {
        self.announce = true;
        self
    }

    pub(crate) fn args(&self, ip: std::net::IpAddr) -> Vec<String> {
        let mut args = vec![
            "--listen".to_string(),
            SocketAddr::new(ip, self.port).to_string(),
            "--name".to_string(),
            self.name.clone(),
        ];
        match self.mode {
            BackendMode::Http => {}
            BackendMode::TcpEcho => args.push("--tcp-echo".into()),
            BackendMode::UdpEcho => args.push("--udp-echo".into()),
        }
        if self.announce {
            args.push("--announce".into());
        }
        args
    }

    /// Starts the backend on 127.0.0.1 in this network namespace and waits until it listens.
    /// `port` 0 is not allowed: the caller must know the address (pick one with a listener).
    pub async fn start_on_loopback(&self, log_dir: &Path) -> Result<RunningBackend> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut command = Command::new(&self.binary);
        command.args(self.args(addr.ip()));
        RunningBackend::start(self, command, addr, log_dir).await
    }
}

/// A started backend process; killed on drop.
#[derive(Debug)]
pub struct RunningBackend {
    process: ManagedProcess,
    addr: SocketAddr,
}

impl RunningBackend {
    pub(crate) async fn start(
        spec: &BackendSpec,
        command: Command,
        addr: SocketAddr,
        log_dir: &Path,
    ) -> Result<Self> {
        if spec.port == 0 {
            return Err(HarnessError::InvalidBackend {
                name: spec.name.clone(),
                detail: "port 0 cannot be waited for; pick a port (see free_loopback_ports)".into(),
            });
        }
        let log = log_dir.join(format!("backend-{}.log", spec.name));
        let mut process = ManagedProcess::start(format!("backend {}", spec.name), command, &log)?;
        wait_until_serving(&mut process, spec.mode, addr).await?;
        Ok(Self { process, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn process(&mut self) -> &mut ManagedProcess {
        &mut self.process
    }
}

/// Waits until the backend announces readiness: a TCP connect, or "listening" in its log for UDP.
async fn wait_until_serving(
    process: &mut ManagedProcess,
    mode: BackendMode,
    addr: SocketAddr,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + STARTUP_LIMIT;
    loop {
        if let Some(status) = process.exit_status() {
            return Err(process.startup_error(format!("exited with {status}")));
        }
        let ready = match mode {
            BackendMode::Http | BackendMode::TcpEcho => crate::net::accepts_tcp(addr).await,
            // UDP has no handshake: the backend logs a line once its socket is bound.
            BackendMode::UdpEcho => std::fs::read_to_string(process.log_path())
                .map(|log| log.contains("listening"))
                .unwrap_or(false),
        };
        if ready {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(
                process.startup_error(format!("not serving on {addr} after {STARTUP_LIMIT:?}"))
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_follow_the_mode() {
        let spec = BackendSpec::new("/bin/backend", "b1", BackendMode::UdpEcho, 9000).announce();
        assert_eq!(
            spec.args("10.0.0.2".parse().expect("ip")),
            [
                "--listen",
                "10.0.0.2:9000",
                "--name",
                "b1",
                "--udp-echo",
                "--announce"
            ]
        );
        let http = BackendSpec::new("/bin/backend", "b2", BackendMode::Http, 80);
        assert_eq!(
            http.args("127.0.0.1".parse().expect("ip")),
            ["--listen", "127.0.0.1:80", "--name", "b2"]
        );
    }
}
