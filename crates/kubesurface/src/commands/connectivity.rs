//! `kubesurface connectivity`.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use kubesurface_engine::Engine;
use kubesurface_engine::connectivity::{Granularity, for_each_connection_batch};
use kubesurface_render::{Format, connectivity_renderer_with};

use super::common::{leave, load, settings};
use crate::cli::{ConnectivityArgs, FormatArg, GranularityArg};

pub fn run(args: ConnectivityArgs) -> Result<ExitCode, String> {
    let start = Instant::now();
    let loaded = load(&args.input)?;
    let loaded_at = start.elapsed();
    let engine = Engine::new(
        &loaded.cluster,
        settings(&args.input, None, &loaded.cluster),
    );
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
    let mut renderer = connectivity_renderer_with(format, &engine.settings);
    let mut result = renderer.begin(&mut out, granularity);
    let stats = for_each_connection_batch(&engine, granularity, |batch| {
        if result.is_ok() {
            result = renderer.connections(&mut out, batch);
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
            "kubesurface: stats: endpoints={} classes={} external_peers={} policies={} source_signatures={} destination_signatures={} distinct_verdicts={} allowed_pairs={} load={:?} compile={:?} total={:?}",
            loaded.cluster.endpoints.len(),
            stats.classes,
            stats.external_peers,
            loaded.cluster.policies.len(),
            stats.source_signatures,
            stats.destination_signatures,
            stats.distinct_verdicts,
            stats.allowed_pairs,
            loaded_at,
            compiled_at - loaded_at,
            start.elapsed()
        );
    }
    leave(engine);
    leave(loaded);
    Ok(ExitCode::SUCCESS)
}
