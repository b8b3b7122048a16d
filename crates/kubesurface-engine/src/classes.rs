//! Endpoint equivalence classes: endpoints that no NetworkPolicy can tell apart.
//!
//! Two endpoints are equivalent when they share namespace, labels, named ports, hostNetwork
//! flag and the IP atoms of their addresses (when ipBlocks match pod IPs). Every selector,
//! ipBlock and named-port resolution gives the same answer for both, so the engine
//! evaluates classes and expands them to endpoints only when rendering.

use kubesurface_model::{Cluster, Labels, Protocol};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::atoms::{AtomId, IpAtoms};

/// What ipBlocks can know about a class's addresses.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClassAddress {
    /// ipBlocks do not match pod addresses (the `--ipblock-matches-pods false` setting).
    NotMatched,
    /// The address is not in the input (templates, pods without status).
    Unknown,
    /// The atoms of the endpoint's addresses (one per family for dual-stack pods).
    Atoms(Vec<AtomId>),
}

/// A named containerPort: what policy and Service named ports resolve against.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedPort {
    /// The port name.
    pub name: String,
    /// Its protocol.
    pub protocol: Protocol,
    /// Its number.
    pub port: u16,
}

/// One class of equivalent endpoints.
#[derive(Clone, Debug)]
pub struct EndpointClass {
    /// Namespace.
    pub namespace: String,
    /// Labels.
    pub labels: Labels,
    /// Named container ports, sorted.
    pub named_ports: Vec<NamedPort>,
    /// Address knowledge.
    pub address: ClassAddress,
    /// The node of a hostNetwork endpoint, when node identity matters (policies with node
    /// subjects or peers); else `None`.
    pub node: Option<String>,
    /// The service account, when policies select by service account; else `None`.
    pub service_account: Option<String>,
    /// `hostNetwork: true`: policies never select it and selectors never match it.
    pub host_network: bool,
    /// Indices into `Cluster::endpoints`, ascending.
    pub members: Vec<u32>,
}

/// What, beyond NetworkPolicy v1's needs, classes must tell apart.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClassKeys {
    /// The IP atoms of addresses (ipBlocks or CIDR peers match pod addresses).
    pub addresses: bool,
    /// The node of hostNetwork endpoints (node subjects and peers).
    pub host_nodes: bool,
    /// The service account (Calico service-account selectors).
    pub service_accounts: bool,
}

/// The classes of a cluster and each endpoint's class.
#[derive(Clone, Debug)]
pub struct Classes {
    /// The classes, in order of their first member.
    pub classes: Vec<EndpointClass>,
    /// `class_of[endpoint]`.
    pub class_of: Vec<u32>,
}

impl Classes {
    /// Groups the cluster's endpoints.
    pub fn build(cluster: &Cluster, atoms: &IpAtoms, ipblock_matches_pods: bool) -> Self {
        Self::build_with(
            cluster,
            atoms,
            ClassKeys {
                addresses: ipblock_matches_pods,
                ..ClassKeys::default()
            },
        )
    }

    /// Builds the classes, distinguishing what `keys` asks for.
    pub fn build_with(cluster: &Cluster, atoms: &IpAtoms, keys: ClassKeys) -> Self {
        let ipblock_matches_pods = keys.addresses;
        /// What tells endpoints apart, borrowed from the endpoint.
        #[derive(PartialEq, Eq, Hash)]
        struct Key<'a> {
            labels: &'a Labels,
            /// (name, protocol, port), sorted as `NamedPort` sorts.
            named_ports: Vec<(&'a str, Protocol, u16)>,
            address: ClassAddress,
            host_network: bool,
            node: Option<&'a str>,
            service_account: Option<&'a str>,
        }
        let endpoint_keys: Vec<Key<'_>> = cluster
            .endpoints
            .par_iter()
            .map(|e| {
                let mut named_ports: Vec<(&str, Protocol, u16)> = e
                    .ports
                    .iter()
                    .filter_map(|p| p.name.as_deref().map(|name| (name, p.protocol, p.port)))
                    .collect();
                named_ports.sort_unstable();
                named_ports.dedup();
                let address = if !ipblock_matches_pods {
                    ClassAddress::NotMatched
                } else if e.ips.is_empty() {
                    ClassAddress::Unknown
                } else {
                    let mut ids: Vec<AtomId> = e.ips.iter().map(|ip| atoms.atom_of(*ip)).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    ClassAddress::Atoms(ids)
                };
                Key {
                    labels: &e.labels,
                    named_ports,
                    address,
                    host_network: e.host_network,
                    node: e
                        .node
                        .as_deref()
                        .filter(|_| keys.host_nodes && e.host_network),
                    service_account: keys
                        .service_accounts
                        .then(|| e.service_account.as_deref().unwrap_or("default")),
                }
            })
            .collect();
        // Classes never span namespaces: each namespace is grouped on its own (in
        // parallel), then classes are numbered in order of their first member.
        let mut by_namespace: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        for (i, e) in cluster.endpoints.iter().enumerate() {
            by_namespace.entry(&e.namespace).or_default().push(i as u32);
        }
        let mut groups: Vec<Vec<u32>> = by_namespace
            .into_par_iter()
            .flat_map_iter(|(_, members)| {
                let mut index: FxHashMap<&Key<'_>, usize> = FxHashMap::default();
                let mut local: Vec<Vec<u32>> = Vec::new();
                for i in members {
                    let next = local.len();
                    let c = *index.entry(&endpoint_keys[i as usize]).or_insert(next);
                    if c == next {
                        local.push(Vec::new());
                    }
                    local[c].push(i);
                }
                local
            })
            .collect();
        groups.par_sort_unstable_by_key(|members| members[0]);
        let mut class_of = vec![0u32; cluster.endpoints.len()];
        for (id, members) in groups.iter().enumerate() {
            for &m in members {
                class_of[m as usize] = id as u32;
            }
        }
        // Each class copies its key's labels and names: built in parallel, in order.
        let classes: Vec<EndpointClass> = groups
            .into_par_iter()
            .map(|members| {
                let first = members[0] as usize;
                let key = &endpoint_keys[first];
                EndpointClass {
                    namespace: cluster.endpoints[first].namespace.clone(),
                    labels: key.labels.clone(),
                    named_ports: key
                        .named_ports
                        .iter()
                        .map(|&(name, protocol, port)| NamedPort {
                            name: name.to_string(),
                            protocol,
                            port,
                        })
                        .collect(),
                    address: key.address.clone(),
                    host_network: key.host_network,
                    node: key.node.map(str::to_string),
                    service_account: key.service_account.map(str::to_string),
                    members,
                }
            })
            .collect();
        Classes { classes, class_of }
    }
}
