//! `kubesurface.yaml`: trust zones, suppressions, controller overrides and settings.
//!
//! ```yaml
//! untrusted:
//!   - namespace: tenants
//!   - selector: "openstack/application=nova,component=compute"
//!   - workload: "openstack/libvirt[DaemonSet]"
//! sensitive:
//!   - selector: "openstack/application=mariadb"
//! ignore:
//!   - rule: KS101
//!     object: "sock-shop/Service/front-end"
//!     reason: "the shop is public on purpose"
//! controllers:
//!   - class: nginx
//!     selector: "ingress/app.kubernetes.io/name=ingress-nginx"
//! settings:
//!   snat: node          # node | client: the source NodePort/LB traffic has under
//!                       # externalTrafficPolicy: Cluster
//! ```

use serde::Deserialize;

/// One zone member: a namespace, a label selector (`ns/k=v,k2=v2` or `k=v` for every
/// namespace), or a workload (`ns/name[Kind]`, `ns/name`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ZoneSelector {
    /// Every endpoint of this namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `ns/k=v,k2=v2` (`*/k=v` or `k=v` for any namespace).
    #[serde(default)]
    pub selector: Option<String>,
    /// `ns/name[Kind]` or `ns/name`.
    #[serde(default)]
    pub workload: Option<String>,
}

/// A suppression.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    /// Rule code (`KS101`).
    pub rule: String,
    /// `NS/Kind/NAME` of an object the finding involves; every finding of the rule when absent.
    #[serde(default)]
    pub object: Option<String>,
    /// Why (required: a suppression without a reason is an error).
    pub reason: String,
}

/// A controller override: the pods that carry traffic for an IngressClass or GatewayClass.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ControllerOverride {
    /// IngressClass or GatewayClass name.
    pub class: String,
    /// `ns/k=v,…` selecting the controller pods.
    pub selector: String,
}

/// Which source external traffic has when kube-proxy may SNAT it
/// (`externalTrafficPolicy: Cluster`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Snat {
    /// The address of the node that received it (kube-proxy masquerades it): the default.
    #[default]
    Node,
    /// The client's own address (no SNAT, e.g. a CNI that preserves it).
    Client,
}

/// Settings in the config file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// See [`Snat`].
    #[serde(default)]
    pub snat: Snat,
    /// `--ipblock-matches-pods` default.
    #[serde(default)]
    pub ipblock_matches_pods: Option<bool>,
    /// `--cni` default: `generic`, `calico` or `cilium` (absent: detected from the input).
    #[serde(default)]
    pub cni: Option<CniName>,
}

/// A CNI name in the config file.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CniName {
    /// Upstream semantics.
    Generic,
    /// Calico.
    Calico,
    /// Cilium.
    Cilium,
}

impl CniName {
    /// The model's value.
    pub fn cni(self) -> kubesurface_model::Cni {
        match self {
            CniName::Generic => kubesurface_model::Cni::Generic,
            CniName::Calico => kubesurface_model::Cni::Calico,
            CniName::Cilium => kubesurface_model::Cni::Cilium,
        }
    }
}

/// The whole config file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Workloads that run code the cluster admin does not control.
    #[serde(default)]
    pub untrusted: Vec<ZoneSelector>,
    /// Workloads holding data or control worth protecting.
    #[serde(default)]
    pub sensitive: Vec<ZoneSelector>,
    /// Suppressions.
    #[serde(default)]
    pub ignore: Vec<Ignore>,
    /// Controller overrides.
    #[serde(default)]
    pub controllers: Vec<ControllerOverride>,
    /// Settings.
    #[serde(default)]
    pub settings: Settings,
}

impl Config {
    /// Parses a config file's text; `name` is used in errors.
    pub fn parse(name: &str, text: &str) -> Result<Config, String> {
        let config: Config = serde_saphyr::from_str(text).map_err(|e| {
            let line = e.location().map_or(0, |l| l.line());
            let msg = e.to_string();
            format!(
                "{name}:{line}: {}",
                msg.lines().next().unwrap_or("invalid config")
            )
        })?;
        for (i, z) in config.untrusted.iter().chain(&config.sensitive).enumerate() {
            let set = [&z.namespace, &z.selector, &z.workload]
                .iter()
                .filter(|f| f.is_some())
                .count();
            if set != 1 {
                return Err(format!(
                    "{name}: zone entry {i}: give exactly one of namespace, selector, workload"
                ));
            }
            if let Some(s) = &z.selector {
                crate::zones::parse_selector(s).map_err(|e| format!("{name}: {e}"))?;
            }
        }
        for i in &config.ignore {
            if crate::rules::rule(&i.rule).is_none() {
                return Err(format!(
                    "{name}: ignore: no rule {:?} (`kubesurface rules` lists them)",
                    i.rule
                ));
            }
            if i.reason.trim().is_empty() {
                return Err(format!("{name}: ignore {}: a reason is required", i.rule));
            }
        }
        Ok(config)
    }
}
