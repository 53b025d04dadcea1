//! The route set every target serves: `count` `Host()` routes to one backend, declared in
//! order `h0`, `h1`, ... The load hits the last-declared host, the worst place for a proxy
//! that scans its routes in order.
use std::net::SocketAddr;

/// Domain under which the benchmark's host names live (never resolved).
const DOMAIN: &str = "bench.test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSet {
    /// Number of `Host()` routes, at least one.
    pub count: usize,
    /// Where every route forwards to.
    pub backend: SocketAddr,
}

impl RouteSet {
    pub fn new(count: usize, backend: SocketAddr) -> Self {
        RouteSet {
            count: count.max(1),
            backend,
        }
    }

    /// The host name of route `index` (declaration order).
    pub fn host(index: usize) -> String {
        format!("h{index}.{DOMAIN}")
    }

    /// The host of the last-declared route: the one the load hits.
    pub fn target_host(&self) -> String {
        Self::host(self.count - 1)
    }

    /// Router names that sort in declaration order (Mesh and Traefik keep routers in maps).
    pub fn router_name(&self, index: usize) -> String {
        let width = (self.count - 1).to_string().len();
        format!("r{index:0width$}")
    }

    pub fn hosts(&self) -> impl Iterator<Item = (usize, String)> + '_ {
        (0..self.count).map(|index| (index, Self::host(index)))
    }

    pub fn backend_url(&self) -> String {
        format!("http://{}", self.backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> SocketAddr {
        "127.0.0.1:9".parse().unwrap()
    }

    #[test]
    fn load_hits_the_last_declared_host() {
        let routes = RouteSet::new(10_000, backend());
        assert_eq!(routes.target_host(), "h9999.bench.test");
        assert_eq!(
            routes.hosts().last().map(|(_, h)| h),
            Some(routes.target_host())
        );
        assert_eq!(RouteSet::new(1, backend()).target_host(), "h0.bench.test");
    }

    #[test]
    fn router_names_sort_in_declaration_order() {
        let routes = RouteSet::new(10_000, backend());
        let names: Vec<String> = (0..routes.count).map(|i| routes.router_name(i)).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(names[9_999], "r9999");
        assert_eq!(names[5], "r0005");
    }

    #[test]
    fn zero_routes_means_one() {
        assert_eq!(RouteSet::new(0, backend()).count, 1);
    }
}
