//! `kubectl mesh`: status, routes, lint and the dashboard.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kubectl-mesh",
    version,
    about = "Inspect Mesh ingress resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the plugin's version.
    Version,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Version => println!("kubectl-mesh {}", env!("CARGO_PKG_VERSION")),
    }
    Ok(())
}
