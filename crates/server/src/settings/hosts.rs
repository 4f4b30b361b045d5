//! `ALLOWED_HOSTS` entries, and the one rule that says whether a request's
//! `Host` is among them.

use http::uri::Authority;

/// One `ALLOWED_HOSTS` entry: a host, optionally with a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    /// Parses `example.com`, `example.com:8443`, `127.0.0.1`, `::1` or `[::1]:8080`.
    pub(crate) fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        if entry.is_empty() {
            return None;
        }
        // A bare IPv6 address is not an authority; treat it as a host.
        if entry.parse::<std::net::Ipv6Addr>().is_ok() {
            return Some(Self {
                host: entry.to_ascii_lowercase(),
                port: None,
            });
        }
        let authority: Authority = entry.parse().ok()?;
        Some(Self {
            host: normalize(authority.host()),
            port: authority.port_u16(),
        })
    }

    /// `http://host:port`, with `default_port` when the entry names none.
    pub(crate) fn base_url(&self, default_port: u16) -> String {
        let port = self.port.unwrap_or(default_port);
        if self.host.contains(':') {
            format!("http://[{}]:{port}", self.host)
        } else {
            format!("http://{}:{port}", self.host)
        }
    }

    fn admits(&self, host: &str, port: Option<u16>) -> bool {
        self.host == host && self.port.is_none_or(|p| Some(p) == port)
    }
}

/// Whether a request addressed to `authority` (its `Host`) passes
/// `allowed`; an empty list allows every host.
pub(crate) fn admits(allowed: &[AllowedHost], authority: &Authority) -> bool {
    let host = normalize(authority.host());
    let port = authority.port_u16();
    allowed.is_empty() || allowed.iter().any(|entry| entry.admits(&host, port))
}

fn normalize(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_with_and_without_ports() {
        let plain = AllowedHost::parse("Example.COM").expect("host");
        assert!(plain.admits("example.com", Some(8080)));
        assert!(plain.admits("example.com", None));
        let with_port = AllowedHost::parse("example.com:8443").expect("host:port");
        assert!(with_port.admits("example.com", Some(8443)));
        assert!(!with_port.admits("example.com", Some(8080)));
        let v6 = AllowedHost::parse("::1").expect("ipv6");
        assert!(v6.admits("::1", Some(8080)));
        let v6_port = AllowedHost::parse("[::1]:8080").expect("ipv6 with port");
        assert!(v6_port.admits("::1", Some(8080)));
        assert!(AllowedHost::parse("").is_none());
        assert!(AllowedHost::parse("not a host").is_none());
    }

    #[test]
    fn other_hosts_are_not_admitted() {
        let local = AllowedHost::parse("localhost").expect("host");
        assert!(!local.admits("evil.example", Some(8080)));
        assert!(!local.admits("localhost.evil.example", None));
    }
}
