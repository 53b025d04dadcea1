//! `mesh run`: wires the world's sources (cluster watchers or manifests folders), the
//! pipeline, the proxy, leader election and the status writer together.

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::cli::{LeaderArgs, ProviderArgs, RunArgs};
use crate::leader::{Leadership, LeaseSettings};
use crate::options::ProviderOptions;
use crate::pipeline::{Pipeline, Rebuild};
use crate::status::{StatusBatch, StatusBoard, StatusWriter};
use crate::world::{DataRetention, World};
use crate::{connect, dataplane, manifests, watch as watchers};

/// The provider switches the translation reads.
pub fn provider_options(args: &ProviderArgs) -> ProviderOptions {
    ProviderOptions {
        namespaces: args.namespaces.clone(),
        ingress_class: args.ingress_class.clone(),
        allow_cross_namespace: args.allow_cross_namespace,
        allow_external_name_services: args.allow_external_name_services,
        allow_empty_services: args.allow_empty_services,
        native_lb_by_default: args.native_lb_by_default,
        disable_cluster_scope_resources: false,
        cross_provider_namespaces: args.cross_provider_namespaces(),
    }
}

/// Start-time notices about permissive or restrictive provider switches (reference §6.1).
fn announce_provider_switches(options: &ProviderOptions) {
    if options.allow_cross_namespace {
        warn!("cross-namespace references are enabled (--allow-cross-namespace)");
    }
    if options.allow_external_name_services {
        info!("Services of type ExternalName may be used (--allow-external-name-services)");
    }
    if let Some(namespaces) = &options.cross_provider_namespaces {
        if namespaces.is_empty() {
            warn!(
                "--cross-provider-namespaces is set and empty: no namespace may use name@provider references"
            );
        } else {
            warn!(
                namespaces = %namespaces.join(","),
                "--cross-provider-namespaces is set: only these namespaces may use name@provider references"
            );
        }
    }
}

/// The Lease settings, with identity and namespace defaults filled in.
pub fn lease_settings(args: &LeaderArgs) -> LeaseSettings {
    let identity = args.identity.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "mesh".to_owned());
        format!("{host}-{}", std::process::id())
    });
    LeaseSettings {
        namespace: args
            .lease_namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
        name: args.lease_name.clone(),
        identity,
        duration: Duration::from_secs(args.lease_duration_secs),
    }
}

/// Runs until SIGINT/SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let manifests_mode = !args.manifests.is_empty();
    let options = provider_options(&args.provider);
    announce_provider_switches(&options);
    // Manifests hold every Secret and ConfigMap anyway; from a cluster, keep only the
    // referenced ones.
    let world = World::with_data_retention(if manifests_mode {
        DataRetention::All
    } else {
        DataRetention::Referenced
    });
    let board = StatusBoard::new();
    let (data_plane, running) = dataplane::start(args.static_config(), board.clone())
        .await
        .context("cannot start the proxy")?;

    let (batches, batches_rx) = watch::channel(StatusBatch::default());
    let (rebuilds, _) = watch::channel(Rebuild::default());
    let pipeline = Pipeline {
        world: world.clone(),
        options,
        throttle: args.provider.throttle,
        data_plane,
        board: board.clone(),
        batches,
        rebuilds,
    };

    let mut tasks = JoinSet::new();
    let mut leadership = None;
    if manifests_mode {
        let count = manifests::load_into(&args.manifests, &world);
        info!(objects = count, folders = ?args.manifests, "running from manifests, no cluster");
        tasks.spawn(manifests::watch(args.manifests.clone(), world.clone()));
        tasks.spawn(pipeline.run());
    } else {
        let client = connect::client(&args.connection).await?;
        let specs = watchers::watch_specs(
            &args.provider.api_groups,
            &args.provider.namespaces,
            &args.provider.label_selector,
        );
        let sync = watchers::spawn_watchers(client.clone(), specs, world.clone(), &mut tasks);
        tasks.spawn(watchers::fetch_referenced_data(
            client.clone(),
            world.clone(),
        ));
        let fetch_client = client.clone();
        let fetch_world = world.clone();
        let settings = lease_settings(&args.leader);
        let elected = if args.leader.leader_elect {
            Leadership::elect(client.clone(), settings.clone())
        } else {
            Leadership::always()
        };
        let leading = elected.subscribe();
        tasks.spawn(mirror_leadership(leading.clone(), board.clone()));
        let writer = StatusWriter::new(client, world.clone(), &settings.identity);
        tasks.spawn(writer.run(batches_rx, leading));
        leadership = Some(elected);
        tasks.spawn(async move {
            // Statuses computed before every list arrived would call present objects missing.
            sync.wait().await;
            // Secrets and ConfigMaps listed before the objects referring to them were
            // dropped: take them back first, or the first statuses would call them missing.
            watchers::fetch_wanted_data(&fetch_client, &fetch_world).await;
            info!("initial lists received; building the configuration");
            pipeline.run().await;
        });
    }

    tokio::select! {
        () = shutdown_signal() => info!("shutting down"),
        Some(ended) = tasks.join_next() => {
            if let Err(error) = ended {
                warn!(%error, "a task ended unexpectedly");
            }
        }
        served = running.wait() => {
            if let Err(error) = served {
                warn!(%error, "the proxy stopped");
            }
        }
    }
    if let Some(leadership) = leadership {
        leadership.release().await;
    }
    tasks.abort_all();
    Ok(())
}

/// Shows leadership on `/api/status`.
async fn mirror_leadership(mut leading: watch::Receiver<bool>, board: StatusBoard) {
    loop {
        board.set_leader(*leading.borrow_and_update());
        if leading.changed().await.is_err() {
            return;
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn run_args(args: &[&str]) -> RunArgs {
        let mut argv = vec!["mesh", "run"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Run(run),
            }) => *run,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn provider_flags_reach_the_translation_options() {
        let args = run_args(&[
            "--namespaces",
            "a,b",
            "--ingress-class",
            "internal",
            "--allow-cross-namespace",
            "--allow-external-name-services",
            "--allow-empty-services",
            "--native-lb-by-default",
            "--cross-provider-namespaces",
            "apps",
        ]);
        let options = provider_options(&args.provider);
        assert_eq!(options.namespaces, ["a", "b"]);
        assert_eq!(options.ingress_class, "internal");
        assert!(options.allow_cross_namespace);
        assert!(options.allow_external_name_services);
        assert!(options.allow_empty_services);
        assert!(options.native_lb_by_default);
        assert_eq!(
            options.cross_provider_namespaces,
            Some(vec!["apps".to_owned()])
        );
        let none = provider_options(&run_args(&["--cross-provider-namespaces="]).provider);
        assert_eq!(none.cross_provider_namespaces, Some(vec![]));
        let unset = provider_options(&run_args(&[]).provider);
        assert_eq!(unset.cross_provider_namespaces, None);
    }

    #[test]
    fn lease_settings_fill_defaults() {
        let args = run_args(&[
            "--lease-name",
            "l",
            "--identity",
            "pod-a",
            "--lease-namespace",
            "mesh-system",
        ]);
        let settings = lease_settings(&args.leader);
        assert_eq!(
            (
                settings.name.as_str(),
                settings.namespace.as_str(),
                settings.identity.as_str()
            ),
            ("l", "mesh-system", "pod-a")
        );
        assert_eq!(settings.duration, Duration::from_secs(15));
    }
}
