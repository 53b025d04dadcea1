//! Dispatch: request -> router -> middleware chain -> service.
//!
//! A [`RouterTable`] is the compiled routing of one entry point for one configuration
//! generation: two rule indexes (TLS routers answer only on TLS connections, the others only
//! on plain ones) whose values are ready-to-run [`Route`]s. Everything a request needs was
//! resolved at apply time; dispatch only reads.
pub mod access_log;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, StatusCode};

use crate::body::{self, Body};
use crate::metrics::{RequestTimer, TrafficCounters};
use crate::middleware::{Flow, MiddlewareChain, StepContext};
use crate::rule::{HttpRouterIndex, RequestView};
use crate::service::{HttpService, RequestContext};
use access_log::{AccessLog, AccessLogEntry};

/// A router ready to serve: its chain, its service and its counters.
pub struct Route {
    pub name: Arc<str>,
    pub service_name: Arc<str>,
    pub chain: MiddlewareChain,
    pub service: Arc<dyn HttpService>,
    /// `None` when the router's `observability.metrics` is off.
    pub router_counters: Option<Arc<TrafficCounters>>,
    pub service_counters: Option<Arc<TrafficCounters>>,
    pub access_log: bool,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.name)
            .field("service", &self.service_name)
            .field("middlewares", &self.chain.len())
            .finish()
    }
}

/// The routers of one entry point.
pub struct RouterTable {
    pub plain: HttpRouterIndex<Arc<Route>>,
    pub tls: HttpRouterIndex<Arc<Route>>,
}

impl RouterTable {
    pub fn empty() -> Self {
        RouterTable {
            plain: HttpRouterIndex::new(Vec::new()),
            tls: HttpRouterIndex::new(Vec::new()),
        }
    }
}

/// The connection a request arrived on.
#[derive(Debug, Clone)]
pub struct Connection {
    pub client_addr: SocketAddr,
    /// The client IP as a header value (`X-Forwarded-For`), formatted once per connection.
    pub client_ip: Option<http::HeaderValue>,
    pub entry_point: Arc<str>,
    pub tls: bool,
}

/// Routes one request and returns the response. Never fails: no router is a 404, a path
/// the rule language cannot decode is a 400.
pub async fn dispatch(
    table: &RouterTable,
    req: Request<Body>,
    conn: &Connection,
    access_log: &AccessLog,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let route = {
        let view = match RequestView::from_request(&parts, conn.client_addr.ip()) {
            Ok(view) => view,
            Err(err) => {
                tracing::debug!(error = %err, path = %parts.uri.path(), "rejecting request path");
                return plain_response(StatusCode::BAD_REQUEST, "400 Bad Request\n");
            }
        };
        let index = if conn.tls { &table.tls } else { &table.plain };
        index.lookup(&view).cloned()
    };
    let Some(route) = route else {
        return plain_response(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    let mut req = Request::from_parts(parts, body);
    let log_entry = route
        .access_log
        .then(|| AccessLogEntry::start(&req, conn, &route));
    let timer = RequestTimer::start(
        route.router_counters.as_deref(),
        route.service_counters.as_deref(),
    );

    let response = match route
        .chain
        .on_request(&mut req, StepContext { tls: conn.tls })
    {
        Flow::Respond(response) => response,
        Flow::Continue => {
            let cx = RequestContext {
                client_addr: conn.client_addr,
                client_ip: conn.client_ip.clone(),
                entry_point: Arc::clone(&conn.entry_point),
                tls: conn.tls,
                router: Arc::clone(&route.name),
            };
            let mut response = route.service.call(req, &cx).await;
            route.chain.on_response(&mut response);
            response
        }
    };
    let elapsed = timer.finish(response.status().as_u16());
    if let Some(entry) = log_entry {
        access_log.send(entry.finish(response.status().as_u16(), elapsed));
    }
    response
}

/// A short plain-text response the proxy answers itself.
pub fn plain_response(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(body::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
