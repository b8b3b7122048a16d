//! `kubesurface test`. PLACEHOLDER: being implemented.

use std::process::ExitCode;

use crate::cli::TestArgs;

pub fn run(_args: TestArgs) -> Result<ExitCode, String> {
    Err("`test` is not implemented yet".into())
}
