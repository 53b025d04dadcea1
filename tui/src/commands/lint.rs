//! `kubectl mesh lint -f PATH`: the operator's own translation, offline.

use crate::cli::{GlobalArgs, LintArgs};
use crate::error::{CliError, CliResult};

pub fn run(_global: &GlobalArgs, _args: &LintArgs) -> CliResult {
    Err(CliError::usage("`kubectl mesh lint` is being built"))
}
