//! Who is calling, as the server resolved it: what per-caller limits are
//! keyed by.

use std::net::IpAddr;

/// The caller's address as the server resolved it: the peer, or the client
/// a trusted proxy named in `X-Forwarded-For`.
///
/// The server inserts it as a request extension; handlers that bound what
/// one caller may hold read it from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);
