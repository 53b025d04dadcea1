//! `kubectl mesh dashboard`: the terminal UI.

use crate::cli::{DashboardArgs, GlobalArgs};
use crate::error::{CliError, CliResult};

pub async fn run(_global: &GlobalArgs, _args: &DashboardArgs) -> CliResult {
    Err(CliError::usage("`kubectl mesh dashboard` is being built"))
}
