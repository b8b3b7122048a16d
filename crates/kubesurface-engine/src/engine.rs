//! The engine: classes, compiled rules and the verdict for a pair of peers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use kubesurface_model::{Cluster, Peer};
use rayon::prelude::*;

use crate::atoms::{Family, IpAtoms};
use crate::classes::{ClassKeys, Classes, EndpointClass};
use crate::compile::{CompiledRule, Direction, PeerSets, PeerUniverse, RulePorts, selects};
use crate::portset::PortSet;
use crate::settings::Settings;
use crate::tiered::{Step, Tiered};

/// A peer: an endpoint class (`< class_count`) or an external atom.
pub type PeerId = u32;

/// A cluster compiled for evaluation.
pub struct Engine<'c> {
    /// The cluster.
    pub cluster: &'c Cluster,
    /// Settings used by every verdict.
    pub settings: Settings,
    /// IP atoms.
    pub atoms: IpAtoms,
    /// Endpoint classes.
    pub classes: Classes,
    /// External peers: atom ids, in address order (IPv4 first).
    pub external: Vec<u32>,
    /// Compiled rules, in policy order (a policy's rules are contiguous, ingress before
    /// egress, each in spec order).
    pub rules: Vec<CompiledRule>,
    /// Per class: `None` when no policy isolates it for ingress, else its ingress rules.
    pub ingress: Vec<Option<Vec<u32>>>,
    /// Per class: `None` when no policy isolates it for egress, else its egress rules.
    pub egress: Vec<Option<Vec<u32>>>,
    /// The policy dialects (admin, Calico, Cilium): per peer and direction, the plan that
    /// replaces the NetworkPolicy v1 verdict when a dialect policy selects the peer.
    pub tiered: Tiered,
}

impl<'c> Engine<'c> {
    /// Compiles `cluster` under `settings`.
    pub fn new(cluster: &'c Cluster, settings: Settings) -> Self {
        let blocks: Vec<_> = cluster
            .policies
            .iter()
            .flat_map(|p| p.ingress.iter().chain(&p.egress))
            .flat_map(|r| &r.peers)
            .filter_map(|peer| match peer {
                Peer::IpBlock(b) => Some(b),
                Peer::Pods { .. } => None,
            })
            .collect();
        let needs = crate::tiered::needs(cluster, &settings);
        let atoms = IpAtoms::new(blocks.iter().copied().chain(&needs.blocks));
        let uses_v6 = blocks
            .iter()
            .copied()
            .chain(&needs.blocks)
            .any(|b| b.cidr.addr().is_ipv6())
            || cluster
                .endpoints
                .iter()
                .flat_map(|e| &e.ips)
                .any(IpAddr::is_ipv6);
        let mut external: Vec<u32> = atoms.family_ids(Family::V4).collect();
        if uses_v6 {
            external.extend(atoms.family_ids(Family::V6));
        }
        let classes = Classes::build_with(
            cluster,
            &atoms,
            ClassKeys {
                addresses: settings.ipblock_matches_pods || needs.addresses,
                host_nodes: needs.host_nodes,
                service_accounts: needs.service_accounts,
            },
        );

        let mut by_namespace: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (i, c) in classes.classes.iter().enumerate() {
            by_namespace
                .entry(c.namespace.clone())
                .or_default()
                .push(i as u32);
        }
        // Under Cilium, CIDR selectors (ipBlocks included) never select in-cluster entities:
        // the atoms holding exactly a node address are out of their reach.
        let mut cidr_excluded = fixedbitset::FixedBitSet::with_capacity(atoms.atoms().len());
        if settings.cni == kubesurface_model::Cni::Cilium {
            for ip in cluster.nodes.values().flat_map(|n| n.ips()) {
                let id = atoms.atom_of(ip);
                let a = atoms.atoms()[id as usize];
                if a.lo == a.hi {
                    cidr_excluded.insert(id as usize);
                }
            }
        }
        let universe = PeerUniverse {
            by_namespace: &by_namespace,
            cluster,
            classes: &classes.classes,
            atoms: &atoms,
            external: &external,
            ipblock_matches_pods: settings.ipblock_matches_pods,
            cidr_excluded: &cidr_excluded,
        };
        let peer_sets = PeerSets::new(&universe, &cluster.policies);
        // Each policy compiles independently (in parallel); merging keeps policy order.
        let compiled: Vec<(Vec<usize>, Vec<CompiledRule>)> = cluster
            .policies
            .par_iter()
            .enumerate()
            .map(|(pi, policy)| {
                let selected: Vec<usize> = by_namespace
                    .get(&policy.namespace)
                    .into_iter()
                    .flatten()
                    .map(|&i| i as usize)
                    .filter(|&i| selects(policy, &classes.classes[i]))
                    .collect();
                let mut rules = Vec::new();
                for (direction, affects, policy_rules) in [
                    (Direction::Ingress, policy.affects_ingress, &policy.ingress),
                    (Direction::Egress, policy.affects_egress, &policy.egress),
                ] {
                    if !affects {
                        continue;
                    }
                    for (ri, rule) in policy_rules.iter().enumerate() {
                        rules.push(CompiledRule {
                            policy: pi as u32,
                            direction,
                            index: ri as u32,
                            peers: universe.rule_peers(policy, rule, &peer_sets),
                            ports: RulePorts::new(rule),
                        });
                    }
                }
                (selected, rules)
            })
            .collect();
        let mut rules = Vec::new();
        let mut ingress: Vec<Option<Vec<u32>>> = vec![None; classes.classes.len()];
        let mut egress: Vec<Option<Vec<u32>>> = vec![None; classes.classes.len()];
        for ((selected, policy_rules), policy) in compiled.into_iter().zip(&cluster.policies) {
            let first = rules.len() as u32;
            rules.extend(policy_rules);
            for (direction, affects, table) in [
                (Direction::Ingress, policy.affects_ingress, &mut ingress),
                (Direction::Egress, policy.affects_egress, &mut egress),
            ] {
                if !affects {
                    continue;
                }
                let ids: Vec<u32> = (first..rules.len() as u32)
                    .filter(|&r| rules[r as usize].direction == direction)
                    .collect();
                for &c in &selected {
                    table[c].get_or_insert_with(Vec::new).extend(&ids);
                }
            }
        }
        debug_assert!(rules.windows(2).all(|w| w[0].policy <= w[1].policy));
        let rule_policy: Vec<u32> = rules.iter().map(|r| r.policy).collect();
        let tiered = crate::tiered::compile(&universe, &settings, &ingress, &egress, &rule_policy);
        Engine {
            cluster,
            settings,
            atoms,
            classes,
            external,
            rules,
            ingress,
            egress,
            tiered,
        }
    }

    /// True when something denies ingress to class `c` by default: a NetworkPolicy v1
    /// isolates it, or a dialect policy's tier falls to Deny for it, or a dialect rule denies
    /// every peer.
    pub fn ingress_isolated(&self, c: usize) -> bool {
        self.ingress[c].is_some() || self.plan_isolates(self.tiered.ingress[c])
    }

    /// [`Engine::ingress_isolated`] for egress.
    pub fn egress_isolated(&self, c: usize) -> bool {
        self.egress[c].is_some() || self.plan_isolates(self.tiered.egress[c])
    }

    fn plan_isolates(&self, plan: Option<u32>) -> bool {
        let Some(plan) = plan else { return false };
        let peers = self.peer_count();
        self.tiered.plans[plan as usize].tiers.iter().any(|t| {
            (t.isolates
                && self.tiered.tiers[t.tier as usize].default_action
                    == kubesurface_model::Action::Deny)
                || t.steps.iter().any(|s| match s {
                    Step::Rule(r) => {
                        let rule = &self.tiered.rules[*r as usize];
                        rule.action == kubesurface_model::Action::Deny
                            && rule.peers.count_ones(..) == peers
                    }
                    Step::NetworkPolicy(_) => false,
                })
        })
    }

    /// Number of peers (classes then external atoms).
    pub fn peer_count(&self) -> usize {
        self.classes.classes.len() + self.external.len()
    }

    /// The class of a peer, or `None` for an external atom.
    pub fn class(&self, peer: PeerId) -> Option<&EndpointClass> {
        self.classes.classes.get(peer as usize)
    }

    /// `ext:CIDR` or `ext:FIRST-LAST` for an external peer.
    pub fn external_name(&self, peer: PeerId) -> String {
        let atom = self.external[peer as usize - self.classes.classes.len()];
        format!("ext:{}", self.atoms.atoms()[atom as usize].name())
    }

    /// What the destination's ingress side admits from `src`.
    pub fn ingress_allowed(&self, dst: PeerId, src: PeerId) -> PortSet {
        if let Some(plan) = self.tiered.ingress[dst as usize] {
            let d = self.class(dst);
            let named = d.map(|c| c.named_ports.as_slice());
            return crate::tiered::evaluate(
                &self.tiered,
                &self.tiered.plans[plan as usize],
                |step| match step {
                    Step::NetworkPolicy(pi) => {
                        self.union_of_policy(self.ingress[dst as usize].as_deref(), pi, src, d)
                    }
                    Step::Rule(r) => self.tiered_rule_ports(r, src, named),
                },
            );
        }
        let Some(d) = self.class(dst) else {
            return PortSet::full(); // outside the cluster: no policy applies
        };
        if d.host_network {
            return PortSet::full();
        }
        self.union_of(self.ingress[dst as usize].as_deref(), src, Some(d))
    }

    /// What the source's egress side admits towards `dst`.
    pub fn egress_allowed(&self, src: PeerId, dst: PeerId) -> PortSet {
        if let Some(plan) = self.tiered.egress[src as usize] {
            let d = self.class(dst);
            let named = d.map(|c| c.named_ports.as_slice());
            return crate::tiered::evaluate(
                &self.tiered,
                &self.tiered.plans[plan as usize],
                |step| match step {
                    Step::NetworkPolicy(pi) => {
                        self.union_of_policy(self.egress[src as usize].as_deref(), pi, dst, d)
                    }
                    Step::Rule(r) => self.tiered_rule_ports(r, dst, named),
                },
            );
        }
        let Some(s) = self.class(src) else {
            return PortSet::full();
        };
        if s.host_network {
            return PortSet::full();
        }
        self.union_of(self.egress[src as usize].as_deref(), dst, self.class(dst))
    }

    /// The ports dialect rule `r` matches towards `peer` (empty when its peers do not
    /// match); named ports resolve on the destination.
    fn tiered_rule_ports(
        &self,
        r: u32,
        peer: PeerId,
        dst_named: Option<&[crate::classes::NamedPort]>,
    ) -> PortSet {
        let rule = &self.tiered.rules[r as usize];
        if rule.peers.contains(peer as usize) {
            rule.resolve(dst_named)
        } else {
            PortSet::empty()
        }
    }

    /// [`Engine::union_of`] restricted to the rules of one NetworkPolicy.
    fn union_of_policy(
        &self,
        rules: Option<&[u32]>,
        policy: u32,
        peer: PeerId,
        dst: Option<&EndpointClass>,
    ) -> PortSet {
        let mine: Vec<u32> = rules
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|&r| self.rules[r as usize].policy == policy)
            .collect();
        self.union_of(Some(&mine), peer, dst)
    }

    fn union_of(
        &self,
        rules: Option<&[u32]>,
        peer: PeerId,
        dst: Option<&EndpointClass>,
    ) -> PortSet {
        let Some(rules) = rules else {
            return PortSet::full();
        };
        let mut out = PortSet::empty();
        for &r in rules {
            let rule = &self.rules[r as usize];
            if rule.peers.contains(peer as usize) {
                out.union_with(&rule.ports.resolve(dst.map(|c| c.named_ports.as_slice())));
                if out.is_full() {
                    break;
                }
            }
        }
        out
    }

    /// The NetworkPolicy verdict for `src → dst` between peers: the ports both the
    /// source's egress and the destination's ingress allow. External-to-external is empty.
    /// Node-origin traffic is not considered here (see [`Engine::endpoint_verdict`]).
    pub fn class_verdict(&self, src: PeerId, dst: PeerId) -> PortSet {
        if self.class(src).is_none() && self.class(dst).is_none() {
            return PortSet::empty();
        }
        let ingress = self.ingress_allowed(dst, src);
        if ingress.is_empty() {
            return ingress;
        }
        ingress.intersect(&self.egress_allowed(src, dst))
    }

    /// True when endpoint `src` is a hostNetwork pod on the same (known) node as `dst`:
    /// traffic from a pod's own node is always allowed.
    pub fn same_node_host_traffic(&self, src: usize, dst: usize) -> bool {
        let (s, d) = (&self.cluster.endpoints[src], &self.cluster.endpoints[dst]);
        s.host_network && s.node.is_some() && s.node == d.node
    }

    /// The verdict between two endpoints (indices into `Cluster::endpoints`), including
    /// the node-origin rule.
    pub fn endpoint_verdict(&self, src: usize, dst: usize) -> PortSet {
        if self.same_node_host_traffic(src, dst) {
            return PortSet::full();
        }
        self.class_verdict(self.classes.class_of[src], self.classes.class_of[dst])
    }

    /// The external peer holding `ip`, when its family is modelled.
    pub fn external_peer_of(&self, ip: IpAddr) -> Option<PeerId> {
        let atom = self.atoms.atom_of(ip);
        self.external
            .iter()
            .position(|&a| a == atom)
            .map(|j| (self.classes.classes.len() + j) as PeerId)
    }

    /// External peers whose range overlaps `net`.
    pub fn external_peers_overlapping(&self, net: &ipnet::IpNet) -> Vec<PeerId> {
        let (lo, hi) = (net.network(), net.broadcast());
        self.external
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                let atom = self.atoms.atoms()[**a as usize];
                atom.overlaps(lo, hi)
            })
            .map(|(j, _)| (self.classes.classes.len() + j) as PeerId)
            .collect()
    }

    /// What `dst`'s ingress admits from an address the input does not know (a node whose
    /// Node object is absent): only rules whose peers are empty or include an ipBlock that
    /// covers a whole address family without exceptions.
    pub fn ingress_from_unknown_address(&self, dst: PeerId) -> PortSet {
        let Some(d) = self.class(dst) else {
            return PortSet::empty();
        };
        if d.host_network {
            return PortSet::full();
        }
        let Some(rules) = self.ingress[dst as usize].as_deref() else {
            return PortSet::full();
        };
        let mut out = PortSet::empty();
        for &r in rules {
            let rule = &self.rules[r as usize];
            let source = &self.cluster.policies[rule.policy as usize].ingress[rule.index as usize];
            let admits = source.peers.is_empty()
                || source.peers.iter().any(|p| match p {
                    Peer::IpBlock(b) => crate::atoms::block_covers_family(b),
                    Peer::Pods { .. } => false,
                });
            if admits {
                out.union_with(&rule.ports.resolve(Some(&d.named_ports)));
            }
        }
        out
    }
}
