//! Compiles NetworkPolicies into rules over peers: each rule's peers become a bitset over
//! the peer universe (endpoint classes, then external atoms), each rule's ports a
//! [`RulePorts`] resolved per destination.

use std::collections::BTreeMap;

use fixedbitset::FixedBitSet;
use kubesurface_model::{
    Cluster, LabelSelector, NetworkPolicy, Peer, PolicyRule, PortSpec, Protocol,
};

use crate::atoms::{IpAtoms, block_atoms_set, block_covers_family};
use crate::classes::{ClassAddress, EndpointClass, NamedPort};
use crate::portset::PortSet;
use crate::selector::matches;

/// Ingress or egress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Traffic into the selected pods.
    Ingress,
    /// Traffic out of the selected pods.
    Egress,
}

/// The ports of one rule before named ports are resolved.
#[derive(Clone, Debug, Default)]
pub struct RulePorts {
    /// `ports` empty or missing: everything.
    pub all: bool,
    /// Numeric ports and ranges (and protocol-wide entries with no `port`).
    pub numeric: PortSet,
    /// Named ports, resolved on the destination.
    pub named: Vec<(Protocol, String)>,
}

impl RulePorts {
    /// Builds from a rule's `ports`.
    pub fn new(rule: &PolicyRule) -> Self {
        if rule.ports.is_empty() {
            return RulePorts {
                all: true,
                ..RulePorts::default()
            };
        }
        let mut out = RulePorts::default();
        for p in &rule.ports {
            match &p.port {
                PortSpec::All => out.numeric.insert(p.protocol, 1, crate::portset::MAX_PORT),
                PortSpec::Range(lo, hi) => out.numeric.insert(p.protocol, *lo, *hi),
                PortSpec::Named(name) => out.named.push((p.protocol, name.clone())),
            }
        }
        out
    }

    /// The ports this rule allows towards a destination with these named ports (`None` for
    /// external destinations, where names resolve to nothing).
    pub fn resolve(&self, dst_named: Option<&[NamedPort]>) -> PortSet {
        if self.all {
            return PortSet::full();
        }
        let mut out = self.numeric.clone();
        if let Some(named) = dst_named {
            for (protocol, name) in &self.named {
                for np in named
                    .iter()
                    .filter(|n| &n.name == name && n.protocol == *protocol)
                {
                    out.insert(*protocol, np.port, np.port);
                }
            }
        }
        out
    }
}

/// One compiled ingress or egress rule.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    /// Index of its policy in `Cluster::policies`.
    pub policy: u32,
    /// Direction.
    pub direction: Direction,
    /// Index of the rule within the policy's `ingress` or `egress`.
    pub index: u32,
    /// Peers the rule admits, over the peer universe.
    pub peers: FixedBitSet,
    /// Its ports.
    pub ports: RulePorts,
}

/// Everything selectors need to know about the peer universe.
pub struct PeerUniverse<'a> {
    /// The cluster (for namespace labels).
    pub cluster: &'a Cluster,
    /// Endpoint classes (peers `0..classes.len()`).
    pub classes: &'a [EndpointClass],
    /// The atoms.
    pub atoms: &'a IpAtoms,
    /// External peers (peers `classes.len()..`): their atom ids.
    pub external: &'a [u32],
    /// Whether ipBlocks match pod addresses.
    pub ipblock_matches_pods: bool,
    /// Class ids per namespace, so selectors only visit the namespaces they can match.
    pub by_namespace: &'a BTreeMap<String, Vec<u32>>,
    /// Atoms that ipBlocks and CIDR peers never match (node addresses under Cilium).
    pub cidr_excluded: &'a FixedBitSet,
}

impl PeerUniverse<'_> {
    /// Number of peers.
    pub fn len(&self) -> usize {
        self.classes.len() + self.external.len()
    }

    /// True when there are no peers at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn namespace_matches(&self, selector: &LabelSelector, namespace: &str) -> bool {
        self.cluster
            .namespace_labels(namespace)
            .is_some_and(|labels| matches(selector, labels))
    }

    /// True when a pod/namespace selector peer of a policy in `policy_ns` matches class `c`.
    pub fn pods_peer_matches(
        &self,
        policy_ns: &str,
        pod_selector: Option<&LabelSelector>,
        namespace_selector: Option<&LabelSelector>,
        c: &EndpointClass,
    ) -> bool {
        if c.host_network {
            return false;
        }
        let ns_ok = match namespace_selector {
            None => c.namespace == policy_ns,
            Some(s) => self.namespace_matches(s, &c.namespace),
        };
        ns_ok && pod_selector.is_none_or(|s| matches(s, &c.labels))
    }

    /// The bitset of peers a rule's `from`/`to` admits.
    pub fn rule_peers(&self, policy: &NetworkPolicy, rule: &PolicyRule) -> FixedBitSet {
        let mut set = FixedBitSet::with_capacity(self.len());
        if rule.peers.is_empty() {
            set.insert_range(..);
            return set;
        }
        for peer in &rule.peers {
            match peer {
                Peer::Pods {
                    pod_selector,
                    namespace_selector,
                } => {
                    let namespaces: Vec<&Vec<u32>> = match namespace_selector {
                        None => self
                            .by_namespace
                            .get(&policy.namespace)
                            .into_iter()
                            .collect(),
                        Some(s) => self
                            .by_namespace
                            .iter()
                            .filter(|(ns, _)| self.namespace_matches(s, ns))
                            .map(|(_, ids)| ids)
                            .collect(),
                    };
                    for &i in namespaces.into_iter().flatten() {
                        let c = &self.classes[i as usize];
                        if !c.host_network
                            && pod_selector.as_ref().is_none_or(|s| matches(s, &c.labels))
                        {
                            set.insert(i as usize);
                        }
                    }
                }
                Peer::IpBlock(block) => {
                    let inside = block_atoms_set(self.atoms, block);
                    for (j, atom) in self.external.iter().enumerate() {
                        if inside.contains(*atom as usize)
                            && !self.cidr_excluded.contains(*atom as usize)
                        {
                            set.insert(self.classes.len() + j);
                        }
                    }
                    if self.ipblock_matches_pods {
                        for (i, c) in self.classes.iter().enumerate() {
                            let hit = match &c.address {
                                ClassAddress::NotMatched => false,
                                ClassAddress::Unknown => block_covers_family(block),
                                ClassAddress::Atoms(ids) => {
                                    ids.iter().any(|a| inside.contains(*a as usize))
                                }
                            };
                            if hit {
                                set.insert(i);
                            }
                        }
                    }
                }
            }
        }
        set
    }
}

/// True when `policy` selects class `c` (same namespace, pod selector matches, not a
/// hostNetwork pod).
pub fn selects(policy: &NetworkPolicy, c: &EndpointClass) -> bool {
    !c.host_network && c.namespace == policy.namespace && matches(&policy.pod_selector, &c.labels)
}
