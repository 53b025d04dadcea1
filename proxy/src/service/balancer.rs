//! The servers load balancer: picks a healthy server (sticky cookie, then wrr or p2c) and
//! forwards the request to it through the service's transport.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use http::header::SET_COOKIE;
use http::{Request, Response};

use super::health::{PassivePolicy, ServerHealth};
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
    cookie_value: String,
    in_flight: AtomicUsize,
}

impl Server {
    pub(crate) fn new(target: ServerTarget, health: Arc<ServerHealth>, fenced: bool) -> Self {
        Server {
            cookie_value: server_cookie_value(target.url()),
            target,
            health,
            fenced,
            in_flight: AtomicUsize::new(0),
        }
    }

    fn takes_new_requests(&self) -> bool {
        !self.fenced && self.health.is_up()
    }
}

#[derive(Debug)]
pub(crate) enum Picker {
    Wrr(WrrOrder),
    /// Power of two choices: of two random servers, the one with fewer requests in flight.
    P2c,
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
    fn choose(&self, req: &Request<Body>) -> Option<(usize, bool)> {
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
        };
        Some((index, self.spec.sticky.is_some()))
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
/// Only p2c reads the count, so wrr skips the shared-counter traffic.
struct InFlight<'a>(Option<&'a AtomicUsize>);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize, picker: &Picker) -> Self {
        match picker {
            Picker::P2c => {
                counter.fetch_add(1, Ordering::Relaxed);
                InFlight(Some(counter))
            }
            Picker::Wrr(_) => InFlight(None),
        }
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
            let Some((index, set_cookie)) = inner.choose(&req) else {
                return errors::no_available_server();
            };
            let spec = &inner.spec;
            let server = &spec.servers[index];
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
