//! Compiles NetworkPolicies into rules over peers: each rule's peers become a bitset over
//! the peer universe (endpoint classes, then external atoms), each rule's ports a
//! [`RulePorts`] resolved per destination.

use std::collections::BTreeMap;

use fixedbitset::FixedBitSet;
use kubesurface_model::{
    Cluster, IpBlock, LabelSelector, NetworkPolicy, Peer, PolicyRule, PortSpec, Protocol,
};

use crate::atoms::{IpAtoms, block_atoms_set, block_covers_family};
use crate::classes::{ClassAddress, EndpointClass, NamedPort};
use crate::portset::PortSet;
use crate::selector::matches;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

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

    /// The classes of `namespaces` (class ids per namespace) that a pod selector (none:
    /// every pod) admits.
    fn pods_peer_set(
        &self,
        pod_selector: Option<&LabelSelector>,
        namespaces: &[&Vec<u32>],
    ) -> FixedBitSet {
        let mut set = FixedBitSet::with_capacity(self.len());
        for &i in namespaces.iter().copied().flatten() {
            let c = &self.classes[i as usize];
            if !c.host_network && pod_selector.is_none_or(|s| matches(s, &c.labels)) {
                set.insert(i as usize);
            }
        }
        set
    }

    /// The peers an ipBlock admits: external atoms inside it (but for those CIDR peers
    /// never match), and classes whose addresses are inside it when ipBlocks match pods.
    fn block_set(&self, block: &IpBlock) -> FixedBitSet {
        let mut set = FixedBitSet::with_capacity(self.len());
        let inside = block_atoms_set(self.atoms, block);
        for (j, atom) in self.external.iter().enumerate() {
            if inside.contains(*atom as usize) && !self.cidr_excluded.contains(*atom as usize) {
                set.insert(self.classes.len() + j);
            }
        }
        if self.ipblock_matches_pods {
            for (i, c) in self.classes.iter().enumerate() {
                let hit = match &c.address {
                    ClassAddress::NotMatched => false,
                    ClassAddress::Unknown => block_covers_family(block),
                    ClassAddress::Atoms(ids) => ids.iter().any(|a| inside.contains(*a as usize)),
                };
                if hit {
                    set.insert(i);
                }
            }
        }
        set
    }

    /// The bitset of peers a rule's `from`/`to` admits; its peers come from `pods`, which
    /// must have seen the rule's policy.
    pub fn rule_peers(
        &self,
        policy: &NetworkPolicy,
        rule: &PolicyRule,
        pods: &PeerSets<'_>,
    ) -> FixedBitSet {
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
                    let key = PeerSets::key(policy, pod_selector, namespace_selector);
                    set.union_with(&pods.sets[pods.index[&key] as usize]);
                }
                Peer::IpBlock(block) => {
                    set.union_with(&pods.blocks[pods.block_index[block] as usize]);
                }
            }
        }
        set
    }
}

/// A pod/namespace selector peer, as far as what it admits goes: the policy's namespace
/// (only when there is no namespace selector), the pod selector, the namespace selector.
type PodPeerKey<'p> = (
    Option<&'p str>,
    Option<&'p LabelSelector>,
    Option<&'p LabelSelector>,
);

/// What each distinct peer of the policies admits, computed once: policies repeat their
/// peers (from the ingress namespace, from monitoring, from the same app, the same
/// ipBlock), and a namespace selector is matched against the namespaces once.
pub struct PeerSets<'p> {
    index: FxHashMap<PodPeerKey<'p>, u32>,
    sets: Vec<FixedBitSet>,
    block_index: FxHashMap<&'p IpBlock, u32>,
    blocks: Vec<FixedBitSet>,
}

impl<'p> PeerSets<'p> {
    fn key(
        policy: &'p NetworkPolicy,
        pod_selector: &'p Option<LabelSelector>,
        namespace_selector: &'p Option<LabelSelector>,
    ) -> PodPeerKey<'p> {
        (
            namespace_selector
                .is_none()
                .then_some(policy.namespace.as_str()),
            pod_selector.as_ref(),
            namespace_selector.as_ref(),
        )
    }

    /// Evaluates every peer of `policies` over `universe`.
    pub fn new(universe: &PeerUniverse<'_>, policies: &'p [NetworkPolicy]) -> Self {
        let mut index: FxHashMap<PodPeerKey<'p>, u32> = FxHashMap::default();
        let mut keys: Vec<PodPeerKey<'p>> = Vec::new();
        let mut ns_index: FxHashMap<&'p LabelSelector, usize> = FxHashMap::default();
        let mut ns_selectors: Vec<&'p LabelSelector> = Vec::new();
        let mut block_index: FxHashMap<&'p IpBlock, u32> = FxHashMap::default();
        let mut block_list: Vec<&'p IpBlock> = Vec::new();
        for policy in policies {
            for rule in policy.ingress.iter().chain(&policy.egress) {
                for peer in &rule.peers {
                    let (pod_selector, namespace_selector) = match peer {
                        Peer::Pods {
                            pod_selector,
                            namespace_selector,
                        } => (pod_selector, namespace_selector),
                        Peer::IpBlock(block) => {
                            block_index.entry(block).or_insert_with(|| {
                                block_list.push(block);
                                (block_list.len() - 1) as u32
                            });
                            continue;
                        }
                    };
                    let key = Self::key(policy, pod_selector, namespace_selector);
                    index.entry(key).or_insert_with(|| {
                        keys.push(key);
                        (keys.len() - 1) as u32
                    });
                    if let Some(s) = namespace_selector {
                        ns_index.entry(s).or_insert_with(|| {
                            ns_selectors.push(s);
                            ns_selectors.len() - 1
                        });
                    }
                }
            }
        }
        let ns_classes: Vec<Vec<&Vec<u32>>> = ns_selectors
            .par_iter()
            .map(|s| {
                universe
                    .by_namespace
                    .iter()
                    .filter(|(ns, _)| universe.namespace_matches(s, ns))
                    .map(|(_, ids)| ids)
                    .collect()
            })
            .collect();
        let sets = keys
            .par_iter()
            .map(|&(policy_ns, pod_selector, namespace_selector)| {
                let own;
                let namespaces: &[&Vec<u32>] = match namespace_selector {
                    Some(s) => &ns_classes[ns_index[s]],
                    None => {
                        own = universe
                            .by_namespace
                            .get(policy_ns.unwrap_or_default())
                            .into_iter()
                            .collect::<Vec<_>>();
                        &own
                    }
                };
                universe.pods_peer_set(pod_selector, namespaces)
            })
            .collect();
        let blocks = block_list
            .par_iter()
            .map(|b| universe.block_set(b))
            .collect();
        PeerSets {
            index,
            sets,
            block_index,
            blocks,
        }
    }
}

/// True when `policy` selects class `c` (same namespace, pod selector matches, not a
/// hostNetwork pod).
pub fn selects(policy: &NetworkPolicy, c: &EndpointClass) -> bool {
    !c.host_network && c.namespace == policy.namespace && matches(&policy.pod_selector, &c.labels)
}
