//! A server URL, parsed once at apply time so the request path only clones cheap parts.
use http::HeaderValue;
use http::uri::{Authority, PathAndQuery, Scheme as UriScheme, Uri};

/// How the proxy speaks to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
    /// HTTP/2 with prior knowledge over plain TCP.
    H2c,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("invalid server URL `{0}`")]
    InvalidUrl(String),
    #[error("server URL `{url}` has unsupported scheme `{scheme}` (expected http, https or h2c)")]
    UnsupportedScheme { url: String, scheme: String },
}

/// Where one server lives.
#[derive(Debug, Clone)]
pub struct ServerTarget {
    url: String,
    scheme: Scheme,
    uri_scheme: UriScheme,
    authority: Authority,
    /// The URL's path, prefixed to request paths when `preservePath` is set.
    base_path: Option<String>,
    /// The `Host` a request gets when the client's is not passed on: the authority without
    /// the scheme's default port, as HTTP clients write it.
    host_header: HeaderValue,
    /// A hash of the authority, computed once: the connection pool's key.
    pool_key: u64,
}

impl ServerTarget {
    pub fn parse(url: &str, preserve_path: bool) -> Result<Self, TargetError> {
        let invalid = || TargetError::InvalidUrl(url.to_owned());
        let uri: Uri = url.parse().map_err(|_| invalid())?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some("h2c") => Scheme::H2c,
            Some(other) => {
                return Err(TargetError::UnsupportedScheme {
                    url: url.to_owned(),
                    scheme: other.to_owned(),
                });
            }
            None => return Err(invalid()),
        };
        let authority = uri.authority().cloned().ok_or_else(invalid)?;
        let uri_scheme = match scheme {
            Scheme::Https => UriScheme::HTTPS,
            Scheme::Http | Scheme::H2c => UriScheme::HTTP,
        };
        let base_path = Some(uri.path().trim_end_matches('/'))
            .filter(|path| preserve_path && !path.is_empty())
            .map(str::to_owned);
        let default_port = match scheme {
            Scheme::Https => 443,
            Scheme::Http | Scheme::H2c => 80,
        };
        let host = match authority.port_u16() {
            Some(port) if port != default_port => authority.as_str(),
            _ => authority.host(),
        };
        let host_header = HeaderValue::from_str(host).map_err(|_| invalid())?;
        let pool_key = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::hash::DefaultHasher::new();
            authority.hash(&mut hasher);
            hasher.finish()
        };
        Ok(ServerTarget {
            url: url.to_owned(),
            scheme,
            uri_scheme,
            authority,
            base_path,
            host_header,
            pool_key,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Equal for targets with the same authority (and, rarely, for others: compare the
    /// authority too).
    pub fn pool_key(&self) -> u64 {
        self.pool_key
    }

    pub fn host_header(&self) -> &HeaderValue {
        &self.host_header
    }

    /// The path a request for `path_and_query` asks of this server (the `preservePath`
    /// prefix added).
    fn server_path(&self, path_and_query: &PathAndQuery) -> PathAndQuery {
        match &self.base_path {
            None => path_and_query.clone(),
            Some(base) => {
                let joined = format!("{base}{}", path_and_query.as_str());
                joined.parse().unwrap_or_else(|_| path_and_query.clone())
            }
        }
    }

    /// The origin-form URI (path and query only) of a request sent on a connection already
    /// open to this server.
    pub fn origin_form(&self, path_and_query: &PathAndQuery) -> Uri {
        Uri::from(self.server_path(path_and_query))
    }

    /// The absolute URI of a request for `path_and_query` on this server.
    pub fn uri_for(&self, path_and_query: &PathAndQuery) -> Uri {
        let path_and_query = self.server_path(path_and_query);
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.uri_scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        // Scheme, authority and path are each valid, so the parts always assemble.
        Uri::from_parts(parts).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pq(text: &'static str) -> PathAndQuery {
        PathAndQuery::from_static(text)
    }

    #[test]
    fn builds_request_uris_on_the_server() {
        let target = ServerTarget::parse("http://10.0.0.1:8080", false).expect("valid");
        assert_eq!(target.uri_for(&pq("/a?b=1")), "http://10.0.0.1:8080/a?b=1");
        let h2c = ServerTarget::parse("h2c://[::1]:9000", false).expect("valid");
        assert_eq!(h2c.scheme(), Scheme::H2c);
        assert_eq!(h2c.uri_for(&pq("/")), "http://[::1]:9000/");
    }

    #[test]
    fn origin_form_keeps_only_the_path_and_the_preserved_prefix() {
        let plain = ServerTarget::parse("http://10.0.0.1:8080/base", false).expect("valid");
        assert_eq!(plain.origin_form(&pq("/a?b=1")), "/a?b=1");
        let kept = ServerTarget::parse("http://10.0.0.1:8080/base/", true).expect("valid");
        assert_eq!(kept.origin_form(&pq("/a?b=1")), "/base/a?b=1");
    }

    #[test]
    fn host_header_drops_only_the_default_port() {
        let host = |url| {
            let target = ServerTarget::parse(url, false).expect("valid");
            target.host_header().to_str().expect("ascii").to_owned()
        };
        assert_eq!(host("http://10.0.0.1:8080"), "10.0.0.1:8080");
        assert_eq!(host("http://api:80/x"), "api");
        assert_eq!(host("http://api"), "api");
        assert_eq!(host("https://api:443"), "api");
        assert_eq!(host("https://api:80"), "api:80");
        assert_eq!(host("h2c://[::1]:9000"), "[::1]:9000");
    }

    #[test]
    fn preserve_path_prefixes_the_url_path() {
        let kept = ServerTarget::parse("https://api:443/base/", true).expect("valid");
        assert_eq!(kept.uri_for(&pq("/x?q")), "https://api:443/base/x?q");
        let dropped = ServerTarget::parse("https://api:443/base/", false).expect("valid");
        assert_eq!(dropped.uri_for(&pq("/x")), "https://api:443/x");
    }

    #[test]
    fn rejects_bad_urls_naming_them() {
        let error = ServerTarget::parse("ftp://host", false).expect_err("scheme");
        assert_eq!(
            error.to_string(),
            "server URL `ftp://host` has unsupported scheme `ftp` (expected http, https or h2c)"
        );
        assert!(matches!(
            ServerTarget::parse("not a url", false),
            Err(TargetError::InvalidUrl(_))
        ));
        assert!(ServerTarget::parse("/just/a/path", false).is_err());
    }
}
