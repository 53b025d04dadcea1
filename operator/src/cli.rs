//! Command line of the `mesh` binary: `mesh run` and its flags.
//!
//! Parsing only; turning flags into runtime settings happens in [`crate::app`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mesh_proxy::config::{AccessLogFormat, EntryPoint, StaticConfig};

/// Mesh: a Kubernetes ingress controller with status on every resource.
#[derive(Debug, Parser)]
#[command(name = "mesh", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch the cluster (or a manifests folder), serve its routes, report status.
    Run(Box<RunArgs>),
}

/// Flags of `mesh run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Read the world from this folder's YAML instead of a cluster (repeatable).
    #[arg(long = "manifests", value_name = "DIR")]
    pub manifests: Vec<PathBuf>,

    /// Entry point `NAME=ADDR[/tcp|/udp]` (repeatable); `:8000` listens on every address.
    #[arg(
        long = "entrypoint",
        value_name = "NAME=ADDR",
        value_parser = parse_entrypoint,
        default_values = ["web=:8000", "websecure=:8443"]
    )]
    pub entrypoints: Vec<(String, EntryPoint)>,

    /// Address of the admin API (`/api/...`, `/metrics`, `/ping`).
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub admin_addr: SocketAddr,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "MESH_LOG_FORMAT")]
    pub log_format: LogFormat,

    #[command(flatten)]
    pub access_log: AccessLogArgs,

    #[command(flatten)]
    pub provider: ProviderArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub leader: LeaderArgs,
}

impl RunArgs {
    /// The proxy's settings for the life of the process.
    pub fn static_config(&self) -> StaticConfig {
        StaticConfig {
            entry_points: self.entrypoints.iter().cloned().collect(),
            admin_address: Some(self.admin_addr),
            access_logs: self.access_log.enabled,
            access_log_path: self.access_log.path.clone(),
            access_log_format: match self.access_log.format {
                AccessLogStyle::Json => AccessLogFormat::Json,
                AccessLogStyle::Common => AccessLogFormat::Common,
            },
        }
    }
}

/// Access log of the proxy; a router's `observability.accessLogs` overrides `--access-log`.
#[derive(Debug, Args)]
pub struct AccessLogArgs {
    /// Write an access log line per request.
    #[arg(long = "access-log")]
    pub enabled: bool,

    /// Append access log lines to this file instead of standard output.
    #[arg(long = "access-log-path", value_name = "FILE")]
    pub path: Option<PathBuf>,

    /// Access log line format.
    #[arg(long = "access-log-format", value_enum, default_value_t = AccessLogStyle::Json)]
    pub format: AccessLogStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessLogStyle {
    /// One JSON object per line (Traefik's field names).
    Json,
    /// Common Log Format plus router, service and duration.
    Common,
}

/// Provider switches, named after Traefik's `providers.kubernetesCRD` options.
#[derive(Debug, Args)]
pub struct ProviderArgs {
    /// API groups read for Mesh's kinds (comma separated or repeated).
    #[arg(long, value_delimiter = ',', default_value = "mesh.io")]
    pub api_groups: Vec<String>,

    /// Namespaces to watch (comma separated or repeated); empty = all.
    #[arg(long, value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Label selector for Mesh's kinds (not for Services, Secrets, EndpointSlices).
    #[arg(long, default_value = "")]
    pub label_selector: String,

    /// Only handle routes of this ingress class (ingressClassName or the class annotation).
    #[arg(long, default_value = "")]
    pub ingress_class: String,

    /// Minimum delay between two rebuilds; changes in between are coalesced (e.g. `200ms`, `2s`).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub throttle: Duration,

    /// Let routes reference Services and middlewares in other namespaces.
    #[arg(long)]
    pub allow_cross_namespace: bool,

    /// Let routes use Services of type ExternalName.
    #[arg(long)]
    pub allow_external_name_services: bool,

    /// Keep services without endpoints (answer 503 instead of dropping the route: 404).
    #[arg(long)]
    pub allow_empty_services: bool,

    /// Use the Service's cluster IP instead of its endpoints unless a route says otherwise.
    #[arg(long)]
    pub native_lb_by_default: bool,

    /// Namespaces whose routes may use `name@provider` references (comma separated or
    /// repeated). Unset: every namespace may; `--cross-provider-namespaces=` (empty): none may.
    #[arg(long, value_delimiter = ',', value_name = "NS")]
    pub cross_provider_namespaces: Option<Vec<String>>,
}

impl ProviderArgs {
    /// The allowed namespaces: `None` when the flag is absent, empty names dropped (so an
    /// empty value means "no namespace").
    pub fn cross_provider_namespaces(&self) -> Option<Vec<String>> {
        self.cross_provider_namespaces.as_ref().map(|names| {
            names
                .iter()
                .map(|name| name.trim())
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }
}

/// How to reach the apiserver (ignored with `--manifests`).
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Kubeconfig file; default: `KUBECONFIG`, then `~/.kube/config`, then in-cluster.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,

    /// Apiserver URL (overrides the kubeconfig's server; with `--token` no kubeconfig is needed).
    #[arg(long)]
    pub endpoint: Option<String>,

    /// Bearer token, or the path of a file that holds it.
    #[arg(long)]
    pub token: Option<String>,

    /// CA bundle used to verify the apiserver given by `--endpoint`.
    #[arg(long)]
    pub cert_auth_file_path: Option<PathBuf>,
}

/// Leader election: only the Lease holder writes status and Events.
#[derive(Debug, Args)]
pub struct LeaderArgs {
    /// Take part in leader election (cluster mode). `false` = always write status.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,

    /// Name of the Lease.
    #[arg(long, default_value = "mesh-status")]
    pub lease_name: String,

    /// Namespace of the Lease; default: `POD_NAMESPACE`, then `default`.
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// This replica's identity in the Lease; default: `POD_NAME`, then host name + pid.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Seconds a Lease stays valid without renewal.
    #[arg(long, default_value_t = 15)]
    pub lease_duration_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_entrypoint(text: &str) -> Result<(String, EntryPoint), String> {
    EntryPoint::parse_named(text).map_err(|e| e.to_string())
}

/// Durations as `250ms`, `2s`, `1m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a duration such as 250ms, 2s or 1m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("`{text}`: unknown unit `{other}` (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_proxy::config::Protocol;

    fn run_args(args: &[&str]) -> RunArgs {
        let mut argv = vec!["mesh", "run"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Run(run),
            }) => *run,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    #[test]
    fn defaults_match_the_documented_surface() {
        let run = run_args(&[]);
        let names: Vec<&str> = run.entrypoints.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["web", "websecure"]);
        assert_eq!(
            run.entrypoints[0].1.address,
            "0.0.0.0:8000".parse().unwrap()
        );
        assert_eq!(
            run.entrypoints[1].1.address,
            "0.0.0.0:8443".parse().unwrap()
        );
        assert_eq!(run.admin_addr, "127.0.0.1:9000".parse().unwrap());
        let proxy = run.static_config();
        assert!(!proxy.access_logs);
        assert_eq!(proxy.access_log_format, AccessLogFormat::Json);
        assert_eq!(run.provider.api_groups, vec!["mesh.io"]);
        assert_eq!(run.provider.throttle, Duration::ZERO);
        assert!(run.leader.leader_elect);
        assert!(!run.provider.allow_cross_namespace);
    }

    #[test]
    fn entrypoints_and_groups_are_repeatable() {
        let run = run_args(&[
            "--entrypoint",
            "web=127.0.0.1:18000",
            "--entrypoint",
            "dns=[::1]:1053/udp",
            "--api-groups",
            "mesh.io,traefik.io",
            "--manifests",
            "a",
            "--manifests",
            "b",
            "--throttle",
            "250ms",
            "--leader-elect",
            "false",
        ]);
        assert_eq!(run.entrypoints.len(), 2);
        assert_eq!(run.entrypoints[0].0, "web");
        assert_eq!(
            run.entrypoints[0].1.address,
            "127.0.0.1:18000".parse().unwrap()
        );
        assert_eq!(run.entrypoints[1].0, "dns");
        assert_eq!(run.entrypoints[1].1.protocol, Protocol::Udp);
        assert_eq!(run.provider.api_groups, vec!["mesh.io", "traefik.io"]);
        assert_eq!(run.manifests.len(), 2);
        assert_eq!(run.provider.throttle, Duration::from_millis(250));
        assert!(!run.leader.leader_elect);
    }

    #[test]
    fn cross_provider_namespaces_unset_listed_or_empty() {
        assert_eq!(run_args(&[]).provider.cross_provider_namespaces(), None);
        let listed = run_args(&[
            "--cross-provider-namespaces",
            "a,b",
            "--cross-provider-namespaces",
            "c",
        ]);
        assert_eq!(
            listed.provider.cross_provider_namespaces(),
            Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()])
        );
        let empty = run_args(&["--cross-provider-namespaces="]);
        assert_eq!(empty.provider.cross_provider_namespaces(), Some(vec![]));
        let quoted_empty = run_args(&["--cross-provider-namespaces", ""]);
        assert_eq!(
            quoted_empty.provider.cross_provider_namespaces(),
            Some(vec![])
        );
    }

    #[test]
    fn bad_flags_explain_themselves() {
        let err = Cli::try_parse_from(["mesh", "run", "--entrypoint", "web=:80/sctp"]).unwrap_err();
        assert!(err.to_string().contains("unknown protocol `sctp`"), "{err}");
        let err = Cli::try_parse_from(["mesh", "run", "--throttle", "fast"]).unwrap_err();
        assert!(err.to_string().contains("expected a duration"), "{err}");
    }

    #[test]
    fn access_log_flags_reach_the_proxy_settings() {
        let run = run_args(&[
            "--access-log",
            "--access-log-path",
            "/var/log/mesh/access.log",
            "--access-log-format",
            "common",
        ]);
        let proxy = run.static_config();
        assert!(proxy.access_logs);
        assert_eq!(
            proxy.access_log_path.as_deref(),
            Some(std::path::Path::new("/var/log/mesh/access.log"))
        );
        assert_eq!(proxy.access_log_format, AccessLogFormat::Common);
        let err = Cli::try_parse_from(["mesh", "run", "--access-log-format", "xml"]).unwrap_err();
        assert!(err.to_string().contains("xml"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3d").unwrap_err().contains("unknown unit"));
    }
}
