//! Weighted rendezvous hashing (highest random weight): every member scores a key with
//! `weight / -ln(u)`, `u` a hash of (key, member) spread over (0, 1), and the highest score
//! wins. A key keeps its member while the members do not change; a member that goes away
//! only moves the keys that were on it; a member gets a share of keys proportional to its
//! weight.
use std::net::IpAddr;

#[derive(Debug)]
pub(crate) struct Rendezvous {
    /// Per member: a hash of its identity, and its weight (0 = never chosen).
    members: Box<[(u64, f64)]>,
}

impl Rendezvous {
    /// `members`: an identity that is stable across configurations (a service name, a
    /// server URL) and a weight, in member order.
    pub(crate) fn new<'a>(members: impl IntoIterator<Item = (&'a str, u32)>) -> Self {
        Rendezvous {
            members: members
                .into_iter()
                .map(|(identity, weight)| (fnv1a(identity.as_bytes()), f64::from(weight)))
                .collect(),
        }
    }

    /// The member for `key` among those that are available; `None` when none is.
    pub(crate) fn pick(&self, key: u64, is_available: impl Fn(usize) -> bool) -> Option<usize> {
        self.members
            .iter()
            .enumerate()
            .filter(|(index, (_, weight))| *weight > 0.0 && is_available(*index))
            .map(|(index, &(identity, weight))| (index, score(key, identity, weight)))
            .max_by(|(_, a), (_, b)| a.total_cmp(b))
            .map(|(index, _)| index)
    }
}

/// The hashing key of a client: its IP address (the port changes per connection).
pub(crate) fn client_key(ip: IpAddr) -> u64 {
    let bytes = match ip.to_canonical() {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    fnv1a(&bytes)
}

fn score(key: u64, identity: u64, weight: f64) -> f64 {
    let hash = mix(key ^ mix(identity));
    // The top 53 bits as a fraction strictly inside (0, 1), so the logarithm is finite
    // and negative.
    let unit = ((hash >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    weight / -unit.ln()
}

/// splitmix64's finalizer: neighbouring inputs (similar IPs) give unrelated outputs.
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> u64 {
        client_key(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n)))
    }

    fn shares(members: &Rendezvous, count: usize) -> Vec<usize> {
        let mut shares = vec![0; count];
        for n in 0..10_000 {
            if let Some(member) = members.pick(key(n), |_| true) {
                shares[member] += 1;
            }
        }
        shares
    }

    #[test]
    fn a_key_always_gets_the_same_member() {
        let members = Rendezvous::new([("a", 1), ("b", 1), ("c", 1)]);
        for n in 0..100 {
            let first = members.pick(key(n), |_| true);
            assert!(first.is_some());
            assert_eq!(members.pick(key(n), |_| true), first);
        }
    }

    #[test]
    fn shares_follow_weights() {
        let equal = shares(&Rendezvous::new([("a", 1), ("b", 1)]), 2);
        assert!((4_500..5_500).contains(&equal[0]), "{equal:?}");
        let weighted = shares(&Rendezvous::new([("a", 10), ("b", 20)]), 2);
        // Expected 1/3 and 2/3.
        assert!((2_900..3_800).contains(&weighted[0]), "{weighted:?}");
        let zero = shares(&Rendezvous::new([("a", 0), ("b", 1)]), 2);
        assert_eq!(zero, vec![0, 10_000]);
    }

    #[test]
    fn only_the_keys_of_an_unavailable_member_move() {
        let members = Rendezvous::new([("a", 1), ("b", 1), ("c", 1)]);
        for n in 0..1_000 {
            let before = members.pick(key(n), |_| true);
            let after = members.pick(key(n), |index| index != 1);
            if before != Some(1) {
                assert_eq!(after, before);
            } else {
                assert!(matches!(after, Some(0 | 2)));
            }
        }
        assert_eq!(members.pick(key(0), |_| false), None);
        assert_eq!(Rendezvous::new([]).pick(key(0), |_| true), None);
    }

    #[test]
    fn ipv4_mapped_addresses_hash_like_ipv4() {
        let v4: IpAddr = "10.1.2.3".parse().expect("ip");
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("ip");
        assert_eq!(client_key(v4), client_key(mapped));
    }
}
