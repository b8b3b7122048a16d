//! Policy dialects beyond NetworkPolicy v1, in one normalized rule form.
//!
//! AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy
//! (`policy.networking.k8s.io`), Calico NetworkPolicy and GlobalNetworkPolicy
//! (`projectcalico.org/v3`) and Cilium CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy (`cilium.io/v2`) all become [`TieredPolicy`]s: a subject,
//! ordered rules with an [`Action`], and a place in an ordered list of [`PolicyTier`]s.
//!
//! How the engine evaluates one direction (ingress at the subject, or egress from it) for
//! one peer and one port:
//!
//! 1. Tiers in ascending `(order, name)`. Kubernetes NetworkPolicies (v1) sit in the tier
//!    named [`DEFAULT_TIER`] as `Allow` rules at policy order [`KUBERNETES_POLICY_ORDER`].
//! 2. Within a tier, the policies that select the subject for the direction, in ascending
//!    `order` (unset = after every set order), then namespace and name; their rules in
//!    sequence. The first rule whose peers and ports match decides: `Allow` and `Deny`
//!    end the evaluation, `Pass` skips the rest of the tier, `Log` continues.
//! 3. When no rule of the tier matched and a policy of the tier that selects the subject
//!    `isolates` the direction, the tier's `default_action` applies (`Deny`, or `Pass` to
//!    go on to the next tier).
//! 4. After the last tier: allowed.
//!
//! Ties in `order` are broken by `namespace/name`; a Kubernetes NetworkPolicy sorts as
//! `NAMESPACE/knp.default.NAME` (Calico's name for it). Pod selectors of the dialects also
//! see the pseudo-labels Calico and Cilium give every pod: `projectcalico.org/namespace`,
//! `io.kubernetes.pod.namespace`, `projectcalico.org/orchestrator: k8s`,
//! `projectcalico.org/serviceaccount` and `io.cilium.k8s.policy.serviceaccount` (the
//! service account defaults to `default`).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::{Labels, PolicyPort, Source};

/// The tier Kubernetes NetworkPolicies (and Calico policies without a tier) belong to.
pub const DEFAULT_TIER: &str = "default";
/// The `order` of a Kubernetes NetworkPolicy inside [`DEFAULT_TIER`] (Calico's value).
pub const KUBERNETES_POLICY_ORDER: f64 = 1000.0;
/// The order of [`DEFAULT_TIER`] among tiers (Calico's value).
pub const DEFAULT_TIER_ORDER: f64 = 1_000_000.0;
/// The tier of AdminNetworkPolicies and `ClusterNetworkPolicy` `tier: Admin`.
pub const ADMIN_TIER: &str = "adminnetworkpolicy";
/// Its order: before [`DEFAULT_TIER`] (Calico's value).
pub const ADMIN_TIER_ORDER: f64 = 1_000.0;
/// The tier of BaselineAdminNetworkPolicies and `ClusterNetworkPolicy` `tier: Baseline`.
pub const BASELINE_TIER: &str = "baselineadminnetworkpolicy";
/// Its order: after [`DEFAULT_TIER`] (Calico's value).
pub const BASELINE_TIER_ORDER: f64 = 10_000_000.0;

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Allow (`Accept` in ClusterNetworkPolicy): the connection is allowed in this direction.
    Allow,
    /// Deny (`Drop` in ClusterNetworkPolicy): the connection is dropped.
    Deny,
    /// Skip the rest of this tier; evaluation continues with the next tier.
    Pass,
    /// Log and continue with the next rule (Calico).
    Log,
}

impl Action {
    /// `Allow`, `Deny`, `Pass` or `Log`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
            Action::Log => "Log",
        }
    }
}

/// The API object a [`TieredPolicy`] was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy.
    AdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` BaselineAdminNetworkPolicy.
    BaselineAdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    ClusterNetworkPolicy,
    /// `projectcalico.org/v3` NetworkPolicy.
    CalicoNetworkPolicy,
    /// `projectcalico.org/v3` GlobalNetworkPolicy.
    CalicoGlobalNetworkPolicy,
    /// `cilium.io/v2` CiliumNetworkPolicy.
    CiliumNetworkPolicy,
    /// `cilium.io/v2` CiliumClusterwideNetworkPolicy.
    CiliumClusterwideNetworkPolicy,
}

impl Dialect {
    /// The object's kind as written in manifests.
    pub fn kind(self) -> &'static str {
        match self {
            Dialect::AdminNetworkPolicy => "AdminNetworkPolicy",
            Dialect::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
            Dialect::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            Dialect::CalicoNetworkPolicy => "NetworkPolicy",
            Dialect::CalicoGlobalNetworkPolicy => "GlobalNetworkPolicy",
            Dialect::CiliumNetworkPolicy => "CiliumNetworkPolicy",
            Dialect::CiliumClusterwideNetworkPolicy => "CiliumClusterwideNetworkPolicy",
        }
    }

    /// The API group's short family: `admin`, `calico` or `cilium`.
    pub fn family(self) -> &'static str {
        match self {
            Dialect::AdminNetworkPolicy
            | Dialect::BaselineAdminNetworkPolicy
            | Dialect::ClusterNetworkPolicy => "admin",
            Dialect::CalicoNetworkPolicy | Dialect::CalicoGlobalNetworkPolicy => "calico",
            Dialect::CiliumNetworkPolicy | Dialect::CiliumClusterwideNetworkPolicy => "cilium",
        }
    }
}

/// A tier: an ordered group of policies (Calico `Tier`, or one of the built-in tiers).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyTier {
    /// Tier name.
    pub name: String,
    /// Position among tiers (ascending); `None` sorts after every set order.
    pub order: Option<f64>,
    /// What happens to traffic no rule of the tier matched, for a subject a policy of the
    /// tier isolates: [`Action::Deny`] (Calico's default) or [`Action::Pass`].
    pub default_action: Action,
    /// Where it was read from (`None` for built-in tiers).
    pub source: Option<Source>,
}

/// A label predicate: Kubernetes label selectors and Calico's selector language both
/// become one of these.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LabelExpr {
    /// `all()`, or an empty Kubernetes selector: everything.
    All,
    /// `global()` (Calico): only non-namespaced endpoints (hosts); no pod matches.
    Global,
    /// `has(k)` / `Exists`.
    Has(String),
    /// `k == 'v'` / `matchLabels`.
    Eq(String, String),
    /// `k != 'v'`: absent, or another value.
    Ne(String, String),
    /// `k in {...}` / `In`: present with one of the values.
    In(String, Vec<String>),
    /// `k not in {...}` / `NotIn`: absent, or none of the values.
    NotIn(String, Vec<String>),
    /// `k contains 's'`: present and containing the substring.
    Contains(String, String),
    /// `k starts with 's'`.
    StartsWith(String, String),
    /// `k ends with 's'`.
    EndsWith(String, String),
    /// Every operand matches (the empty AND matches everything).
    And(Vec<LabelExpr>),
    /// Some operand matches (the empty OR matches nothing).
    Or(Vec<LabelExpr>),
    /// The operand does not match.
    Not(Box<LabelExpr>),
}

impl LabelExpr {
    /// Evaluates against a label set (`global()` is false: it matches hosts only).
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            LabelExpr::All => true,
            LabelExpr::Global => false,
            LabelExpr::Has(k) => labels.contains_key(k),
            LabelExpr::Eq(k, v) => labels.get(k) == Some(v),
            LabelExpr::Ne(k, v) => labels.get(k) != Some(v),
            LabelExpr::In(k, vs) => labels.get(k).is_some_and(|x| vs.contains(x)),
            LabelExpr::NotIn(k, vs) => labels.get(k).is_none_or(|x| !vs.contains(x)),
            LabelExpr::Contains(k, s) => labels.get(k).is_some_and(|x| x.contains(s.as_str())),
            LabelExpr::StartsWith(k, s) => labels.get(k).is_some_and(|x| x.starts_with(s.as_str())),
            LabelExpr::EndsWith(k, s) => labels.get(k).is_some_and(|x| x.ends_with(s.as_str())),
            LabelExpr::And(xs) => xs.iter().all(|x| x.matches(labels)),
            LabelExpr::Or(xs) => xs.iter().any(|x| x.matches(labels)),
            LabelExpr::Not(x) => !x.matches(labels),
        }
    }

    /// The predicate of a Kubernetes `metav1.LabelSelector`.
    pub fn from_selector(selector: &crate::LabelSelector) -> Self {
        use crate::Operator;
        let mut terms: Vec<LabelExpr> = selector
            .match_labels
            .iter()
            .map(|(k, v)| LabelExpr::Eq(k.clone(), v.clone()))
            .collect();
        for r in &selector.match_expressions {
            terms.push(match r.operator {
                Operator::In => LabelExpr::In(r.key.clone(), r.values.clone()),
                Operator::NotIn => LabelExpr::NotIn(r.key.clone(), r.values.clone()),
                Operator::Exists => LabelExpr::Has(r.key.clone()),
                Operator::DoesNotExist => LabelExpr::Not(Box::new(LabelExpr::Has(r.key.clone()))),
            });
        }
        match terms.len() {
            0 => LabelExpr::All,
            1 => terms.pop().unwrap_or(LabelExpr::All),
            _ => LabelExpr::And(terms),
        }
    }
}

/// Which namespaces a subject or peer covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamespaceMatch {
    /// Every namespace.
    Any,
    /// Exactly this namespace (a namespaced policy's own).
    Named(String),
    /// Namespaces whose labels match.
    Selector(LabelExpr),
}

/// A set of pods (never hostNetwork pods): namespace AND labels AND service account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodMatch {
    /// Namespaces.
    pub namespaces: NamespaceMatch,
    /// Pod labels.
    pub labels: LabelExpr,
    /// Service accounts, matched against `namespace/name` of the pod's
    /// `serviceAccountName` (Calico `serviceAccounts.names`) and the ServiceAccount's
    /// labels (Calico `serviceAccounts.selector`); `None` = any.
    pub service_accounts: Option<ServiceAccountMatch>,
}

/// Calico `serviceAccounts`: names and/or a selector over ServiceAccount labels (AND).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceAccountMatch {
    /// Names (in the pod's namespace); empty = any name.
    pub names: Vec<String>,
    /// Selector over the ServiceAccount's labels; `None` = any.
    pub selector: Option<LabelExpr>,
}

/// Who a [`TieredPolicy`] applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// Pods.
    Pods(PodMatch),
    /// Hosts: for Calico, nodes with a HostEndpoint whose labels match (a
    /// GlobalNetworkPolicy selecting host endpoints); otherwise nodes whose own labels match
    /// (Cilium `nodeSelector`). Applies to hostNetwork endpoints on those nodes and to the
    /// nodes' addresses: ingress to them and egress from them.
    Nodes(LabelExpr),
}

/// Cilium entities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// `all`: everything.
    All,
    /// `world`: everything outside the cluster.
    World,
    /// `cluster`: every pod and node of the cluster.
    Cluster,
    /// `host`: the local node (and its hostNetwork pods).
    Host,
    /// `remote-node`: other nodes (and their hostNetwork pods).
    RemoteNode,
    /// `kube-apiserver`: the API server's addresses.
    KubeApiserver,
    /// `health`, `init`, `unmanaged`, `ingress`: Cilium-internal identities kubesurface does
    /// not model; they match nothing it can name.
    Internal,
}

/// One peer of a rule (the other end of the connection). A rule's peers are ORed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::large_enum_variant)] // few per rule; boxing would only add indirection
pub enum TieredPeer {
    /// Anything at all: every pod, node and address.
    All,
    /// Pods, optionally restricted further by address (`nets` AND NOT `not_nets`) and by a
    /// label predicate they must NOT match (Calico `notSelector`).
    Pods {
        /// Which pods.
        pods: PodMatch,
        /// Calico `notSelector`.
        not_labels: Option<LabelExpr>,
        /// Calico `nets` together with a selector: the pod's address must be in one.
        nets: Option<Vec<IpNet>>,
        /// Calico `notNets`.
        not_nets: Vec<IpNet>,
    },
    /// Nodes whose labels match (for Calico: the labels of their HostEndpoints): their
    /// addresses and the hostNetwork pods on them.
    Nodes(LabelExpr),
    /// Addresses: in one of `nets` (`None` = any address) and in none of `except`.
    Networks {
        /// CIDRs (ORed); `None` for "any address" (Calico `notNets` alone).
        nets: Option<Vec<IpNet>>,
        /// Excluded CIDRs.
        except: Vec<IpNet>,
        /// Whether pod addresses in these ranges match too (AdminNetworkPolicy `networks`,
        /// Calico `nets`: yes; Cilium CIDR rules: no — and then node addresses never match
        /// either, as Cilium's CIDR selectors never select in-cluster entities).
        matches_pods: bool,
    },
    /// A Cilium entity.
    Entity(Entity),
}

/// One rule: peers, ports and an action.
#[derive(Clone, Debug, PartialEq)]
pub struct TieredRule {
    /// Its name, when the API has one (AdminNetworkPolicy rules).
    pub name: Option<String>,
    /// What it does when it matches.
    pub action: Action,
    /// Peers (ORed). Empty matches nothing; use [`TieredPeer::All`] for "any".
    pub peers: Vec<TieredPeer>,
    /// Ports (ORed, named ports resolve on the destination); empty = every port.
    pub ports: Vec<PolicyPort>,
    /// Ports excluded (Calico `notPorts`, `notProtocol`).
    pub not_ports: Vec<PolicyPort>,
    /// True when the rule carries L7 filters (Cilium `rules:`): kubesurface decides L3/L4
    /// and reports the connection as L7-filtered.
    pub l7: bool,
    /// Where the rule was read from (its policy's source when unknown).
    pub source: Source,
}

/// A policy of any dialect in normalized form.
#[derive(Clone, Debug, PartialEq)]
pub struct TieredPolicy {
    /// The API object it came from.
    pub dialect: Dialect,
    /// Namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The tier's name (see [`PolicyTier`]; built-in tiers need no object).
    pub tier: String,
    /// Order within the tier (ascending; AdminNetworkPolicy `priority`, Calico `order`);
    /// `None` sorts after every set order.
    pub order: Option<f64>,
    /// Who it applies to.
    pub subject: Subject,
    /// Ingress rules, in evaluation order.
    pub ingress: Vec<TieredRule>,
    /// Egress rules, in evaluation order.
    pub egress: Vec<TieredRule>,
    /// Whether the policy applies to ingress at all (Calico `types`, Cilium rule sections):
    /// when false its ingress rules are ignored.
    pub applies_ingress: bool,
    /// Whether it applies to egress.
    pub applies_egress: bool,
    /// Whether a subject it selects falls to the tier's default action for ingress
    /// traffic no rule matched (Calico: always when it applies; Cilium: default deny;
    /// admin tiers: never).
    pub isolates_ingress: bool,
    /// The same for egress.
    pub isolates_egress: bool,
    /// Annotations (suppressions).
    pub annotations: Labels,
    /// Where it was read from.
    pub source: Source,
}

impl TieredPolicy {
    /// `Kind ns/name` or `Kind name`.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {}/{}", self.dialect.kind(), ns, self.name),
            None => format!("{} {}", self.dialect.kind(), self.name),
        }
    }
}

/// A ServiceAccount (Calico `serviceAccountSelector` matches its labels).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
}

/// A Calico HostEndpoint: a node interface policies can select.
#[derive(Clone, Debug, PartialEq)]
pub struct HostEndpoint {
    /// Name.
    pub name: String,
    /// The node it belongs to.
    pub node: String,
    /// Labels (GlobalNetworkPolicy selectors match these).
    pub labels: Labels,
    /// `interfaceName` (`*` = every interface).
    pub interface: Option<String>,
    /// `expectedIPs`.
    pub expected_ips: Vec<IpAddr>,
    /// Where it was read from.
    pub source: Source,
}

/// Which CNI's semantics apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cni {
    /// Upstream NetworkPolicy semantics (the e2e suite); admin policies honoured.
    #[default]
    Generic,
    /// Calico: its policies and tiers; ipBlocks match pod addresses.
    Calico,
    /// Cilium: its policies; ipBlocks and CIDR rules never match pods.
    Cilium,
}

impl Cni {
    /// `generic`, `calico` or `cilium`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cni::Generic => "generic",
            Cni::Calico => "calico",
            Cni::Cilium => "cilium",
        }
    }
}

/// Evidence of a CNI found in the input (CRD objects or policy objects of its API group,
/// its DaemonSets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CniEvidence {
    /// Objects of `projectcalico.org` / `crd.projectcalico.org`, or a `calico-node` DaemonSet.
    pub calico: Vec<String>,
    /// Objects of `cilium.io`, or a `cilium` DaemonSet.
    pub cilium: Vec<String>,
}
