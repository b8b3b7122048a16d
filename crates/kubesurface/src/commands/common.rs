//! Input, settings and config handling shared by the commands.

use std::io::{self, BufWriter, Write};

use kubesurface_analyses::Config;
use kubesurface_analyses::config::Snat;
use kubesurface_engine::Settings;
use kubesurface_ingest::Loaded;

use crate::cli::{ConfigArgs, InputArgs, SnatArg};

/// Loads the input and reports on stderr what was not modelled.
pub fn load(input: &InputArgs) -> Result<Loaded, String> {
    let live = &input.live;
    if !input.paths.is_empty()
        && (live.dump.is_some()
            || live.kubeconfig.is_some()
            || live.context.is_some()
            || !live.namespaces.is_empty()
            || live.all_namespaces)
    {
        return Err(
            "--kubeconfig, --context, -n, -A and --dump read a live cluster; they cannot be combined with PATHs"
                .to_string(),
        );
    }
    let loaded = if input.paths.is_empty() {
        crate::live::load(&input.live)?
    } else {
        kubesurface_ingest::load_paths(&input.paths).map_err(|e| e.to_string())?
    };
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

/// Engine settings from the command line.
pub fn settings(input: &InputArgs) -> Settings {
    Settings {
        ipblock_matches_pods: input.ipblock_matches_pods.unwrap_or(true),
    }
}

/// The config: `--config FILE`, else `./kubesurface.yaml` when present, else defaults;
/// `--snat` overrides the file's setting.
pub fn config(args: &ConfigArgs) -> Result<Config, String> {
    let path = match &args.config {
        Some(p) => Some(p.clone()),
        None => std::path::Path::new("kubesurface.yaml")
            .exists()
            .then(|| "kubesurface.yaml".to_string()),
    };
    let mut config = match path {
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{p}: cannot read: {e}"))?;
            Config::parse(&p, &text)?
        }
        None => Config::default(),
    };
    match args.snat {
        Some(SnatArg::Node) => config.settings.snat = Snat::Node,
        Some(SnatArg::Client) => config.settings.snat = Snat::Client,
        None => {}
    }
    Ok(config)
}

/// Writes to stdout through a buffer; a closed pipe (`| head`) is not an error.
pub fn write_stdout(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), String> {
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);
    match f(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write output: {e}")),
    }
}
