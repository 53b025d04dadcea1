//! The Mesh controller pods (by label in the controller namespace) and the holder of the
//! status Lease.

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::connect::Cluster;
use super::errors::{Operation, api_error};
use super::resources::to_chrono;
use crate::error::CliResult;

/// The Lease whose holder writes status (`mesh run --lease-name`, the chart's
/// `leaderElection.leaseName`).
pub(crate) const LEASE_NAME: &str = "mesh-status";

/// One controller pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControllerPod {
    pub name: String,
    pub namespace: String,
    /// The pod's `Ready` condition is True.
    pub ready: bool,
    /// `Running`, `Pending` ...
    pub phase: String,
    /// The image of its first container (`mesh:0.1.0`).
    pub image: Option<String>,
    pub restarts: i32,
}

impl ControllerPod {
    /// The tag of the image (`0.1.0`), if it has one.
    pub fn image_tag(&self) -> Option<&str> {
        let image = self.image.as_deref()?;
        let image = image.split('@').next().unwrap_or(image);
        let (_, tag) = image.rsplit_once(':')?;
        (!tag.contains('/')).then_some(tag)
    }
}

/// The controller pods: `selector` (`--controller-selector`) in `namespace`
/// (`--controller-namespace`), sorted by name.
pub(crate) async fn controller_pods(
    cluster: &Cluster,
    namespace: &str,
    selector: &str,
) -> CliResult<Vec<ControllerPod>> {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let list = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|error| {
            api_error(
                cluster,
                &Operation::new("list", "pods", Some(namespace)),
                error,
            )
        })?;
    let mut pods: Vec<ControllerPod> = list.items.iter().map(controller_pod).collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pods)
}

fn controller_pod(pod: &Pod) -> ControllerPod {
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
    let restarts = status
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |list| list.iter().map(|c| c.restart_count).sum());
    ControllerPod {
        name: pod.metadata.name.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        ready,
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into()),
        image: pod
            .spec
            .as_ref()
            .and_then(|spec| spec.containers.first())
            .and_then(|c| c.image.clone()),
        restarts,
    }
}

/// Who holds the status Lease, and when they last renewed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaseHolder {
    pub identity: String,
    pub renewed: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i32>,
}

impl LeaseHolder {
    /// Whether the holder let the Lease run out (it renews well within its duration).
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        match (self.renewed, self.duration_seconds) {
            (Some(renewed), Some(duration)) => {
                now - renewed > chrono::Duration::seconds(i64::from(duration))
            }
            _ => false,
        }
    }
}

/// The holder of Lease [`LEASE_NAME`] in `namespace`; `None` when there is no Lease or
/// nobody holds it.
pub(crate) async fn lease_holder(
    cluster: &Cluster,
    namespace: &str,
) -> CliResult<Option<LeaseHolder>> {
    let api: Api<Lease> = Api::namespaced(cluster.client.clone(), namespace);
    let lease = api.get_opt(LEASE_NAME).await.map_err(|error| {
        api_error(
            cluster,
            &Operation::new("get", "leases.coordination.k8s.io", Some(namespace)),
            error,
        )
    })?;
    Ok(lease.and_then(|lease| {
        let spec = lease.spec?;
        let identity = spec.holder_identity.filter(|h| !h.is_empty())?;
        Some(LeaseHolder {
            identity,
            renewed: spec.renew_time.as_ref().and_then(|t| {
                to_chrono(&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t.0))
            }),
            duration_seconds: spec.lease_duration_seconds,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(image: &str) -> ControllerPod {
        ControllerPod {
            name: "mesh-0".into(),
            namespace: "mesh-system".into(),
            ready: true,
            phase: "Running".into(),
            image: Some(image.into()),
            restarts: 0,
        }
    }

    #[test]
    fn image_tags_are_read_past_registries_with_ports_and_digests() {
        assert_eq!(pod("mesh:0.1.0").image_tag(), Some("0.1.0"));
        assert_eq!(pod("registry:5000/mesh:0.2.0").image_tag(), Some("0.2.0"));
        assert_eq!(pod("registry:5000/mesh").image_tag(), None);
        assert_eq!(pod("mesh:1.0@sha256:abc").image_tag(), Some("1.0"));
    }

    #[test]
    fn a_lease_not_renewed_within_its_duration_has_expired() {
        let now = Utc::now();
        let holder = |ago: i64| LeaseHolder {
            identity: "mesh-0".into(),
            renewed: Some(now - chrono::Duration::seconds(ago)),
            duration_seconds: Some(15),
        };
        assert!(!holder(5).expired(now));
        assert!(holder(60).expired(now));
    }
}
