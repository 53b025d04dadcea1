//! Mesh operator: watches Kubernetes (or a manifests folder), translates what it sees into
//! the proxy's configuration, serves it, and tells every object whether it works and why.
//!
//! Module map (one idea each):
//! - `snapshot`, `options`, `translate`: the pure translation (world + switches -> config
//!   and statuses).
//! - `world`: the objects currently seen, decoded one by one, and the change signal.
//! - `watch`: cluster watchers feeding the world; `manifests`: a folder feeding it.
//! - `pipeline`: change -> translate -> proxy -> statuses.
//! - `dataplane`: the proxy behind the pipeline's `DataPlane` trait.
//! - `lint`: a manifests folder -> findings, offline (`kubectl mesh lint`).
//! - `status`: the proxy's verdict, status diffs, the `/api/status` board, the writer.
//! - `leader`: Lease-based leader election (only the holder writes status).
//! - `cli`, `connect`, `app`: the `mesh run` command line and its wiring.

pub mod app;
pub mod cli;
pub mod connect;
pub mod dataplane;
pub mod heap;
pub mod leader;
pub mod lint;
pub mod manifests;
pub mod options;
pub mod pipeline;
pub mod secret_refs;
pub mod snapshot;
pub mod status;
pub mod translate;
pub mod watch;
pub mod world;
