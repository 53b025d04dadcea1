//! Connecting like kubectl: `--kubeconfig` (or `$KUBECONFIG`, a `:`-separated list, or
//! `~/.kube/config`), `--context`, the context's namespace as the default.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::version::Info;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use super::errors::unreachable;
use crate::cli::GlobalArgs;
use crate::error::{CliError, CliResult};

/// A dead address should fail in seconds, not after kube's default 30 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for the cluster the flags select, and what a command needs to know about it.
#[derive(Clone)]
pub(crate) struct Cluster {
    pub client: kube::Client,
    /// The namespace of `-n`, else the context's, else `default`.
    pub namespace: String,
    /// The apiserver URL, for messages.
    pub server: String,
    /// The kubeconfig context in use (`None` in-cluster).
    pub context: Option<String>,
    /// What `/version` answered when connecting.
    pub version: Info,
}

/// Which namespaces a list covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    AllNamespaces,
    Namespace(String),
}

impl Scope {
    /// The namespace, or `None` for every namespace.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Scope::AllNamespaces => None,
            Scope::Namespace(namespace) => Some(namespace),
        }
    }
}

impl Cluster {
    /// `-A`: every namespace; else the resolved default namespace.
    pub fn scope(&self, global: &GlobalArgs) -> Scope {
        if global.all_namespaces {
            Scope::AllNamespaces
        } else {
            Scope::Namespace(self.namespace.clone())
        }
    }

    /// `v1.35.0`-style version of the apiserver.
    pub fn server_version(&self) -> &str {
        &self.version.git_version
    }
}

/// Connects with kubectl's flags and checks that the apiserver answers (`/version`), so
/// an unreachable cluster is reported here, once, with its URL.
pub(crate) async fn connect(global: &GlobalArgs) -> CliResult<Cluster> {
    let (mut config, context) = match load_kubeconfig(global)? {
        Some(kubeconfig) => {
            let context = global
                .context
                .clone()
                .or_else(|| kubeconfig.current_context.clone());
            let options = KubeConfigOptions {
                context: global.context.clone(),
                ..KubeConfigOptions::default()
            };
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|error| kubeconfig_error(error, global))?;
            (config, context)
        }
        None => match kube::Config::incluster() {
            Ok(config) => (config, None),
            Err(_) => return Err(no_kubeconfig()),
        },
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    let namespace = global
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let server = config.cluster_url.to_string();
    let server = server.trim_end_matches('/').to_string();
    let client = kube::Client::try_from(config).map_err(|error| {
        CliError::usage(format!("cannot build a client for {server}: {error}"))
            .with_hint("check the cluster and user entries of the kubeconfig context")
    })?;
    let mut cluster = Cluster {
        client,
        namespace,
        server,
        context,
        version: Info::default(),
    };
    cluster.version = cluster
        .client
        .apiserver_version()
        .await
        .map_err(|error| unreachable(&cluster, error))?;
    Ok(cluster)
}

/// The kubeconfig files kubectl would read, merged in order; `None` when there is none.
fn load_kubeconfig(global: &GlobalArgs) -> CliResult<Option<Kubeconfig>> {
    let paths: Vec<PathBuf> = match &global.kubeconfig {
        Some(list) => std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => match std::env::var_os("HOME") {
            Some(home) => vec![PathBuf::from(home).join(".kube/config")],
            None => Vec::new(),
        },
    };
    let single = paths.len() == 1 && global.kubeconfig.is_some();
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        if !path.exists() {
            // kubectl skips missing entries of $KUBECONFIG, but a single named file must exist.
            if single {
                return Err(CliError::usage(format!(
                    "kubeconfig {} does not exist",
                    path.display()
                ))
                .with_hint("pass an existing file with --kubeconfig or $KUBECONFIG"));
            }
            continue;
        }
        let next = Kubeconfig::read_from(&path).map_err(|error| {
            CliError::usage(format!(
                "cannot read kubeconfig {}: {}",
                path.display(),
                super::errors::causes(&error)
            ))
            .with_hint("check that the file is a kubeconfig (`kubectl config view`)")
        })?;
        merged = Some(match merged {
            None => next,
            Some(first) => first.merge(next).map_err(|error| {
                CliError::usage(format!("cannot merge the kubeconfig files: {error}"))
            })?,
        });
    }
    Ok(merged)
}

fn no_kubeconfig() -> CliError {
    CliError::connection("no kubeconfig found ($KUBECONFIG is unset and ~/.kube/config does not exist) and not running in a cluster")
        .with_hint("pass --kubeconfig PATH or set KUBECONFIG, as for kubectl")
}

fn kubeconfig_error(error: KubeconfigError, global: &GlobalArgs) -> CliError {
    match (&error, &global.context) {
        (KubeconfigError::LoadContext(_), Some(context)) => {
            CliError::usage(format!("context `{context}` is not in the kubeconfig"))
                .with_hint("`kubectl config get-contexts` lists the contexts")
        }
        (KubeconfigError::CurrentContextNotSet, _) => {
            CliError::usage("the kubeconfig has no current context")
                .with_hint("pass --context NAME or run `kubectl config use-context NAME`")
        }
        _ => CliError::usage(format!(
            "unusable kubeconfig: {}",
            super::errors::causes(&error)
        ))
        .with_hint("check the context's cluster and user entries (`kubectl config view`)"),
    }
}
