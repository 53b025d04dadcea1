//! What `kubectl mesh` knows about the world, independent of where it came from (the
//! apiserver, a controller's admin API) and of how it is shown (tables, JSON, the
//! dashboard). Fetchers fill these types; printers and views only read them.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use mesh_crds::status::RouteStatus;
use serde::Serialize;

/// One Mesh resource or Ingress, with the status the operator wrote on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// `IngressRoute`, `Middleware`, ..., or `Ingress`.
    pub kind: String,
    /// `mesh.io`, `traefik.io`, `networking.k8s.io`, ...
    pub group: String,
    pub namespace: String,
    pub name: String,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    pub created: Option<DateTime<Utc>>,
    pub conditions: Vec<Condition>,
    /// Per-route verdicts (IngressRoute/TCP/UDP only).
    pub routes: Vec<RouteStatus>,
    /// The object as the apiserver returned it (for `y` YAML and `-o yaml`), without
    /// `metadata.managedFields`.
    #[serde(skip)]
    pub object: serde_json::Value,
}

/// How bad a resource's state is; sorts most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    /// `Ready=False`.
    Error,
    /// Ready, but `Degraded=True`.
    Warning,
    /// No status yet, `Ready=Unknown`, or a status older than the spec.
    Pending,
    Ok,
}

impl Resource {
    /// The condition of `type_`, if the operator wrote one.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// `True`, `False` or `Unknown` for the Ready condition (absent = Unknown).
    pub fn ready(&self) -> &str {
        self.condition("Ready")
            .map_or("Unknown", |c| c.status.as_str())
    }

    /// The Ready condition's reason, or `Pending` without one.
    pub fn reason(&self) -> &str {
        self.condition("Ready")
            .map_or("Pending", |c| c.reason.as_str())
    }

    /// The Ready condition's message, or why there is none.
    pub fn message(&self) -> &str {
        match self.condition("Ready") {
            Some(c) => c.message.as_str(),
            None => "not processed by a Mesh controller yet",
        }
    }

    /// Whether the status was computed from an older spec than the current one.
    pub fn stale(&self) -> bool {
        matches!((self.generation, self.observed_generation), (Some(g), Some(o)) if o < g)
    }

    pub fn severity(&self) -> Severity {
        match self.ready() {
            "False" => Severity::Error,
            "True" if self.stale() => Severity::Pending,
            "True"
                if self
                    .condition("Degraded")
                    .is_some_and(|c| c.status == "True") =>
            {
                Severity::Warning
            }
            "True" => Severity::Ok,
            _ => Severity::Pending,
        }
    }

    /// `Kind/namespace/name`, what messages and keys use.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// Sorts problems first (most severe), then by kind, namespace and name.
pub fn sort_problems_first(resources: &mut [Resource]) {
    resources.sort_by(|a, b| {
        (a.severity(), &a.kind, &a.namespace, &a.name).cmp(&(
            b.severity(),
            &b.kind,
            &b.namespace,
            &b.name,
        ))
    });
}

/// A Kubernetes Event about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    /// `Normal` or `Warning`.
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub last_seen: Option<DateTime<Utc>>,
}

/// Which router table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Tcp,
    Udp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Http, Protocol::Tcp, Protocol::Udp];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One router of a controller's live table (admin API `/api/{http,tcp,udp}/routers`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterRow {
    pub protocol: Protocol,
    pub name: String,
    pub entry_points: Vec<String>,
    /// Empty for UDP routers, which have no rule.
    pub rule: String,
    pub priority: i64,
    pub service: String,
    /// In execution order.
    pub middlewares: Vec<String>,
    /// `""` without TLS; else e.g. `tls`, `tls(passthrough)`, or the TLS option's name.
    pub tls: String,
    /// `enabled`, `warning` or `disabled`, as the admin API says.
    pub state: String,
    /// Why it is disabled or warned about.
    pub problems: Vec<String>,
    /// Requests (HTTP) or connections (TCP/UDP) so far.
    pub requests: u64,
    /// 5xx responses so far (HTTP).
    pub server_errors: u64,
}

impl RouterRow {
    /// Share of 5xx among the requests so far, 0.0 to 1.0.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.server_errors as f64 / self.requests as f64
        }
    }
}

/// One server of a service, as its load balancer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerRow {
    pub url: String,
    /// `UP` or `DOWN`.
    pub status: String,
}

/// A service of a controller's live table, with its servers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRow {
    pub protocol: Protocol,
    pub name: String,
    /// `loadBalancer`, `weighted`, `mirroring`, `failover`.
    pub type_: String,
    pub state: String,
    pub servers: Vec<ServerRow>,
    pub used_by: Vec<String>,
}

/// One middleware of a controller's live table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MiddlewareRow {
    pub protocol: Protocol,
    pub name: String,
    pub type_: String,
    pub state: String,
    pub problems: Vec<String>,
}

/// A certificate a controller serves (admin API `/api/certificates`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertRow {
    pub subject: String,
    pub sans: Vec<String>,
    pub issuer: String,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// Where it came from, e.g. `Secret default/web-tls`, or `default certificate`.
    pub source: String,
    /// Routers whose hosts it serves.
    pub routers: Vec<String>,
    /// Hexadecimal, colon separated (empty when unreadable).
    pub serial_number: String,
    /// SHA-256 of the certificate, hexadecimal and colon separated (empty when unreadable).
    pub fingerprint_sha256: String,
    /// Why the controller cannot read or serve it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CertRow {
    /// Whole days until `notAfter` (negative once expired).
    pub fn days_left(&self, now: DateTime<Utc>) -> Option<i64> {
        self.not_after.map(|t| (t - now).num_days())
    }
}

/// An entry point of a controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryPointRow {
    pub name: String,
    pub address: String,
    pub protocol: String,
}

/// What one controller (pod, or a local `mesh run`) serves right now.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerView {
    /// Pod name, or the admin URL for `--admin-url`.
    pub name: String,
    /// Config generation it serves.
    pub generation: u64,
    pub version: String,
    pub entry_points: Vec<EntryPointRow>,
    pub routers: Vec<RouterRow>,
    pub services: Vec<ServiceRow>,
    pub middlewares: Vec<MiddlewareRow>,
    pub certificates: Vec<CertRow>,
    /// Why this controller could not be read (the rest is then empty).
    pub error: Option<String>,
}

/// The controller replicas and which one holds the status Lease.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerSet {
    pub controllers: Vec<ControllerView>,
    pub lease_holder: Option<String>,
}

impl ControllerSet {
    /// Controllers whose generation differs from the most common one.
    pub fn out_of_step(&self) -> Vec<&str> {
        let mut counts = std::collections::BTreeMap::new();
        for c in self.controllers.iter().filter(|c| c.error.is_none()) {
            *counts.entry(c.generation).or_insert(0usize) += 1;
        }
        let Some((&common, _)) = counts.iter().max_by_key(|(g, n)| (**n, **g)) else {
            return Vec::new();
        };
        self.controllers
            .iter()
            .filter(|c| c.error.is_none() && c.generation != common)
            .map(|c| c.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: &str, status: &str, reason: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: format!("{type_} is {status}"),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            observed_generation: Some(1),
        }
    }

    fn resource(name: &str, conditions: Vec<Condition>) -> Resource {
        Resource {
            kind: "IngressRoute".into(),
            group: "mesh.io".into(),
            namespace: "default".into(),
            name: name.into(),
            generation: Some(1),
            observed_generation: Some(1),
            created: None,
            conditions,
            routes: Vec::new(),
            object: serde_json::Value::Null,
        }
    }

    #[test]
    fn problems_sort_before_warnings_pending_and_ready() {
        let mut all = vec![
            resource("ok", vec![condition("Ready", "True", "Ready")]),
            resource("pending", vec![]),
            resource(
                "degraded",
                vec![
                    condition("Ready", "True", "Ready"),
                    condition("Degraded", "True", "NoEndpoints"),
                ],
            ),
            resource(
                "broken",
                vec![condition("Ready", "False", "BackendNotFound")],
            ),
        ];
        sort_problems_first(&mut all);
        let names: Vec<_> = all.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["broken", "degraded", "pending", "ok"]);
        assert_eq!(all[0].reason(), "BackendNotFound");
        assert_eq!(all[2].reason(), "Pending");
    }

    #[test]
    fn a_status_older_than_the_spec_is_pending() {
        let mut stale = resource("stale", vec![condition("Ready", "True", "Ready")]);
        stale.generation = Some(2);
        assert_eq!(stale.severity(), Severity::Pending);
    }

    #[test]
    fn the_odd_generation_out_is_flagged() {
        let view = |name: &str, generation| ControllerView {
            name: name.into(),
            generation,
            ..ControllerView::default()
        };
        let set = ControllerSet {
            controllers: vec![view("a", 7), view("b", 7), view("c", 6)],
            lease_holder: Some("a".into()),
        };
        assert_eq!(set.out_of_step(), ["c"]);
    }
}
