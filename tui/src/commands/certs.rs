//! `kubectl mesh certs`.

use crate::cli::{CertsArgs, GlobalArgs};
use crate::error::{CliError, CliResult};

pub async fn run(_global: &GlobalArgs, _args: &CertsArgs) -> CliResult {
    Err(CliError::usage("`kubectl mesh certs` is being built"))
}
