//! TCP middlewares (reference §3.2): `ipAllowList` (alias `ipWhiteList`) closes connections
//! from other addresses; `inFlightConn` caps simultaneous connections per client IP.
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::config::tcp::TcpMiddleware as TcpMiddlewareConfig;
use crate::rule::IpRange;

/// One compiled middleware.
#[derive(Debug)]
pub enum TcpMiddleware {
    AllowList(Vec<IpRange>),
    InFlight(Arc<InFlight>),
}

/// Connections open per client IP, shared by every router using the middleware.
#[derive(Debug)]
pub struct InFlight {
    limit: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// Holds one `inFlightConn` slot until the connection ends.
#[derive(Debug)]
pub struct InFlightSlot {
    owner: Arc<InFlight>,
    ip: IpAddr,
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Why a middleware cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcpMiddlewareError {
    #[error("middleware `{0}` does not exist")]
    NotFound(String),
    #[error("middleware `{name}`: {reason}")]
    Invalid { name: String, reason: String },
}

impl TcpMiddlewareError {
    pub fn reason(&self) -> &'static str {
        match self {
            TcpMiddlewareError::NotFound(_) => "MiddlewareNotFound",
            TcpMiddlewareError::Invalid { .. } => "MiddlewareInvalid",
        }
    }
}

/// Compiles the middlewares a router names, in order.
pub fn compile_chain(
    names: &[String],
    configs: &BTreeMap<String, TcpMiddlewareConfig>,
    in_flight: &mut HashMap<String, Arc<InFlight>>,
) -> Result<Vec<TcpMiddleware>, TcpMiddlewareError> {
    names
        .iter()
        .map(|name| compile(name, configs, in_flight))
        .collect()
}

fn compile(
    name: &str,
    configs: &BTreeMap<String, TcpMiddlewareConfig>,
    in_flight: &mut HashMap<String, Arc<InFlight>>,
) -> Result<TcpMiddleware, TcpMiddlewareError> {
    let config = configs
        .get(name)
        .ok_or_else(|| TcpMiddlewareError::NotFound(name.to_owned()))?;
    let invalid = |reason: String| TcpMiddlewareError::Invalid {
        name: name.to_owned(),
        reason,
    };
    let allow = config
        .ip_allow_list
        .as_ref()
        .or(config.ip_white_list.as_ref());
    match (allow, &config.in_flight_conn) {
        (Some(allow), None) => {
            if allow.source_range.is_empty() {
                return Err(invalid("ipAllowList.sourceRange is empty".into()));
            }
            allow
                .source_range
                .iter()
                .map(|range| {
                    IpRange::parse(range)
                        .ok_or_else(|| invalid(format!("invalid source range `{range}`")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(TcpMiddleware::AllowList)
        }
        (None, Some(limit)) => {
            let limit = u32::try_from(limit.amount)
                .ok()
                .filter(|amount| *amount > 0)
                .ok_or_else(|| {
                    invalid(format!(
                        "inFlightConn.amount must be positive, got {}",
                        limit.amount
                    ))
                })?;
            let shared = in_flight.entry(name.to_owned()).or_insert_with(|| {
                Arc::new(InFlight {
                    limit,
                    open: Mutex::new(HashMap::new()),
                })
            });
            Ok(TcpMiddleware::InFlight(Arc::clone(shared)))
        }
        (None, None) => Err(invalid("no middleware type is set".into())),
        (Some(_), Some(_)) => Err(invalid("more than one middleware type is set".into())),
    }
}

/// Runs a chain for a new connection: `Err` names why it must be closed; `Ok` holds the
/// in-flight slots to keep until the connection ends.
pub fn admit(chain: &[TcpMiddleware], ip: IpAddr) -> Result<Vec<InFlightSlot>, &'static str> {
    let mut slots = Vec::new();
    for middleware in chain {
        match middleware {
            TcpMiddleware::AllowList(ranges) => {
                if !ranges.iter().any(|range| range.contains(ip)) {
                    return Err("client address not in ipAllowList");
                }
            }
            TcpMiddleware::InFlight(in_flight) => {
                let mut open = in_flight.open.lock().unwrap_or_else(|p| p.into_inner());
                let count = open.entry(ip).or_insert(0);
                if *count >= in_flight.limit {
                    return Err("inFlightConn limit reached");
                }
                *count += 1;
                slots.push(InFlightSlot {
                    owner: Arc::clone(in_flight),
                    ip,
                });
            }
        }
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tcp::{InFlightConn, TcpIpAllowList};

    fn configs() -> BTreeMap<String, TcpMiddlewareConfig> {
        let mut configs = BTreeMap::new();
        configs.insert(
            "local".to_owned(),
            TcpMiddlewareConfig {
                ip_allow_list: Some(TcpIpAllowList {
                    source_range: vec!["127.0.0.0/8".into()],
                }),
                ..Default::default()
            },
        );
        configs.insert(
            "one".to_owned(),
            TcpMiddlewareConfig {
                in_flight_conn: Some(InFlightConn { amount: 1 }),
                ..Default::default()
            },
        );
        configs.insert(
            "bad".to_owned(),
            TcpMiddlewareConfig {
                ip_white_list: Some(TcpIpAllowList {
                    source_range: vec!["10.0.0.0/33".into()],
                }),
                ..Default::default()
            },
        );
        configs
    }

    #[test]
    fn allow_list_and_in_flight_limit_connections() {
        let mut shared = HashMap::new();
        let chain =
            compile_chain(&["local".into(), "one".into()], &configs(), &mut shared).unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            admit(&chain, "192.0.2.1".parse().unwrap()).unwrap_err(),
            "client address not in ipAllowList"
        );
        let first = admit(&chain, local).unwrap();
        assert_eq!(
            admit(&chain, local).unwrap_err(),
            "inFlightConn limit reached"
        );
        drop(first);
        assert!(
            admit(&chain, local).is_ok(),
            "the slot is given back when the connection ends"
        );
    }

    #[test]
    fn unknown_and_invalid_middlewares_are_errors() {
        let mut shared = HashMap::new();
        let err = compile_chain(&["nope".into()], &configs(), &mut shared).unwrap_err();
        assert_eq!(
            (err.reason(), err.to_string().as_str()),
            ("MiddlewareNotFound", "middleware `nope` does not exist")
        );
        let err = compile_chain(&["bad".into()], &configs(), &mut shared).unwrap_err();
        assert_eq!(
            err.to_string(),
            "middleware `bad`: invalid source range `10.0.0.0/33`"
        );
    }
}
