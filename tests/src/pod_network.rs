//! "Pods" for tests: network namespaces joined to the root namespace by veth pairs.
//!
//! The apiserver rejects loopback addresses in EndpointSlices, so a backend a Service points
//! at must have a real address. Each pod gets one from a private /24 chosen per test run
//! (`10.213.X.0/24`); the root side of every veth carries the gateway `10.213.X.1/32` and a
//! host route to the pod, so traffic flows between the root namespace and each pod only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::backend::{BackendSpec, RunningBackend};
use crate::error::{HarnessError, Result};
use crate::process::{require_tool, run};

const IP_TOOL_HINT: &str =
    "install iproute2, e.g. `apt-get install -y iproute2`; the pod network also needs root";
/// Netns names are `mesh-<pid>-<n>`, so a later run can tell whose leftovers they are.
const NETNS_PREFIX: &str = "mesh-";
const FIRST_HOST: u32 = 2;
const LAST_HOST: u32 = 254;

/// The per-process pod network: one /24, hosts handed out in order.
#[derive(Debug)]
pub struct PodNetwork {
    third_octet: u8,
    next_host: AtomicU32,
    pods_created: AtomicU32,
}

impl PodNetwork {
    /// The pod network of this process, set up on first use.
    pub fn get() -> Result<&'static PodNetwork> {
        static NETWORK: OnceLock<Result<PodNetwork, String>> = OnceLock::new();
        NETWORK
            .get_or_init(|| Self::init().map_err(|error| error.to_string()))
            .as_ref()
            .map_err(|message| HarnessError::PodNetwork(message.clone()))
    }

    fn init() -> Result<Self> {
        require_tool("ip", IP_TOOL_HINT)?;
        remove_leftovers_of_dead_runs();
        let in_use = format!(
            "{}{}",
            run("ip", &["-4", "addr", "show"])?,
            run("ip", &["-4", "route", "show"])?
        );
        let third_octet = (0..64)
            .map(|_| fastrand::u8(..))
            .find(|octet| !in_use.contains(&format!("10.213.{octet}.")))
            .ok_or_else(|| HarnessError::PodNetwork("no free 10.213.X.0/24 subnet found".into()))?;
        Ok(Self {
            third_octet,
            next_host: AtomicU32::new(FIRST_HOST),
            pods_created: AtomicU32::new(0),
        })
    }

    /// `10.213.X.0/24`.
    pub fn subnet(&self) -> String {
        format!("10.213.{}.0/24", self.third_octet)
    }

    /// The root namespace's address as seen from every pod: `10.213.X.1`.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.third_octet, 1)
    }

    /// Creates a network namespace with its own address, reachable from the root namespace.
    pub fn create_pod(&self, name: &str) -> Result<Pod> {
        let host = self.next_host.fetch_add(1, Ordering::Relaxed);
        if host > LAST_HOST {
            return Err(HarnessError::PodNetwork(format!(
                "{} is exhausted ({} pods in this run)",
                self.subnet(),
                LAST_HOST - FIRST_HOST + 1
            )));
        }
        let index = self.pods_created.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let dir = tempfile::Builder::new()
            .prefix("mesh-pod-")
            .tempdir()
            .map_err(HarnessError::io("creating a pod directory"))?;
        let mut pod = Pod {
            name: name.to_string(),
            netns: format!("{NETNS_PREFIX}{pid}-{index}"),
            // Interface names are at most 15 bytes: "m" + pid (<= 7) + "p" + index.
            root_link: format!("m{pid}p{index}"),
            ip: Ipv4Addr::new(10, 213, self.third_octet, host as u8),
            gateway: self.gateway(),
            backends: Vec::new(),
            created: false,
            dir,
        };
        run("ip", &["netns", "add", &pod.netns])?;
        pod.created = true; // from here on, drop removes the namespace
        pod.wire()?;
        Ok(pod)
    }
}

/// A network namespace with one veth to the root namespace. Drop kills its processes and
/// deletes the namespace and the veth pair.
#[derive(Debug)]
pub struct Pod {
    name: String,
    netns: String,
    root_link: String,
    ip: Ipv4Addr,
    gateway: Ipv4Addr,
    backends: Vec<RunningBackend>,
    created: bool,
    dir: tempfile::TempDir,
}

impl Pod {
    fn wire(&self) -> Result<()> {
        let (ns, link) = (self.netns.as_str(), self.root_link.as_str());
        let gateway = self.gateway.to_string();
        let ip = self.ip.to_string();
        run(
            "ip",
            &[
                "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        )?;
        run(
            "ip",
            &["addr", "add", &format!("{gateway}/32"), "dev", link],
        )?;
        run("ip", &["link", "set", link, "up"])?;
        run(
            "ip",
            &[
                "route",
                "add",
                &format!("{ip}/32"),
                "dev",
                link,
                "src",
                &gateway,
            ],
        )?;
        run(
            "ip",
            &["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"],
        )?;
        run("ip", &["-n", ns, "link", "set", "eth0", "up"])?;
        run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        run(
            "ip",
            &["-n", ns, "route", "add", "default", "via", &gateway],
        )?;
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The network namespace's name (for `ip netns exec`).
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The root-namespace end of the veth pair.
    pub fn root_link(&self) -> &str {
        &self.root_link
    }

    /// A command that runs `program` inside this pod's network namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns]).arg(program);
        command
    }

    /// Starts a backend inside the pod on `pod-ip:spec.port`, waits until it serves, and
    /// returns its address. The backend lives as long as the pod.
    pub async fn start_backend(&mut self, spec: &BackendSpec) -> Result<SocketAddr> {
        let addr = SocketAddr::new(IpAddr::V4(self.ip), spec.port);
        let mut command = self.command(&spec.binary);
        command.args(spec.args(addr.ip()));
        let backend = RunningBackend::start(spec, command, addr, self.dir.path()).await?;
        self.backends.push(backend);
        Ok(addr)
    }

    /// The pod's scratch directory (backend logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        self.backends.clear();
        if self.created {
            // Deleting the namespace destroys the veth pair with it; the second delete covers
            // a pair whose pod end never moved into the namespace.
            let _ = run("ip", &["netns", "del", &self.netns]);
            let _ = run("ip", &["link", "del", &self.root_link]);
        }
    }
}

/// Deletes `mesh-<pid>-<n>` namespaces whose test process is gone (killed before its drops ran).
fn remove_leftovers_of_dead_runs() {
    let Ok(list) = run("ip", &["netns", "list"]) else {
        return;
    };
    for netns in list
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        if let Some(pid) = owner_pid(netns)
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = run("ip", &["netns", "del", netns]);
        }
    }
}

fn owner_pid(netns: &str) -> Option<u32> {
    let rest = netns.strip_prefix(NETNS_PREFIX)?;
    let (pid, index) = rest.split_once('-')?;
    index.parse::<u32>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_namespaces_are_recognised_by_name() {
        assert_eq!(owner_pid("mesh-4242-7"), Some(4242));
        assert_eq!(owner_pid("mesh-4242"), None);
        assert_eq!(owner_pid("other-4242-7"), None);
        assert_eq!(owner_pid("mesh-abc-1"), None);
    }
}
