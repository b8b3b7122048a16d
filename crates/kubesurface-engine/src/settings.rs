//! The named assumptions a verdict depends on where implementations differ.

/// Engine settings. Every verdict is computed under exactly one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Whether `ipBlock` peers match pod (and hostNetwork node) addresses. `true` is the
    /// upstream conformance behaviour and Calico's; Cilium and np-guard netpol-analyzer
    /// use `false`.
    pub ipblock_matches_pods: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ipblock_matches_pods: true,
        }
    }
}
