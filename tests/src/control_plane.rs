//! A real control plane for tests: etcd and kube-apiserver on free loopback ports.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use tokio::sync::OnceCell;

use crate::binaries::Binaries;
use crate::error::{HarnessError, Result};
use crate::exit_cleanup::at_exit;
use crate::net::{accepts_tcp, free_loopback_ports};
use crate::pki::ControlPlanePki;
use crate::process::ManagedProcess;
use crate::{apply, kubeconfig};

/// The identity the operator's ServiceAccount has inside a cluster.
pub const OPERATOR_USER: &str = "system:serviceaccount:mesh-system:mesh";
/// Field manager used for everything the harness applies.
pub(crate) const FIELD_MANAGER: &str = "mesh-tests";

/// How long a cold apiserver may take on a busy 2-core machine before we give up.
const STARTUP_LIMIT: Duration = Duration::from_secs(180);
const CRD_ESTABLISHED_LIMIT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Run directories are `mesh-control-plane-<pid>-<random>`: a later run removes those of
/// test binaries that were killed before they could clean up.
const RUN_DIR_PREFIX: &str = "mesh-control-plane-";

/// Knobs for [`ControlPlane::start_with`].
#[derive(Debug, Clone, Default)]
pub struct ControlPlaneOptions {
    /// Extra kube-apiserver flags (appended last, so they override ours).
    pub extra_apiserver_args: Vec<String>,
}

/// etcd + kube-apiserver with RBAC, an admin and an operator identity. Drop stops both
/// processes and removes the run directory (certificates, data, logs, kubeconfigs).
#[derive(Debug)]
pub struct ControlPlane {
    // Declaration order is drop order: the apiserver goes before etcd, the directory last.
    apiserver: ManagedProcess,
    etcd: ManagedProcess,
    /// The apiserver's full command line, to start it again after [`ControlPlane::stop_apiserver`].
    apiserver_args: Vec<String>,
    server_url: String,
    admin_kubeconfig: PathBuf,
    operator_kubeconfig: PathBuf,
    binaries: Binaries,
    etcd_url: String,
    dir: RunDir,
}

/// The control plane's files: a temporary directory removed on drop, or one the caller
/// chose, which is kept.
#[derive(Debug)]
enum RunDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl RunDir {
    fn path(&self) -> &Path {
        match self {
            RunDir::Temporary(dir) => dir.path(),
            RunDir::Kept(path) => path,
        }
    }
}

/// The Cargo workspace root (the parent of the `tests` crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where the generated CRDs live: `helm/mesh/crds/`.
pub fn crd_dir() -> PathBuf {
    workspace_root().join("helm/mesh/crds")
}

impl ControlPlane {
    /// The control plane shared by all tests of this test binary, started on first use with
    /// Mesh's CRDs installed. Its processes die with the test binary.
    pub async fn shared() -> Result<&'static ControlPlane> {
        static SHARED: OnceCell<Result<ControlPlane, String>> = OnceCell::const_new();
        let shared = SHARED
            .get_or_init(|| async {
                let plane = ControlPlane::start()
                    .await
                    .map_err(|error| format!("{error:#}"))?;
                plane
                    .install_crds(&crd_dir())
                    .await
                    .map_err(|error| format!("{error:#}"))?;
                let pids = [plane.apiserver.pid(), plane.etcd.pid()];
                let dir = plane.data_dir().to_path_buf();
                at_exit(move || {
                    for pid in pids {
                        // SAFETY: plain kill(2) on pids we started and never reaped.
                        unsafe {
                            libc::kill(pid as libc::pid_t, libc::SIGKILL);
                        }
                    }
                    let _ = std::fs::remove_dir_all(dir);
                });
                Ok(plane)
            })
            .await;
        shared
            .as_ref()
            .map_err(|message| HarnessError::SharedStartFailed(message.clone()))
    }

    /// Starts a private control plane (no CRDs installed).
    pub async fn start() -> Result<Self> {
        Self::start_with(ControlPlaneOptions::default()).await
    }

    /// Starts a private control plane with extra options (no CRDs installed).
    pub async fn start_with(options: ControlPlaneOptions) -> Result<Self> {
        Self::start_custom(Binaries::get()?, None, options).await
    }

    /// Starts a private control plane from `binaries` (no CRDs installed). Its files go to
    /// `data_dir` (created if missing, kept after drop) or, if `None`, to a temporary
    /// directory removed on drop.
    pub async fn start_custom(
        binaries: Binaries,
        data_dir: Option<&Path>,
        options: ControlPlaneOptions,
    ) -> Result<Self> {
        // Free ports are only reserved until we release them for etcd and the apiserver;
        // another process may grab one in between. That, and only that, is worth a retry.
        let mut attempts_left = 3;
        loop {
            attempts_left -= 1;
            match Self::start_once(&binaries, data_dir, &options).await {
                Err(HarnessError::StartUp { log_tail, .. })
                    if attempts_left > 0 && log_tail.contains("address already in use") =>
                {
                    tracing::warn!("a control plane port was taken by another process; retrying");
                }
                result => return result,
            }
        }
    }

    async fn start_once(
        binaries: &Binaries,
        data_dir: Option<&Path>,
        options: &ControlPlaneOptions,
    ) -> Result<Self> {
        let binaries = binaries.clone();
        let dir = match data_dir {
            Some(path) => {
                std::fs::create_dir_all(path).map_err(HarnessError::io(format!(
                    "creating the control plane directory {}",
                    path.display()
                )))?;
                RunDir::Kept(path.to_path_buf())
            }
            None => {
                remove_dirs_of_dead_runs(&std::env::temp_dir());
                RunDir::Temporary(
                    tempfile::Builder::new()
                        .prefix(&format!("{RUN_DIR_PREFIX}{}-", std::process::id()))
                        .tempdir()
                        .map_err(HarnessError::io("creating the control plane directory"))?,
                )
            }
        };
        let root = dir.path();
        let ports = free_loopback_ports(3)?;
        let (etcd_client_port, etcd_peer_port, apiserver_port) = (ports[0], ports[1], ports[2]);

        let pki = ControlPlanePki::generate()?;
        let ca_file = root.join("ca.crt");
        let admin_token = random_token();
        let operator_token = random_token();
        write(&ca_file, &pki.ca_cert)?;
        write(&root.join("apiserver.crt"), &pki.serving_cert)?;
        write(&root.join("apiserver.key"), &pki.serving_key)?;
        write(&root.join("service-account.key"), &pki.service_account_key)?;
        write(
            &root.join("service-account.pub"),
            &pki.service_account_public_key,
        )?;
        write(
            &root.join("tokens.csv"),
            &format!(
                "{admin_token},admin,admin,system:masters\n\
                 {operator_token},{OPERATOR_USER},mesh-operator,\"system:serviceaccounts,system:serviceaccounts:mesh-system\"\n"
            ),
        )?;

        let etcd_url = format!("http://127.0.0.1:{etcd_client_port}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer_port}");
        let mut etcd_command = Command::new(&binaries.etcd);
        etcd_command.args([
            "--name=harness",
            &format!("--data-dir={}", root.join("etcd").display()),
            &format!("--listen-client-urls={etcd_url}"),
            &format!("--advertise-client-urls={etcd_url}"),
            &format!("--listen-peer-urls={peer_url}"),
            &format!("--initial-advertise-peer-urls={peer_url}"),
            &format!("--initial-cluster=harness={peer_url}"),
            // Test data is thrown away: durability only costs time.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]);
        let mut etcd = ManagedProcess::start("etcd", etcd_command, &root.join("etcd.log"))?;
        wait_for_tcp(&mut etcd, etcd_client_port).await?;

        let server_url = format!("https://127.0.0.1:{apiserver_port}");
        let mut all_apiserver_args = apiserver_args(root, &etcd_url, apiserver_port);
        all_apiserver_args.extend(options.extra_apiserver_args.iter().cloned());
        let mut apiserver = start_apiserver_process(&binaries, root, &all_apiserver_args)?;

        let admin_kubeconfig = root.join("admin.kubeconfig");
        let operator_kubeconfig = root.join("operator.kubeconfig");
        write(
            &admin_kubeconfig,
            &kubeconfig::render(&server_url, &ca_file, "admin", &admin_token),
        )?;
        write(
            &operator_kubeconfig,
            &kubeconfig::render(&server_url, &ca_file, "mesh-operator", &operator_token),
        )?;

        let admin = kubeconfig::client_from(&admin_kubeconfig).await?;
        wait_until_ready(&mut apiserver, &admin).await?;
        tracing::info!(%server_url, dir = %root.display(), "control plane ready");

        Ok(Self {
            apiserver,
            etcd,
            apiserver_args: all_apiserver_args,
            server_url,
            admin_kubeconfig,
            operator_kubeconfig,
            binaries,
            etcd_url,
            dir,
        })
    }

    /// etcd's client URL, `http://127.0.0.1:PORT`.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// The directory of certificates, etcd data, logs and kubeconfigs.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the apiserver, then etcd, each with SIGTERM and up to `grace` to exit before
    /// SIGKILL; then removes the directory unless the caller chose it.
    pub fn shut_down(mut self, grace: Duration) {
        self.apiserver.terminate(grace);
        self.etcd.terminate(grace);
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// Kubeconfig of a `system:masters` user.
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// Kubeconfig that authenticates as the operator's ServiceAccount
    /// (`system:serviceaccount:mesh-system:mesh`); it can do only what RBAC grants.
    pub fn operator_kubeconfig(&self) -> &Path {
        &self.operator_kubeconfig
    }

    pub async fn admin_client(&self) -> Result<kube::Client> {
        kubeconfig::client_from(&self.admin_kubeconfig).await
    }

    pub async fn operator_client(&self) -> Result<kube::Client> {
        kubeconfig::client_from(&self.operator_kubeconfig).await
    }

    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// Kills kube-apiserver (etcd keeps running): for clients, an apiserver outage. Only for
    /// a private control plane; [`ControlPlane::shared`] is shared by every test.
    pub fn stop_apiserver(&mut self) {
        self.apiserver.kill();
    }

    /// Starts kube-apiserver again after [`ControlPlane::stop_apiserver`]: same etcd, port,
    /// certificates and tokens, so existing kubeconfigs keep working. Returns once ready.
    pub async fn start_apiserver(&mut self) -> Result<()> {
        self.apiserver.kill();
        self.apiserver =
            start_apiserver_process(&self.binaries, self.dir.path(), &self.apiserver_args)?;
        let admin = self.admin_client().await?;
        wait_until_ready(&mut self.apiserver, &admin).await
    }

    /// The last lines of the apiserver's log, for diagnosing a failing test.
    pub fn apiserver_log_tail(&self, lines: usize) -> String {
        self.apiserver.log_tail(lines)
    }

    /// Server-side applies every CRD in `dir/*.yaml` and waits until each is Established.
    /// Returns the CRD names.
    pub async fn install_crds(&self, dir: &Path) -> Result<Vec<String>> {
        let client = self.admin_client().await?;
        let crds: Api<CustomResourceDefinition> = Api::all(client);
        let mut names = Vec::new();
        for file in yaml_files(dir)? {
            for crd in apply::read_documents::<CustomResourceDefinition>(&file)? {
                let name =
                    crd.metadata
                        .name
                        .clone()
                        .ok_or_else(|| HarnessError::InvalidManifest {
                            origin: file.display().to_string(),
                            detail: "a CRD without metadata.name".into(),
                        })?;
                crds.patch(
                    &name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&crd),
                )
                .await
                .map_err(HarnessError::kube(format!(
                    "installing CRD {name} from {}",
                    file.display()
                )))?;
                names.push(name);
            }
        }
        if names.is_empty() {
            return Err(HarnessError::NoCrds(dir.to_path_buf()));
        }
        for name in &names {
            let established = kube::runtime::wait::await_condition(
                crds.clone(),
                name,
                kube::runtime::wait::conditions::is_crd_established(),
            );
            match tokio::time::timeout(CRD_ESTABLISHED_LIMIT, established).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    return Err(HarnessError::CrdNotEstablished {
                        name: name.clone(),
                        detail: error.to_string(),
                    });
                }
                Err(_) => {
                    let conditions = crds
                        .get_opt(name)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|crd| crd.status)
                        .and_then(|status| status.conditions)
                        .map(|conditions| format!("{conditions:?}"))
                        .unwrap_or_else(|| "no status".into());
                    return Err(HarnessError::CrdNotEstablished {
                        name: name.clone(),
                        detail: format!(
                            "still not Established after {CRD_ESTABLISHED_LIMIT:?}; conditions: {conditions}"
                        ),
                    });
                }
            }
        }
        Ok(names)
    }
}

fn start_apiserver_process(
    binaries: &Binaries,
    root: &Path,
    args: &[String],
) -> Result<ManagedProcess> {
    let mut command = Command::new(&binaries.kube_apiserver);
    command.args(args);
    ManagedProcess::start("kube-apiserver", command, &root.join("apiserver.log"))
}

/// The smallest flag set that runs an apiserver without controllers.
fn apiserver_args(root: &Path, etcd_url: &str, port: u16) -> Vec<String> {
    let file = |name: &str| root.join(name).display().to_string();
    vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", file("apiserver-certs")),
        format!("--tls-cert-file={}", file("apiserver.crt")),
        format!("--tls-private-key-file={}", file("apiserver.key")),
        format!("--client-ca-file={}", file("ca.crt")),
        format!("--token-auth-file={}", file("tokens.csv")),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
        format!("--service-account-key-file={}", file("service-account.pub")),
        format!(
            "--service-account-signing-key-file={}",
            file("service-account.key")
        ),
        "--service-cluster-ip-range=10.96.0.0/16".into(),
        "--authorization-mode=RBAC".into(),
        // No controller-manager creates ServiceAccount tokens.
        "--disable-admission-plugins=ServiceAccount".into(),
        // 127.0.0.1 is not a valid endpoint for the `kubernetes` Service.
        "--endpoint-reconciler-type=none".into(),
        "--enable-priority-and-fairness=false".into(),
    ]
}

async fn wait_for_tcp(process: &mut ManagedProcess, port: u16) -> Result<()> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = tokio::time::Instant::now() + STARTUP_LIMIT;
    loop {
        if let Some(status) = process.exit_status() {
            return Err(process.startup_error(format!("exited with {status}")));
        }
        if accepts_tcp(addr).await {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(
                process.startup_error(format!("not listening on {addr} after {STARTUP_LIMIT:?}"))
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn wait_until_ready(apiserver: &mut ManagedProcess, client: &kube::Client) -> Result<()> {
    let deadline = tokio::time::Instant::now() + STARTUP_LIMIT;
    loop {
        if let Some(status) = apiserver.exit_status() {
            return Err(apiserver.startup_error(format!("exited with {status}")));
        }
        let last_error = match http::Request::get("/readyz").body(Vec::new()) {
            Ok(request) => match client.request_text(request).await {
                Ok(_) => return Ok(()),
                Err(error) => error.to_string(),
            },
            Err(error) => error.to_string(),
        };
        if tokio::time::Instant::now() > deadline {
            return Err(apiserver.startup_error(format!(
                "/readyz not ok after {STARTUP_LIMIT:?}: {last_error}"
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    apply::yaml_files_in(dir).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => HarnessError::NoCrds(dir.into()),
        _ => HarnessError::io(format!("reading {}", dir.display()))(error),
    })
}

fn remove_dirs_of_dead_runs(temp_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(temp_dir) else {
        return;
    };
    for entry in entries.filter_map(|entry| entry.ok()) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(run_dir_owner) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn run_dir_owner(name: &str) -> Option<u32> {
    let (pid, _random) = name.strip_prefix(RUN_DIR_PREFIX)?.split_once('-')?;
    pid.parse().ok()
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(HarnessError::io(format!("writing {}", path.display())))
}

fn random_token() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_files_are_sorted_and_filtered() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["b.yaml", "a.yml", "notes.txt"] {
            std::fs::write(dir.path().join(name), "").expect("write");
        }
        let names: Vec<String> = yaml_files(dir.path())
            .expect("list")
            .iter()
            .filter_map(|path| path.file_name()?.to_str().map(String::from))
            .collect();
        assert_eq!(names, ["a.yml", "b.yaml"]);
    }

    #[test]
    fn a_missing_crd_dir_says_how_to_generate_crds() {
        let message = yaml_files(Path::new("/nonexistent/crds"))
            .expect_err("must fail")
            .to_string();
        assert!(message.contains("/nonexistent/crds"), "{message}");
        assert!(message.contains("gen-crds"), "{message}");
    }

    #[test]
    fn run_dirs_of_dead_processes_are_removed() {
        let temp = tempfile::tempdir().expect("temp dir");
        // pid 0 never names a live test binary; our own pid is alive.
        let dead = temp.path().join(format!("{RUN_DIR_PREFIX}0-abc"));
        let alive = temp
            .path()
            .join(format!("{RUN_DIR_PREFIX}{}-abc", std::process::id()));
        let unrelated = temp.path().join("mesh-control-plane-notapid");
        for dir in [&dead, &alive, &unrelated] {
            std::fs::create_dir(dir).expect("create");
        }
        remove_dirs_of_dead_runs(temp.path());
        assert!(!dead.exists());
        assert!(alive.exists());
        assert!(unrelated.exists());
    }

    #[test]
    fn tokens_are_random() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 40);
    }
}
