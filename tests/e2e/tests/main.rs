//! End-to-end tests: the real `orchestrator-mcp` binary, the real plugins,
//! the shipped policies, over real HTTP.
//!
//! One test binary (fast to link); one module per surface.

mod approvals;
mod asking;
mod audit;
mod auth;
mod browser;
mod catalogue;
mod conformance;
mod console;
mod demo_oauth;
mod deploy;
mod doctor;
mod health;
mod inspector;
mod limits;
mod logging;
mod mcp;
mod metrics;
mod plugins;
mod policies;
mod policy_cli;
mod python_sdk;
mod replicas;
mod resources;
mod rest;
mod session;
mod shadow;
mod startup;
mod traces;
mod util;
