//! The host's integration tests, in one test binary: each area keeps its own folder
//! under `tests/` and is a module here. One binary links the host once instead of once
//! per area (13 links of ~190 MB each before), which keeps CI's disk, memory and link
//! time small.
//!
//! Run an area, or one test, by filtering on its module path:
//! `cargo test -p sanctuary --test suite e2e::cluster`, `... --test suite languages::js`.

#[path = "../api/main.rs"]
mod api;
#[path = "../auth/main.rs"]
mod auth;
#[path = "../authoring/main.rs"]
mod authoring;
#[path = "../clients/main.rs"]
mod clients;
#[path = "../console/main.rs"]
mod console;
#[path = "../e2e/main.rs"]
mod e2e;
#[path = "../jobs/main.rs"]
mod jobs;
#[path = "../languages/main.rs"]
mod languages;
#[path = "../mcp/main.rs"]
mod mcp;
#[path = "../plugins/main.rs"]
mod plugins;
#[path = "../providers/main.rs"]
mod providers;
#[path = "../reload/main.rs"]
mod reload;
#[path = "../seeds/main.rs"]
mod seeds;
