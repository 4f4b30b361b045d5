//! `TRUSTED_PROXIES`: the peers whose `X-Forwarded-For` names the client.

use std::net::IpAddr;

/// One `TRUSTED_PROXIES` entry: an address or a network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Parses `10.0.0.7`, `10.0.0.0/8`, `::1` or `fd00::/8`.
    pub(crate) fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (entry, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Self { network, prefix })
    }

    /// Whether `address` is in this network. An IPv4 address written as
    /// IPv6 (`::ffff:10.0.0.7`) is compared as the IPv4 address it is.
    pub(crate) fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                prefix_matches(&network.octets(), &address.octets(), self.prefix)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                prefix_matches(&network.octets(), &address.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of `a` and `b` are equal.
fn prefix_matches(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let whole = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

/// Whether any entry of `proxies` contains `address`.
pub(crate) fn trusts(proxies: &[TrustedProxy], address: IpAddr) -> bool {
    proxies.iter().any(|proxy| proxy.contains(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn addresses_and_networks_contain_what_they_should() {
        let single = TrustedProxy::parse("10.0.0.7").expect("an address");
        assert!(single.contains(ip("10.0.0.7")));
        assert!(single.contains(ip("::ffff:10.0.0.7")));
        assert!(!single.contains(ip("10.0.0.8")));
        let network = TrustedProxy::parse("10.0.0.0/12").expect("a network");
        assert!(network.contains(ip("10.15.255.255")));
        assert!(!network.contains(ip("10.16.0.0")));
        let v6 = TrustedProxy::parse("fd00::/8").expect("a v6 network");
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.7")));
        let everything = TrustedProxy::parse("0.0.0.0/0").expect("all of IPv4");
        assert!(everything.contains(ip("203.0.113.9")));
    }

    #[test]
    fn what_is_not_an_address_or_network_is_refused() {
        for bad in [
            "",
            "proxy.internal",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "10.0.0/8",
        ] {
            assert_eq!(TrustedProxy::parse(bad), None, "{bad}");
        }
    }
}
