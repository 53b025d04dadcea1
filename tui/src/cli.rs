//! Command line of `kubectl mesh`: kubectl's global flags and one subcommand each.
//!
//! Parsing only; each subcommand's work lives in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Inspect Mesh ingress resources: status, live routes, lint, pre-flight checks, dashboard.
#[derive(Debug, Parser)]
#[command(name = "kubectl mesh", bin_name = "kubectl mesh", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's own flags, with the same names and meanings.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, env = "KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Namespace scope (default: the context's namespace).
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,

    /// Every namespace.
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,

    /// Label selector, e.g. `app=web,tier!=cache`.
    #[arg(short = 'l', long, global = true, value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Print tables without their header line.
    #[arg(long, global = true)]
    pub no_headers: bool,

    /// Namespace of the Mesh controller pods (the Helm chart's release namespace).
    #[arg(
        long,
        global = true,
        env = "MESH_CONTROLLER_NAMESPACE",
        default_value = "mesh-system",
        value_name = "NS"
    )]
    pub controller_namespace: String,

    /// Label selector of the Mesh controller pods (the Helm chart's labels).
    #[arg(
        long,
        global = true,
        default_value = "app.kubernetes.io/name=mesh",
        value_name = "SELECTOR"
    )]
    pub controller_selector: String,

    /// Port of the controller pods' admin API.
    #[arg(long, global = true, default_value_t = 9000, value_name = "PORT")]
    pub admin_port: u16,

    /// Talk to this admin API directly (a local `mesh run`) instead of the controller pods
    /// through the apiserver's pod proxy.
    #[arg(long, global = true, env = "MESH_ADMIN_URL", value_name = "URL")]
    pub admin_url: Option<String>,
}

/// `-o`: kubectl's table, wide table, JSON or YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Wide,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One row per Mesh resource and Ingress: ready, reason, message; problems first.
    Status(StatusArgs),
    /// The live router tables (HTTP, TCP, UDP) of every controller pod.
    Routes(RoutesArgs),
    /// Conditions, the route -> router -> middlewares -> service -> servers chain, Events.
    Describe(DescribeArgs),
    /// Check manifests offline with the operator's own translation (no cluster needed).
    Lint(LintArgs),
    /// Pre-flight checks of the installation, each with a hint.
    Check(CheckArgs),
    /// Certificates the proxy serves, soonest expiry first.
    Certs(CertsArgs),
    /// The interactive terminal dashboard.
    Dashboard(DashboardArgs),
    /// The plugin's and the controller's versions.
    Version,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these kinds (e.g. `ingressroute`, `ir`, `middleware`); repeatable.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Only objects that are not Ready.
    #[arg(long)]
    pub problems: bool,
    /// Keep watching and print again on every change.
    #[arg(short = 'w', long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct RoutesArgs {
    /// Only this protocol's table.
    #[arg(long, value_enum)]
    pub protocol: Option<RouteProtocol>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouteProtocol {
    Http,
    Tcp,
    Udp,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The object: `KIND/NAME` (e.g. `ingressroute/web`, `ir/web`, `middleware/auth`).
    #[arg(value_name = "KIND/NAME")]
    pub object: String,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// A manifest file or a folder of them (repeatable).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR",
        required = true
    )]
    pub paths: Vec<PathBuf>,
    /// As `mesh run --allow-cross-namespace`: references to other namespaces are allowed.
    #[arg(long)]
    pub allow_cross_namespace: bool,
    /// As `mesh run --allow-external-name-services`: ExternalName Services may be backends.
    #[arg(long)]
    pub allow_external_name_services: bool,
    /// As `mesh run --allow-empty-services`: a Service without endpoints keeps its route.
    #[arg(long)]
    pub allow_empty_services: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only the checks that make sense before installing Mesh.
    #[arg(long)]
    pub pre: bool,
    /// The controller's ServiceAccount (in --controller-namespace) whose RBAC is checked.
    #[arg(long, default_value = "mesh", value_name = "NAME")]
    pub service_account: String,
}

#[derive(Debug, Args)]
pub struct CertsArgs {}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// How often the admin API is polled, e.g. `1s`.
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    pub refresh: std::time::Duration,
}

fn parse_interval(value: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((value, "s"), |at| value.split_at(at));
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not a duration like 500ms or 2s"))?;
    let seconds = match unit {
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(format!("`{value}`: unit must be ms, s or m")),
    };
    if !(0.05..=3600.0).contains(&seconds) {
        return Err(format!("`{value}` must be between 50ms and 1h"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_starts_with_kubectl_mesh() {
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("Usage: kubectl mesh"), "{help}");
    }

    #[test]
    fn intervals_parse_with_units() {
        assert_eq!(
            parse_interval("500ms").unwrap(),
            std::time::Duration::from_millis(500)
        );
        assert_eq!(
            parse_interval("2").unwrap(),
            std::time::Duration::from_secs(2)
        );
        assert!(parse_interval("fast").is_err());
        assert!(parse_interval("0ms").is_err());
    }
}
