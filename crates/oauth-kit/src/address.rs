//! Who is calling, as the server resolved it: what per-caller limits are
//! keyed by.

/// The caller's address as the server resolved it (the peer, or
/// X-Forwarded-For from a trusted proxy).
///
/// The server inserts it as a request extension; handlers that bound what
/// one caller may hold read it from there.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub std::net::IpAddr);
