//! `kubectl mesh routes`.

use crate::cli::{GlobalArgs, RoutesArgs};
use crate::error::{CliError, CliResult};

pub async fn run(_global: &GlobalArgs, _args: &RoutesArgs) -> CliResult {
    Err(CliError::usage("`kubectl mesh routes` is being built"))
}
