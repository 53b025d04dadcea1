//! Leader election on a `coordination.k8s.io/v1` Lease: every replica serves traffic, only
//! the holder writes status and Events.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// How to take part in the election.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// Validity of the Lease without renewal; a crashed holder is replaced after this.
    pub duration: Duration,
}

/// This replica's standing in the election.
pub struct Leadership {
    leading: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Leadership {
    /// Always the leader: no election (manifests mode, `--leader-elect=false`).
    pub fn always() -> Leadership {
        let (sender, leading) = watch::channel(true);
        let task = tokio::spawn(async move {
            // Keeps the channel open for as long as the process runs.
            sender.closed().await;
        });
        Leadership {
            leading,
            stop: None,
            task,
        }
    }

    /// Joins the election; `leading` turns true while this replica holds the Lease. The
    /// apiserver need not be reachable yet: the first contact is retried.
    pub fn elect(client: Client, settings: LeaseSettings) -> Leadership {
        let (sender, leading) = watch::channel(false);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run_election(client, settings, sender, stopped));
        Leadership {
            leading,
            stop: Some(stop),
            task,
        }
    }

    /// A receiver of the leadership state.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// Gives the Lease up (so another replica takes over at once, not after it expires).
    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        } else {
            self.task.abort();
        }
    }
}

async fn run_election(
    client: Client,
    settings: LeaseSettings,
    leading: watch::Sender<bool>,
    mut stop: oneshot::Receiver<()>,
) {
    let seconds = settings.duration.as_secs().max(2);
    // Renew a third of the way before expiry, like client-go's renew deadline.
    let grace = (seconds / 3).max(1);
    let params = LeaseParams::new(settings.identity.clone(), seconds, grace);
    let mut retry = Duration::from_millis(500);
    let manager = loop {
        let built = LeaseManagerBuilder::new(client.clone(), &settings.name)
            .with_namespace(&settings.namespace)
            .with_parameters(params.clone())
            .build();
        tokio::select! {
            _ = &mut stop => return,
            built = built => match built {
                Ok(manager) => break manager,
                Err(error) => {
                    warn!(%error, lease = %settings.name, "cannot reach the Lease; retrying");
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(Duration::from_secs(10));
                }
            },
        }
    };
    info!(lease = %format!("{}/{}", settings.namespace, settings.name), identity = %settings.identity, "joined leader election");
    let (mut state, task) = manager.watch().await;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            changed = state.changed() => {
                if changed.is_err() {
                    warn!("leader election stopped");
                    break;
                }
                let now_leading = *state.borrow_and_update();
                info!(leading = now_leading, identity = %settings.identity, "leadership changed");
                leading.send_replace(now_leading);
            }
        }
    }
    leading.send_replace(false);
    // Closing the state channel makes the manager release the Lease and return.
    drop(state);
    match task.await {
        Ok(Ok(_)) => info!("lease released"),
        Ok(Err(error)) => warn!(%error, "lease not released cleanly"),
        Err(error) => warn!(%error, "lease task failed"),
    }
}
