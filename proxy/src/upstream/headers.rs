//! Header rewriting between client and server: hop-by-hop headers stay on their hop, and
//! the server learns who the client is through `X-Forwarded-*` and `X-Real-Ip`.
use std::net::IpAddr;
use std::sync::OnceLock;

use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};

use crate::service::RequestContext;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Headers that describe one connection and must not be forwarded (RFC 9110 §7.6.1).
fn hop_by_hop() -> [&'static HeaderName; 8] {
    [
        &header::CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::PROXY_AUTHENTICATE,
        &header::PROXY_AUTHORIZATION,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ]
}

/// Whether `name` is one of [`hop_by_hop`] or `TE`. Matched on the name's text, which
/// compares lengths first, instead of comparing it with each name in turn.
fn is_hop_by_hop_or_te(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "te"
    )
}

/// Whether the request asks to switch protocols (WebSocket and the like).
pub(crate) fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Drops hop-by-hop headers, including those the `Connection` header names. An upgrade
/// keeps `Connection: Upgrade` and `Upgrade`, which the next hop needs. `TE: trailers`
/// survives, since gRPC servers require it.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages carry none of these: one pass over the names is cheaper than ten
    // hashed removals.
    if !headers.keys().any(is_hop_by_hop_or_te) {
        return;
    }
    let hop_by_hop = hop_by_hop();
    let upgrade = if keep_upgrade {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    };
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(hop_by_hop) {
        headers.remove(name);
    }
    let te_trailers = headers
        .get(header::TE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|t| t.trim() == "trailers"));
    headers.remove(header::TE);
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(upgrade) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, upgrade);
    }
}

/// Forwarded headers to write after a request's own, in this order (absent values skipped).
pub(crate) type Forwarded = [(&'static HeaderName, Option<HeaderValue>); 6];

/// Adds `X-Forwarded-*` and `X-Real-Ip`. `X-Forwarded-For` gets the client appended; the
/// others are kept when present, since the entry point already dropped the ones it does
/// not trust. `host` is the client's Host (or `:authority`).
pub(crate) fn add_forwarded(
    headers: &mut HeaderMap,
    cx: &RequestContext,
    host: Option<&HeaderValue>,
    upgrade: bool,
) {
    if let Some(fields) = forwarded_to_append(headers, cx, host, upgrade) {
        // Up to six headers are added: one growth of the map instead of several rehashes.
        let _ = headers.try_reserve(6);
        for (name, value) in fields {
            if let Some(value) = value {
                headers.append(name, value);
            }
        }
        return;
    }
    let client_ip = client_ip(cx);
    // One lookup both reads the previous `X-Forwarded-For` and replaces it.
    match headers.entry(&X_FORWARDED_FOR) {
        header::Entry::Occupied(mut entry) => {
            let appended = match entry.get().to_str() {
                Ok(previous) if !previous.is_empty() => {
                    HeaderValue::try_from(format!("{previous}, {}", cx.client_addr.ip())).ok()
                }
                _ => client_ip.clone(),
            };
            if let Some(value) = appended {
                entry.insert(value);
            }
        }
        header::Entry::Vacant(slot) => {
            if let Some(value) = client_ip.clone() {
                slot.insert(value);
            }
        }
    }
    set_if_absent(headers, &X_FORWARDED_PROTO, || {
        Some(HeaderValue::from_static(forwarded_proto(cx, upgrade)))
    });
    if let Some(host) = host {
        set_if_absent(headers, &X_FORWARDED_HOST, || Some(host.clone()));
    }
    set_if_absent(headers, &X_FORWARDED_PORT, || {
        Some(forwarded_port(cx, host))
    });
    set_if_absent(headers, &X_FORWARDED_SERVER, || proxy_hostname().cloned());
    set_if_absent(headers, &X_REAL_IP, || client_ip);
}

/// When the request carries none of the forwarded headers (nearly always: clients rarely
/// send them), the ones [`add_forwarded`] would add, to be appended as they are: with no
/// header to merge with, no lookup is needed, and an encoder can write them without
/// inserting them into the map at all. `None` when one is present.
pub(crate) fn forwarded_to_append(
    headers: &HeaderMap,
    cx: &RequestContext,
    host: Option<&HeaderValue>,
    upgrade: bool,
) -> Option<Forwarded> {
    if headers.keys().any(|name| FORWARDED.contains(&name)) {
        return None;
    }
    let client_ip = client_ip(cx);
    Some([
        (&X_FORWARDED_FOR, client_ip.clone()),
        (
            &X_FORWARDED_PROTO,
            Some(HeaderValue::from_static(forwarded_proto(cx, upgrade))),
        ),
        (&X_FORWARDED_HOST, host.cloned()),
        (&X_FORWARDED_PORT, Some(forwarded_port(cx, host))),
        (&X_FORWARDED_SERVER, proxy_hostname().cloned()),
        (&X_REAL_IP, client_ip),
    ])
}

fn client_ip(cx: &RequestContext) -> Option<HeaderValue> {
    cx.client_ip
        .clone()
        .or_else(|| ip_header_value(cx.client_addr.ip()))
}

fn forwarded_proto(cx: &RequestContext, upgrade: bool) -> &'static str {
    match (cx.tls, upgrade) {
        (true, true) => "wss",
        (true, false) => "https",
        (false, true) => "ws",
        (false, false) => "http",
    }
}

fn forwarded_port(cx: &RequestContext, host: Option<&HeaderValue>) -> HeaderValue {
    let explicit = host
        .and_then(explicit_port)
        .and_then(|port| HeaderValue::from_bytes(port).ok());
    explicit.unwrap_or(HeaderValue::from_static(if cx.tls { "443" } else { "80" }))
}

/// The port after the last `:` of a Host value, when it is all digits (and the value is
/// text). Scanned from the end: most Hosts have no port and end in a letter, which ends
/// the scan at once.
fn explicit_port(host: &HeaderValue) -> Option<&[u8]> {
    let bytes = host.as_bytes();
    let digits = bytes
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let (rest, port) = bytes.split_at(bytes.len() - digits);
    (!port.is_empty() && rest.last() == Some(&b':') && host.to_str().is_ok()).then_some(port)
}

/// The headers [`add_forwarded`] writes.
static FORWARDED: [&HeaderName; 6] = [
    &X_FORWARDED_FOR,
    &X_FORWARDED_PROTO,
    &X_FORWARDED_HOST,
    &X_FORWARDED_PORT,
    &X_FORWARDED_SERVER,
    &X_REAL_IP,
];

fn set_if_absent(
    headers: &mut HeaderMap,
    name: &'static HeaderName,
    value: impl FnOnce() -> Option<HeaderValue>,
) {
    // One hashed lookup instead of `contains_key` + `insert`.
    if let header::Entry::Vacant(slot) = headers.entry(name)
        && let Some(value) = value()
    {
        slot.insert(value);
    }
}

/// An address as a header value. IPv4 (nearly every client) is written by hand:
/// `Ipv4Addr`'s `Display` pads and formats through `fmt`, many times the work.
pub(crate) fn ip_header_value(ip: IpAddr) -> Option<HeaderValue> {
    let IpAddr::V4(ip) = ip else {
        return HeaderValue::try_from(ip.to_string()).ok();
    };
    let mut text = [0u8; 15];
    let mut length = 0;
    for (index, octet) in ip.octets().into_iter().enumerate() {
        if index > 0 {
            text[length] = b'.';
            length += 1;
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let skip = if octet >= 100 {
            0
        } else if octet >= 10 {
            1
        } else {
            2
        };
        for digit in &digits[skip..] {
            text[length] = b'0' + digit;
            length += 1;
        }
    }
    HeaderValue::from_bytes(&text[..length]).ok()
}

/// This machine's name, for `X-Forwarded-Server`; read once.
fn proxy_hostname() -> Option<&'static HeaderValue> {
    static HOSTNAME: OnceLock<Option<HeaderValue>> = OnceLock::new();
    HOSTNAME
        .get_or_init(|| {
            let name = std::env::var("HOSTNAME")
                .ok()
                .filter(|name| !name.is_empty())
                .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())?;
            HeaderValue::try_from(name.trim()).ok()
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn context(tls: bool) -> RequestContext {
        RequestContext {
            client_addr: "192.0.2.7:5555".parse().expect("addr"),
            client_ip: None,
            entry_point: Arc::from("web"),
            tls,
            router: Arc::from("r"),
        }
    }

    #[test]
    fn forwarded_headers_describe_the_client() {
        let mut headers = HeaderMap::new();
        headers.insert(&X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.1"));
        let host = HeaderValue::from_static("example.com:8443");
        add_forwarded(&mut headers, &context(true), Some(&host), false);
        assert_eq!(headers[&X_FORWARDED_FOR], "10.0.0.1, 192.0.2.7");
        assert_eq!(headers[&X_FORWARDED_PROTO], "https");
        assert_eq!(headers[&X_FORWARDED_HOST], "example.com:8443");
        assert_eq!(headers[&X_FORWARDED_PORT], "8443");
        assert_eq!(headers[&X_REAL_IP], "192.0.2.7");
    }

    #[test]
    fn the_client_ip_formatted_for_the_connection_is_reused() {
        let mut cx = context(false);
        cx.client_ip = ip_header_value(cx.client_addr.ip());
        let mut headers = HeaderMap::new();
        add_forwarded(&mut headers, &cx, None, false);
        assert_eq!(headers[&X_FORWARDED_FOR], "192.0.2.7");
        assert_eq!(headers[&X_REAL_IP], "192.0.2.7");
    }

    #[test]
    fn the_port_is_the_digits_after_the_last_colon() {
        let port =
            |host: &'static str| explicit_port(&HeaderValue::from_static(host)).map(|p| p.to_vec());
        assert_eq!(port("example.com:8443"), Some(b"8443".to_vec()));
        assert_eq!(port("[::1]:80"), Some(b"80".to_vec()));
        for host in [
            "example.com",
            "example.com:",
            "a:b1",
            "1234",
            "[::1]",
            "a:8x0",
        ] {
            assert_eq!(port(host), None, "{host}");
        }
        // Not text: the scheme's port, as when the value cannot be read.
        let binary = HeaderValue::from_bytes(b"\xffexample.com:81").expect("obs-text");
        assert_eq!(explicit_port(&binary), None);
    }

    #[test]
    fn addresses_are_written_as_clients_expect() {
        for text in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "127.0.0.1",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = text.parse().expect("ip");
            assert_eq!(ip_header_value(ip).expect("value"), text);
        }
    }

    #[test]
    fn forwarded_headers_already_present_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        headers.insert(&X_REAL_IP, HeaderValue::from_static("203.0.113.9"));
        add_forwarded(&mut headers, &context(false), None, false);
        assert_eq!(headers[&X_FORWARDED_PROTO], "https");
        assert_eq!(headers[&X_REAL_IP], "203.0.113.9");
        assert_eq!(headers[&X_FORWARDED_PORT], "80");
        assert!(!headers.contains_key(&X_FORWARDED_HOST));
    }

    #[test]
    fn the_hop_by_hop_names_are_recognised() {
        for name in hop_by_hop().into_iter().chain([&header::TE]) {
            assert!(is_hop_by_hop_or_te(name), "{name}");
        }
        for name in [
            header::HOST,
            header::CONTENT_LENGTH,
            X_FORWARDED_FOR.clone(),
        ] {
            assert!(!is_hop_by_hop_or_te(&name), "{name}");
        }
    }

    #[test]
    fn messages_without_hop_by_hop_headers_are_left_alone() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("a.test"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        let before = headers.clone();
        remove_hop_by_hop(&mut headers, false);
        assert_eq!(headers, before);

        // A lone `TE` other than trailers is still dropped.
        headers.insert(header::TE, HeaderValue::from_static("gzip"));
        remove_hop_by_hop(&mut headers, false);
        assert_eq!(headers, before);
    }

    #[test]
    fn default_port_follows_the_scheme_and_upgrades_say_ws() {
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_static("example.com");
        add_forwarded(&mut headers, &context(false), Some(&host), true);
        assert_eq!(headers[&X_FORWARDED_PORT], "80");
        assert_eq!(headers[&X_FORWARDED_PROTO], "ws");
        assert_eq!(headers[&X_FORWARDED_FOR], "192.0.2.7");
    }

    #[test]
    fn hop_by_hop_headers_are_dropped_but_upgrades_survive() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert(&KEEP_ALIVE, HeaderValue::from_static("timeout=5"));
        headers.insert(header::TE, HeaderValue::from_static("trailers, deflate"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut headers, false);
        assert!(!headers.contains_key("x-secret") && !headers.contains_key(&KEEP_ALIVE));
        assert!(!headers.contains_key(header::CONNECTION));
        assert_eq!(headers[header::TE], "trailers");
        assert_eq!(headers["x-kept"], "1");

        let mut upgrade = HeaderMap::new();
        upgrade.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        upgrade.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade_request(&upgrade));
        remove_hop_by_hop(&mut upgrade, true);
        assert_eq!(upgrade[header::CONNECTION], "Upgrade");
        assert_eq!(upgrade[header::UPGRADE], "websocket");
    }
}
