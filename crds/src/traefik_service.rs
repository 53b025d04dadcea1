//! TraefikService: weighted, mirroring, highest-random-weight and failover services
//! (reference §1.7). The first set of weighted, mirroring, highestRandomWeight, failover wins.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{LoadBalancerSpec, Sticky};
use crate::status::MeshStatus;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "TraefikService",
    doc = "A service made of other services: weighted, mirroring, highest random weight or failover.",
    namespaced,
    status = "MeshStatus",
    shortname = "tsvc",
    category = "mesh",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TraefikServiceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted: Option<Weighted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<Mirroring>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highest_random_weight: Option<HighestRandomWeight>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<Failover>,
}

/// Weighted round robin over Services and TraefikServices.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Weighted {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<LoadBalancerSpec>,
    /// Sticky cookie at this level; its value is the chosen child's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
}

/// The inline service gets all traffic; copies go to `mirrors`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Mirroring {
    #[serde(flatten)]
    pub service: LoadBalancerSpec,
    /// Mirror request bodies too (unset: true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_body: Option<bool>,
    /// Bodies larger than this are not mirrored (unset: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<MirrorService>,
}

/// A mirror and the share of requests copied to it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MirrorService {
    #[serde(flatten)]
    pub service: LoadBalancerSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub percent: Option<i64>,
}

/// Consistent hashing of the client IP over weighted children.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HighestRandomWeight {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<LoadBalancerSpec>,
}

/// `fallback` takes over when `service` is down or answers one of `errors.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Failover {
    pub service: LoadBalancerSpec,
    pub fallback: LoadBalancerSpec,
    /// The answers of `service` that trigger the fallback.
    // Traefik's schema requires it, its own tests omit it: tolerated when missing.
    #[serde(default)]
    pub errors: FailoverErrors,
}

fn default_failover_max_request_body_bytes() -> i64 {
    -1
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverErrors {
    /// Statuses or ranges, e.g. `500-504`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<String>,
    /// -1: unlimited.
    #[serde(default = "default_failover_max_request_body_bytes")]
    pub max_request_body_bytes: i64,
}

impl Default for FailoverErrors {
    fn default() -> Self {
        FailoverErrors {
            status: Vec::new(),
            max_request_body_bytes: default_failover_max_request_body_bytes(),
        }
    }
}
