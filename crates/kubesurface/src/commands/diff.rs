//! `kubesurface diff OLD NEW`.

use std::process::ExitCode;

use kubesurface_analyses::Severity;
use kubesurface_analyses::diff::{diff, snapshot};
use kubesurface_engine::Engine;
use kubesurface_engine::connectivity::Granularity;
use kubesurface_ingest::Loaded;
use kubesurface_render::diff as render;

use super::common::{config, write_stdout};
use crate::cli::{DiffArgs, DiffFormat, GranularityArg, SeverityArg};

/// Loads one side; warnings name the side they come from.
fn load_side(side: &str, path: &str) -> Result<Loaded, String> {
    let loaded = kubesurface_ingest::load_paths(&[path.to_string()])
        .map_err(|e| format!("{side} input: {e}"))?;
    for w in &loaded.warnings {
        eprintln!("kubesurface: warning: {side}: {w}");
    }
    if !loaded.cluster.unknown_kinds.is_empty() {
        let total: usize = loaded.cluster.unknown_kinds.values().sum();
        eprintln!(
            "kubesurface: note: {side}: {total} object(s) of kinds not modelled were skipped"
        );
    }
    Ok(loaded)
}

pub fn run(args: DiffArgs) -> Result<ExitCode, String> {
    if args.old == "-" && args.new == "-" {
        return Err("OLD and NEW cannot both be `-` (stdin)".into());
    }
    let config = config(&args.config)?;
    let granularity = match args.granularity {
        GranularityArg::Pod => Granularity::Pod,
        GranularityArg::Workload => Granularity::Workload,
        GranularityArg::Namespace => Granularity::Namespace,
    };
    let old = load_side("OLD", &args.old)?;
    let new = load_side("NEW", &args.new)?;
    let settings = super::common::resolve_settings(
        args.cni,
        args.ipblock_matches_pods,
        Some(&config),
        &new.cluster,
    );
    let (before, after) = {
        let old_engine = Engine::new(&old.cluster, settings);
        let new_engine = Engine::new(&new.cluster, settings);
        (
            snapshot(&old_engine, &config, granularity),
            snapshot(&new_engine, &config, granularity),
        )
    };
    let d = diff(&before, &after, granularity);
    write_stdout(|out| match args.output {
        DiffFormat::Table => render::table(out, &d),
        DiffFormat::Json => render::json_with_settings(out, &d, Some(&settings)),
        DiffFormat::Md => render::markdown(out, &d),
    })?;
    let threshold = args.fail_on_new.map(|s| match s {
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    });
    let failed = threshold.is_some_and(|t| {
        d.findings_new
            .iter()
            .any(|f| !f.suppressed && f.severity >= t)
    });
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
