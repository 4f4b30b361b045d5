//! Whose request it is, for the stores' per-address quotas.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::ConnectInfo;
use oauth_kit::ClientAddress;

use crate::store::Origin;

/// The address the server resolved for the caller (the peer, or
/// X-Forwarded-For from a trusted proxy); without one, the connection's
/// peer; without that either, one origin shared by every such caller.
pub(crate) fn origin(
    resolved: Option<Extension<ClientAddress>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Origin {
    match (resolved, peer) {
        (Some(Extension(ClientAddress(address))), _) => Origin::of(address),
        (None, Some(Extension(ConnectInfo(peer)))) => Origin::of(peer.ip()),
        (None, None) => Origin::Unknown,
    }
}
