//! Host patterns shared by `Host` (HTTP) and `HostSNI` (TCP): exact names, single-label
//! wildcards (`*.example.com`) and the catch-all `*`.

/// A compiled host pattern. Names are stored lower-cased without a trailing dot, so that
/// `Host(`a.com.`)` and a request for `a.com` (or the reverse) match, as in Traefik.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `*`: every request, even one without a host.
    Any,
    /// An exact name.
    Exact(Box<str>),
    /// `*.suffix`: exactly one non-empty label in front of `suffix`.
    Wildcard(Box<str>),
}

impl HostPattern {
    /// Compiles a user value; `None` when the wildcard has nothing after `*.`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        if value == "*" {
            return Some(HostPattern::Any);
        }
        let lower = value.to_ascii_lowercase();
        match lower.strip_prefix("*.") {
            Some(suffix) => {
                let suffix = strip_trailing_dot(suffix);
                (!suffix.is_empty()).then(|| HostPattern::Wildcard(suffix.into()))
            }
            None => Some(HostPattern::Exact(strip_trailing_dot(&lower).into())),
        }
    }

    /// A plain name, `*` and `*.` included literally (the v2 dialect has no wildcards).
    pub(crate) fn exact(value: &str) -> Self {
        HostPattern::Exact(strip_trailing_dot(&value.to_ascii_lowercase()).into())
    }

    /// Tests a host that is already lower-case and stripped with [`host_key`].
    pub fn matches_key(&self, key: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(name) => !key.is_empty() && **name == *key,
            HostPattern::Wildcard(suffix) => wildcard_suffix(key) == Some(suffix),
        }
    }
}

/// The form a request's host is compared in: one trailing dot removed.
pub fn host_key(host: &str) -> &str {
    strip_trailing_dot(host)
}

/// For `label.rest` with a non-empty label and rest, the `rest` a wildcard must equal.
pub(crate) fn wildcard_suffix(key: &str) -> Option<&str> {
    let (label, rest) = key.split_once('.')?;
    (!label.is_empty() && !rest.is_empty()).then_some(rest)
}

fn strip_trailing_dot(host: &str) -> &str {
    host.strip_suffix('.').unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, host: &str) -> bool {
        HostPattern::parse(pattern)
            .expect("valid pattern")
            .matches_key(host_key(host))
    }

    #[test]
    fn exact_names_ignore_case_and_a_trailing_dot() {
        assert!(matches("Example.COM", "example.com"));
        assert!(matches("example.com.", "example.com"));
        assert!(matches("example.com", "example.com."));
        assert!(!matches("example.com", "www.example.com"));
        assert!(!matches("example.com", ""));
    }

    #[test]
    fn wildcard_matches_exactly_one_leading_label() {
        assert!(matches("*.example.com", "a.example.com"));
        assert!(matches("*.example.com.", "a.example.com."));
        assert!(!matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", ".example.com"));
        assert!(!matches("*.example.com", "aexample.com"));
        assert!(HostPattern::parse("*.").is_none());
    }

    #[test]
    fn star_matches_everything_even_no_host() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything.example"));
    }
}
