//! Server health: the state a load balancer consults on every request (atomics only), the
//! passive checker that counts failed requests, and the active checker tasks.
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::BodyExt;

use crate::body;
use crate::config::service::{PassiveHealthCheck, ServerHealthCheck};
use crate::upstream::{Scheme, ServerTarget, Transport};

/// Milliseconds since the first call, never 0 (0 means "not set" below).
fn now_millis() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    start.elapsed().as_millis() as u64 + 1
}

/// The health of one server of one service. Shared across config generations, so an apply
/// does not bring a dead server back or forget recent failures.
#[derive(Debug)]
pub(crate) struct ServerHealth {
    /// Last verdict of the active check (true until a check says otherwise).
    active_up: AtomicBool,
    window_start: AtomicU64,
    failures: AtomicU32,
    /// Passive ejection: down until this instant (`now_millis` scale), 0 = not ejected.
    ejected_until: AtomicU64,
}

impl Default for ServerHealth {
    fn default() -> Self {
        ServerHealth {
            active_up: AtomicBool::new(true),
            window_start: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
        }
    }
}

impl ServerHealth {
    pub(crate) fn is_up(&self) -> bool {
        if !self.active_up.load(Ordering::Relaxed) {
            return false;
        }
        let until = self.ejected_until.load(Ordering::Relaxed);
        until == 0 || now_millis() >= until
    }

    /// Returns whether the verdict changed.
    fn set_active(&self, up: bool) -> bool {
        self.active_up.swap(up, Ordering::Relaxed) != up
    }

    /// A request to the server got no response. Enough of them within the window eject
    /// the server for one window.
    pub(crate) fn record_failure(&self, policy: &PassivePolicy) {
        let now = now_millis();
        let start = self.window_start.load(Ordering::Relaxed);
        let failures = if start == 0 || now.saturating_sub(start) > policy.window_millis {
            self.window_start.store(now, Ordering::Relaxed);
            self.failures.store(1, Ordering::Relaxed);
            1
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed) + 1
        };
        if failures >= policy.max_failed_attempts {
            self.ejected_until
                .store(now + policy.window_millis, Ordering::Relaxed);
            self.failures.store(0, Ordering::Relaxed);
            self.window_start.store(0, Ordering::Relaxed);
        }
    }
}

/// `passiveHealthCheck` with defaults applied. A failed attempt is a request that got no
/// response (connect error, timeout, broken exchange); an answer, even a 5xx, is not.
#[derive(Debug, Clone)]
pub(crate) struct PassivePolicy {
    window_millis: u64,
    max_failed_attempts: u32,
}

impl PassivePolicy {
    pub(crate) fn new(config: &PassiveHealthCheck) -> Self {
        let window = config
            .failure_window
            .unwrap_or(PassiveHealthCheck::DEFAULT_FAILURE_WINDOW)
            .to_std()
            .unwrap_or_default();
        PassivePolicy {
            window_millis: window.as_millis() as u64,
            max_failed_attempts: config
                .max_failed_attempts
                .unwrap_or(PassiveHealthCheck::DEFAULT_MAX_FAILED_ATTEMPTS)
                .max(1),
        }
    }
}

/// Why an active health check spec is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthCheckError {
    #[error("healthCheck.mode `{0}` is not supported (expected http or grpc)")]
    Mode(String),
    #[error("healthCheck.scheme `{0}` is not supported (expected http, https or h2c)")]
    Scheme(String),
    #[error("healthCheck.method `{0}` is not a valid method")]
    Method(String),
    #[error("healthCheck.headers: invalid header `{0}`")]
    Header(String),
    #[error("healthCheck.path `{0}` is not a valid path")]
    Path(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Http,
    Grpc,
}

/// `healthCheck` of a load balancer, validated and with defaults applied.
#[derive(Debug, Clone)]
pub(crate) struct ActiveCheck {
    mode: Mode,
    scheme: Option<Scheme>,
    method: Method,
    path: String,
    port: Option<u16>,
    status: Option<u16>,
    interval: Duration,
    unhealthy_interval: Duration,
    timeout: Duration,
    hostname: Option<HeaderValue>,
    follow_redirects: bool,
    headers: Vec<(HeaderName, HeaderValue)>,
}

const MAX_REDIRECTS: usize = 10;

impl ActiveCheck {
    pub(crate) fn new(config: &ServerHealthCheck) -> Result<Self, HealthCheckError> {
        let mode = match config.mode.to_ascii_lowercase().as_str() {
            "" | "http" => Mode::Http,
            "grpc" => Mode::Grpc,
            _ => return Err(HealthCheckError::Mode(config.mode.clone())),
        };
        let scheme = match config.scheme.as_str() {
            "" => None,
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            "h2c" => Some(Scheme::H2c),
            other => return Err(HealthCheckError::Scheme(other.to_owned())),
        };
        let method = match config.method.as_str() {
            "" if mode == Mode::Grpc => Method::POST,
            "" => Method::GET,
            other => Method::from_bytes(other.to_ascii_uppercase().as_bytes())
                .map_err(|_| HealthCheckError::Method(other.to_owned()))?,
        };
        let path = match (mode, config.path.as_str()) {
            (Mode::Grpc, _) => "/grpc.health.v1.Health/Check".to_owned(),
            (Mode::Http, "") => "/".to_owned(),
            (Mode::Http, path) if path.starts_with('/') => path.to_owned(),
            (Mode::Http, path) => format!("/{path}"),
        };
        if path.parse::<http::uri::PathAndQuery>().is_err() {
            return Err(HealthCheckError::Path(config.path.clone()));
        }
        let headers = config
            .headers
            .iter()
            .map(|(name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| HealthCheckError::Header(name.clone()))?;
                let value = HeaderValue::from_str(value)
                    .map_err(|_| HealthCheckError::Header(name.to_string()))?;
                Ok((name, value))
            })
            .collect::<Result<_, _>>()?;
        let interval = positive(config.interval, ServerHealthCheck::DEFAULT_INTERVAL);
        Ok(ActiveCheck {
            mode,
            scheme,
            method,
            path,
            port: config.port.filter(|port| *port != 0),
            status: config.status.filter(|status| *status != 0),
            interval,
            unhealthy_interval: config
                .unhealthy_interval
                .and_then(|d| d.to_std())
                .filter(|d| !d.is_zero())
                .unwrap_or(interval),
            timeout: positive(config.timeout, ServerHealthCheck::DEFAULT_TIMEOUT),
            hostname: Some(config.hostname.as_str())
                .filter(|name| !name.is_empty())
                .and_then(|name| HeaderValue::from_str(name).ok()),
            follow_redirects: config.follow_redirects.unwrap_or(true),
            headers,
        })
    }

    /// Runs the check for one server forever; the task is aborted with its generation.
    pub(crate) async fn run(
        self: Arc<Self>,
        service: Arc<str>,
        target: ServerTarget,
        health: Arc<ServerHealth>,
        transport: Arc<Transport>,
    ) {
        loop {
            let verdict = self.probe(&target, &transport).await;
            let up = verdict.is_ok();
            if health.set_active(up) {
                match &verdict {
                    Ok(()) => tracing::info!(%service, server = target.url(), "server is up"),
                    Err(reason) => {
                        tracing::warn!(%service, server = target.url(), %reason, "server is down")
                    }
                }
            }
            let pause = if up {
                self.interval
            } else {
                self.unhealthy_interval
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// One check; `Err` says why the server is considered down.
    async fn probe(&self, target: &ServerTarget, transport: &Transport) -> Result<(), String> {
        let scheme = self.scheme.unwrap_or(target.scheme());
        let host = target.authority().host();
        let port = self
            .port
            .or(target.authority().port_u16())
            .unwrap_or(if scheme == Scheme::Https { 443 } else { 80 });
        let uri_scheme = if scheme == Scheme::Https {
            "https"
        } else {
            "http"
        };
        let mut uri: Uri = format!("{uri_scheme}://{host}:{port}{}", self.path)
            .parse()
            .map_err(|error| format!("bad check URL: {error}"))?;
        let attempt = async {
            for _ in 0..=MAX_REDIRECTS {
                let response = transport
                    .send(self.request(uri.clone()), scheme)
                    .await
                    .map_err(|error| format!("request failed: {error}"))?;
                let status = response.status();
                let redirect = (self.follow_redirects && status.is_redirection())
                    .then(|| redirect_target(&uri, response.headers()))
                    .flatten();
                if let Some(next) = redirect {
                    uri = next;
                    continue;
                }
                return match self.mode {
                    Mode::Http => self.judge_status(status.as_u16()),
                    Mode::Grpc => judge_grpc(response).await,
                };
            }
            Err("too many redirects".to_owned())
        };
        tokio::time::timeout(self.timeout, attempt)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }

    fn request(&self, uri: Uri) -> Request<crate::body::Body> {
        let body = match self.mode {
            // A HealthCheckRequest for the whole server: an empty message in a gRPC frame.
            Mode::Grpc => body::full(Bytes::from_static(&[0, 0, 0, 0, 0])),
            Mode::Http => body::empty(),
        };
        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        if self.mode == Mode::Grpc {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
            headers.insert(header::TE, HeaderValue::from_static("trailers"));
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(hostname) = &self.hostname {
            headers.insert(header::HOST, hostname.clone());
        }
        request
    }

    fn judge_status(&self, status: u16) -> Result<(), String> {
        let healthy = match self.status {
            Some(expected) => status == expected,
            None => (200..400).contains(&status),
        };
        if healthy {
            Ok(())
        } else {
            Err(format!("status {status}"))
        }
    }
}

fn positive(
    value: Option<crate::config::transport::Duration>,
    default: crate::config::transport::Duration,
) -> Duration {
    value
        .and_then(|d| d.to_std())
        .filter(|d| !d.is_zero())
        .or(default.to_std())
        .unwrap_or(Duration::from_secs(1))
}

fn redirect_target(current: &Uri, headers: &http::HeaderMap) -> Option<Uri> {
    let location = headers.get(header::LOCATION)?.to_str().ok()?;
    if location.starts_with('/') {
        let mut parts = current.clone().into_parts();
        parts.path_and_query = Some(location.parse().ok()?);
        return Uri::from_parts(parts).ok();
    }
    location
        .parse()
        .ok()
        .filter(|uri: &Uri| uri.authority().is_some())
}

/// SERVING is `status: 1` in grpc.health.v1.HealthCheckResponse, with grpc-status 0.
async fn judge_grpc(response: http::Response<hyper::body::Incoming>) -> Result<(), String> {
    const SERVING: [u8; 2] = [0x08, 0x01];
    let header_status = response.headers().get("grpc-status").cloned();
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(|error| format!("reading gRPC answer: {error}"))?;
    let grpc_status = collected
        .trailers()
        .and_then(|trailers| trailers.get("grpc-status").cloned())
        .or(header_status);
    if grpc_status.as_ref().is_none_or(|status| status != "0") {
        return Err(format!("grpc-status {grpc_status:?}"));
    }
    let bytes = collected.to_bytes();
    match bytes.get(5..) {
        Some(message) if message == SERVING => Ok(()),
        _ => Err("gRPC health status is not SERVING".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::transport::Duration as ConfigDuration;

    fn policy(max: u32, window: ConfigDuration) -> PassivePolicy {
        PassivePolicy::new(&PassiveHealthCheck {
            failure_window: Some(window),
            max_failed_attempts: Some(max),
        })
    }

    #[test]
    fn passive_ejection_after_max_failures_in_window() {
        let health = ServerHealth::default();
        let policy = policy(3, ConfigDuration::from_secs(3600));
        health.record_failure(&policy);
        health.record_failure(&policy);
        assert!(health.is_up());
        health.record_failure(&policy);
        assert!(!health.is_up());
    }

    #[test]
    fn passive_ejection_ends_with_the_window() {
        let health = ServerHealth::default();
        let policy = policy(1, ConfigDuration::ZERO);
        health.record_failure(&policy);
        // A zero window ejects until "now", which has already come.
        assert!(health.is_up());
    }

    #[test]
    fn active_verdict_is_reported_as_a_change_once() {
        let health = ServerHealth::default();
        assert!(health.set_active(false));
        assert!(!health.set_active(false));
        assert!(!health.is_up());
        assert!(health.set_active(true));
        assert!(health.is_up());
    }

    #[test]
    fn check_spec_defaults_and_validation() {
        let check = ActiveCheck::new(&ServerHealthCheck {
            path: "health".to_owned(),
            ..ServerHealthCheck::default()
        })
        .expect("valid");
        assert_eq!(check.path, "/health");
        assert_eq!(check.method, Method::GET);
        assert_eq!(check.interval, Duration::from_secs(30));
        assert_eq!(check.unhealthy_interval, Duration::from_secs(30));
        assert_eq!(check.timeout, Duration::from_secs(5));
        assert!(check.judge_status(302).is_ok() && check.judge_status(500).is_err());

        let grpc = ActiveCheck::new(&ServerHealthCheck {
            mode: "grpc".to_owned(),
            ..ServerHealthCheck::default()
        })
        .expect("valid");
        assert_eq!(
            (grpc.method.clone(), grpc.path.as_str()),
            (Method::POST, "/grpc.health.v1.Health/Check")
        );

        let bad_mode = ServerHealthCheck {
            mode: "tcp".to_owned(),
            ..ServerHealthCheck::default()
        };
        assert_eq!(
            ActiveCheck::new(&bad_mode).err(),
            Some(HealthCheckError::Mode("tcp".to_owned()))
        );
        let bad_header = ServerHealthCheck {
            headers: [("bad header".to_owned(), "x".to_owned())].into(),
            ..ServerHealthCheck::default()
        };
        assert!(matches!(
            ActiveCheck::new(&bad_header),
            Err(HealthCheckError::Header(_))
        ));
    }

    #[test]
    fn redirects_resolve_relative_locations() {
        let current: Uri = "http://10.0.0.1:80/health".parse().expect("uri");
        let mut headers = http::HeaderMap::new();
        headers.insert(header::LOCATION, HeaderValue::from_static("/ready"));
        assert_eq!(
            redirect_target(&current, &headers),
            Some("http://10.0.0.1:80/ready".parse().expect("uri"))
        );
    }
}
