//! One module per `kubectl mesh` subcommand.

pub mod certs;
pub mod check;
pub mod describe;
pub mod lint;
pub mod routes;
pub mod status;
pub mod version;
