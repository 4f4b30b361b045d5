//! The caller's address, as the server resolved it.

use std::net::IpAddr;

/// The caller's address as the server resolved it: the peer, or the client
/// a trusted proxy named in `X-Forwarded-For`. The server puts it in each
/// request's extensions; per-address quotas read it from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);
