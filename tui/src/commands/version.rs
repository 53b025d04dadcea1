//! `kubectl mesh version`: the plugin's and the controllers' versions.

use crate::cli::GlobalArgs;
use crate::error::CliResult;

pub async fn run(_global: &GlobalArgs) -> CliResult {
    println!("kubectl-mesh {}", env!("CARGO_PKG_VERSION"));
    println!("controllers: unknown (this build does not read the admin API's /api/version yet)");
    Ok(())
}
