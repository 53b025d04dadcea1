//! The hidden `serve-mesh` subcommand: Mesh as a child process, so the benchmark can pin it
//! to its own core and read its CPU time and memory like any other proxy's.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use mesh_proxy::config::{EntryPoint, Protocol};
use mesh_proxy::{ApplyReport, Config, Proxy, StaticConfig};

/// The entry point every benchmark router is declared on.
pub const ENTRY_POINT: &str = "web";

/// Reads the dynamic configuration (YAML or JSON) from `path`.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read Mesh configuration {}", path.display()))?;
    Config::from_yaml(&text).with_context(|| format!("in {}", path.display()))
}

/// Static settings of the benchmark: entry point `web` on `listen`; no admin API, no access
/// log (the peers run without theirs too).
pub fn static_config(listen: SocketAddr) -> StaticConfig {
    StaticConfig {
        entry_points: BTreeMap::from([(
            ENTRY_POINT.to_owned(),
            EntryPoint {
                address: listen,
                protocol: Protocol::Tcp,
            },
        )]),
        admin_address: None,
        access_logs: false,
        ..StaticConfig::default()
    }
}

/// A benchmark must serve every router it declares: any router left out is an error.
pub fn ensure_every_router_served(report: &ApplyReport) -> anyhow::Result<()> {
    let failing: Vec<String> = report
        .routers
        .iter()
        .filter(|(_, router)| !router.errors.is_empty())
        .take(5)
        .map(|(name, router)| {
            let reasons: Vec<&str> = router.errors.iter().map(|p| p.message.as_str()).collect();
            format!("{name}: {}", reasons.join("; "))
        })
        .collect();
    if failing.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("Mesh left routers out: {}", failing.join(" | "))
    }
}

/// Builds the runtime (`threads == 1`: tokio's current-thread runtime, no worker hand-off),
/// applies the configuration and serves until killed.
pub fn run(config_path: &Path, listen: SocketAddr, threads: usize) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        let proxy = Proxy::new(static_config(listen));
        let report = proxy.apply(config);
        ensure_every_router_served(&report)?;
        tracing::info!(
            routers = report.routers.len(),
            apply_ms = report.apply_seconds * 1e3,
            "serving"
        );
        proxy.serve().await.context("Mesh stopped serving")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_router_left_out_is_an_error_naming_it() {
        let config = Config::from_yaml(
            "http:\n  routers:\n    ok: {rule: \"Host(`a`)\", service: s}\n    \
             broken: {rule: \"Host(`b`)\", service: missing}\n  services:\n    \
             s: {loadBalancer: {servers: [{url: \"http://127.0.0.1:9\"}]}}\n",
        )
        .unwrap();
        let proxy = Proxy::new(static_config("127.0.0.1:0".parse().unwrap()));
        let report = proxy.apply(config);
        let err = ensure_every_router_served(&report).unwrap_err().to_string();
        assert!(err.contains("broken:"), "{err}");
        assert!(!err.contains("ok:"), "{err}");
    }

    #[tokio::test]
    async fn a_clean_configuration_passes() {
        let routes = crate::routes::RouteSet::new(3, "127.0.0.1:9".parse().unwrap());
        let config = Config::from_yaml(&crate::configs::dynamic_config_yaml(&routes)).unwrap();
        let proxy = Proxy::new(static_config("127.0.0.1:0".parse().unwrap()));
        ensure_every_router_served(&proxy.apply(config)).unwrap();
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let err = load_config(Path::new("/nonexistent/mesh.yml")).unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/mesh.yml"),
            "{err:#}"
        );
    }
}
