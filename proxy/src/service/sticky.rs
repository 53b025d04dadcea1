//! Sticky-session cookies: reading the client's choice and writing the proxy's.
use http::HeaderMap;
use http::header::{COOKIE, HeaderValue};

use crate::config::service::StickyCookie as CookieConfig;

/// A sticky cookie of one balancing level (servers or weighted children).
#[derive(Debug)]
pub(crate) struct StickyCookie {
    name: String,
    /// `; Path=/; HttpOnly ...`, rendered once.
    attributes: String,
}

impl StickyCookie {
    /// `owner` names the service, for the default cookie name.
    pub(crate) fn new(config: &CookieConfig, owner: &str) -> Self {
        let name = if config.name.is_empty() {
            format!("_{:06x}", fnv1a(owner.as_bytes()) & 0xff_ffff)
        } else {
            sanitize_cookie_name(&config.name)
        };
        let mut attributes = format!("; Path={}", config.path.as_deref().unwrap_or("/"));
        if !config.domain.is_empty() {
            attributes.push_str("; Domain=");
            attributes.push_str(&config.domain);
        }
        if config.max_age != 0 {
            attributes.push_str(&format!("; Max-Age={}", config.max_age.max(0)));
        }
        if config.http_only {
            attributes.push_str("; HttpOnly");
        }
        if config.secure {
            attributes.push_str("; Secure");
        }
        match config.same_site.to_ascii_lowercase().as_str() {
            "none" => attributes.push_str("; SameSite=None"),
            "lax" => attributes.push_str("; SameSite=Lax"),
            "strict" => attributes.push_str("; SameSite=Strict"),
            _ => {}
        }
        StickyCookie { name, attributes }
    }

    /// The value the client sent for this cookie, if any.
    pub(crate) fn find<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.name)
            .map(|(_, value)| value.trim_matches('"'))
    }

    /// A `Set-Cookie` value pinning the client to `value`.
    pub(crate) fn set_cookie(&self, value: &str) -> Option<HeaderValue> {
        HeaderValue::try_from(format!("{}={}{}", self.name, value, self.attributes)).ok()
    }
}

/// Cookie names are tokens: anything else becomes `_`, as Traefik does.
fn sanitize_cookie_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            let token = c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if token { c } else { '_' }
        })
        .collect()
}

/// Server cookie values: a stable hash of the server URL, so addresses are not leaked.
pub(crate) fn server_cookie_value(url: &str) -> String {
    format!("{:016x}", fnv1a(url.as_bytes()))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str) -> CookieConfig {
        CookieConfig {
            name: name.to_owned(),
            ..CookieConfig::default()
        }
    }

    #[test]
    fn finds_its_cookie_among_others() {
        let cookie = StickyCookie::new(&config("lvl1"), "svc");
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; lvl10=x"));
        headers.append(COOKIE, HeaderValue::from_static("lvl1=\"web\"; b=2"));
        assert_eq!(cookie.find(&headers), Some("web"));
        assert_eq!(
            StickyCookie::new(&config("other"), "svc").find(&headers),
            None
        );
    }

    #[test]
    fn set_cookie_carries_the_configured_attributes() {
        let full = CookieConfig {
            name: "s".to_owned(),
            secure: true,
            http_only: true,
            same_site: "Strict".to_owned(),
            max_age: 60,
            path: Some("/app".to_owned()),
            domain: "example.com".to_owned(),
        };
        let value = StickyCookie::new(&full, "svc")
            .set_cookie("abc")
            .expect("valid");
        assert_eq!(
            value,
            "s=abc; Path=/app; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=Strict"
        );
        let plain = StickyCookie::new(&config("s"), "svc")
            .set_cookie("abc")
            .expect("valid");
        assert_eq!(plain, "s=abc; Path=/");
    }

    #[test]
    fn default_names_are_stable_per_service_and_names_are_sanitized() {
        let a = StickyCookie::new(&config(""), "svc-a");
        assert_eq!(a.name, StickyCookie::new(&config(""), "svc-a").name);
        assert_ne!(a.name, StickyCookie::new(&config(""), "svc-b").name);
        assert!(a.name.starts_with('_') && a.name.len() == 7);
        assert_eq!(StickyCookie::new(&config("a b;c"), "x").name, "a_b_c");
    }

    #[test]
    fn negative_max_age_expires_at_once() {
        let expired = CookieConfig {
            max_age: -1,
            ..config("s")
        };
        let value = StickyCookie::new(&expired, "svc")
            .set_cookie("v")
            .expect("valid");
        assert_eq!(value, "s=v; Path=/; Max-Age=0");
    }
}
