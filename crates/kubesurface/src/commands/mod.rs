//! Runs a parsed command line: one module per command, shared input handling in `common`.

mod audit;
mod common;
mod connectivity;
mod diff;
mod explain;
mod exposure;
mod reach;
mod rules;
mod sockets;
mod test;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Connectivity(args) => connectivity::run(args),
        Command::Exposure(args) => exposure::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Reach(args) => reach::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Test(args) => test::run(args),
        Command::Sockets(args) => sockets::run(args),
    }
}
