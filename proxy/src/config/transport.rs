//! `http.serversTransports.<name>`: how the proxy connects to servers (TLS, pools, timeouts),
//! shaped like Traefik's dynamic configuration. Also home of [`Duration`], the Go-style duration
//! every timeout and interval of the configuration uses.
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `http.serversTransports.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServersTransport {
    /// SNI sent to the server (and name verified), instead of the URL host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    /// Trusted CAs, each a PEM document or a path to one. Empty: the webpki roots.
    #[serde(rename = "rootCAs", skip_serializing_if = "Vec::is_empty")]
    pub root_cas: Vec<String>,
    /// Client certificates for mutual TLS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<ClientCertificate>,
    /// `VersionTLS12` or `VersionTLS13` (rustls speaks nothing older).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub min_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    /// Idle pooled connections kept per server; 0 = the default (200, as Traefik), -1 = none.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_idle_conns_per_host: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarding_timeouts: Option<ForwardingTimeouts>,
    #[serde(rename = "disableHTTP2", skip_serializing_if = "std::ops::Not::not")]
    pub disable_http2: bool,
    /// Not supported yet: a transport that sets it fails to build rather than skip the check.
    #[serde(rename = "peerCertURI", skip_serializing_if = "String::is_empty")]
    pub peer_cert_uri: String,
    /// Not supported yet: a transport that sets it fails to build rather than skip the check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spiffe: Option<Spiffe>,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// A client certificate and its key, each a PEM document or a path to one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientCertificate {
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spiffe {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trust_domain: String,
}

/// Timeouts of a servers transport; unset fields take Traefik's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ForwardingTimeouts {
    /// Connect timeout (default 30s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_timeout: Option<Duration>,
    /// Time allowed for the response headers once the request is sent (default 0 = none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_header_timeout: Option<Duration>,
    /// How long an idle pooled connection is kept (default 90s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_conn_timeout: Option<Duration>,
    /// HTTP/2: ping a connection idle this long (default 0 = never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_idle_timeout: Option<Duration>,
    /// HTTP/2: close the connection when a ping is not answered in time (default 15s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_timeout: Option<Duration>,
}

impl ForwardingTimeouts {
    pub const DEFAULT_DIAL: Duration = Duration::from_secs(30);
    pub const DEFAULT_IDLE_CONN: Duration = Duration::from_secs(90);
    pub const DEFAULT_PING: Duration = Duration::from_secs(15);
}

/// Extra servers transports by name, in `http.serversTransports`.
pub type ServersTransports = BTreeMap<String, ServersTransport>;

/// A Go-style duration (`"10s"`, `"1m30s"`, `"100ms"`, `"-1s"`), or a bare integer meaning
/// seconds, as Traefik reads them. Signed, because `flushInterval` gives a negative value
/// a meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    nanos: i64,
}

impl Duration {
    pub const ZERO: Duration = Duration { nanos: 0 };

    pub const fn from_nanos(nanos: i64) -> Self {
        Duration { nanos }
    }

    pub const fn from_millis(millis: i64) -> Self {
        Duration {
            nanos: millis.saturating_mul(1_000_000),
        }
    }

    pub const fn from_secs(secs: i64) -> Self {
        Duration {
            nanos: secs.saturating_mul(1_000_000_000),
        }
    }

    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    pub const fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// The duration as a std one; negative values become `None`.
    pub fn to_std(self) -> Option<std::time::Duration> {
        u64::try_from(self.nanos)
            .ok()
            .map(std::time::Duration::from_nanos)
    }

    /// Parses Go's `time.ParseDuration` syntax, plus a bare integer meaning seconds.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let invalid = || DurationError(text.to_owned());
        let trimmed = text.trim();
        if let Ok(secs) = trimmed.parse::<i64>() {
            return Ok(Duration::from_secs(secs));
        }
        let (negative, mut rest) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(invalid)?;
            let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit_nanos = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(invalid()),
            };
            rest = &rest[unit_len..];
            total += number * unit_nanos;
        }
        if total > i64::MAX as f64 {
            return Err(invalid());
        }
        let nanos = total.round() as i64;
        Ok(Duration::from_nanos(if negative { -nanos } else { nanos }))
    }
}

/// A duration that does not follow Go's syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{0}`: expected e.g. \"10s\", \"100ms\", \"1m30s\" or whole seconds")]
pub struct DurationError(pub String);

impl std::str::FromStr for Duration {
    type Err = DurationError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Duration::parse(text)
    }
}

impl fmt::Display for Duration {
    /// The shortest exact form in one unit: `10s`, `1500ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(i64, &str); 6] = [
            (3_600_000_000_000, "h"),
            (60_000_000_000, "m"),
            (1_000_000_000, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ];
        if self.nanos == 0 {
            return f.write_str("0s");
        }
        let (size, unit) = UNITS
            .iter()
            .copied()
            .find(|(size, _)| self.nanos % size == 0)
            .unwrap_or((1, "ns"));
        write!(f, "{}{}", self.nanos / size, unit)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"10s\" or a number of seconds")
            }
            fn visit_i64<E: serde::de::Error>(self, secs: i64) -> Result<Duration, E> {
                Ok(Duration::from_secs(secs))
            }
            fn visit_u64<E: serde::de::Error>(self, secs: u64) -> Result<Duration, E> {
                i64::try_from(secs)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom("duration out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
                Duration::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations_and_bare_seconds() {
        let cases = [
            ("10s", 10_000_000_000),
            ("100ms", 100_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5s", 1_500_000_000),
            ("-1s", -1_000_000_000),
            ("42", 42_000_000_000),
            ("2h", 7_200_000_000_000),
            ("250us", 250_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(
                Duration::parse(text).map(Duration::as_nanos),
                Ok(nanos),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_malformed_durations_with_the_input_in_the_message() {
        for text in ["", "s", "10x", "ten seconds", "-", "1.2.3s"] {
            let error = Duration::parse(text).expect_err(text);
            assert!(error.to_string().contains(&format!("`{text}`")), "{error}");
        }
    }

    #[test]
    fn serde_accepts_strings_and_integers_and_writes_strings() {
        let from_int: Duration = serde_json::from_str("5").expect("integer");
        let from_str: Duration = serde_json::from_str("\"5s\"").expect("string");
        assert_eq!(from_int, from_str);
        assert_eq!(serde_json::to_string(&from_int).expect("ser"), "\"5s\"");
        assert_eq!(Duration::from_millis(1500).to_string(), "1500ms");
        assert_eq!(Duration::from_millis(-100).to_string(), "-100ms");
        assert!(serde_json::from_str::<Duration>("\"soon\"").is_err());
    }

    #[test]
    fn transport_uses_traefik_field_names() {
        let json = r#"{"serverName":"api.internal","insecureSkipVerify":true,
            "rootCAs":["-----BEGIN CERTIFICATE-----"],"maxIdleConnsPerHost":7,
            "forwardingTimeouts":{"dialTimeout":"1s","responseHeaderTimeout":2},
            "disableHTTP2":true}"#;
        let transport: ServersTransport = serde_json::from_str(json).expect("valid");
        assert_eq!(transport.server_name, "api.internal");
        assert!(transport.insecure_skip_verify && transport.disable_http2);
        assert_eq!(transport.max_idle_conns_per_host, 7);
        let timeouts = transport.forwarding_timeouts.clone().expect("timeouts");
        assert_eq!(timeouts.dial_timeout, Some(Duration::from_secs(1)));
        assert_eq!(
            timeouts.response_header_timeout,
            Some(Duration::from_secs(2))
        );
        let round_trip: ServersTransport =
            serde_json::from_value(serde_json::to_value(&transport).expect("ser")).expect("de");
        assert_eq!(round_trip, transport);
    }
}
