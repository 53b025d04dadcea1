//! The proxy benchmark: Mesh against nginx and Traefik on one machine, same route, same
//! backend, same load tool, in one run. A program that prints figures, never a test.
//!
//! Module map (one idea each):
//! - `routes`: the route set every target serves (1 or N `Host()` routes) and its host names.
//! - `configs`: the same route set written as nginx, Traefik and Mesh configuration.
//! - `backend`: the 1-thread hyper server with a 12-byte body every proxy forwards to.
//! - `serve_mesh`: the hidden `serve-mesh` subcommand: Mesh built from a YAML file.
//! - `process`: children pinned to a core with `taskset`, stopped when dropped.
//! - `procfs`: CPU time and RSS of a process from `/proc`.
//! - `probe`: one blocking HTTP/1.1 request, to check a target answers the route right.
//! - `wrk`: the load tool's command line and the parsing of its report.
//! - `stats`: medians and spreads over rounds.
//! - `report`: tables, ratios and the targets section.
//! - `apply_time`: the in-process cost of `Proxy::apply` for N routers.
//! - `run`: the whole benchmark: scenarios, targets, rounds.
pub mod apply_time;
pub mod backend;
pub mod configs;
pub mod duration;
pub mod probe;
pub mod process;
pub mod procfs;
pub mod report;
pub mod routes;
pub mod run;
pub mod serve_mesh;
pub mod stats;
pub mod wrk;

/// What the backend answers to every request (12 bytes, as in the reference measurements).
pub const BACKEND_BODY: &[u8] = b"hello, mesh\n";
