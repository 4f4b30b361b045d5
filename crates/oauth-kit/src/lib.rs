//! OAuth 2.1 and HTTP building blocks shared by the crates that verify,
//! mint and exchange tokens: unguessable secrets and their digests, PKCE
//! (RFC 7636), the RS256 key the demo authorization server signs with, the
//! token-endpoint wire types and client, the sign-in pages, the no-store
//! header, the clock, the size-capped read of other servers' answers, and
//! the caller's address as the server resolved it ([`ClientAddress`]).
//!
//! Nothing here knows about axum, MCP or policies (it speaks `http` types);
//! it is the floor `core-auth`, `demo-oauth` and the server stand on, so each
//! rule (how a secret is compared, how a verifier is checked, how much of an
//! answer is read) is written once.

mod address;
mod client;
mod clock;
mod fetch;
mod page;
mod secret;
mod signing;
mod wire;

pub use address::ClientAddress;
pub use client::{TokenEndpointReply, TokenRequestError, post_token_request};
pub use clock::unix_time;
pub use fetch::{FetchError, get_capped, read_capped};
pub use page::{NO_STORE, error_page, escape, html_page, with_query};
pub use secret::{
    constant_time_eq, load_or_create_secret, pkce_matches, pkce_s256, random_token, token_digest,
};
pub use signing::{KeyError, SigningKey};
pub use wire::{OAuthError, TokenForm, is_json_content_type};
