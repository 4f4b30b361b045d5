//! orchestrator-mcp: a policy-governed MCP tool server, as a library the
//! `orchestrator-mcp` binary runs.
//!
//! The modules are layers, each importing only those below it:
//!
//! 1. `settings`: the configuration, read and checked in one place;
//!    `limiter`: the rate-limiting algorithm.
//! 2. `identity`: the token verifier and the authorization server behind it.
//! 3. `audit`, `policies`: the decision log and the reloadable policy set.
//! 4. `catalogue`: listing, deciding and calling tools.
//! 5. `web`: what the doors share (error bodies, body limits, base URLs).
//! 6. `rest`, `mcp`, `oauth`, `console`: one door each, each with its own
//!    router.
//! 7. `app`: the shared state, the layers, and the assembled application.
//! 8. `cli`: the commands.
//!
//! `the_server_modules_import_only_lower_layers` (in `xtask`) holds the
//! imports to that order.

mod app;
mod audit;
mod catalogue;
pub mod cli;
mod console;
mod identity;
mod limiter;
mod mcp;
mod oauth;
mod policies;
mod rest;
mod settings;
mod web;

pub use app::{App, Server};
/// Entry points for the fuzz targets; not a stable interface.
#[doc(hidden)]
pub use mcp::fuzzing;
pub use settings::{ConfigError, Problem, Settings};
