//! Reading a live cluster. PLACEHOLDER: being implemented.

use kubesurface_ingest::Loaded;

use crate::cli::LiveArgs;

/// Reads the cluster the kubeconfig points at.
pub fn load(_args: &LiveArgs) -> Result<Loaded, String> {
    Err("no input: give manifest files or directories, or `-` for stdin (reading a live cluster is not available yet)".into())
}
