//! `kubectl mesh describe`.

use crate::cli::{DescribeArgs, GlobalArgs};
use crate::error::{CliError, CliResult};

pub async fn run(_global: &GlobalArgs, _args: &DescribeArgs) -> CliResult {
    Err(CliError::usage("`kubectl mesh describe` is being built"))
}
