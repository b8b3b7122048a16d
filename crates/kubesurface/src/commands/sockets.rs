//! `kubesurface sockets`. PLACEHOLDER: being implemented.

use std::process::ExitCode;

use crate::cli::SocketsArgs;

pub fn run(_args: SocketsArgs) -> Result<ExitCode, String> {
    Err("`sockets` is not implemented yet".into())
}
