//! The bodies of the fuzz targets in `fuzz/` (run by `cargo xtask fuzz`
//! under libFuzzer), kept here in the workspace so that a plain stable
//! `cargo test` runs every checked-in seed and a few hundred mutations of
//! them through the same code (`tests/seeds.rs`).
//!
//! Each body takes the fuzzer's bytes, feeds them to the real parsing and
//! checking code through the crates' `fuzzing` entry points or their public
//! API, and panics only when an invariant of that code breaks: a panic
//! inside it, or an answer it must never give (a token accepted without a
//! signature, a body the `/mcp` guard passes that the MCP service then
//! refuses, a call the direct path reads that rmcp reads otherwise, a
//! decision that changes when asked twice). Set-up failures (a key that
//! cannot be generated, policies that do not load) panic too: they are
//! faults of the harness, not findings.

mod bearer_jwt;
mod mcp_direct;
mod mcp_guard;
mod plugin_wire;
mod policy_context;
mod session_settings;

pub use bearer_jwt::bearer_jwt;
pub use mcp_direct::mcp_direct;
pub use mcp_guard::mcp_guard;
pub use plugin_wire::plugin_wire;
pub use policy_context::policy_context;
pub use session_settings::session_settings;

/// A fuzz target's body: one input, any bytes.
pub type Target = fn(&[u8]);

/// Every fuzz target, by the name of its file in `fuzz/fuzz_targets/` and
/// of its seed directory in `fuzz/seeds/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("bearer_jwt", bearer_jwt),
    ("mcp_direct", mcp_direct),
    ("mcp_guard", mcp_guard),
    ("plugin_wire", plugin_wire),
    ("policy_context", policy_context),
    ("session_settings", session_settings),
];
