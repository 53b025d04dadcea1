//! The controllers' admin API: found by label in the controller namespace and reached
//! through the apiserver's pod proxy, or at `--admin-url`.
//!
//! - `client`: one controller's admin API over either transport.
//! - `dto`: the JSON it serves, mapped to the shared model rows.

mod client;
mod dto;

use futures::future::join_all;

pub(crate) use client::AdminClient;

use crate::cli::GlobalArgs;
use crate::cluster::{Cluster, connect, controller_pods};
use crate::error::{CliError, CliResult};
use crate::model::{ControllerSet, ControllerView, Protocol};

/// Reads what every controller serves. With `--admin-url`, that one admin API (an error if
/// it does not answer); else every Running controller pod through the apiserver's pod proxy,
/// using `client` or a client built from kubeconfig flags. A pod that does not answer gets a
/// view with its `error`; no pod at all, or none answering, is a connection error.
pub(crate) async fn fetch_controllers(
    global: &GlobalArgs,
    cluster: Option<&Cluster>,
) -> CliResult<ControllerSet> {
    if let Some(url) = &global.admin_url {
        let admin = AdminClient::direct(url).map_err(CliError::usage)?;
        let view = fetch_view(&admin).await;
        if let Some(error) = &view.error {
            return Err(CliError::connection(error.clone())
                .with_hint("is `mesh run` running there? Its admin address is --admin-addr"));
        }
        return Ok(ControllerSet {
            controllers: vec![view],
            lease_holder: None,
        });
    }
    let connected;
    let cluster = match cluster {
        Some(cluster) => cluster,
        None => {
            connected = connect(global).await?;
            &connected
        }
    };
    let admins = controller_admins(global, cluster).await?;
    let fetched = join_all(admins.iter().map(|admin| async move {
        let view = fetch_view(admin).await;
        let leads = admin.get::<dto::StatusBoard>("/api/status").await.ok();
        (view, leads.and_then(|board| board.leader) == Some(true))
    }))
    .await;
    if fetched.iter().all(|(view, _)| view.error.is_some()) {
        let errors: Vec<String> = fetched
            .iter()
            .filter_map(|(view, _)| view.error.clone())
            .collect();
        return Err(CliError::connection(format!(
            "no Mesh controller answered: {}",
            errors.join("; ")
        ))
        .with_hint("check the pods' logs and that the admin API listens on --admin-port"));
    }
    let lease_holder = fetched
        .iter()
        .find(|(_, leads)| *leads)
        .map(|(view, _)| view.name.clone());
    Ok(ControllerSet {
        controllers: fetched.into_iter().map(|(view, _)| view).collect(),
        lease_holder,
    })
}

/// The Running controller pods, as admin clients through the apiserver's pod proxy.
async fn controller_admins(global: &GlobalArgs, cluster: &Cluster) -> CliResult<Vec<AdminClient>> {
    let namespace = &global.controller_namespace;
    let selector = &global.controller_selector;
    let pods = controller_pods(cluster, namespace, selector).await?;
    let running: Vec<_> = pods.iter().filter(|pod| pod.phase == "Running").collect();
    if running.is_empty() {
        return Err(CliError::connection(format!(
            "no Mesh controller pods match {selector} in {namespace}"
        ))
        .with_hint(
            "use --controller-namespace/--controller-selector, or --admin-url for a local mesh run",
        ));
    }
    Ok(running
        .iter()
        .map(|pod| {
            AdminClient::pod_proxy(
                cluster.client.clone(),
                namespace,
                &pod.name,
                global.admin_port,
            )
        })
        .collect())
}

/// Everything one controller serves; the first failing read becomes the view's error.
async fn fetch_view(admin: &AdminClient) -> ControllerView {
    let mut view = ControllerView {
        name: admin.name.clone(),
        ..ControllerView::default()
    };
    if let Err(error) = fill_view(admin, &mut view).await {
        view = ControllerView {
            name: admin.name.clone(),
            error: Some(error),
            ..ControllerView::default()
        };
    }
    view
}

async fn fill_view(admin: &AdminClient, view: &mut ControllerView) -> Result<(), String> {
    let (version, overview, entry_points, certificates) = futures::try_join!(
        admin.get::<dto::Version>("/api/version"),
        admin.get::<dto::Overview>("/api/overview"),
        admin.get::<Vec<dto::EntryPoint>>("/api/entrypoints"),
        admin.get::<Vec<dto::Certificate>>("/api/certificates"),
    )?;
    view.version = version.version;
    view.generation = overview.generation;
    view.entry_points = entry_points.into_iter().map(dto::EntryPoint::row).collect();
    view.certificates = certificates
        .into_iter()
        .map(dto::Certificate::row)
        .collect();
    for protocol in Protocol::ALL {
        let kind = protocol.as_str();
        let (routers_path, services_path) = (
            format!("/api/{kind}/routers"),
            format!("/api/{kind}/services"),
        );
        let (routers, services) = futures::try_join!(
            admin.get::<Vec<dto::Router>>(&routers_path),
            admin.get::<Vec<dto::Service>>(&services_path),
        )?;
        view.routers
            .extend(routers.into_iter().map(|router| router.row(protocol)));
        view.services
            .extend(services.into_iter().map(|service| service.row(protocol)));
    }
    let middlewares = admin
        .get::<Vec<dto::Middleware>>("/api/http/middlewares")
        .await?;
    view.middlewares = middlewares
        .into_iter()
        .map(|middleware| middleware.row(Protocol::Http))
        .collect();
    Ok(())
}
