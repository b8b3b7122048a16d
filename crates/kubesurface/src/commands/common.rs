//! Input, settings and config handling shared by the commands.

use std::io::{self, BufWriter, Write};

use kubesurface_analyses::Config;
use kubesurface_analyses::config::Snat;
use kubesurface_engine::Settings;
use kubesurface_ingest::Loaded;
use kubesurface_model::{Cluster, Cni};

use crate::cli::{CniArg, ConfigArgs, InputArgs, SnatArg};

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

/// Engine settings from the command line: `--cni`, else the config file's `settings.cni`,
/// else detected from the input; `--ipblock-matches-pods`, else the config file's, else the
/// CNI's default. States the CNI on stderr, and the dialect policies it does not enforce.
pub fn settings(input: &InputArgs, config: Option<&Config>, cluster: &Cluster) -> Settings {
    resolve_settings(input.cni, input.ipblock_matches_pods, config, cluster)
}

/// [`settings`] from the individual flags.
pub fn resolve_settings(
    cni: Option<CniArg>,
    ipblock_matches_pods: Option<bool>,
    config: Option<&Config>,
    cluster: &Cluster,
) -> Settings {
    let configured = config.and_then(|c| c.settings.cni);
    let (cni, why) = match (cni, configured) {
        (Some(c), _) => (c.cni(), "--cni".to_string()),
        (None, Some(c)) => (c.cni(), "config settings.cni".to_string()),
        (None, None) => kubesurface_engine::detect_cni(cluster),
    };
    let mut settings = Settings::for_cni(cni);
    if let Some(b) =
        ipblock_matches_pods.or_else(|| config.and_then(|c| c.settings.ipblock_matches_pods))
    {
        settings.ipblock_matches_pods = b;
    }
    let dialects = !cluster.tiered_policies.is_empty()
        || !cluster.cni_evidence.calico.is_empty()
        || !cluster.cni_evidence.cilium.is_empty();
    if dialects || cni != Cni::Generic {
        eprintln!("kubesurface: note: CNI {} ({why})", cni.as_str());
    }
    let ignored: Vec<String> = cluster
        .tiered_policies
        .iter()
        .filter(|p| !settings.enforces(p.dialect))
        .map(|p| p.display_name())
        .collect();
    if !ignored.is_empty() {
        eprintln!(
            "kubesurface: warning: {} polic{} not enforced under --cni {}: {}",
            ignored.len(),
            if ignored.len() == 1 { "y" } else { "ies" },
            cni.as_str(),
            ignored.join(", ")
        );
    }
    settings
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

/// Leaves `value` to the end of the process instead of freeing it: the command is done, and
/// freeing a large model piece by piece costs a noticeable share of the run (≈0.2–0.3 s at
/// 100k pods).
pub fn leave<T>(value: T) {
    std::mem::forget(value);
}
