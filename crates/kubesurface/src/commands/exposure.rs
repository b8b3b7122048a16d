//! `kubesurface exposure`.

use std::process::ExitCode;

use kubesurface_analyses::exposure::exposures_with_sockets;
use kubesurface_engine::Engine;
use kubesurface_render::exposure as render;

use super::common::{config, leave, load, settings, write_stdout};
use crate::cli::{ExposureArgs, ReportFormat};

pub fn run(args: ExposureArgs) -> Result<ExitCode, String> {
    let config = config(&args.config)?;
    let loaded = load(&args.input)?;
    let s = settings(&args.input, Some(&config), &loaded.cluster);
    let engine = Engine::new(&loaded.cluster, s);
    let sockets = crate::sockets_join::load(&loaded.cluster, &args.config.sockets)?;
    let records = exposures_with_sockets(&engine, &config, &sockets);
    write_stdout(|out| match args.output {
        ReportFormat::Table => render::table(out, &records),
        ReportFormat::Json => render::json(out, &records, &engine.settings),
        ReportFormat::Csv => render::csv(out, &records),
        ReportFormat::Md => render::markdown(out, &records),
    })?;
    leave(records);
    leave(sockets);
    leave(engine);
    leave(loaded);
    Ok(ExitCode::SUCCESS)
}
