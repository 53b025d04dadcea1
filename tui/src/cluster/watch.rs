//! Live lists: one kube-runtime reflector per served kind, and a fresh snapshot of every
//! kind on each change (coalesced over a short window, so a burst of writes is one update).

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

use super::connect::{Cluster, Scope};
use super::kinds::ResourceKind;
use super::resources::{api, list_served, to_resource};
use crate::error::CliResult;
use crate::model::Resource;

/// Changes closer together than this become one update.
const COALESCE: Duration = Duration::from_millis(100);

/// What a watch delivers.
#[derive(Debug, Clone)]
pub(crate) enum WatchUpdate {
    /// Every watched object now (unsorted).
    Snapshot(Vec<Resource>),
    /// A watch failed; it retries with backoff and the last snapshot still stands.
    Trouble(String),
}

/// Watches `kinds` in `scope` and sends a [`WatchUpdate::Snapshot`] once everything is
/// listed and again on every change, until the receiver is dropped.
///
/// Fails up front like [`super::list_resources`] (unreachable, forbidden, CRDs missing);
/// kinds whose CRD is missing are left out.
pub(crate) async fn watch_resources(
    cluster: &Cluster,
    scope: &Scope,
    selector: Option<&str>,
    kinds: &[ResourceKind],
) -> CliResult<mpsc::Receiver<WatchUpdate>> {
    // Listing first gives the same clear errors as a one-shot list, and tells which
    // kinds are served, so no watcher retries a missing CRD forever.
    let (_, served) = list_served(cluster, scope, selector, kinds).await?;
    let mut config = watcher::Config::default();
    if let Some(selector) = selector {
        config = config.labels(selector);
    }
    let mut stores: Vec<(ResourceKind, Store<DynamicObject>)> = Vec::new();
    let mut streams = Vec::new();
    for kind in served {
        let writer = reflector::store::Writer::new(kind.api_resource());
        stores.push((kind, writer.as_reader()));
        let events =
            reflector::reflector(writer, watcher(api(cluster, kind, scope), config.clone()))
                .default_backoff()
                .map(move |event| (kind, event));
        streams.push(events.boxed());
    }
    let (sender, receiver) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut events = futures::stream::select_all(streams);
        let mut listed = BTreeSet::new();
        // When the pending changes are sent: a burst is sent once, at most COALESCE late.
        let mut due: Option<tokio::time::Instant> = None;
        loop {
            let next = if let Some(deadline) = due {
                match tokio::time::timeout_at(deadline, events.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        due = None;
                        if sender
                            .send(WatchUpdate::Snapshot(snapshot(&stores)))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                }
            } else {
                events.next().await
            };
            let Some((kind, event)) = next else { return };
            match event {
                Ok(watcher::Event::InitDone) => {
                    listed.insert(kind);
                }
                Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => {}
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                Err(error) => {
                    let trouble = format!("watching {}: {error}", kind.qualified_plural());
                    if sender.send(WatchUpdate::Trouble(trouble)).await.is_err() {
                        return;
                    }
                    continue;
                }
            }
            if due.is_none() && listed.len() == stores.len() {
                due = Some(tokio::time::Instant::now() + COALESCE);
            }
        }
    });
    Ok(receiver)
}

fn snapshot(stores: &[(ResourceKind, Store<DynamicObject>)]) -> Vec<Resource> {
    stores
        .iter()
        .flat_map(|(kind, store)| {
            store
                .state()
                .into_iter()
                .map(|object| to_resource(*kind, (*object).clone()))
        })
        .collect()
}
