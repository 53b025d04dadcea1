//! `ClientIP` values: one address or a CIDR block, checked against the TCP peer address.
use std::net::IpAddr;

/// An address (`10.0.0.1`, `::1`) or block (`10.0.0.0/8`, `fe80::/10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix_len: u8,
}

impl IpRange {
    /// Parses a value; IPv4-mapped IPv6 addresses are treated as the IPv4 address.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let (address, prefix_len) = match value.split_once('/') {
            Some((address, prefix)) => {
                // Like Go's ParseCIDR: decimal digits only, no sign, no leading `+`.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (
                    address.parse::<IpAddr>().ok()?,
                    Some(prefix.parse::<u8>().ok()?),
                )
            }
            None => (value.parse::<IpAddr>().ok()?, None),
        };
        let max = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix_len = prefix_len.unwrap_or(max);
        if prefix_len > max {
            return None;
        }
        // A single address compares like Go's `IP.Equal`: `::ffff:a.b.c.d` is `a.b.c.d`.
        if prefix_len == max {
            let network = address.to_canonical();
            let prefix_len = if network.is_ipv4() { 32 } else { 128 };
            return Some(Self {
                network,
                prefix_len,
            });
        }
        Some(Self {
            network: address,
            prefix_len,
        })
    }

    /// Whether `ip` lies in this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                prefix_eq(&network.octets(), &ip.octets(), self.prefix_len)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                prefix_eq(&network.octets(), &ip.octets(), self.prefix_len)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix_len: u8) -> bool {
    let full = usize::from(prefix_len / 8);
    let rest = prefix_len % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(range: &str, ip: &str) -> bool {
        IpRange::parse(range)
            .expect("valid range")
            .contains(ip.parse().expect("valid ip"))
    }

    #[test]
    fn single_addresses() {
        assert!(contains("10.0.0.1", "10.0.0.1"));
        assert!(!contains("10.0.0.1", "10.0.0.2"));
        assert!(contains("::1", "::1"));
        assert!(contains("10.0.0.1", "::ffff:10.0.0.1"));
        assert!(contains("::ffff:10.0.0.1", "10.0.0.1"));
        assert!(!contains("::1", "127.0.0.1"));
    }

    #[test]
    fn cidr_blocks() {
        assert!(contains("10.0.0.0/8", "10.200.3.4"));
        assert!(!contains("10.0.0.0/8", "11.0.0.1"));
        assert!(contains("192.168.1.0/25", "192.168.1.127"));
        assert!(!contains("192.168.1.0/25", "192.168.1.128"));
        assert!(contains("10.0.0.0/8", "::ffff:10.1.1.1"));
        assert!(contains("fe80::/10", "fe80::1"));
        assert!(!contains("fe80::/10", "fec0::1"));
        assert!(contains("0.0.0.0/0", "8.8.8.8"));
        assert!(!contains("0.0.0.0/0", "::1"));
        // Host bits set are ignored, as by Go's ParseCIDR.
        assert!(contains("10.1.2.3/16", "10.1.9.9"));
    }

    #[test]
    fn invalid_values() {
        for value in [
            "10.0.0",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "host",
            "",
        ] {
            assert!(IpRange::parse(value).is_none(), "{value}");
        }
    }
}
