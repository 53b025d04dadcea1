//! The servers load balancer: picks a healthy server (sticky cookie, then wrr, p2c, hrw or
//! leasttime) and forwards the request to it through the service's transport.
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use http::header::SET_COOKIE;
use http::{Request, Response};

use super::health::{PassivePolicy, ServerHealth};
use super::rendezvous::{Rendezvous, client_key};
use super::sticky::{StickyCookie, server_cookie_value};
use super::wrr::WrrOrder;
use super::{HttpService, RequestContext, ServerStatus, ServiceState, errors};
use crate::body::Body;
use crate::upstream::{FlushPolicy, ServerTarget, Transport};

/// One server of a load balancer.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) target: ServerTarget,
    pub(crate) health: Arc<ServerHealth>,
    /// Terminating: only sticky sessions still reach it.
    pub(crate) fenced: bool,
    /// Share of new requests (0 = never chosen by a strategy).
    weight: u32,
    cookie_value: String,
    in_flight: AtomicUsize,
    /// Shared across generations like `health`, so an apply does not send leasttime back
    /// to trying every server.
    response_time: Arc<ResponseTime>,
}

impl Server {
    /// `previous`: the same server (same URL) in the previous generation, whose health and
    /// response times carry over.
    pub(crate) fn new(
        target: ServerTarget,
        previous: Option<&Server>,
        fenced: bool,
        weight: u32,
    ) -> Self {
        Server {
            cookie_value: server_cookie_value(target.url()),
            target,
            health: previous.map_or_else(Default::default, |server| Arc::clone(&server.health)),
            fenced,
            weight,
            in_flight: AtomicUsize::new(0),
            response_time: previous
                .map_or_else(Default::default, |server| Arc::clone(&server.response_time)),
        }
    }

    fn takes_new_requests(&self) -> bool {
        !self.fenced && self.health.is_up()
    }

    /// leasttime's score, lower is better: average time to response headers, times the
    /// requests in flight plus one, over the weight. Unmeasured servers score 0, so every
    /// server is tried before the averages decide.
    fn least_time_score(&self) -> f64 {
        let in_flight = self.in_flight.load(Ordering::Relaxed) as f64;
        self.response_time.average_micros() * (1.0 + in_flight) / f64::from(self.weight.max(1))
    }
}

/// Exponentially weighted moving average of a server's time to response headers, in
/// microseconds, stored as f64 bits (0 = not measured yet).
#[derive(Debug, Default)]
struct ResponseTime(AtomicU64);

impl ResponseTime {
    /// Weight of the newest sample: recent enough to follow a server that slows down,
    /// smooth enough that one outlier does not flip the choice.
    const SMOOTHING: f64 = 0.3;

    fn average_micros(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    fn record(&self, sample_micros: f64) {
        let sample = sample_micros.max(1.0);
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let average = f64::from_bits(bits);
                let next = if average == 0.0 {
                    sample
                } else {
                    average + Self::SMOOTHING * (sample - average)
                };
                Some(next.to_bits())
            });
    }
}

#[derive(Debug)]
pub(crate) enum Picker {
    Wrr(WrrOrder),
    /// Power of two choices: of two random servers, the one with fewer requests in flight.
    P2c,
    /// Rendezvous hashing of the client IP over the servers.
    Hrw(Rendezvous),
    /// Lowest [`Server::least_time_score`]; ties are broken by weighted round robin.
    LeastTime(WrrOrder),
}

impl Picker {
    /// Whether the strategy reads the requests in flight (the others skip the counter).
    fn counts_in_flight(&self) -> bool {
        matches!(self, Picker::P2c | Picker::LeastTime(_))
    }
}

#[derive(Debug)]
pub(crate) struct LoadBalancerSpec {
    pub(crate) name: Arc<str>,
    pub(crate) servers: Vec<Server>,
    pub(crate) picker: Picker,
    pub(crate) sticky: Option<StickyCookie>,
    pub(crate) transport: Arc<Transport>,
    pub(crate) pass_host_header: bool,
    pub(crate) flush: FlushPolicy,
    pub(crate) passive: Option<PassivePolicy>,
}

#[derive(Debug, Clone)]
pub(crate) struct LoadBalancer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    spec: LoadBalancerSpec,
    /// Sticky cookie value (URL hash, or the URL itself) -> server index.
    by_cookie: HashMap<String, usize>,
}

impl LoadBalancer {
    pub(crate) fn new(spec: LoadBalancerSpec) -> Self {
        let by_cookie = match spec.sticky {
            None => HashMap::new(),
            Some(_) => spec
                .servers
                .iter()
                .enumerate()
                .flat_map(|(index, server)| {
                    [
                        (server.cookie_value.clone(), index),
                        (server.target.url().to_owned(), index),
                    ]
                })
                .collect(),
        };
        LoadBalancer {
            inner: Arc::new(Inner { spec, by_cookie }),
        }
    }

    pub(crate) fn servers(&self) -> &[Server] {
        &self.inner.spec.servers
    }

    pub(crate) fn state(&self) -> ServiceState {
        let server_status: BTreeMap<String, ServerStatus> = self
            .servers()
            .iter()
            .map(|server| {
                let status = if server.health.is_up() {
                    ServerStatus::Up
                } else {
                    ServerStatus::Down
                };
                (server.target.url().to_owned(), status)
            })
            .collect();
        ServiceState {
            kind: "loadBalancer",
            available: self.is_available(),
            server_status,
        }
    }
}

impl Inner {
    /// The server for this request, and whether the client must be told via a cookie.
    fn choose(&self, req: &Request<Body>, client: IpAddr) -> Option<(usize, bool)> {
        let servers = &self.spec.servers;
        if let Some(sticky) = &self.spec.sticky {
            let pinned = sticky
                .find(req.headers())
                .and_then(|value| self.by_cookie.get(value))
                .filter(|&&index| servers[index].health.is_up());
            if let Some(&index) = pinned {
                return Some((index, false));
            }
        }
        let index = match &self.spec.picker {
            Picker::Wrr(order) => order.next(|index| servers[index].takes_new_requests())?,
            Picker::P2c => self.power_of_two_choices()?,
            Picker::Hrw(members) => members.pick(client_key(client), |index| {
                servers[index].takes_new_requests()
            })?,
            Picker::LeastTime(order) => self.least_time(order)?,
        };
        Some((index, self.spec.sticky.is_some()))
    }

    fn least_time(&self, order: &WrrOrder) -> Option<usize> {
        let servers = &self.spec.servers;
        let eligible =
            |index: usize| servers[index].takes_new_requests() && servers[index].weight > 0;
        let best = (0..servers.len())
            .filter(|&index| eligible(index))
            .map(|index| (index, servers[index].least_time_score()))
            .min_by(|(_, a), (_, b)| a.total_cmp(b))?;
        // Among the servers sharing the best score, the rotation decides, so equal servers
        // (all unmeasured at first) take turns.
        let tied =
            order.next(|index| eligible(index) && servers[index].least_time_score() <= best.1);
        Some(tied.unwrap_or(best.0))
    }

    fn power_of_two_choices(&self) -> Option<usize> {
        let servers = &self.spec.servers;
        let count = servers.len();
        if count == 0 {
            return None;
        }
        let first = fastrand::usize(..count);
        let second = (first + 1 + fastrand::usize(..count.max(2) - 1)) % count;
        let candidates = [first, second];
        let ready = candidates
            .iter()
            .copied()
            .filter(|&index| servers[index].takes_new_requests())
            .min_by_key(|&index| servers[index].in_flight.load(Ordering::Relaxed));
        // Both draws down: fall back to a scan so one healthy server is always found.
        ready.or_else(|| {
            (0..count)
                .filter(|&index| servers[index].takes_new_requests())
                .min_by_key(|&index| servers[index].in_flight.load(Ordering::Relaxed))
        })
    }
}

/// Counts a request in flight on a server until its response headers arrive (or it fails).
/// Only p2c and leasttime read the count, so the others skip the shared-counter traffic.
struct InFlight<'a>(Option<&'a AtomicUsize>);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize, picker: &Picker) -> Self {
        if !picker.counts_in_flight() {
            return InFlight(None);
        }
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(Some(counter))
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(counter) = self.0 {
            counter.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl HttpService for LoadBalancer {
    fn call(&self, req: Request<Body>, cx: &RequestContext) -> BoxFuture<'static, Response<Body>> {
        let inner = Arc::clone(&self.inner);
        let cx = cx.clone();
        async move {
            let Some((index, set_cookie)) = inner.choose(&req, cx.client_addr.ip()) else {
                return errors::no_available_server();
            };
            let spec = &inner.spec;
            let server = &spec.servers[index];
            let timed = matches!(spec.picker, Picker::LeastTime(_)).then(Instant::now);
            let result = {
                let _in_flight = InFlight::enter(&server.in_flight, &spec.picker);
                spec.transport
                    .forward(
                        req,
                        &server.target,
                        spec.pass_host_header,
                        spec.flush,
                        &cx,
                    )
                    .await
            };
            if let (Some(started), Ok(_)) = (timed, &result) {
                server
                    .response_time
                    .record(started.elapsed().as_secs_f64() * 1e6);
            }
            match result {
                Ok(mut response) => {
                    if set_cookie {
                        let cookie = spec.sticky.as_ref().and_then(|sticky| {
                            sticky.set_cookie(&server.cookie_value)
                        });
                        if let Some(cookie) = cookie {
                            response.headers_mut().append(SET_COOKIE, cookie);
                        }
                    }
                    response
                }
                Err(error) => {
                    tracing::warn!(service = %spec.name, router = %cx.router, %error, "upstream request failed");
                    if let Some(policy) = &spec.passive {
                        server.health.record_failure(policy);
                    }
                    match error.status() {
                        http::StatusCode::GATEWAY_TIMEOUT => errors::gateway_timeout(),
                        _ => errors::bad_gateway(),
                    }
                }
            }
        }
        .boxed()
    }

    fn is_available(&self) -> bool {
        self.servers().iter().any(Server::takes_new_requests)
    }
}
