//! `mesh`: the Mesh controller binary.

use clap::Parser;
use mesh_operator::cli::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: fewer instructions per allocation on the request
/// path (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            init_logs(args.log_format);
            mesh_operator::app::run(*args).await
        }
    }
}
