//! Index behaviour on hand-picked cases; `equivalence` covers random ones.
use std::net::IpAddr;

use super::*;
use crate::rule::{parse_http, parse_tcp};

fn entry(name: &str, rule: &str, explicit_priority: i64) -> IndexEntry<String> {
    let rule = parse_http(rule).unwrap_or_else(|err| panic!("{rule}: {err}"));
    IndexEntry {
        name: name.to_owned(),
        priority: rule.priority(explicit_priority),
        rule,
        value: name.to_owned(),
    }
}

fn index(routers: &[(&str, &str, i64)]) -> HttpRouterIndex<String> {
    HttpRouterIndex::new(
        routers
            .iter()
            .map(|(name, rule, priority)| entry(name, rule, *priority))
            .collect(),
    )
}

fn route<'i>(index: &'i HttpRouterIndex<String>, host: &str, uri: &str) -> Option<&'i str> {
    let mut builder = http::Request::get(uri);
    if !host.is_empty() {
        builder = builder.header("host", host);
    }
    let (parts, ()) = builder.body(()).expect("valid request").into_parts();
    let view = RequestView::from_request(&parts, IpAddr::from([10, 0, 0, 1])).expect("valid path");
    index.lookup(&view).map(String::as_str)
}

#[test]
fn higher_priority_wins_then_name() {
    let index = index(&[
        ("b-low", "Host(`a.com`)", 1),
        ("a-high", "Host(`a.com`)", 10),
        ("z-tie", "Host(`a.com`)", 5),
        ("c-tie", "Host(`a.com`)", 5),
    ]);
    assert_eq!(route(&index, "a.com", "/"), Some("a-high"));
    let order: Vec<_> = index.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(order, ["a-high", "c-tie", "z-tie", "b-low"]);
}

#[test]
fn default_priority_is_rule_length() {
    // The documented example: the longer HostRegexp rule beats the Host rule.
    let index = index(&[
        ("host", "Host(`foobar.traefik.com`)", 0),
        ("regexp", r"HostRegexp(`[a-z]+\.traefik\.com`)", 0),
    ]);
    assert_eq!(route(&index, "foobar.traefik.com", "/"), Some("regexp"));
    // A more specific path rule is longer, so it wins over the bare host.
    let index = self::index(&[
        ("site", "Host(`a.com`)", 0),
        ("api", "Host(`a.com`) && PathPrefix(`/api`)", 0),
    ]);
    assert_eq!(route(&index, "a.com", "/api/users"), Some("api"));
    assert_eq!(route(&index, "a.com", "/"), Some("site"));
}

#[test]
fn host_less_rules_merge_with_host_buckets_by_priority() {
    let index = index(&[
        ("host", "Host(`a.com`)", 5),
        ("prefix-high", "PathPrefix(`/admin`)", 10),
        ("prefix-low", "PathPrefix(`/`)", 1),
    ]);
    assert_eq!(route(&index, "a.com", "/admin"), Some("prefix-high"));
    assert_eq!(route(&index, "a.com", "/x"), Some("host"));
    assert_eq!(route(&index, "b.com", "/x"), Some("prefix-low"));
    assert_eq!(route(&index, "", "/x"), Some("prefix-low"));
}

#[test]
fn or_of_hosts_is_found_under_each_host() {
    let index = index(&[
        ("multi", "Host(`a.com`) || Host(`b.com`)", 0),
        ("other", "Host(`c.com`)", 0),
    ]);
    assert_eq!(route(&index, "a.com", "/"), Some("multi"));
    assert_eq!(route(&index, "B.com:80", "/"), Some("multi"));
    assert_eq!(route(&index, "c.com", "/"), Some("other"));
    assert_eq!(route(&index, "d.com", "/"), None);
}

#[test]
fn negated_and_mixed_or_rules_stay_unconstrained() {
    let index = index(&[
        ("not-a", "!Host(`a.com`)", 0),
        ("a-or-path", "Host(`a.com`) || Path(`/p`)", 100),
    ]);
    assert_eq!(route(&index, "b.com", "/p"), Some("a-or-path"));
    assert_eq!(route(&index, "b.com", "/q"), Some("not-a"));
    assert_eq!(route(&index, "a.com", "/q"), Some("a-or-path"));
}

#[test]
fn wildcards_and_exact_hosts() {
    let index = index(&[
        ("wild", "Host(`*.a.com`)", 0),
        ("exact", "Host(`x.a.com`)", 0),
        ("both", "Host(`y.a.com`) || Host(`*.a.com`)", 1),
        ("star", "Host(`*`)", -1),
    ]);
    // Priorities: wild 15, exact 15 ("exact" < "wild" by name), both 1, star -1.
    assert_eq!(route(&index, "x.a.com", "/"), Some("exact"));
    assert_eq!(route(&index, "z.a.com", "/"), Some("wild"));
    assert_eq!(route(&index, "y.a.com.", "/"), Some("wild"));
    assert_eq!(route(&index, "a.com", "/"), Some("star"));
    assert_eq!(route(&index, "z.y.a.com", "/"), Some("star"));
    assert_eq!(route(&index, "", "/"), Some("star"));
}

#[test]
fn rule_listed_under_exact_and_wildcard_is_tested_once() {
    let index = index(&[("both", "Host(`y.a.com`) || Host(`*.a.com`)", 0)]);
    let mut tested = 0;
    let (parts, ()) = http::Request::get("/")
        .header("host", "y.a.com")
        .body(())
        .expect("valid request")
        .into_parts();
    let view = RequestView::from_request(&parts, IpAddr::from([10, 0, 0, 1])).expect("valid path");
    let found = index.index.first_match(view.host_key(), |_| {
        tested += 1;
        false
    });
    assert!(found.is_none());
    assert_eq!(tested, 1);
}

#[test]
fn empty_index_finds_nothing() {
    let index = index(&[]);
    assert!(index.is_empty());
    assert_eq!(route(&index, "a.com", "/"), None);
}

#[test]
fn ten_thousand_host_routers() {
    let mut routers: Vec<IndexEntry<String>> = (0..10_000)
        .map(|i| entry(&format!("r{i}"), &format!("Host(`h{i}.example.com`)"), 0))
        .collect();
    routers.push(entry(
        "api-of-h42",
        "Host(`h42.example.com`) && PathPrefix(`/api`)",
        0,
    ));
    routers.push(entry("fallback", "PathPrefix(`/`)", -10));
    let index = HttpRouterIndex::new(routers);
    assert_eq!(index.len(), 10_002);
    for i in 0..10_000 {
        let host = format!("h{i}.example.com");
        let expected = format!("r{i}");
        assert_eq!(route(&index, &host, "/"), Some(expected.as_str()), "{host}");
    }
    assert_eq!(
        route(&index, "h42.example.com", "/api/x"),
        Some("api-of-h42")
    );
    assert_eq!(route(&index, "H9999.EXAMPLE.COM:443", "/"), Some("r9999"));
    assert_eq!(route(&index, "h10000.example.com", "/"), Some("fallback"));
    assert_eq!(route(&index, "", "/"), Some("fallback"));
}

fn tcp_entry(name: &str, rule: &str, explicit_priority: i64) -> TcpIndexEntry<String> {
    let rule = parse_tcp(rule).unwrap_or_else(|err| panic!("{rule}: {err}"));
    IndexEntry {
        name: name.to_owned(),
        priority: rule.priority(explicit_priority),
        rule,
        value: name.to_owned(),
    }
}

#[test]
fn tcp_index_routes_by_sni_then_catch_all() {
    let index = TcpRouterIndex::new(vec![
        tcp_entry("catch-all", "HostSNI(`*`)", 0),
        tcp_entry("db", "HostSNI(`db.example.com`)", 0),
        tcp_entry("wild", "HostSNI(`*.example.com`)", 0),
        tcp_entry("h2-only", "HostSNI(`web.example.com`) && ALPN(`h2`)", 0),
        tcp_entry("office", "ClientIP(`192.168.0.0/16`)", 0),
    ]);
    let ip = IpAddr::from([10, 0, 0, 1]);
    let office = IpAddr::from([192, 168, 3, 4]);
    let lookup = |sni, alpn: &[&[u8]], ip| index.lookup(sni, alpn, ip).map(String::as_str);
    assert_eq!(lookup(Some("DB.example.com"), &[], ip), Some("db"));
    assert_eq!(
        lookup(Some("web.example.com"), &[b"h2"], ip),
        Some("h2-only")
    );
    assert_eq!(
        lookup(Some("web.example.com"), &[b"http/1.1"], ip),
        Some("wild")
    );
    assert_eq!(lookup(Some("other.org"), &[], ip), Some("catch-all"));
    assert_eq!(lookup(None, &[], ip), Some("catch-all"));
    assert_eq!(lookup(None, &[], office), Some("office"));
    assert_eq!(
        index.entries().last().map(|e| e.name.as_str()),
        Some("catch-all")
    );
}

#[test]
fn ten_thousand_sni_routers() {
    let index = TcpRouterIndex::new(
        (0..10_000)
            .map(|i| tcp_entry(&format!("t{i}"), &format!("HostSNI(`s{i}.example.com`)"), 0))
            .collect(),
    );
    let ip = IpAddr::from([10, 0, 0, 1]);
    for i in (0..10_000).step_by(7) {
        let sni = format!("s{i}.example.com");
        let expected = format!("t{i}");
        assert_eq!(index.lookup(Some(&sni), &[], ip), Some(&expected));
    }
    assert_eq!(index.lookup(Some("nope.example.com"), &[], ip), None);
    assert_eq!(index.lookup(None, &[], ip), None);
}
