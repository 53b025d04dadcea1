//! `kubectl mesh status`.

use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::{CliError, CliResult};

pub async fn run(_global: &GlobalArgs, _args: &StatusArgs) -> CliResult {
    Err(CliError::usage("`kubectl mesh status` is being built"))
}
