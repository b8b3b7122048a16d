//! `kubesurface rules [ID]`: the rule catalog, and the generator of `docs/rules/`.

use std::process::ExitCode;

use kubesurface_analyses::rules::{RULES, rule};

use super::common::write_stdout;
use crate::cli::RulesArgs;

pub fn run(args: RulesArgs) -> Result<ExitCode, String> {
    if let Some(dir) = &args.write_docs {
        std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
        for r in RULES {
            let path = format!("{dir}/{}.md", r.code);
            std::fs::write(&path, r.markdown()).map_err(|e| format!("{path}: {e}"))?;
        }
        let index: String = std::iter::once(
            "# Rules\n\n| Code | Name | Severity | What it finds |\n|---|---|---|---|\n"
                .to_string(),
        )
        .chain(RULES.iter().map(|r| {
            format!(
                "| [{}]({}.md) | {} | {} | {} |\n",
                r.code, r.code, r.name, r.severity, r.summary
            )
        }))
        .collect();
        std::fs::write(format!("{dir}/README.md"), index)
            .map_err(|e| format!("{dir}/README.md: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    match &args.id {
        Some(id) => {
            let r = rule(id)
                .ok_or_else(|| format!("no rule {id:?}; `kubesurface rules` lists them"))?;
            write_stdout(|out| out.write_all(r.markdown().as_bytes()))?;
        }
        None => write_stdout(|out| {
            for r in RULES {
                writeln!(
                    out,
                    "{:<6} {:<9} {:<34} {}",
                    r.code,
                    r.severity.as_str(),
                    r.name,
                    r.summary
                )?;
            }
            Ok(())
        })?,
    }
    Ok(ExitCode::SUCCESS)
}
