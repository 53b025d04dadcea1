//! The PROXY protocol header (HAProxy's spec, versions 1 and 2) sent to a TCP server before
//! any client byte, so the server learns the real client address.
use std::net::{IpAddr, SocketAddr};

/// Version 2's fixed signature.
const V2_SIGNATURE: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// The header for a connection from `client` to the proxy's `local` address. Addresses of
/// different families (or an unknown local address) are sent as "unknown", as the spec asks.
pub fn header(version: u8, client: SocketAddr, local: Option<SocketAddr>) -> Vec<u8> {
    let pair = local.and_then(|local| {
        let (source, destination) = (client.ip().to_canonical(), local.ip().to_canonical());
        (source.is_ipv4() == destination.is_ipv4()).then_some((
            SocketAddr::new(source, client.port()),
            SocketAddr::new(destination, local.port()),
        ))
    });
    match version {
        1 => v1(pair),
        _ => v2(pair),
    }
}

fn v1(pair: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    match pair {
        None => b"PROXY UNKNOWN\r\n".to_vec(),
        Some((source, destination)) => {
            let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {family} {} {} {} {}\r\n",
                source.ip(),
                destination.ip(),
                source.port(),
                destination.port()
            )
            .into_bytes()
        }
    }
}

fn v2(pair: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    let mut header = V2_SIGNATURE.to_vec();
    let Some((source, destination)) = pair else {
        // LOCAL command, unspecified family, no addresses.
        header.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        return header;
    };
    let mut addresses = Vec::with_capacity(36);
    for address in [source.ip(), destination.ip()] {
        match address {
            IpAddr::V4(ip) => addresses.extend_from_slice(&ip.octets()),
            IpAddr::V6(ip) => addresses.extend_from_slice(&ip.octets()),
        }
    }
    addresses.extend_from_slice(&source.port().to_be_bytes());
    addresses.extend_from_slice(&destination.port().to_be_bytes());
    // PROXY command; TCP over IPv4 (0x11) or IPv6 (0x21).
    let family = if source.is_ipv4() { 0x11 } else { 0x21 };
    header.extend_from_slice(&[0x21, family]);
    header.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
    header.extend_from_slice(&addresses);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn version_1_is_a_text_line() {
        let header = header(1, addr("192.0.2.10:51000"), Some(addr("127.0.0.1:8000")));
        assert_eq!(header, b"PROXY TCP4 192.0.2.10 127.0.0.1 51000 8000\r\n");
        let header = super::header(1, addr("[2001:db8::1]:4000"), Some(addr("[::1]:443")));
        assert_eq!(header, b"PROXY TCP6 2001:db8::1 ::1 4000 443\r\n");
        assert_eq!(
            super::header(1, addr("192.0.2.10:1"), None),
            b"PROXY UNKNOWN\r\n"
        );
        let mapped = super::header(1, addr("[::ffff:192.0.2.10]:1"), Some(addr("127.0.0.1:2")));
        assert_eq!(mapped, b"PROXY TCP4 192.0.2.10 127.0.0.1 1 2\r\n");
    }

    #[test]
    fn version_2_is_binary() {
        let header = header(2, addr("192.0.2.10:51000"), Some(addr("127.0.0.1:8000")));
        let mut expected = V2_SIGNATURE.to_vec();
        expected.extend_from_slice(&[0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 10, 127, 0, 0, 1]);
        expected.extend_from_slice(&51000u16.to_be_bytes());
        expected.extend_from_slice(&8000u16.to_be_bytes());
        assert_eq!(header, expected);
        let v6 = super::header(2, addr("[::1]:1"), Some(addr("[::1]:2")));
        assert_eq!(
            (v6[13], u16::from_be_bytes([v6[14], v6[15]]), v6.len()),
            (0x21, 36, 16 + 36)
        );
        let unknown = super::header(2, addr("[::1]:1"), Some(addr("127.0.0.1:2")));
        assert_eq!(&unknown[12..], &[0x20, 0x00, 0x00, 0x00]);
    }
}
