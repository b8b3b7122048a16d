//! Endpoint equivalence classes: endpoints that no NetworkPolicy can tell apart.
//!
//! Two endpoints are equivalent when they share namespace, labels, named ports, hostNetwork
//! flag and the IP atoms of their addresses (when ipBlocks match pod IPs). Every selector,
//! ipBlock and named-port resolution gives the same answer for both, so the engine
//! evaluates classes and expands them to endpoints only when rendering.

use std::collections::HashMap;

use kubesurface_model::{Cluster, Labels, Protocol};

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
        type Key = (
            String,
            Labels,
            Vec<NamedPort>,
            ClassAddress,
            bool,
            Option<String>,
            Option<String>,
        );
        let mut index: HashMap<Key, u32> = HashMap::new();
        let mut classes: Vec<EndpointClass> = Vec::new();
        let mut class_of = Vec::with_capacity(cluster.endpoints.len());
        for (i, e) in cluster.endpoints.iter().enumerate() {
            let mut named_ports: Vec<NamedPort> = e
                .ports
                .iter()
                .filter_map(|p| {
                    p.name.as_ref().map(|name| NamedPort {
                        name: name.clone(),
                        protocol: p.protocol,
                        port: p.port,
                    })
                })
                .collect();
            named_ports.sort();
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
            let key: Key = (
                e.namespace.clone(),
                e.labels.clone(),
                named_ports,
                address,
                e.host_network,
                e.node.clone().filter(|_| keys.host_nodes && e.host_network),
                if keys.service_accounts {
                    Some(
                        e.service_account
                            .clone()
                            .unwrap_or_else(|| "default".into()),
                    )
                } else {
                    None
                },
            );
            let id = *index.entry(key).or_insert_with_key(|k| {
                classes.push(EndpointClass {
                    namespace: k.0.clone(),
                    labels: k.1.clone(),
                    named_ports: k.2.clone(),
                    address: k.3.clone(),
                    host_network: k.4,
                    node: k.5.clone(),
                    service_account: k.6.clone(),
                    members: Vec::new(),
                });
                (classes.len() - 1) as u32
            });
            classes[id as usize].members.push(i as u32);
            class_of.push(id);
        }
        Classes { classes, class_of }
    }
}
