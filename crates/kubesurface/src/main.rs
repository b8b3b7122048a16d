//! The `kubesurface` command line: thin glue over ingest, engine and render.

mod cli;
mod commands;
mod live;
mod sockets_join;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kubesurface: error: {e}");
            ExitCode::from(2)
        }
    }
}
