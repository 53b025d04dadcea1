//! Generated names (reference §0.1 and §4.1).

use ring::digest::{SHA256, digest};

/// Splits on every character that is not a letter or digit, drops empty pieces, joins with
/// `-`: `test.route` -> `test-route`, `multiple---hyphens` -> `multiple-hyphens`.
pub fn normalize(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|piece| !piece.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// `<crName>-<first 20 hex digits of sha256(match)>`: routes are named by what they match,
/// so reordering routes does not rename routers.
pub fn route_key(match_: &str, object_name: &str) -> String {
    let hash = digest(&SHA256, match_.as_bytes());
    let hex: String = hash.as_ref()[..10]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{object_name}-{hex}")
}

/// `normalize(ns-name)`: the name of Middlewares, TraefikServices, ServersTransports.
pub fn object_id(namespace: &str, name: &str) -> String {
    normalize(&format!("{namespace}-{name}"))
}

/// HTTP router (and single-service) name for a route of IngressRoute `namespace/name`.
pub fn http_router_name(namespace: &str, name: &str, match_: &str) -> String {
    normalize(&format!("{namespace}-{}", route_key(match_, name)))
}

/// TCP router name: like HTTP but not normalised (dots kept), as Traefik does.
pub fn tcp_router_name(namespace: &str, name: &str, match_: &str) -> String {
    format!("{namespace}-{}", route_key(match_, name))
}

/// UDP router name: the route's index, since UDP routes have no rule.
pub fn udp_router_name(namespace: &str, name: &str, index: usize) -> String {
    format!("{namespace}-{name}-{index}")
}

/// A Kubernetes Service used inside a weighted/mirroring/failover service.
pub fn service_port_id(namespace: &str, service: &str, port: &str) -> String {
    normalize(&format!("{namespace}-{service}-{port}"))
}

/// A Kubernetes Service with service-level middlewares inside a composite service: the
/// middlewares are part of the name, so two references to one Service with different
/// middlewares never share (and overwrite) one service.
pub fn service_with_middlewares_id(service_port_id: &str, middlewares: &[String]) -> String {
    route_key(&middlewares.join(","), service_port_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_joins_letter_and_digit_runs() {
        assert_eq!(normalize("test.route"), "test-route");
        assert_eq!(
            normalize("default-multiple---hyphens"),
            "default-multiple-hyphens"
        );
        assert_eq!(normalize("a_b"), "a-b");
        assert_eq!(normalize("--x--"), "x");
        assert_eq!(normalize("ünïcode.ok"), "ünïcode-ok");
    }

    #[test]
    fn router_names_match_the_reference_fixtures() {
        assert_eq!(
            http_router_name(
                "default",
                "test.route",
                "Host(`foo.com`) && PathPrefix(`/bar`)"
            ),
            "default-test-route-6b204d94623b3df4370c"
        );
        assert_eq!(
            tcp_router_name("default", "test.route", "HostSNI(`foo.com`)"),
            "default-test.route-fdd3e9338e47a45efefc"
        );
        assert_eq!(
            udp_router_name("default", "test.route", 0),
            "default-test.route-0"
        );
    }

    #[test]
    fn service_names_use_the_port_as_written() {
        assert_eq!(
            service_port_id("default", "whoami", "80"),
            "default-whoami-80"
        );
        assert_eq!(
            service_port_id("baz", "whoami6", "8080"),
            "baz-whoami6-8080"
        );
        assert_eq!(
            object_id("default", "multiple---hyphens"),
            "default-multiple-hyphens"
        );
    }
}
