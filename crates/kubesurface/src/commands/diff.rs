//! `kubesurface diff`. PLACEHOLDER: being implemented.

use std::process::ExitCode;

use crate::cli::DiffArgs;

pub fn run(_args: DiffArgs) -> Result<ExitCode, String> {
    Err("`diff` is not implemented yet".into())
}
