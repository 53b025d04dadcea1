//! `kubectl mesh check`.

use crate::cli::{CheckArgs, GlobalArgs};
use crate::error::{CliError, CliResult};

pub async fn run(_global: &GlobalArgs, _args: &CheckArgs) -> CliResult {
    Err(CliError::usage("`kubectl mesh check` is being built"))
}
