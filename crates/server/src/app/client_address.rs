//! The client's address: the peer, or, when the peer is one of
//! `TRUSTED_PROXIES`, the client its `X-Forwarded-For` names.
//!
//! `X-Forwarded-For` is written by whoever sends the request, so it is read
//! only from a proxy the operator trusts, and only as far back as trusted
//! proxies go: reading right to left, the first address that is not a
//! trusted proxy is the client. Anything to its left was written by the
//! client itself and could be anything.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use oauth_kit::ClientAddress;

use super::AppState;
use crate::settings::{TrustedProxy, trusts};

/// The header proxies name the client in.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// At most this many hops are read from the right of `X-Forwarded-For`: a
/// chain of trusted proxies is never longer, and a longer header costs the
/// server nothing more.
const MAX_HOPS: usize = 16;

/// Records the client's [`ClientAddress`] in the request's extensions.
pub(crate) fn resolve(state: &AppState, request: &mut Request) {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    if let Some(peer) = peer {
        let client = client_of(peer, request.headers(), &state.trusted_proxies);
        request.extensions_mut().insert(ClientAddress(client));
    }
}

/// The client behind `peer`, as the trusted proxies in front of it say.
fn client_of(peer: IpAddr, headers: &HeaderMap, proxies: &[TrustedProxy]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusts(proxies, peer) {
        return peer;
    }
    // Several headers count as one list, in order. Read as bytes: a
    // proxy appends to whatever the client sent, and a byte the client
    // chose must spoil only its own entries, not the proxy's.
    let hops: Vec<&[u8]> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev().take(MAX_HOPS) {
        let Some(address) = hop_address(hop) else {
            // What a trusted proxy would not write ends the chain.
            break;
        };
        client = address.to_canonical();
        if !trusts(proxies, client) {
            break;
        }
    }
    client
}

/// The address in one `X-Forwarded-For` entry: `203.0.113.9`, `2001:db8::1`,
/// or with a port as some proxies write it (`203.0.113.9:4711`,
/// `[2001:db8::1]:4711`).
fn hop_address(hop: &[u8]) -> Option<IpAddr> {
    let hop = std::str::from_utf8(hop).ok()?.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address);
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, value.parse().expect("a header value"));
        }
        headers
    }

    fn proxies() -> Vec<TrustedProxy> {
        vec![TrustedProxy::parse("10.0.0.0/8").expect("a network")]
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["198.51.100.1"]);
        assert_eq!(
            client_of(ip("203.0.113.9"), &headers, &proxies()),
            ip("203.0.113.9")
        );
        assert_eq!(client_of(ip("10.0.0.2"), &headers, &[]), ip("10.0.0.2"));
    }

    #[test]
    fn a_trusted_proxy_names_the_first_untrusted_hop_from_the_right() {
        // The client forged the first entry; the proxies appended the rest.
        let headers = forwarded(&["192.0.2.66, 203.0.113.9", "10.1.1.1"]);
        assert_eq!(
            client_of(ip("10.0.0.2"), &headers, &proxies()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_without_the_header_is_the_client() {
        assert_eq!(
            client_of(ip("10.0.0.2"), &HeaderMap::new(), &proxies()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn entries_with_ports_and_stray_bytes_from_the_client_are_read_right() {
        let mut headers = HeaderMap::new();
        let value = axum::http::HeaderValue::from_bytes(b"\x80garbage, 203.0.113.9:4711")
            .expect("a header value");
        headers.append(X_FORWARDED_FOR, value);
        assert_eq!(
            client_of(ip("10.0.0.2"), &headers, &proxies()),
            ip("203.0.113.9")
        );
        let headers = forwarded(&["[2001:db8::1]:443"]);
        assert_eq!(
            client_of(ip("10.0.0.2"), &headers, &proxies()),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn a_hop_that_is_not_an_address_ends_the_chain() {
        let headers = forwarded(&["203.0.113.9, unknown"]);
        assert_eq!(
            client_of(ip("10.0.0.2"), &headers, &proxies()),
            ip("10.0.0.2")
        );
    }
}
