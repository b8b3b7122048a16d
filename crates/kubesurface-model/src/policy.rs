//! NetworkPolicy v1 in normalized form: defaults applied, empty-vs-missing resolved.

use ipnet::IpNet;

use crate::{LabelSelector, Protocol, Source};

/// A `networking.k8s.io/v1` NetworkPolicy with its defaults applied.
#[derive(Clone, Debug, Default)]
pub struct NetworkPolicy {
    /// Namespace of the policy; selectors without a namespace selector are scoped to it.
    pub namespace: String,
    /// Name of the policy.
    pub name: String,
    /// `spec.podSelector`: the pods the policy applies to (`{}` = all in the namespace).
    pub pod_selector: LabelSelector,
    /// The policy isolates selected pods for ingress. Defaulted: true unless `policyTypes`
    /// is given without `Ingress`.
    pub affects_ingress: bool,
    /// The policy isolates selected pods for egress. Defaulted: true iff `policyTypes`
    /// contains `Egress`, or `policyTypes` is absent and `spec.egress` is non-empty.
    pub affects_egress: bool,
    /// Ingress rules (ignored unless `affects_ingress`).
    pub ingress: Vec<PolicyRule>,
    /// Egress rules (ignored unless `affects_egress`).
    pub egress: Vec<PolicyRule>,
    /// Annotations.
    pub annotations: crate::Labels,
    /// Where it was read.
    pub source: Source,
}

/// One ingress or egress rule: traffic matching any peer AND any port is allowed.
#[derive(Clone, Debug, Default)]
pub struct PolicyRule {
    /// `from` / `to`. Empty (or missing) matches every peer.
    pub peers: Vec<Peer>,
    /// `ports`. Empty (or missing) matches every port of every protocol.
    pub ports: Vec<PolicyPort>,
}

/// A `NetworkPolicyPeer`.
#[derive(Clone, Debug)]
pub enum Peer {
    /// `podSelector` and/or `namespaceSelector` (at least one is set).
    /// `podSelector` alone: pods of the policy's namespace. `namespaceSelector` alone:
    /// every pod of the matching namespaces. Both: the AND.
    Pods {
        /// `podSelector`, if given.
        pod_selector: Option<LabelSelector>,
        /// `namespaceSelector`, if given.
        namespace_selector: Option<LabelSelector>,
    },
    /// `ipBlock`: `cidr` minus every `except`.
    IpBlock(IpBlock),
}

/// An `ipBlock`: the addresses of `cidr` that are in none of `except`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IpBlock {
    /// The CIDR (host bits cleared).
    pub cidr: IpNet,
    /// Excluded sub-ranges.
    pub except: Vec<IpNet>,
}

/// A `NetworkPolicyPort`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyPort {
    /// Protocol, TCP when omitted.
    pub protocol: Protocol,
    /// Which ports of that protocol.
    pub port: PortSpec,
}

/// The `port` / `endPort` part of a `NetworkPolicyPort`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// `port` omitted: every port of the protocol.
    All,
    /// A numeric port or an inclusive `port..=endPort` range.
    Range(u16, u16),
    /// A named port, resolved on the destination pod's containerPorts with the same name
    /// and protocol.
    Named(String),
}
