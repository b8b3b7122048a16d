//! Which cluster, as whom: `--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`, in-cluster.

use std::path::{Path, PathBuf};

use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use secrecy::ExposeSecret;

use crate::LiveError;
use crate::Options;

/// The resolved connection settings.
pub(crate) struct Target {
    /// The kube client config.
    pub config: Config,
    /// The context name, or `in-cluster`.
    pub context: String,
    /// The bearer token, when the kubeconfig holds one inline (read to say "expired").
    pub token: Option<String>,
}

/// Resolves the kubeconfig as kubectl does: `--kubeconfig FILE`, else `$KUBECONFIG` (a
/// list of files, merged), else `~/.kube/config`, else the in-cluster service account.
pub(crate) async fn resolve(opts: &Options) -> Result<Target, LiveError> {
    let kubeconfig = match &opts.kubeconfig {
        Some(path) => Some(read(path)?),
        None => match Kubeconfig::from_env() {
            Ok(Some(k)) => Some(k),
            Ok(None) => match default_path().filter(|p| p.exists()) {
                Some(p) => Some(read(&p)?),
                None => None,
            },
            Err(e) => {
                return Err(LiveError::new(format!(
                    "cannot read $KUBECONFIG: {}",
                    crate::error::chain(&e)
                )));
            }
        },
    };
    let Some(kubeconfig) = kubeconfig else {
        if opts.context.is_none() && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            let config = Config::incluster().map_err(|e| {
                LiveError::new(format!(
                    "cannot use the in-cluster service account: {}",
                    crate::error::chain(&e)
                ))
            })?;
            return Ok(Target {
                config,
                context: "in-cluster".into(),
                token: None,
            });
        }
        return Err(LiveError::new(
            "no input: give manifest files or directories (or `-` for stdin), or a cluster: no kubeconfig found ($KUBECONFIG is unset and ~/.kube/config does not exist; use --kubeconfig FILE)",
        ));
    };
    let context = match opts
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
    {
        Some(c) => c,
        None => {
            return Err(LiveError::new(
                "the kubeconfig has no current-context: choose one with --context NAME",
            ));
        }
    };
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err(LiveError::new(format!(
            "context \"{context}\" is not in the kubeconfig (contexts: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let token = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.as_ref())
        .and_then(|user| kubeconfig.auth_infos.iter().find(|a| &a.name == user))
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.token.as_ref())
        .map(|t| t.expose_secret().to_string());
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        cluster: None,
        user: None,
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| {
            LiveError::new(format!(
                "kubeconfig context \"{context}\": {}",
                crate::error::chain(&e)
            ))
        })?;
    Ok(Target {
        config,
        context,
        token,
    })
}

fn read(path: &Path) -> Result<Kubeconfig, LiveError> {
    Kubeconfig::read_from(path).map_err(|e| {
        LiveError::new(format!(
            "kubeconfig {}: {}",
            path.display(),
            crate::error::chain(&e)
        ))
    })
}

fn default_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))?;
    Some(PathBuf::from(home).join(".kube").join("config"))
}
