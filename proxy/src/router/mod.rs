//! Dispatch: request -> router -> middleware chain -> service.
//!
//! A [`RouterTable`] is the compiled routing of one entry point for one configuration
//! generation: two rule indexes (TLS routers answer only on TLS connections, the others only
//! on plain ones) whose values are ready-to-run [`Route`]s. Everything a request needs was
//! resolved at apply time; dispatch only reads.
pub mod access_log;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};

use crate::body::{self, Body};
use crate::metrics::{RequestTimer, TrafficCounters};
use crate::middleware::{Flow, MiddlewareChain, StepContext};
use crate::rule::{HttpRouterIndex, RequestView};
use crate::service::{HttpService, RequestContext};
use access_log::{AccessLog, AccessLogEntry};

/// A router ready to serve: its chain, what it hands the request to, and its counters.
pub struct Route {
    pub name: Arc<str>,
    /// Empty for a parent router (it has no service).
    pub service_name: Arc<str>,
    pub chain: MiddlewareChain,
    pub target: RouteTarget,
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
            .field(
                "children",
                &match &self.target {
                    RouteTarget::Service(_) => 0,
                    RouteTarget::Children(children) => children.len(),
                },
            )
            .finish()
    }
}

/// Where a route sends the request once its middlewares ran.
pub enum RouteTarget {
    /// A leaf router: its service answers.
    Service(Arc<dyn HttpService>),
    /// A parent router (multi-layer routing): the request, as the parent's middlewares left
    /// it, is matched against the children in their own index; none matching is a 404.
    Children(HttpRouterIndex<Arc<Route>>),
}

/// The routers of one entry point.
pub struct RouterTable {
    pub plain: HttpRouterIndex<Arc<Route>>,
    pub tls: HttpRouterIndex<Arc<Route>>,
    /// Whether requests no router takes are access-logged: they have no router whose
    /// observability could say, so the static default (`accessLogs`) decides.
    pub log_unrouted: bool,
}

impl RouterTable {
    pub fn empty() -> Self {
        RouterTable {
            plain: HttpRouterIndex::new(Vec::new()),
            tls: HttpRouterIndex::new(Vec::new()),
            log_unrouted: false,
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

/// Routes one request. Whatever can be decided at once is: no router is a 404, a path the
/// rule language cannot decode is a 400, a middleware may answer itself. Otherwise the
/// service is called and [`Dispatched::Pending`] waits for its response. Never fails.
///
/// Routing runs here, outside any future, so that the future a connection keeps per request
/// holds only what the response needs, not the request: hyper moves that future into a box
/// for every request, and its whole size is copied.
/// The request comes in its parts, as the server has them: no copy into a `Request` and
/// back out.
pub fn dispatch(
    table: &RouterTable,
    parts: http::request::Parts,
    body: Body,
    conn: &Connection,
    access_log: &AccessLog,
) -> Dispatched {
    let route = {
        let view = match RequestView::from_request(&parts, conn.client_addr.ip()) {
            Ok(view) => view,
            Err(err) => {
                tracing::debug!(error = %err, path = %parts.uri.path(), "rejecting request path");
                let response = plain_response(StatusCode::BAD_REQUEST, "400 Bad Request\n");
                return Dispatched::Ready(response);
            }
        };
        let index = if conn.tls { &table.tls } else { &table.plain };
        index.lookup(&view).cloned()
    };
    let Some(root) = route else {
        if table.log_unrouted {
            let started = std::time::Instant::now();
            let entry = AccessLogEntry::start(&parts, conn, "-", "-");
            access_log.send(entry.finish(StatusCode::NOT_FOUND.as_u16(), started.elapsed()));
        }
        return Dispatched::Ready(not_found());
    };
    // Logged as the client sent it, before any middleware rewrites it.
    let log_entry = root.access_log.then(|| {
        Box::new(AccessLogEntry::start(
            &parts,
            conn,
            &root.name,
            &root.service_name,
        ))
    });
    let mut req = Request::from_parts(parts, body);
    // Children take no observability of their own: the root's metrics toggle decides.
    let metrics = root.router_counters.is_some();
    let step = StepContext { tls: conn.tls };
    let (path, descent) = descend(root, &mut req, step, conn);
    let served = path.served();
    match descent {
        Descent::Answered(response) => {
            let timer = start_timer(served, metrics);
            Dispatched::Ready(complete(&path, log_entry, response, timer, access_log))
        }
        Descent::Service(service) => {
            let cx = RequestContext {
                client_addr: conn.client_addr,
                client_ip: conn.client_ip.clone(),
                entry_point: Arc::clone(&conn.entry_point),
                tls: conn.tls,
                router: Arc::clone(&served.name),
            };
            let response = service.call(req, &cx);
            Dispatched::Pending(Pending {
                response,
                path,
                metrics,
                log_entry,
            })
        }
    }
}

/// A routed request: its response, or the service's response still to come.
pub enum Dispatched {
    Ready(Response<Body>),
    Pending(Pending),
}

/// A request its service is answering, with what finishing its response needs.
pub struct Pending {
    response: BoxFuture<'static, Response<Body>>,
    path: RoutePath,
    metrics: bool,
    log_entry: Option<Box<AccessLogEntry>>,
}

impl Pending {
    /// Waits for the service's response and runs the routers' response steps on it.
    pub async fn finish(self, access_log: &AccessLog) -> Response<Body> {
        let Pending {
            response,
            path,
            metrics,
            log_entry,
        } = self;
        let served = path.served();
        // Counted from the first poll, which hyper makes as soon as it has the future.
        let timer = start_timer(served, metrics);
        let mut response = response.await;
        served.chain.on_response(&mut response);
        complete(&path, log_entry, response, timer, access_log)
    }
}

fn start_timer(served: &Route, metrics: bool) -> RequestTimer<'_> {
    RequestTimer::start(
        served.router_counters.as_deref().filter(|_| metrics),
        served.service_counters.as_deref().filter(|_| metrics),
    )
}

/// Runs the parents' response steps, counts the response, then logs it.
fn complete(
    path: &RoutePath,
    log_entry: Option<Box<AccessLogEntry>>,
    mut response: Response<Body>,
    timer: RequestTimer<'_>,
    access_log: &AccessLog,
) -> Response<Body> {
    // Parents' response steps run innermost first, as if their chains wrapped the child.
    for parent in path.parents() {
        parent.chain.on_response(&mut response);
    }
    let status = response.status().as_u16();
    let elapsed = timer.finish(status);
    if let Some(mut entry) = log_entry {
        let served = path.served();
        entry.router_name = served.name.to_string();
        entry.service_name = served.service_name.to_string();
        access_log.send(entry.finish(status, elapsed));
    }
    response
}

/// The routers a request passed through: the root, then each child down to the router that
/// answered. The root is kept apart so that a request to a leaf router (nearly every one)
/// allocates nothing here.
struct RoutePath {
    root: Arc<Route>,
    children: Vec<Arc<Route>>,
}

impl RoutePath {
    /// The router that answered: the last one passed through.
    fn served(&self) -> &Route {
        self.children.last().unwrap_or(&self.root)
    }

    /// The routers above the one that answered, innermost first.
    fn parents(&self) -> impl Iterator<Item = &Arc<Route>> {
        let (above, root) = match self.children.split_last() {
            Some((_, above)) => (above, Some(&self.root)),
            None => (&[][..], None),
        };
        above.iter().rev().chain(root)
    }
}

/// How the walk down the router tree ended.
enum Descent {
    /// A middleware answered, or no child router matched (404), or the rewritten request
    /// could not be matched (400).
    Answered(Response<Body>),
    /// The leaf router's service is to answer.
    Service(Arc<dyn HttpService>),
}

/// Runs the root's middlewares, then, for a parent router, matches the rewritten request
/// against its children, and so on down to a leaf. Returns the routers passed through and
/// how the walk ended.
fn descend(
    root: Arc<Route>,
    req: &mut Request<Body>,
    step: StepContext,
    conn: &Connection,
) -> (RoutePath, Descent) {
    let mut path = RoutePath {
        root,
        children: Vec::new(),
    };
    loop {
        let route = path.served();
        if let Flow::Respond(response) = route.chain.on_request(req, step) {
            return (path, Descent::Answered(response));
        }
        let children = match &route.target {
            RouteTarget::Service(service) => {
                let service = Arc::clone(service);
                return (path, Descent::Service(service));
            }
            RouteTarget::Children(children) => children,
        };
        let child = RequestView::from_whole(req, conn.client_addr.ip())
            .map(|view| children.lookup(&view).cloned());
        match child {
            Ok(Some(child)) => path.children.push(child),
            Ok(None) => return (path, Descent::Answered(not_found())),
            Err(err) => {
                tracing::debug!(error = %err, path = %req.uri().path(), "rejecting rewritten request path");
                let response = plain_response(StatusCode::BAD_REQUEST, "400 Bad Request\n");
                return (path, Descent::Answered(response));
            }
        }
    }
}

fn not_found() -> Response<Body> {
    plain_response(StatusCode::NOT_FOUND, "404 page not found\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str) -> Arc<Route> {
        Arc::new(Route {
            name: Arc::from(name),
            service_name: Arc::from(""),
            chain: MiddlewareChain::new(Vec::new()),
            target: RouteTarget::Children(HttpRouterIndex::new(Vec::new())),
            router_counters: None,
            service_counters: None,
            access_log: false,
        })
    }

    #[test]
    fn parents_are_the_routers_above_the_one_that_answered_innermost_first() {
        let names = |path: &RoutePath| {
            path.parents()
                .map(|route| route.name.to_string())
                .collect::<Vec<_>>()
        };
        let mut path = RoutePath {
            root: route("root"),
            children: Vec::new(),
        };
        assert_eq!(&*path.served().name, "root");
        assert!(names(&path).is_empty());
        path.children.push(route("child"));
        assert_eq!(names(&path), ["root"]);
        path.children.push(route("grandchild"));
        assert_eq!(&*path.served().name, "grandchild");
        assert_eq!(names(&path), ["child", "root"]);
    }
}
