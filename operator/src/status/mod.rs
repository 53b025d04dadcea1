//! Statuses: the proxy's verdict folded in ([`programmed`]), the diff against what an object
//! shows ([`diff`]), the local board served at `/api/status` ([`board`]) and the cluster
//! writer ([`writer`]).

pub mod board;
pub mod diff;
mod limiter;
pub mod programmed;
pub mod writer;

pub use board::StatusBoard;
pub use programmed::{ProxyVerdict, RouterFinding, apply_verdict};
pub use writer::{StatusBatch, StatusWriter};
