//! The router rule language (Traefik v3 syntax) for HTTP and TCP routers.
//!
//! - [`parse_http`] / [`parse_tcp`] compile a rule once per config; a [`RuleError`] names
//!   the column and the problem (`column 12: unknown matcher `Hots``).
//! - [`RequestView::from_request`] normalises a request once (host, routing path); a
//!   [`PathError`] means the request must be answered with 400 before routing.
//! - [`HttpRouterIndex`] / [`TcpRouterIndex`] return the first matching router in
//!   (priority descending, name ascending) order, with hashed host buckets so the cost does
//!   not grow with the number of routers.
//! - [`parse_http_with`] / [`parse_tcp_with`] take a [`RuleSyntax`]: routers may still be
//!   written in Traefik's deprecated v2 dialect (`ruleSyntax: v2`).
//!
//! ```
//! use mesh_proxy::rule::{HttpRouterIndex, IndexEntry, RequestView, parse_http};
//!
//! let rule = parse_http("Host(`api.example.com`) && PathPrefix(`/v1`)").unwrap();
//! let priority = rule.priority(0);
//! let index = HttpRouterIndex::new(vec![IndexEntry { name: "api".into(), rule, priority, value: 1 }]);
//! let (parts, ()) = http::Request::get("/v1/users")
//!     .header("host", "API.example.com:8443")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let view = RequestView::from_request(&parts, "127.0.0.1".parse().unwrap()).unwrap();
//! assert_eq!(index.lookup(&view), Some(&1));
//! ```
mod error;
mod host;
mod http;
mod index;
mod ip;
mod request;
mod syntax;
mod tcp;
mod v2;

pub use self::http::{HttpMatcher, HttpRule, parse_http, parse_http_with};
pub use error::{PathError, RuleError};
pub use host::HostPattern;
pub use index::{HttpRouterIndex, IndexEntry, TcpIndexEntry, TcpRouterIndex};
pub use ip::IpRange;
pub use request::{RequestView, routing_path};
pub use tcp::{ConnectionView, TcpMatcher, TcpRule, parse_tcp, parse_tcp_with};
pub use v2::RuleSyntax;

/// The largest explicit priority a user may set (Traefik reserves the values above it for
/// internal routers); a larger one is a router error.
pub const MAX_USER_PRIORITY: i64 = i64::MAX - 1000;
