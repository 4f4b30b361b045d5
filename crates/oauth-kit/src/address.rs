//! Who is calling, as the server resolved it: what per-caller limits are
//! keyed by.

use std::net::{IpAddr, Ipv6Addr};

/// The caller's address as the server resolved it: the peer, or the client
/// a trusted proxy named in `X-Forwarded-For`.
///
/// The server inserts it as a request extension; handlers that bound what
/// one caller may hold read it from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The address this caller is counted under by every per-address limit
    /// and quota: itself for IPv4 (an IPv4 address written as IPv6
    /// included), its /64 for IPv6, since a subscriber is usually handed a
    /// whole /64 and walking through it must buy nothing.
    pub fn counted_as(self) -> IpAddr {
        match self.0.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !0u128 << 64)),
            v4 => v4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(text: &str) -> IpAddr {
        ClientAddress(text.parse().expect("an address")).counted_as()
    }

    #[test]
    fn an_ipv6_client_is_counted_per_64_and_ipv4_as_itself() {
        let ip = |text: &str| text.parse::<IpAddr>().expect("an address");
        assert_eq!(counted("2001:db8:1:2:a:b:c:d"), ip("2001:db8:1:2::"));
        assert_eq!(counted("2001:db8:1:2::ffff"), ip("2001:db8:1:2::"));
        assert_eq!(counted("203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(counted("::ffff:203.0.113.9"), ip("203.0.113.9"));
    }
}
