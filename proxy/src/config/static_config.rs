//! Settings fixed for the life of the process: entry points, admin address, log defaults.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What the proxy needs before any dynamic configuration arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StaticConfig {
    /// Named listeners, e.g. `web` -> `0.0.0.0:8000/tcp`.
    pub entry_points: BTreeMap<String, EntryPoint>,
    /// Where the admin API listens; `None` disables it.
    pub admin_address: Option<SocketAddr>,
    /// Whether routers write access logs unless `observability.accessLogs` says otherwise.
    pub access_logs: bool,
    /// Where access log lines go (appended); `None` means standard output.
    pub access_log_path: Option<PathBuf>,
    /// How each access log line is written.
    pub access_log_format: AccessLogFormat,
}

/// The shape of an access log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogFormat {
    /// One JSON object per line, with Traefik's field names.
    #[default]
    Json,
    /// Common Log Format, followed by router, service and duration as Traefik writes it.
    Common,
}

impl Default for StaticConfig {
    fn default() -> Self {
        StaticConfig {
            entry_points: BTreeMap::new(),
            admin_address: Some(SocketAddr::from(([127, 0, 0, 1], 9000))),
            access_logs: false,
            access_log_path: None,
            access_log_format: AccessLogFormat::Json,
        }
    }
}

/// A named listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPoint {
    pub address: SocketAddr,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

/// An entry point flag that is not `NAME=ADDR[/tcp|/udp]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryPointParseError {
    #[error("entry point `{0}`: expected NAME=ADDR[/tcp|/udp], e.g. web=0.0.0.0:8000")]
    MissingName(String),
    #[error("entry point `{name}`: invalid address `{address}` (expected IP:PORT)")]
    BadAddress { name: String, address: String },
    #[error("entry point `{name}`: unknown protocol `{protocol}` (expected tcp or udp)")]
    BadProtocol { name: String, protocol: String },
}

impl EntryPoint {
    /// Parses `NAME=ADDR[/tcp|/udp]` (the `--entrypoint` flag form). `:8000` listens on all
    /// addresses.
    pub fn parse_named(flag: &str) -> Result<(String, EntryPoint), EntryPointParseError> {
        let (name, rest) = flag
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| EntryPointParseError::MissingName(flag.to_owned()))?;
        let (address, protocol) = match rest.rsplit_once('/') {
            Some((address, protocol)) => (address, protocol),
            None => (rest, "tcp"),
        };
        let protocol = match protocol.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => {
                return Err(EntryPointParseError::BadProtocol {
                    name: name.to_owned(),
                    protocol: protocol.to_owned(),
                });
            }
        };
        let full_address = if address.starts_with(':') {
            format!("0.0.0.0{address}")
        } else {
            address.to_owned()
        };
        let address =
            SocketAddr::from_str(&full_address).map_err(|_| EntryPointParseError::BadAddress {
                name: name.to_owned(),
                address: address.to_owned(),
            })?;
        Ok((name.to_owned(), EntryPoint { address, protocol }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_address_and_protocol() {
        let (name, ep) = EntryPoint::parse_named("dns=127.0.0.1:5353/udp").unwrap();
        assert_eq!(name, "dns");
        assert_eq!(ep.address, "127.0.0.1:5353".parse().unwrap());
        assert_eq!(ep.protocol, Protocol::Udp);
        let (_, ep) = EntryPoint::parse_named("web=:8000").unwrap();
        assert_eq!(ep.address, "0.0.0.0:8000".parse().unwrap());
        assert_eq!(ep.protocol, Protocol::Tcp);
        let (_, ep) = EntryPoint::parse_named("v6=[::1]:8443/TCP").unwrap();
        assert_eq!(ep.address, "[::1]:8443".parse().unwrap());
    }

    #[test]
    fn rejects_malformed_flags_with_a_clear_message() {
        let err = EntryPoint::parse_named("0.0.0.0:80").unwrap_err();
        assert!(err.to_string().contains("NAME=ADDR"), "{err}");
        let err = EntryPoint::parse_named("web=localhost:80").unwrap_err();
        assert_eq!(
            err,
            EntryPointParseError::BadAddress {
                name: "web".into(),
                address: "localhost:80".into()
            }
        );
        let err = EntryPoint::parse_named("web=127.0.0.1:80/sctp").unwrap_err();
        assert!(err.to_string().contains("unknown protocol `sctp`"), "{err}");
    }
}
