//! `kubesurface audit`.

use std::process::ExitCode;

use kubesurface_analyses::Severity;
use kubesurface_analyses::exposure::exposures_with_sockets;
use kubesurface_analyses::rules::{AuditContext, audit};
use kubesurface_engine::Engine;
use kubesurface_render::audit as render;

use super::common::{config, leave, load, settings, write_stdout};
use crate::cli::{AuditArgs, AuditFormat, SeverityArg};

pub fn run(args: AuditArgs) -> Result<ExitCode, String> {
    let config = config(&args.config)?;
    let loaded = load(&args.input)?;
    let s = settings(&args.input, Some(&config), &loaded.cluster);
    let engine = Engine::new(&loaded.cluster, s);
    let sockets = crate::sockets_join::load(&loaded.cluster, &args.config.sockets)?;
    let records = exposures_with_sockets(&engine, &config, &sockets);
    let ctx = AuditContext::new(&engine, &config, &records, &sockets);
    let findings = audit(&ctx);
    write_stdout(|out| match args.output {
        AuditFormat::Table => render::table(out, &findings),
        AuditFormat::Json => render::json(out, &findings, &engine.settings),
        AuditFormat::Sarif => {
            render::sarif(out, &findings, env!("CARGO_PKG_VERSION"), &engine.settings)
        }
        AuditFormat::Md => render::markdown(out, &findings),
    })?;
    let threshold = args.fail_on.map(|s| match s {
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    });
    let failed =
        threshold.is_some_and(|t| findings.iter().any(|f| !f.suppressed && f.severity >= t));
    leave(findings);
    leave(ctx);
    leave(records);
    leave(sockets);
    leave(engine);
    leave(loaded);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
