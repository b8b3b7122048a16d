//! The named assumptions a verdict depends on where implementations differ.

use kubesurface_model::{Cni, Dialect};

/// Engine settings. Every verdict is computed under exactly one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Whether `ipBlock` peers match pod (and hostNetwork node) addresses. `true` is the
    /// upstream conformance behaviour and Calico's; Cilium and np-guard netpol-analyzer
    /// use `false`.
    pub ipblock_matches_pods: bool,
    /// The CNI whose semantics apply: which policy dialects are enforced (admin policies
    /// under `generic` and `calico`, Calico's under `calico`, Cilium's under `cilium`).
    pub cni: Cni,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ipblock_matches_pods: true,
            cni: Cni::Generic,
        }
    }
}

impl Settings {
    /// The settings a CNI implies: ipBlocks match pod addresses except under Cilium.
    pub fn for_cni(cni: Cni) -> Self {
        Settings {
            ipblock_matches_pods: cni != Cni::Cilium,
            cni,
        }
    }

    /// Whether policies of `dialect` are enforced under this CNI.
    pub fn enforces(&self, dialect: Dialect) -> bool {
        matches!(
            (dialect.family(), self.cni),
            ("admin", Cni::Generic | Cni::Calico)
                | ("calico", Cni::Calico)
                | ("cilium", Cni::Cilium)
        )
    }
}

/// The CNI the input points at, and why: Calico or Cilium objects (policies, tiers, CRDs,
/// their node DaemonSets) when only one of them appears; otherwise `generic`.
pub fn detect_cni(cluster: &kubesurface_model::Cluster) -> (Cni, String) {
    let e = &cluster.cni_evidence;
    match (e.calico.is_empty(), e.cilium.is_empty()) {
        (false, true) => (
            Cni::Calico,
            format!("detected from {}", e.calico.join(", ")),
        ),
        (true, false) => (
            Cni::Cilium,
            format!("detected from {}", e.cilium.join(", ")),
        ),
        (false, false) => (
            Cni::Generic,
            format!(
                "both Calico ({}) and Cilium ({}) objects found; pass --cni to choose",
                e.calico.join(", "),
                e.cilium.join(", ")
            ),
        ),
        (true, true) => (Cni::Generic, "no CNI-specific objects found".to_string()),
    }
}
