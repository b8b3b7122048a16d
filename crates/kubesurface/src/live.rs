//! Reading a live cluster when no PATH is given: a thin adapter over `kubesurface-live`
//! (the `live` feature, on by default). The cluster is read into one `v1 List`, written to
//! `--dump FILE` when asked, and modelled from that same text, so a live run and a run on
//! its dump give the same result.

use kubesurface_ingest::Loaded;

use crate::cli::LiveArgs;

/// Reads the cluster the kubeconfig points at.
pub fn load(args: &LiveArgs) -> Result<Loaded, String> {
    imp::load(args)
}

/// The command name for usage lines: `kubectl surface` when started as the kubectl plugin
/// `kubectl-surface` (by kubectl, krew, or a symlink of that name), else `None`.
pub fn plugin_bin_name() -> Option<&'static str> {
    let arg0 = std::env::args_os().next()?;
    let stem = std::path::Path::new(&arg0).file_stem()?.to_str()?;
    (stem == "kubectl-surface").then_some("kubectl surface")
}

#[cfg(feature = "live")]
mod imp {
    use std::io::IsTerminal;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use kubesurface_ingest::{InputText, Loaded};
    use kubesurface_live::{Options, SkipReason, Snapshot};

    use crate::cli::LiveArgs;

    pub fn load(args: &LiveArgs) -> Result<Loaded, String> {
        let opts = options(args);
        let snapshot = kubesurface_live::read_cluster(&opts).map_err(|e| e.to_string())?;
        // The dump is written before modelling, so a cluster whose objects the model
        // rejects can still be attached to a bug report.
        if let Some(path) = &args.dump {
            snapshot
                .write_dump(Path::new(path))
                .map_err(|e| e.to_string())?;
        }
        report(args, &snapshot);
        let input = InputText {
            name: Arc::from(snapshot.input_name()),
            text: snapshot.to_json().into(),
        };
        kubesurface_ingest::load_texts(&[input]).map_err(|e| e.to_string())
    }

    /// The reader's options: `-A` wins over `-n` (as in kubectl); no `-n` means all
    /// namespaces.
    pub(super) fn options(args: &LiveArgs) -> Options {
        Options {
            kubeconfig: args.kubeconfig.as_ref().map(PathBuf::from),
            context: args.context.clone(),
            namespaces: if args.all_namespaces {
                Vec::new()
            } else {
                args.namespaces.clone()
            },
            progress: !args.quiet,
            ..Options::default()
        }
    }

    /// Notes on stderr: what was skipped (always: it changes the result), and a summary
    /// line when stderr is a terminal and not `--quiet`.
    fn report(args: &LiveArgs, s: &Snapshot) {
        // A policy dialect whose CRDs are absent is simply not in use (the CNI note says
        // which one is): only other absent kinds are worth a note.
        let dialect = |resource: &str| {
            ["policy.networking.k8s.io", "projectcalico.org", "cilium.io"]
                .iter()
                .any(|g| resource.ends_with(&format!(".{g}")))
        };
        let absent: Vec<&str> = s
            .skipped
            .iter()
            .filter(|k| k.reason == SkipReason::NotInstalled && !dialect(&k.resource))
            .map(|k| k.kind)
            .collect();
        if !absent.is_empty() {
            eprintln!(
                "kubesurface: note: not installed in the cluster (404), skipped: {}",
                absent.join(", ")
            );
        }
        let forbidden: Vec<String> = s
            .skipped
            .iter()
            .filter(|k| k.reason == SkipReason::Forbidden)
            .map(ToString::to_string)
            .collect();
        if !forbidden.is_empty() {
            eprintln!(
                "kubesurface: note: skipped, the results leave them out (grant get and list as in deploy/rbac.yaml): {}",
                forbidden.join("; ")
            );
        }
        if !args.quiet && std::io::stderr().is_terminal() {
            eprintln!(
                "kubesurface: read {} objects from context \"{}\" ({}) in {:.1}s{}",
                s.len(),
                s.context,
                s.server,
                s.elapsed.as_secs_f64(),
                args.dump
                    .as_ref()
                    .map(|d| format!(", written to {d}"))
                    .unwrap_or_default()
            );
        }
    }
}

#[cfg(not(feature = "live"))]
mod imp {
    use kubesurface_ingest::Loaded;

    use crate::cli::LiveArgs;

    pub fn load(_args: &LiveArgs) -> Result<Loaded, String> {
        Err("no input: give manifest files or directories, or `-` for stdin (this kubesurface was built without live-cluster support: rebuild with the `live` feature to read a cluster)".into())
    }
}

#[cfg(all(test, feature = "live"))]
mod tests {
    use super::*;

    #[test]
    fn all_namespaces_wins_over_namespace() {
        let args = LiveArgs {
            namespaces: vec!["a".into()],
            all_namespaces: true,
            ..LiveArgs::default()
        };
        assert!(imp::options(&args).namespaces.is_empty());
        let args = LiveArgs {
            namespaces: vec!["a".into()],
            quiet: true,
            ..LiveArgs::default()
        };
        let opts = imp::options(&args);
        assert_eq!(opts.namespaces, vec!["a"]);
        assert!(!opts.progress);
    }
}
