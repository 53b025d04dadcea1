//! The parts of a request that rules look at, normalised once per request.
use std::borrow::Cow;
use std::net::IpAddr;

use http::{HeaderMap, Method};

use super::error::PathError;
use super::host::host_key;

/// What HTTP matchers see of a request. Built once per request by the server with
/// [`RequestView::from_request`]; borrowing from the request, it allocates only when the
/// host has upper-case letters or the path has percent-encoded characters to decode.
#[derive(Debug, Clone)]
pub struct RequestView<'a> {
    /// The request method.
    pub method: &'a Method,
    /// Host from the URI authority (HTTP/2 `:authority`, absolute-form) or else the `Host`
    /// header; port and IPv6 brackets removed, lower-cased. Empty when there is none.
    pub host: Cow<'a, str>,
    /// The routing path: the escaped path with every `%XX` decoded except the reserved
    /// set (`%2F`, `%3F`, `%25`, ... in upper case), which stays encoded. Bytes, because a
    /// decoded path need not be UTF-8.
    pub path: Cow<'a, [u8]>,
    /// The raw query string (without `?`), empty when absent.
    pub query: &'a str,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The TCP peer address (never `X-Forwarded-For`).
    pub client_ip: IpAddr,
}

impl<'a> RequestView<'a> {
    /// Normalises a request for matching. A malformed percent-encoding in the path is an
    /// error, which the server answers with 400 Bad Request before routing.
    pub fn from_request(
        parts: &'a http::request::Parts,
        client_ip: IpAddr,
    ) -> Result<Self, PathError> {
        Self::from_pieces(&parts.method, &parts.uri, &parts.headers, client_ip)
    }

    /// Like [`from_request`](Self::from_request) for a whole request, e.g. one a parent
    /// router's middlewares rewrote before its children are matched.
    pub fn from_whole<B>(req: &'a http::Request<B>, client_ip: IpAddr) -> Result<Self, PathError> {
        Self::from_pieces(req.method(), req.uri(), req.headers(), client_ip)
    }

    fn from_pieces(
        method: &'a Method,
        uri: &'a http::Uri,
        headers: &'a HeaderMap,
        client_ip: IpAddr,
    ) -> Result<Self, PathError> {
        let raw_host = match uri.authority() {
            Some(authority) => authority.as_str(),
            None => headers
                .get(http::header::HOST)
                .and_then(|value| value.to_str().ok())
                .unwrap_or(""),
        };
        Ok(Self {
            method,
            host: canonical_host(raw_host),
            path: routing_path(uri.path())?,
            query: uri.query().unwrap_or(""),
            headers,
            client_ip,
        })
    }

    /// The host in the form `Host` rules and the index compare: one trailing dot removed.
    pub fn host_key(&self) -> &str {
        host_key(&self.host)
    }

    /// The routing path as text, for logs (invalid UTF-8 replaced).
    pub fn path_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.path)
    }
}

/// Strips the port (and the brackets of an IPv6 literal) and lower-cases. Like Go's
/// `net.SplitHostPort`, a value with several colons and no brackets is kept whole.
fn canonical_host(authority: &str) -> Cow<'_, str> {
    // Nearly every Host is a lower-case name without port: one scan of its bytes finds
    // that nothing below applies, cheaper than the searches it would run.
    let plain = !authority
        .bytes()
        .any(|b| matches!(b, b'@' | b'[' | b':' | b'A'..=b'Z'));
    if plain {
        return Cow::Borrowed(authority);
    }
    // Userinfo never reaches a server in practice, but an absolute-form URI may carry it.
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed
            .split_once(']')
            .map_or(authority, |(inner, _)| inner)
    } else {
        match authority.split_once(':') {
            Some((host, port)) if !port.contains(':') => host,
            _ => authority,
        }
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// Encoded characters that keep their encoding in the routing path, so that for example
/// `%2F` never matches a `/` of a rule. Only upper-case forms are listed, as in Traefik.
const RESERVED: [&[u8; 2]; 19] = [
    b"3A", b"2F", b"3F", b"23", b"5B", b"5D", b"40", b"21", b"24", b"26", b"27", b"28", b"29",
    b"2A", b"2B", b"2C", b"3B", b"3D", b"25",
];

/// Decodes an escaped request path into the routing path (see [`RequestView::path`]).
pub fn routing_path(escaped: &str) -> Result<Cow<'_, [u8]>, PathError> {
    let bytes = escaped.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%') else {
        return Ok(Cow::Borrowed(bytes));
    };
    let mut decoded = Vec::with_capacity(bytes.len());
    decoded.extend_from_slice(&bytes[..first]);
    let mut at = first;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte != b'%' {
            decoded.push(byte);
            at += 1;
            continue;
        }
        let malformed = PathError::MalformedPercentEncoding { offset: at };
        let digits = bytes.get(at + 1..at + 3).ok_or(malformed.clone())?;
        let value = hex_pair(digits[0], digits[1]).ok_or(malformed)?;
        if RESERVED
            .iter()
            .any(|reserved| reserved.as_slice() == digits)
        {
            decoded.extend_from_slice(&bytes[at..at + 3]);
        } else {
            decoded.push(value);
        }
        at += 3;
    }
    Ok(Cow::Owned(decoded))
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    let value = digit(high)? * 16 + digit(low)?;
    u8::try_from(value).ok()
}

/// Iterates the `key=value` pairs of a raw query like Go's `url.ParseQuery`: pairs split on
/// `&`, empty pairs and pairs containing `;` or a malformed escape skipped, `+` is a space.
pub(crate) fn query_pairs(raw: &str) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty() && !pair.contains(';'))
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((query_unescape(key)?, query_unescape(value)?))
        })
}

fn query_unescape(text: &str) -> Option<Cow<'_, [u8]>> {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(bytes));
    }
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let digits = bytes.get(at + 1..at + 3)?;
                decoded.push(hex_pair(digits[0], digits[1])?);
                at += 2;
            }
            byte => decoded.push(byte),
        }
        at += 1;
    }
    Some(Cow::Owned(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, host: Option<&str>) -> http::request::Parts {
        let mut builder = http::Request::builder().uri(uri);
        if let Some(host) = host {
            builder = builder.header("host", host);
        }
        builder.body(()).expect("valid request").into_parts().0
    }

    fn view_host(uri: &str, host: Option<&str>) -> String {
        let parts = parts(uri, host);
        RequestView::from_request(&parts, IpAddr::from([127, 0, 0, 1]))
            .expect("valid path")
            .host
            .into_owned()
    }

    #[test]
    fn host_comes_from_authority_then_header() {
        assert_eq!(view_host("/", Some("Example.COM:8080")), "example.com");
        assert_eq!(
            view_host("http://uri.example/x", Some("header.example")),
            "uri.example"
        );
        assert_eq!(view_host("/", Some("[::1]:443")), "::1");
        assert_eq!(view_host("/", Some("[::1]")), "::1");
        assert_eq!(view_host("/", Some("a.com.")), "a.com.");
        assert_eq!(view_host("/", None), "");
    }

    #[test]
    fn routing_path_keeps_reserved_encodings() {
        let decode = |p| routing_path(p).map(|path| String::from_utf8_lossy(&path).into_owned());
        assert_eq!(decode("/foo%20bar").unwrap(), "/foo bar");
        assert_eq!(decode("/a%2Fb%3f%3F").unwrap(), "/a%2Fb?%3F");
        assert_eq!(decode("/%25%41%7e").unwrap(), "/%25A~");
        assert_eq!(decode("/plain").unwrap(), "/plain");
        assert!(matches!(routing_path("/plain"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn malformed_percent_encoding_is_an_error() {
        for path in ["/a%", "/a%4", "/a%zz", "/a%4g/b"] {
            assert_eq!(
                routing_path(path),
                Err(PathError::MalformedPercentEncoding { offset: 2 }),
                "{path}"
            );
        }
        let parts = parts("/x%2", None);
        let error = RequestView::from_request(&parts, IpAddr::from([127, 0, 0, 1])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "malformed percent-encoding at byte 2 of the request path"
        );
    }

    #[test]
    fn non_utf8_decoded_path_is_kept_as_bytes() {
        assert_eq!(routing_path("/%FF").unwrap().as_ref(), b"/\xff");
    }

    #[test]
    fn query_pairs_follow_go_parse_query() {
        let pairs: Vec<(String, String)> = query_pairs("a=1&&b&c=&d=x+y%21&e;=1&f=%zz&a=2")
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let expected = [("a", "1"), ("b", ""), ("c", ""), ("d", "x y!"), ("a", "2")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(pairs, expected);
    }
}
