//! `kubectl mesh`: status, routes, describe, lint, check, certs and the dashboard.
//!
//! Module map (one idea each):
//! - `cli`: the command line; `error`: what the user sees when something fails, exit codes.
//! - `model`: the data every command and view shares (resources, routers, certificates).
//! - `cluster`: the apiserver side (connecting, listing Mesh resources, Events, access checks).
//! - `admin`: the controllers' admin API (through the pod proxy, or `--admin-url`).
//! - `output`: kubectl-style tables, JSON and YAML.
//! - `commands`: one module per subcommand; `dashboard`: the terminal UI.

mod admin;
mod cli;
mod cluster;
mod commands;
mod dashboard;
mod error;
mod model;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::{CliError, ErrorKind};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if err.kind != ErrorKind::Findings || !err.message.is_empty() {
                eprintln!("{err}");
            }
            err.exit_code()
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    match &cli.command {
        Command::Status(args) => commands::status::run(global, args).await,
        Command::Routes(args) => commands::routes::run(global, args).await,
        Command::Describe(args) => commands::describe::run(global, args).await,
        Command::Lint(args) => commands::lint::run(global, args),
        Command::Check(args) => commands::check::run(global, args).await,
        Command::Certs(args) => commands::certs::run(global, args).await,
        Command::Dashboard(args) => dashboard::run(global, args).await,
        Command::Version => commands::version::run(global).await,
    }
}
