//! orchestrator-mcp: a policy-governed MCP tool server, as a library the
//! `orchestrator-mcp` binary runs.
//!
//! The modules are layers, each importing only those below it:
//!
//! 1. `settings`: the configuration, read and checked in one place.
//! 2. `shared`: what replicas share (Redis, or this process's memory):
//!    rate limits, revocations; `telemetry`: the metrics every layer
//!    records, and the traces.
//! 3. `identity`: the token verifier and the authorization server behind it.
//! 4. `audit`, `policies`: the decision log and the reloadable policy set.
//! 5. `catalogue`: listing, deciding and calling tools.
//! 6. `web`: what the doors share (error bodies, body limits, base URLs).
//! 7. `rest`, `mcp`, `oauth`, `console`: one door each, each with its own
//!    router.
//! 8. `app`: the shared state, the layers, and the assembled application.
//! 9. `cli`: the commands.
//!
//! `the_server_modules_import_only_lower_layers` (in `xtask`) holds the
//! imports to that order.

mod app;
mod audit;
mod catalogue;
pub mod cli;
mod console;
mod identity;
mod mcp;
mod oauth;
mod policies;
mod rest;
mod settings;
mod shared;
mod telemetry;
mod web;

pub use app::{App, Server};
/// Entry points for the fuzz targets; not a stable interface.
#[doc(hidden)]
pub use mcp::fuzzing;
pub use settings::{ConfigError, Problem, Settings};
