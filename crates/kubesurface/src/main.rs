//! The `kubesurface` command line: thin glue over ingest, engine and render.

mod cli;
mod commands;
mod live;
mod sockets_join;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// Many small allocations from several threads (the model of a large cluster): mimalloc
/// is markedly faster at them than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mut command = cli::Cli::command();
    if let Some(name) = live::plugin_bin_name() {
        command = command.bin_name(name);
    }
    let cli = cli::Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kubesurface: error: {e}");
            ExitCode::from(2)
        }
    }
}
