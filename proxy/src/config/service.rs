//! `http.services.<name>`: load balancers over servers and the services composed of other
//! services (weighted, highest random weight, mirroring, failover), shaped like Traefik's
//! dynamic configuration.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::transport::Duration;

/// One HTTP service. Exactly one of the five kinds must be set; [`Service::kind`] checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Service {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<ServersLoadBalancer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<Weighted>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest_random_weight: Option<HighestRandomWeight>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<Mirroring>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<Failover>,
    /// Service-level middlewares (names in `http.middlewares`): they run for every router
    /// that uses this service, after the router's own middlewares, before the request is
    /// forwarded. Any kind may carry them, so a parent service can add them for its children.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
}

/// The one kind a [`Service`] is.
#[derive(Debug, Clone, Copy)]
pub enum ServiceKind<'a> {
    LoadBalancer(&'a ServersLoadBalancer),
    Weighted(&'a Weighted),
    HighestRandomWeight(&'a HighestRandomWeight),
    Mirroring(&'a Mirroring),
    Failover(&'a Failover),
}

/// A service that sets no kind or several.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceKindError {
    #[error(
        "no service type set (expected one of loadBalancer, weighted, highestRandomWeight, mirroring, failover)"
    )]
    Unspecified,
    #[error("several service types set ({0}); exactly one is allowed")]
    Several(String),
}

impl Service {
    pub fn load_balancer(servers: ServersLoadBalancer) -> Self {
        Service {
            load_balancer: Some(servers),
            ..Service::default()
        }
    }

    pub fn kind(&self) -> Result<ServiceKind<'_>, ServiceKindError> {
        let mut kinds = Vec::with_capacity(1);
        if let Some(lb) = &self.load_balancer {
            kinds.push(("loadBalancer", ServiceKind::LoadBalancer(lb)));
        }
        if let Some(weighted) = &self.weighted {
            kinds.push(("weighted", ServiceKind::Weighted(weighted)));
        }
        if let Some(hrw) = &self.highest_random_weight {
            kinds.push(("highestRandomWeight", ServiceKind::HighestRandomWeight(hrw)));
        }
        if let Some(mirroring) = &self.mirroring {
            kinds.push(("mirroring", ServiceKind::Mirroring(mirroring)));
        }
        if let Some(failover) = &self.failover {
            kinds.push(("failover", ServiceKind::Failover(failover)));
        }
        match kinds.len() {
            0 => Err(ServiceKindError::Unspecified),
            1 => Ok(kinds[0].1),
            _ => Err(ServiceKindError::Several(
                kinds
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }
}

/// `loadBalancer`: balances requests over servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServersLoadBalancer {
    pub servers: Vec<Server>,
    /// `wrr` (default), `p2c`, `hrw` or `leasttime`; `RoundRobin` is read as `wrr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<ServerHealthCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<PassiveHealthCheck>,
    /// Forward the client's Host header (default true); false sends the server's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_host_header: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_forwarding: Option<ResponseForwarding>,
    /// Name of an entry of `http.serversTransports`; empty: the default transport.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub servers_transport: String,
}

impl ServersLoadBalancer {
    pub fn passes_host_header(&self) -> bool {
        self.pass_host_header.unwrap_or(true)
    }
}

/// One server of a load balancer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Server {
    /// `http://`, `https://` or `h2c://` URL.
    pub url: String,
    /// Share in the wrr rotation (default 1; 0 = never chosen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Prefix the request path with the URL's path.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preserve_path: bool,
    /// A terminating endpoint: only sticky sessions may still reach it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fenced: bool,
}

impl Server {
    pub fn new(url: impl Into<String>) -> Self {
        Server {
            url: url.into(),
            ..Server::default()
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Strategy {
    #[default]
    #[serde(rename = "wrr", alias = "RoundRobin")]
    Wrr,
    #[serde(rename = "p2c")]
    P2c,
    /// Highest random weight: the same client IP always gets the same server.
    #[serde(rename = "hrw")]
    Hrw,
    /// The server with the lowest average time to response headers, scaled by the requests
    /// in flight and the weight.
    #[serde(rename = "leasttime")]
    LeastTime,
}

/// Sticky sessions; only a cookie is supported (as in Traefik).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sticky {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie: Option<StickyCookie>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StickyCookie {
    /// Empty: a name derived from the service name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secure: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub http_only: bool,
    /// `none`, `lax` or `strict` (any case); empty: not sent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub same_site: String,
    /// Seconds; 0 = session cookie, negative = expire now.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_age: i64,
    /// Default `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// Active health check of every server of a load balancer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServerHealthCheck {
    /// Overrides the server URL's scheme (`http`, `https`, `h2c`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scheme: String,
    /// `http` (default, also for "") or `grpc` (grpc.health.v1 Check).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Default GET.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Expected status; 0 = any 2xx or 3xx.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Overrides the server URL's port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Default 30s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Interval while the server is down; default `interval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_interval: Option<Duration>,
    /// Default 5s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Host header of the check; default the server's host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl ServerHealthCheck {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
}

/// Passive health check: a server that fails `maxFailedAttempts` requests within
/// `failureWindow` leaves the rotation for the rest of the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PassiveHealthCheck {
    /// Default 10s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_window: Option<Duration>,
    /// Default 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_failed_attempts: Option<u32>,
}

impl PassiveHealthCheck {
    pub const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_FAILED_ATTEMPTS: u32 = 1;
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseForwarding {
    /// Default 100ms; negative = flush after each write (see `upstream::FlushPolicy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flush_interval: Option<Duration>,
}

/// Health-check switch of composite services: turns on status propagation to parents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckPropagation {}

/// `weighted`: weighted round robin over other services.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Weighted {
    pub services: Vec<WeightedService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckPropagation>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WeightedService {
    pub name: String,
    /// Default 1; 0 = never chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// `highestRandomWeight`: rendezvous hashing of the client IP over other services, so a
/// client keeps its child while the set of children does not change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HighestRandomWeight {
    pub services: Vec<WeightedService>,
}

/// `mirroring`: the main service answers; mirrors get copies of a share of the requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Mirroring {
    pub service: String,
    /// Copy the request body to mirrors (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror_body: Option<bool>,
    /// Bodies larger than this are not mirrored; default -1 = no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_size: Option<i64>,
    pub mirrors: Vec<MirrorService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckPropagation>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MirrorService {
    pub name: String,
    /// Share of the requests copied, 0..=100.
    pub percent: u32,
}

/// `failover`: `service` while it is up, else `fallback`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Failover {
    pub service: String,
    pub fallback: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckPropagation>,
    /// Also fall back when the main service answers one of these statuses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<FailoverErrors>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FailoverErrors {
    /// Statuses and ranges: `"500"`, `"502-504"`.
    pub status: Vec<String>,
    /// Request bodies up to this size are buffered so they can be replayed to the
    /// fallback; larger requests are not retried. Default -1 = no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_body_bytes: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_traefik_dynamic_configuration() {
        let yaml = r#"
loadBalancer:
  servers:
    - url: http://10.0.0.1:80
      weight: 3
    - url: http://10.0.0.2:80
  strategy: RoundRobin
  sticky:
    cookie:
      name: lvl2
      httpOnly: true
      sameSite: lax
  healthCheck:
    path: /health
    interval: 10s
    timeout: 3
    headers:
      X-Check: "1"
  passiveHealthCheck:
    maxFailedAttempts: 3
    failureWindow: 1m
  passHostHeader: false
  responseForwarding:
    flushInterval: -1s
  serversTransport: secure
"#;
        let service: Service = serde_yaml::from_str(yaml).expect("valid yaml");
        let Ok(ServiceKind::LoadBalancer(lb)) = service.kind() else {
            panic!("expected a load balancer, got {:?}", service.kind());
        };
        assert_eq!(lb.servers.len(), 2);
        assert_eq!(lb.servers[0].weight, Some(3));
        assert_eq!(lb.strategy, Some(Strategy::Wrr));
        assert!(!lb.passes_host_header());
        let cookie = lb
            .sticky
            .as_ref()
            .and_then(|s| s.cookie.as_ref())
            .expect("cookie");
        assert_eq!((cookie.name.as_str(), cookie.http_only), ("lvl2", true));
        let check = lb.health_check.as_ref().expect("health check");
        assert_eq!(check.interval, Some(Duration::from_secs(10)));
        assert_eq!(check.timeout, Some(Duration::from_secs(3)));
        let passive = lb.passive_health_check.as_ref().expect("passive");
        assert_eq!(passive.failure_window, Some(Duration::from_secs(60)));
        let flush = lb
            .response_forwarding
            .as_ref()
            .and_then(|r| r.flush_interval);
        assert!(flush.is_some_and(Duration::is_negative));
        assert_eq!(lb.servers_transport, "secure");
    }

    #[test]
    fn pass_host_header_defaults_to_true() {
        let lb: ServersLoadBalancer = serde_json::from_str(r#"{"servers":[]}"#).expect("valid");
        assert!(lb.passes_host_header());
    }

    #[test]
    fn a_service_must_set_exactly_one_kind() {
        let empty = Service::default();
        assert_eq!(empty.kind().err(), Some(ServiceKindError::Unspecified));
        let both: Service = serde_json::from_str(
            r#"{"weighted":{"services":[]},"failover":{"service":"a","fallback":"b"}}"#,
        )
        .expect("valid json");
        let error = both.kind().expect_err("two kinds");
        assert_eq!(
            error.to_string(),
            "several service types set (weighted, failover); exactly one is allowed"
        );
    }

    #[test]
    fn composite_services_round_trip() {
        let json = serde_json::json!({
            "weighted": {"services": [{"name": "a", "weight": 2}, {"name": "b"}],
                         "sticky": {"cookie": {"name": "lvl1"}}},
        });
        let service: Service = serde_json::from_value(json.clone()).expect("valid");
        assert_eq!(serde_json::to_value(&service).expect("ser"), json);
        let mirroring: Mirroring = serde_json::from_value(serde_json::json!({
            "service": "main", "mirrorBody": false, "maxBodySize": 1024,
            "mirrors": [{"name": "shadow", "percent": 10}]
        }))
        .expect("valid");
        assert_eq!(mirroring.mirrors[0].percent, 10);
        assert_eq!(mirroring.max_body_size, Some(1024));
        let failover: Failover = serde_json::from_value(serde_json::json!({
            "service": "main", "fallback": "backup", "errors": {"status": ["500-504"]}
        }))
        .expect("valid");
        assert_eq!(
            failover.errors.map(|e| e.status),
            Some(vec!["500-504".to_owned()])
        );
    }

    #[test]
    fn highest_random_weight_and_service_middlewares_round_trip() {
        let yaml = "
highestRandomWeight:
  services:
    - name: a
      weight: 10
    - name: b
middlewares: [strip]
";
        let service: Service = serde_yaml::from_str(yaml).expect("valid yaml");
        let Ok(ServiceKind::HighestRandomWeight(hrw)) = service.kind() else {
            panic!("expected highestRandomWeight, got {:?}", service.kind());
        };
        assert_eq!(hrw.services[0].weight, Some(10));
        assert_eq!(hrw.services[1].weight, None);
        assert_eq!(service.middlewares, vec!["strip".to_owned()]);
        let json = serde_json::to_value(&service).expect("ser");
        assert_eq!(
            json,
            serde_json::json!({
                "highestRandomWeight": {"services": [{"name": "a", "weight": 10}, {"name": "b"}]},
                "middlewares": ["strip"],
            })
        );
    }

    #[test]
    fn hrw_and_leasttime_strategies_are_read() {
        for (text, strategy) in [("hrw", Strategy::Hrw), ("leasttime", Strategy::LeastTime)] {
            let lb: ServersLoadBalancer =
                serde_json::from_value(serde_json::json!({"strategy": text})).expect("valid");
            assert_eq!(lb.strategy, Some(strategy));
            assert_eq!(serde_json::to_value(strategy).expect("ser"), text);
        }
    }

    #[test]
    fn unknown_strategy_is_rejected() {
        let result = serde_json::from_str::<ServersLoadBalancer>(r#"{"strategy":"fastest"}"#);
        assert!(result.is_err());
    }
}
