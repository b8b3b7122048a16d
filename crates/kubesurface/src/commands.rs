//! Runs a parsed command line.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use kubesurface_engine::connectivity::{Granularity, for_each_connection};
use kubesurface_engine::{Engine, Settings};
use kubesurface_ingest::Loaded;
use kubesurface_render::{Format, connectivity_renderer};

use crate::cli::{Cli, Command, ConnectivityArgs, FormatArg, GranularityArg, InputArgs};

/// Runs the command; `Err` is a usage or input error (exit 2).
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Connectivity(args) => connectivity(args),
    }
}

/// Loads the input and reports what was not modelled.
fn load(input: &InputArgs) -> Result<Loaded, String> {
    if input.paths.is_empty() {
        return Err(
            "no input: give manifest files or directories, or `-` for stdin (reading a live cluster is not available yet)"
                .to_string(),
        );
    }
    let loaded = kubesurface_ingest::load_paths(&input.paths).map_err(|e| e.to_string())?;
    for w in &loaded.warnings {
        eprintln!("kubesurface: warning: {w}");
    }
    if !loaded.cluster.unknown_kinds.is_empty() {
        let total: usize = loaded.cluster.unknown_kinds.values().sum();
        let list: Vec<String> = loaded
            .cluster
            .unknown_kinds
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        eprintln!(
            "kubesurface: note: {total} object(s) of kinds not modelled were skipped: {}",
            list.join(", ")
        );
    }
    Ok(loaded)
}

fn settings(input: &InputArgs) -> Settings {
    Settings {
        ipblock_matches_pods: input.ipblock_matches_pods,
    }
}

fn connectivity(args: ConnectivityArgs) -> Result<ExitCode, String> {
    let start = Instant::now();
    let loaded = load(&args.input)?;
    let loaded_at = start.elapsed();
    let engine = Engine::new(&loaded.cluster, settings(&args.input));
    let compiled_at = start.elapsed();
    let granularity = match args.granularity {
        GranularityArg::Pod => Granularity::Pod,
        GranularityArg::Workload => Granularity::Workload,
        GranularityArg::Namespace => Granularity::Namespace,
    };
    let format = match args.output {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Csv => Format::Csv,
        FormatArg::Md => Format::Markdown,
        FormatArg::Dot => Format::Dot,
    };
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);
    let mut renderer = connectivity_renderer(format);
    let mut result = renderer.begin(&mut out, granularity);
    let stats = for_each_connection(&engine, granularity, |src, dst, allowed| {
        if result.is_ok() {
            result = renderer.connection(&mut out, src, dst, allowed);
        }
    });
    let result = result
        .and_then(|()| renderer.end(&mut out))
        .and_then(|()| out.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(format!("cannot write output: {e}")),
    }
    if args.stats {
        eprintln!(
            "kubesurface: stats: endpoints={} classes={} external_peers={} policies={} distinct_verdicts={} allowed_pairs={} load={:?} compile={:?} total={:?}",
            loaded.cluster.endpoints.len(),
            stats.classes,
            stats.external_peers,
            loaded.cluster.policies.len(),
            stats.distinct_verdicts,
            stats.allowed_pairs,
            loaded_at,
            compiled_at - loaded_at,
            start.elapsed()
        );
    }
    Ok(ExitCode::SUCCESS)
}
