//! Property: for random routers and requests, the index returns exactly what a linear scan
//! in (priority desc, name asc) order returns, and every compiled rule agrees with an
//! independent evaluator written from the reference's wording.
//!
//! Rules are drawn from a small alphabet of hosts, paths, methods, headers and queries so
//! that matches actually happen; they include `||`, `!`, wildcards and regexes.
use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::rule::parse_http;

#[derive(Debug, Clone)]
enum Leaf {
    Host(&'static str),
    HostRegexp(&'static str),
    Path(&'static str),
    PathPrefix(&'static str),
    PathRegexp(&'static str),
    Method(&'static str),
    Header(&'static str, &'static str),
    Query(&'static str, Option<&'static str>),
    ClientIp(&'static str),
}

#[derive(Debug, Clone)]
enum Tree {
    /// A leaf with a spelling variant for its name and a quote style.
    Leaf(Leaf, usize, bool),
    Not(Box<Tree>),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
}

/// A request from the alphabet. `path` is (as sent, routing path).
#[derive(Debug, Clone)]
struct Req {
    host: &'static str,
    path: (&'static str, &'static str),
    method: &'static str,
    header: Option<&'static str>,
    query: &'static str,
    ip: IpAddr,
}

fn leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![
        4 => prop::sample::select(vec!["a.com", "b.com", "x.a.com", "*.a.com", "*", "A.com."])
            .prop_map(Leaf::Host),
        1 => prop::sample::select(vec![r"^[ab]\.com$", r"a\.com"]).prop_map(Leaf::HostRegexp),
        1 => prop::sample::select(vec!["/x", "/x y"]).prop_map(Leaf::Path),
        2 => prop::sample::select(vec!["/x", "/", "/y%2F"]).prop_map(Leaf::PathPrefix),
        1 => Just(Leaf::PathRegexp("^/y")),
        1 => prop::sample::select(vec!["GET", "post"]).prop_map(Leaf::Method),
        1 => Just(Leaf::Header("X-K", "v1")),
        1 => prop::sample::select(vec![Some("1"), None]).prop_map(|v| Leaf::Query("q", v)),
        1 => prop::sample::select(vec!["10.0.0.0/8", "192.168.0.1"]).prop_map(Leaf::ClientIp),
    ]
}

fn expr() -> impl Strategy<Value = Tree> {
    let leaf = (leaf(), 0..4usize, any::<bool>())
        .prop_map(|(leaf, spelling, backticks)| Tree::Leaf(leaf, spelling, backticks));
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Tree::Not(Box::new(e))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Tree::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Tree::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn request() -> impl Strategy<Value = Req> {
    let hosts = vec![
        "a.com",
        "b.com",
        "x.a.com",
        "y.x.a.com",
        "",
        "A.COM:8080",
        "a.com.",
        "c.org",
    ];
    let paths = vec![
        ("/", "/"),
        ("/x", "/x"),
        ("/x/y", "/x/y"),
        ("/y", "/y"),
        ("/xy", "/xy"),
        ("/x%20y", "/x y"),
        ("/y%2Fz", "/y%2Fz"),
    ];
    let ips: Vec<IpAddr> = vec![
        [10, 1, 2, 3].into(),
        [192, 168, 0, 1].into(),
        [172, 16, 0, 1].into(),
    ];
    (
        prop::sample::select(hosts),
        prop::sample::select(paths),
        prop::sample::select(vec!["GET", "POST", "PUT"]),
        prop::sample::select(vec![None, Some("v1"), Some("v2")]),
        prop::sample::select(vec!["", "q=1", "q=2&q=1", "q", "r=1"]),
        prop::sample::select(ips),
    )
        .prop_map(|(host, path, method, header, query, ip)| Req {
            host,
            path,
            method,
            header,
            query,
            ip,
        })
}

fn spell(name: &str, variant: usize) -> String {
    match variant {
        0 => name.to_owned(),
        1 => name.to_lowercase(),
        2 => name.to_uppercase(),
        _ => {
            let lower = name.to_lowercase();
            lower[..1].to_uppercase() + &lower[1..]
        }
    }
}

fn render(tree: &Tree) -> String {
    match tree {
        Tree::Leaf(leaf, spelling, backticks) => {
            let quote = |v: &str| {
                if *backticks {
                    format!("`{v}`")
                } else {
                    format!("{v:?}")
                }
            };
            let (name, args) = match leaf {
                Leaf::Host(v) => ("Host", vec![quote(v)]),
                Leaf::HostRegexp(v) => ("HostRegexp", vec![quote(v)]),
                Leaf::Path(v) => ("Path", vec![quote(v)]),
                Leaf::PathPrefix(v) => ("PathPrefix", vec![quote(v)]),
                Leaf::PathRegexp(v) => ("PathRegexp", vec![quote(v)]),
                Leaf::Method(v) => ("Method", vec![quote(v)]),
                Leaf::Header(k, v) => ("Header", vec![quote(k), quote(v)]),
                Leaf::Query(k, Some(v)) => ("Query", vec![quote(k), quote(v)]),
                Leaf::Query(k, None) => ("Query", vec![quote(k)]),
                Leaf::ClientIp(v) => ("ClientIP", vec![quote(v)]),
            };
            format!("{}({})", spell(name, *spelling), args.join(", "))
        }
        Tree::Not(inner) => format!("!{}", render(inner)),
        Tree::And(a, b) => format!("({} && {})", render(a), render(b)),
        Tree::Or(a, b) => format!("({} || {})", render(a), render(b)),
    }
}

/// The request host as rules see it: port removed, lower-cased (trailing dot kept).
fn naive_host(req: &Req) -> String {
    req.host.split(':').next().unwrap_or("").to_lowercase()
}

fn naive_leaf(leaf: &Leaf, req: &Req) -> bool {
    let host = naive_host(req);
    let host_no_dot = host.strip_suffix('.').unwrap_or(&host);
    let routing_path = req.path.1;
    match leaf {
        Leaf::Host("*") => true,
        Leaf::Host(value) => {
            let value = value.to_lowercase();
            let value = value.strip_suffix('.').unwrap_or(&value);
            match value.strip_prefix("*.") {
                Some(suffix) => host_no_dot
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => !host_no_dot.is_empty() && host_no_dot == value,
            }
        }
        Leaf::HostRegexp(r"^[ab]\.com$") => host == "a.com" || host == "b.com",
        Leaf::HostRegexp(_) => host.contains("a.com"),
        Leaf::Path(value) => routing_path == *value,
        Leaf::PathPrefix(value) => routing_path.starts_with(value),
        Leaf::PathRegexp(_) => routing_path.starts_with("/y"),
        Leaf::Method(value) => req.method == value.to_uppercase(),
        Leaf::Header(_, value) => req.header == Some(*value),
        Leaf::Query(key, value) => req
            .query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .any(|(k, v)| k == *key && v == value.unwrap_or("")),
        Leaf::ClientIp("10.0.0.0/8") => matches!(req.ip, IpAddr::V4(v4) if v4.octets()[0] == 10),
        Leaf::ClientIp(address) => req.ip.to_string() == *address,
    }
}

fn naive_eval(tree: &Tree, req: &Req) -> bool {
    match tree {
        Tree::Leaf(leaf, _, _) => naive_leaf(leaf, req),
        Tree::Not(inner) => !naive_eval(inner, req),
        Tree::And(a, b) => naive_eval(a, req) && naive_eval(b, req),
        Tree::Or(a, b) => naive_eval(a, req) || naive_eval(b, req),
    }
}

fn http_parts(req: &Req) -> http::request::Parts {
    let uri = if req.query.is_empty() {
        req.path.0.to_owned()
    } else {
        format!("{}?{}", req.path.0, req.query)
    };
    let mut builder = http::Request::builder().method(req.method).uri(uri);
    if !req.host.is_empty() {
        builder = builder.header("host", req.host);
    }
    if let Some(value) = req.header {
        builder = builder.header("x-k", value);
    }
    builder
        .body(())
        .expect("alphabet requests are valid")
        .into_parts()
        .0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn index_equals_linear_first_match(
        routers in prop::collection::vec(
            (expr(), prop::sample::select(vec![0i64, 0, 0, 1, 5, 20, -1])),
            1..16,
        ),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        let rendered: Vec<(String, String, i64)> = routers
            .iter()
            .enumerate()
            .map(|(i, (tree, priority))| (format!("r{:02}", (i * 7) % 16), render(tree), *priority))
            .collect();
        let entries = rendered
            .iter()
            .map(|(name, source, priority)| {
                let rule = parse_http(source).map_err(|err| format!("{source}: {err}"))?;
                Ok(IndexEntry { name: name.clone(), priority: rule.priority(*priority), rule, value: name.clone() })
            })
            .collect::<Result<Vec<_>, String>>();
        let entries = match entries {
            Ok(entries) => entries,
            Err(err) => return Err(TestCaseError::fail(err)),
        };
        let index = HttpRouterIndex::new(entries.clone());

        // Reference order: priority (explicit, or rule length) desc, then name asc.
        let mut order: Vec<usize> = (0..routers.len()).collect();
        order.sort_by(|&a, &b| {
            let priority = |i: usize| {
                let (_, source, explicit) = &rendered[i];
                if *explicit == 0 { source.len() as i64 } else { *explicit }
            };
            priority(b).cmp(&priority(a)).then_with(|| rendered[a].0.cmp(&rendered[b].0))
        });

        for req in &requests {
            let parts = http_parts(req);
            let view = RequestView::from_request(&parts, req.ip).expect("alphabet paths are valid");
            for (i, (tree, _)) in routers.iter().enumerate() {
                let compiled = entries.iter().find(|e| e.name == rendered[i].0).expect("entry");
                prop_assert_eq!(
                    compiled.rule.matches(&view),
                    naive_eval(tree, req),
                    "rule {} on {:?}", rendered[i].1, req
                );
            }
            let expected = order
                .iter()
                .find(|&&i| naive_eval(&routers[i].0, req))
                .map(|&i| rendered[i].0.as_str());
            prop_assert_eq!(index.lookup(&view).map(String::as_str), expected, "request {:?}", req);
        }
    }
}

/// A TCP leaf from a small alphabet, rendered as rule text.
fn tcp_leaf() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "HostSNI(`a.com`)",
        "HostSNI(`b.com`)",
        "HostSNI(`*.a.com`)",
        "HostSNI(`*`)",
        r"HostSNIRegexp(`^[ab]\.com$`)",
        "ALPN(`h2`)",
        "ClientIP(`10.0.0.0/8`)",
    ])
}

fn tcp_rule() -> impl Strategy<Value = String> {
    tcp_leaf()
        .prop_map(str::to_owned)
        .prop_recursive(2, 6, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| format!("!{e}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("({a} || {b})")),
            ]
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The TCP index agrees with a linear scan over the same compiled rules.
    #[test]
    fn tcp_index_equals_linear_first_match(
        rules in prop::collection::vec(
            (tcp_rule(), prop::sample::select(vec![0i64, 0, 1, 30, -1])),
            1..12,
        ),
        sni in prop::sample::select(vec![None, Some("a.com"), Some("B.com"), Some("x.a.com"), Some("c.org")]),
        alpn in prop::sample::select(vec![vec![], vec![&b"h2"[..]], vec![&b"http/1.1"[..]]]),
        ip in prop::sample::select(vec![IpAddr::from([10, 0, 0, 1]), IpAddr::from([192, 168, 0, 1])]),
    ) {
        let entries: Vec<TcpIndexEntry<String>> = rules
            .iter()
            .enumerate()
            .map(|(i, (source, explicit))| {
                let rule = crate::rule::parse_tcp(source).expect("alphabet rules are valid");
                IndexEntry { name: format!("t{:02}", (i * 5) % 12), priority: rule.priority(*explicit), rule, value: format!("t{i}") }
            })
            .collect();
        let mut linear = entries.clone();
        linear.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.name.cmp(&b.name)));
        let conn = crate::rule::ConnectionView::new(sni, &alpn, ip);
        let expected = linear.iter().find(|e| e.rule.matches(&conn)).map(|e| &e.value);
        let index = TcpRouterIndex::new(entries);
        prop_assert_eq!(index.lookup(sni, &alpn, ip), expected);
    }
}
