//! The engine's policy-dialect evaluation against a deliberately naive reference.
//!
//! The reference below is written from the semantics alone — the module doc of
//! `kubesurface_model::dialect` (tiers, orders, actions, end-of-tier default action), the
//! per-CNI table of `docs/semantics.md` (which dialects each `--cni` enforces) and the
//! NetworkPolicy v1 API reference — one (source, destination, port, protocol) at a time,
//! with no classes, atoms, bitsets, plans or port sets. It shares no code with the engine
//! beyond the model types (and `Settings`, the engine's input). A property test generates
//! small clusters (namespaces, nodes with addresses, hostNetwork pods, service accounts,
//! named ports, NetworkPolicies, tiers, and dialect policies of every shape) whose
//! selectors, addresses and ports collide often, and compares every pod pair, a set of
//! external and node addresses, against the engine's pod-granularity connectivity; sampled
//! pairs (pods, addresses, nodes) are also compared with `explain`. Plain unit tests below
//! pin single rules, with the expected verdict stated from the docs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use kubesurface_engine::explain::{PeerRef, explain};
use kubesurface_engine::{Engine, PortSet, Settings};
use kubesurface_model::{
    ADMIN_TIER, Action, BASELINE_TIER, Cluster, Cni, ContainerPort, DEFAULT_TIER, Dialect,
    Endpoint, Entity, HostEndpoint, IpBlock, LabelExpr, LabelSelector, Labels, METADATA_NAME_LABEL,
    Namespace, NamespaceMatch, NetworkPolicy, Node, NodeAddress, Operator, Peer, PodMatch,
    PolicyPort, PolicyRule, PolicyTier, PortSpec, Protocol, Requirement, ServiceAccount,
    ServiceAccountMatch, ServiceEndpoint, Source, Subject, TieredPeer, TieredPolicy, TieredRule,
    WorkloadRef,
};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------
// The naive reference
// ---------------------------------------------------------------------------------------

mod reference {
    use super::*;

    /// One end of a connection.
    #[derive(Clone, Copy, Debug)]
    pub enum Other<'a> {
        /// A pod (or workload representative) of the cluster.
        Pod(&'a Endpoint),
        /// An address that is not a pod of the input (possibly a node's address).
        Addr(IpAddr),
        /// A node by name (its processes and hostNetwork pods), as `explain` takes it.
        Node(&'a Node),
    }

    // --- Which dialects apply (docs/semantics.md, "Per-CNI behaviour") -----------------

    /// Admin policies under `generic` and `calico` (Cilium does not implement them);
    /// Calico's only under `calico`; Cilium's only under `cilium`.
    pub fn enforced(cni: Cni, dialect: Dialect) -> bool {
        match dialect {
            Dialect::AdminNetworkPolicy
            | Dialect::BaselineAdminNetworkPolicy
            | Dialect::ClusterNetworkPolicy => cni != Cni::Cilium,
            Dialect::CalicoNetworkPolicy | Dialect::CalicoGlobalNetworkPolicy => cni == Cni::Calico,
            Dialect::CiliumNetworkPolicy | Dialect::CiliumClusterwideNetworkPolicy => {
                cni == Cni::Cilium
            }
        }
    }

    // --- NetworkPolicy v1 (as in naive_reference.rs) -----------------------------------

    /// `metav1.LabelSelector` semantics.
    pub fn selector_matches(sel: &LabelSelector, labels: &Labels) -> bool {
        sel.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && sel.match_expressions.iter().all(|req| {
                let value = labels.get(&req.key);
                match req.operator {
                    Operator::In => value.is_some_and(|v| req.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !req.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }

    /// The addresses of one end; `None` when unknown.
    pub fn addresses(other: Other<'_>) -> Option<Vec<IpAddr>> {
        match other {
            Other::Pod(ep) => (!ep.ips.is_empty()).then(|| ep.ips.clone()),
            Other::Addr(ip) => Some(vec![ip]),
            Other::Node(n) => {
                let ips = node_ips(n);
                (!ips.is_empty()).then_some(ips)
            }
        }
    }

    fn v1_peer_matches(
        cluster: &Cluster,
        settings: Settings,
        policy: &NetworkPolicy,
        peer: &Peer,
        other: Other<'_>,
    ) -> bool {
        match peer {
            Peer::Pods {
                pod_selector,
                namespace_selector,
            } => {
                let Other::Pod(ep) = other else {
                    return false;
                };
                if ep.host_network {
                    return false;
                }
                let ns_ok = match namespace_selector {
                    None => ep.namespace == policy.namespace,
                    Some(sel) => selector_matches(sel, &cluster.namespaces[&ep.namespace].labels),
                };
                ns_ok
                    && pod_selector
                        .as_ref()
                        .is_none_or(|sel| selector_matches(sel, &ep.labels))
            }
            Peer::IpBlock(block) => {
                if matches!(other, Other::Pod(_)) && !settings.ipblock_matches_pods {
                    return false;
                }
                // Cilium: CIDR selectors (ipBlocks included) select only world addresses,
                // never a node (docs/semantics.md, per-CNI table; Cilium's "CIDR-based"
                // policy docs: not for IPs of nodes in the cluster).
                if settings.cni == Cni::Cilium && is_node(cluster, other) {
                    return false;
                }
                let inside = |ip: &IpAddr| {
                    block.cidr.contains(ip) && !block.except.iter().any(|e| e.contains(ip))
                };
                match addresses(other) {
                    Some(ips) => ips.iter().any(inside),
                    // Unknown address: only a block covering its whole family is sure to hold it.
                    None => block.cidr.prefix_len() == 0 && block.except.is_empty(),
                }
            }
        }
    }

    /// Does one port entry admit `port/proto` towards `dst`? Named ports resolve on the
    /// destination pod's containerPorts with that name and protocol; never elsewhere.
    fn port_entry_matches(pp: &PolicyPort, dst: Other<'_>, proto: Protocol, port: u16) -> bool {
        if pp.protocol != proto {
            return false;
        }
        match &pp.port {
            PortSpec::All => true,
            PortSpec::Range(lo, hi) => *lo <= port && port <= *hi,
            PortSpec::Named(name) => match dst {
                Other::Pod(d) => d.ports.iter().any(|cp| {
                    cp.name.as_deref() == Some(name.as_str())
                        && cp.protocol == proto
                        && cp.port == port
                }),
                Other::Addr(_) | Other::Node(_) => false,
            },
        }
    }

    fn any_port(ports: &[PolicyPort], dst: Other<'_>, proto: Protocol, port: u16) -> bool {
        ports
            .iter()
            .any(|pp| port_entry_matches(pp, dst, proto, port))
    }

    /// The v1 policies isolating `subject` for the direction (never a hostNetwork pod, an
    /// address or a node).
    pub fn v1_isolating<'c>(
        cluster: &'c Cluster,
        subject: Other<'_>,
        ingress: bool,
    ) -> Vec<&'c NetworkPolicy> {
        let Other::Pod(ep) = subject else {
            return Vec::new();
        };
        if ep.host_network {
            return Vec::new();
        }
        cluster
            .policies
            .iter()
            .filter(|p| {
                if ingress {
                    p.affects_ingress
                } else {
                    p.affects_egress
                }
            })
            .filter(|p| {
                p.namespace == ep.namespace && selector_matches(&p.pod_selector, &ep.labels)
            })
            .collect()
    }

    /// Does one v1 policy admit `other` (for the direction) on `port/proto` to `dst`?
    #[allow(clippy::too_many_arguments)]
    pub fn v1_admits(
        cluster: &Cluster,
        settings: Settings,
        p: &NetworkPolicy,
        other: Other<'_>,
        dst: Other<'_>,
        proto: Protocol,
        port: u16,
        ingress: bool,
    ) -> bool {
        let rules: &[PolicyRule] = if ingress { &p.ingress } else { &p.egress };
        rules.iter().any(|r| {
            (r.peers.is_empty()
                || r.peers
                    .iter()
                    .any(|peer| v1_peer_matches(cluster, settings, p, peer, other)))
                && (r.ports.is_empty() || any_port(&r.ports, dst, proto, port))
        })
    }

    // --- Dialect matching --------------------------------------------------------------

    /// A node's IP addresses (InternalIP/ExternalIP entries that parse).
    pub fn node_ips(n: &Node) -> Vec<IpAddr> {
        n.addresses
            .iter()
            .filter(|a| a.kind == "InternalIP" || a.kind == "ExternalIP")
            .filter_map(|a| a.address.parse().ok())
            .collect()
    }

    fn is_node_address(cluster: &Cluster, ip: IpAddr) -> bool {
        cluster.nodes.values().any(|n| node_ips(n).contains(&ip))
    }

    /// A node, or one of its addresses.
    fn is_node(cluster: &Cluster, other: Other<'_>) -> bool {
        match other {
            Other::Node(_) => true,
            Other::Addr(ip) => is_node_address(cluster, ip),
            Other::Pod(_) => false,
        }
    }

    /// Is the node named `name` selected by a node-level `expr` of a policy of `dialect`?
    /// Calico selects hosts through the labels of their HostEndpoints (a node without one
    /// has no host policy); Cilium's `nodeSelector` and the admin policies match the Node's
    /// own labels (model doc of `Subject::Nodes` and `TieredPeer::Nodes`).
    fn node_selected(cluster: &Cluster, dialect: Dialect, name: &str, expr: &LabelExpr) -> bool {
        match dialect {
            Dialect::CalicoNetworkPolicy | Dialect::CalicoGlobalNetworkPolicy => cluster
                .host_endpoints
                .iter()
                .any(|h| h.node == name && expr.matches(&h.labels)),
            _ => cluster
                .nodes
                .get(name)
                .is_some_and(|n| expr.matches(&n.labels)),
        }
    }

    /// Is `other` (part of) a selected node: a hostNetwork pod on it, one of its addresses,
    /// or the node itself?
    fn on_selected_node(
        cluster: &Cluster,
        dialect: Dialect,
        expr: &LabelExpr,
        other: Other<'_>,
    ) -> bool {
        match other {
            Other::Pod(ep) => {
                ep.host_network
                    && ep
                        .node
                        .as_deref()
                        .is_some_and(|n| node_selected(cluster, dialect, n, expr))
            }
            Other::Addr(ip) => cluster.nodes.values().any(|n| {
                node_ips(n).contains(&ip) && node_selected(cluster, dialect, &n.name, expr)
            }),
            Other::Node(n) => node_selected(cluster, dialect, &n.name, expr),
        }
    }

    /// The labels a Calico or Cilium selector sees on a pod: its own, plus its namespace,
    /// orchestrator and service account under the keys those CNIs give every workload
    /// (Calico: `projectcalico.org/namespace`, `/orchestrator` = `k8s`, `/serviceaccount`;
    /// Cilium: `io.kubernetes.pod.namespace`, `io.cilium.k8s.policy.serviceaccount`). The
    /// service account defaults to `default`, as the API server defaults
    /// `spec.serviceAccountName`.
    pub fn seen_labels(ep: &Endpoint) -> Labels {
        let mut l = ep.labels.clone();
        let sa = ep.service_account.as_deref().unwrap_or("default");
        for (k, v) in [
            ("projectcalico.org/namespace", ep.namespace.as_str()),
            ("io.kubernetes.pod.namespace", ep.namespace.as_str()),
            ("projectcalico.org/orchestrator", "k8s"),
            ("projectcalico.org/serviceaccount", sa),
            ("io.cilium.k8s.policy.serviceaccount", sa),
        ] {
            if !l.contains_key(k) {
                l.insert(k.to_string(), v.to_string());
            }
        }
        l
    }

    fn namespace_ok(cluster: &Cluster, m: &NamespaceMatch, ns: &str) -> bool {
        match m {
            NamespaceMatch::Any => true,
            NamespaceMatch::Named(n) => n == ns,
            NamespaceMatch::Selector(e) => e.matches(&cluster.namespaces[ns].labels),
        }
    }

    /// Does a `PodMatch` cover this endpoint? Never a hostNetwork pod.
    pub fn pod_matches(cluster: &Cluster, m: &PodMatch, ep: &Endpoint) -> bool {
        if ep.host_network || !namespace_ok(cluster, &m.namespaces, &ep.namespace) {
            return false;
        }
        if !m.labels.matches(&seen_labels(ep)) {
            return false;
        }
        let Some(sa) = &m.service_accounts else {
            return true;
        };
        let name = ep.service_account.as_deref().unwrap_or("default");
        if !sa.names.is_empty() && !sa.names.iter().any(|n| n == name) {
            return false;
        }
        match &sa.selector {
            None => true,
            Some(expr) => {
                // A ServiceAccount the input does not hold has no labels.
                let labels = cluster
                    .service_accounts
                    .iter()
                    .find(|s| s.namespace == ep.namespace && s.name == name)
                    .map(|s| s.labels.clone())
                    .unwrap_or_default();
                expr.matches(&labels)
            }
        }
    }

    /// Addresses `ips` (or an unknown address) inside `nets` (`None` = any) and outside
    /// `except`. An unknown address is only surely inside when the nets cover a whole
    /// family and nothing is excepted.
    fn in_networks(ips: Option<Vec<IpAddr>>, nets: Option<&[IpNet]>, except: &[IpNet]) -> bool {
        match ips {
            Some(ips) => ips.iter().any(|ip| {
                nets.is_none_or(|ns| ns.iter().any(|n| n.contains(ip)))
                    && !except.iter().any(|e| e.contains(ip))
            }),
            None => {
                nets.is_none_or(|ns| ns.iter().any(|n| n.prefix_len() == 0)) && except.is_empty()
            }
        }
    }

    fn apiserver_ips(cluster: &Cluster) -> Vec<IpAddr> {
        cluster
            .service_endpoints
            .get(&("default".to_string(), "kubernetes".to_string()))
            .map(|eps| eps.iter().map(|e| e.ip).collect())
            .unwrap_or_default()
    }

    /// Does one peer of a policy of `dialect` match `other`?
    pub fn peer_matches(
        cluster: &Cluster,
        dialect: Dialect,
        peer: &TieredPeer,
        other: Other<'_>,
    ) -> bool {
        match peer {
            TieredPeer::All => true,
            TieredPeer::Pods {
                pods,
                not_labels,
                nets,
                not_nets,
            } => {
                let Other::Pod(ep) = other else {
                    return false;
                };
                pod_matches(cluster, pods, ep)
                    && not_labels
                        .as_ref()
                        .is_none_or(|e| !e.matches(&seen_labels(ep)))
                    && ((nets.is_none() && not_nets.is_empty())
                        || in_networks(addresses(other), nets.as_deref(), not_nets))
            }
            TieredPeer::Nodes(expr) => on_selected_node(cluster, dialect, expr, other),
            TieredPeer::Networks {
                nets,
                except,
                matches_pods,
            } => {
                // CIDR peers that do not match pods (Cilium's) select only world addresses:
                // never a pod, never a node.
                if !matches_pods && (matches!(other, Other::Pod(_)) || is_node(cluster, other)) {
                    return false;
                }
                in_networks(addresses(other), nets.as_deref(), except)
            }
            TieredPeer::Entity(entity) => match (entity, other) {
                (Entity::All, _) => true,
                (Entity::Internal, _) => false,
                // Outside the cluster: neither a pod nor a node.
                (Entity::World, Other::Addr(ip)) => !is_node_address(cluster, ip),
                (Entity::World, _) => false,
                // Every pod and node.
                (Entity::Cluster, Other::Addr(ip)) => is_node_address(cluster, ip),
                (Entity::Cluster, _) => true,
                // The documented approximation (docs/semantics.md): `host` and `remote-node`
                // both stand for every node and every hostNetwork pod.
                (Entity::Host | Entity::RemoteNode, Other::Pod(ep)) => ep.host_network,
                (Entity::Host | Entity::RemoteNode, Other::Addr(ip)) => {
                    is_node_address(cluster, ip)
                }
                (Entity::Host | Entity::RemoteNode, Other::Node(_)) => true,
                // The `default/kubernetes` Service's endpoint addresses, and the API server
                // pods (`component: kube-apiserver` in `kube-system`).
                (Entity::KubeApiserver, Other::Addr(ip)) => apiserver_ips(cluster).contains(&ip),
                (Entity::KubeApiserver, Other::Pod(ep)) => {
                    ep.namespace == "kube-system"
                        && ep.labels.get("component").map(String::as_str) == Some("kube-apiserver")
                }
                (Entity::KubeApiserver, Other::Node(_)) => false,
            },
        }
    }

    /// Does a dialect rule match `other` on `port/proto` towards `dst`? Empty peers match
    /// nothing; empty ports match every port; `not_ports` are taken away.
    pub fn rule_matches(
        cluster: &Cluster,
        dialect: Dialect,
        rule: &TieredRule,
        other: Other<'_>,
        dst: Other<'_>,
        proto: Protocol,
        port: u16,
    ) -> bool {
        rule.peers
            .iter()
            .any(|p| peer_matches(cluster, dialect, p, other))
            && (rule.ports.is_empty() || any_port(&rule.ports, dst, proto, port))
            && !any_port(&rule.not_ports, dst, proto, port)
    }

    /// Does the policy's subject cover `side`? A node subject covers the hostNetwork pods
    /// on the node, the node's addresses and the node itself.
    pub fn subject_covers(cluster: &Cluster, p: &TieredPolicy, side: Other<'_>) -> bool {
        match (&p.subject, side) {
            (Subject::Pods(m), Other::Pod(ep)) => pod_matches(cluster, m, ep),
            (Subject::Pods(_), _) => false,
            (Subject::Nodes(expr), _) => on_selected_node(cluster, p.dialect, expr, side),
        }
    }

    // --- Tiers ----------------------------------------------------------------------------

    /// A tier as evaluated.
    pub struct Tier {
        pub name: String,
        pub order: Option<f64>,
        pub default_action: Action,
    }

    /// Ascending order, unset last; equal orders by name.
    fn order_cmp(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (a, b) {
            (Some(x), Some(y)) => x.partial_cmp(&y).expect("orders are never NaN"),
            (Some(_), None) => Less,
            (None, Some(_)) => Greater,
            (None, None) => Equal,
        }
    }

    /// The built-in tiers with Calico's orders and default actions (`adminnetworkpolicy`
    /// and `baselineadminnetworkpolicy` pass, `default` denies), then the cluster's Tier
    /// objects, in evaluation order.
    pub fn tiers(cluster: &Cluster) -> Vec<Tier> {
        let mut by_name: BTreeMap<String, Tier> = BTreeMap::new();
        for (name, order, default_action) in [
            (ADMIN_TIER, 1_000.0, Action::Pass),
            (DEFAULT_TIER, 1_000_000.0, Action::Deny),
            (BASELINE_TIER, 10_000_000.0, Action::Pass),
        ] {
            by_name.insert(
                name.into(),
                Tier {
                    name: name.into(),
                    order: Some(order),
                    default_action,
                },
            );
        }
        for t in &cluster.tiers {
            by_name.insert(
                t.name.clone(),
                Tier {
                    name: t.name.clone(),
                    order: t.order,
                    default_action: t.default_action,
                },
            );
        }
        let mut out: Vec<Tier> = by_name.into_values().collect();
        out.sort_by(|a, b| order_cmp(a.order, b.order).then_with(|| a.name.cmp(&b.name)));
        out
    }

    /// One policy of a tier, in the tier's order.
    enum Entry<'c> {
        Dialect(&'c TieredPolicy),
        /// A Kubernetes NetworkPolicy: `Allow` rules at order 1000 of the default tier.
        Kubernetes(&'c NetworkPolicy),
    }

    /// One direction for `side` (the source for egress, the destination for ingress),
    /// `other` the far end, `dst` the destination (where named ports resolve).
    #[allow(clippy::too_many_arguments)]
    pub fn side_allows(
        cluster: &Cluster,
        settings: Settings,
        side: Other<'_>,
        other: Other<'_>,
        dst: Other<'_>,
        proto: Protocol,
        port: u16,
        ingress: bool,
    ) -> bool {
        let selecting: Vec<&TieredPolicy> = cluster
            .tiered_policies
            .iter()
            .filter(|p| enforced(settings.cni, p.dialect))
            .filter(|p| {
                if ingress {
                    p.applies_ingress
                } else {
                    p.applies_egress
                }
            })
            .filter(|p| subject_covers(cluster, p, side))
            .collect();
        let v1 = v1_isolating(cluster, side, ingress);
        let v1_admits_any = || {
            v1.iter()
                .any(|p| v1_admits(cluster, settings, p, other, dst, proto, port, ingress))
        };
        if selecting.is_empty() {
            // Plain NetworkPolicy v1: a side no policy isolates allows everything.
            return v1.is_empty() || v1_admits_any();
        }
        for tier in tiers(cluster) {
            let mut entries: Vec<(Option<f64>, String, String, Entry<'_>)> = selecting
                .iter()
                .filter(|p| p.tier == tier.name)
                .map(|p| {
                    (
                        p.order,
                        p.namespace.clone().unwrap_or_default(),
                        p.name.clone(),
                        Entry::Dialect(p),
                    )
                })
                .collect();
            if tier.name == DEFAULT_TIER {
                for p in &v1 {
                    entries.push((
                        Some(1000.0),
                        p.namespace.clone(),
                        p.name.clone(),
                        Entry::Kubernetes(p),
                    ));
                }
            }
            if entries.is_empty() {
                continue;
            }
            // Ascending order (unset last), then namespace and name.
            entries.sort_by(|a, b| {
                order_cmp(a.0, b.0)
                    .then_with(|| a.1.cmp(&b.1))
                    .then_with(|| a.2.cmp(&b.2))
            });
            let mut isolated = false;
            let mut passed = false;
            'entries: for (_, _, _, entry) in &entries {
                match entry {
                    Entry::Kubernetes(p) => {
                        isolated = true;
                        if v1_admits(cluster, settings, p, other, dst, proto, port, ingress) {
                            return true;
                        }
                    }
                    Entry::Dialect(p) => {
                        isolated |= if ingress {
                            p.isolates_ingress
                        } else {
                            p.isolates_egress
                        };
                        let rules = if ingress { &p.ingress } else { &p.egress };
                        for rule in rules {
                            if !rule_matches(cluster, p.dialect, rule, other, dst, proto, port) {
                                continue;
                            }
                            match rule.action {
                                Action::Allow => return true,
                                Action::Deny => return false,
                                Action::Pass => {
                                    passed = true;
                                    break 'entries;
                                }
                                Action::Log => {}
                            }
                        }
                    }
                }
            }
            if !passed && isolated && tier.default_action == Action::Deny {
                return false;
            }
        }
        true
    }

    /// The whole verdict: traffic from a pod's own node (a hostNetwork pod, or the node
    /// itself, towards a pod on that node) is always allowed; otherwise the source's egress
    /// and the destination's ingress must both allow it.
    pub fn allowed(
        cluster: &Cluster,
        settings: Settings,
        src: Other<'_>,
        dst: Other<'_>,
        proto: Protocol,
        port: u16,
    ) -> bool {
        let src_node = match src {
            Other::Pod(ep) if ep.host_network => ep.node.as_deref(),
            Other::Node(n) => Some(n.name.as_str()),
            _ => None,
        };
        if let (Some(a), Other::Pod(d)) = (src_node, dst)
            && d.node.as_deref() == Some(a)
        {
            return true;
        }
        side_allows(cluster, settings, src, dst, dst, proto, port, false)
            && side_allows(cluster, settings, dst, src, dst, proto, port, true)
    }
}

use reference::Other;

// ---------------------------------------------------------------------------------------
// Engine access through the public API
// ---------------------------------------------------------------------------------------

/// The settings a run uses: every CNI, ipBlocks matching pods or not.
fn all_settings() -> Vec<Settings> {
    let mut out = Vec::new();
    for cni in [Cni::Generic, Cni::Calico, Cni::Cilium] {
        for ipblock_matches_pods in [true, false] {
            out.push(Settings {
                ipblock_matches_pods,
                cni,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Generators: tiny key spaces so that selectors, addresses and ports collide
// ---------------------------------------------------------------------------------------

const NS_NAMES: [&str; 3] = ["ns0", "ns1", "kube-system"];
const NODE_NAMES: [&str; 3] = ["node0", "node1", "node2"];
/// Node addresses: outside the pod range (10.0.0.0-7, 10.0.1.0-7), inside some CIDRs.
const NODE_IPS: [&str; 4] = ["10.0.2.1", "10.0.2.2", "192.168.1.1", "10.0.2.3"];
const APISERVER_IPS: [&str; 2] = ["10.0.2.1", "192.168.100.1"];
const PORT_NAMES: [&str; 3] = ["http", "dns", "db"];
const PORT_NUMBERS: [u16; 6] = [53, 80, 81, 443, 5432, 6443];
/// Pod labels (keys and values) actually carried.
const POD_LABELS: [(&str, &str); 5] = [
    ("app", "a"),
    ("app", "b"),
    ("component", "kube-apiserver"),
    ("component", "a"),
    ("app", "a"),
];
/// What pod label expressions test: the pod's labels, and the namespace and service
/// account under the keys Calico and Cilium give every pod.
const POD_EXPR_KV: [(&str, &str); 12] = [
    ("app", "a"),
    ("app", "b"),
    ("app", "a"),
    ("component", "kube-apiserver"),
    ("component", "a"),
    ("app", "b"),
    if SA_PSEUDO_LABELS {
        ("projectcalico.org/serviceaccount", "sa1")
    } else {
        ("app", "b")
    },
    if SA_PSEUDO_LABELS {
        ("io.cilium.k8s.policy.serviceaccount", "default")
    } else {
        ("component", "a")
    },
    ("projectcalico.org/namespace", "ns0"),
    ("io.kubernetes.pod.namespace", "kube-system"),
    ("projectcalico.org/orchestrator", "k8s"),
    ("app", "a"),
];
/// Whether pod label expressions test the service-account pseudo-labels
/// (`projectcalico.org/serviceaccount`, `io.cilium.k8s.policy.serviceaccount`). This found
/// that classes forgot service accounts unless a `ServiceAccountMatch` existed (fixed:
/// classes keep them whenever a dialect policy is enforced).
const SA_PSEUDO_LABELS: bool = true;
const NS_EXPR_KV: [(&str, &str); 4] = [
    ("team", "a"),
    ("team", "b"),
    (METADATA_NAME_LABEL, "ns0"),
    (METADATA_NAME_LABEL, "kube-system"),
];
const NODE_KV: [(&str, &str); 3] = [("role", "a"), ("role", "b"), ("zone", "a")];
const SA_KV: [(&str, &str); 2] = [("team", "a"), ("team", "b")];
const FRAGMENTS: [&str; 5] = ["a", "k", "kube", "", "1"];
const CIDRS: [&str; 12] = [
    "10.0.0.0/24",
    "10.0.0.0/30",
    "0.0.0.0/0",
    "10.0.1.0/29",
    "10.0.0.4/30",
    "10.0.0.0/8",
    "::/0",
    "fd00::/120",
    "10.0.2.0/30",
    "10.0.2.2/32",
    "192.168.0.0/16",
    "10.0.0.0/16",
];
const EXCEPTS: [&str; 10] = [
    "10.0.0.0/30",
    "10.0.0.2/31",
    "10.0.0.4/32",
    "10.0.1.0/30",
    "10.0.0.0/29",
    "10.0.2.1/32",
    "10.0.0.0/24",
    "0.0.0.0/1",
    "fd00::/124",
    "192.168.100.0/24",
];
/// Custom tier names (Calico Tier objects).
const TIER_NAMES: [&str; 2] = ["security", "platform"];

/// Whether generated dialect policies of the default tier may have order exactly 1000,
/// tying with Kubernetes NetworkPolicies, which sort as `NS/knp.default.NAME` (Calico's
/// name for them): policy names `a*` sort before them, `z*` after. This found that the
/// engine once ordered all NetworkPolicies as one step before every tied policy (fixed).
const DEFAULT_TIER_ORDER_1000: bool = true;

fn kv_labels(kvs: &'static [(&'static str, &'static str)]) -> impl Strategy<Value = Labels> {
    proptest::collection::vec(select(kvs), 0..=2).prop_map(|kvs| {
        kvs.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

// --- v1 NetworkPolicies (small versions of naive_reference.rs's generators) -----------

fn selector(kvs: &'static [(&'static str, &'static str)]) -> impl Strategy<Value = LabelSelector> {
    let requirement = (
        select(kvs),
        select(vec![
            Operator::In,
            Operator::NotIn,
            Operator::Exists,
            Operator::DoesNotExist,
        ]),
        select(kvs),
    )
        .prop_map(|((key, v1), operator, (_, v2))| Requirement {
            key: key.to_string(),
            operator,
            values: match operator {
                Operator::In | Operator::NotIn => {
                    let mut vs = vec![v1.to_string()];
                    if v2 != v1 {
                        vs.push(v2.to_string());
                    }
                    vs
                }
                Operator::Exists | Operator::DoesNotExist => Vec::new(),
            },
        });
    prop_oneof![
        1 => Just(LabelSelector::default()),
        3 => (
            proptest::collection::vec(select(kvs), 0..=2),
            proptest::collection::vec(requirement, 0..=1),
        )
            .prop_map(|(ml, me)| LabelSelector {
                match_labels: ml
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                match_expressions: me,
            }),
    ]
}

const V1_POD_KV: [(&str, &str); 4] = [("app", "a"), ("app", "b"), ("component", "a"), ("app", "a")];

fn ip_block() -> impl Strategy<Value = IpBlock> {
    (
        select(CIDRS.to_vec()),
        proptest::collection::vec(select(EXCEPTS.to_vec()), 0..=2),
    )
        .prop_map(|(cidr, excepts)| {
            let cidr = net(cidr);
            let mut except: Vec<IpNet> = Vec::new();
            for e in excepts.into_iter().map(net) {
                // The API requires every except to lie strictly inside the cidr.
                if cidr.contains(&e) && e.prefix_len() > cidr.prefix_len() && !except.contains(&e) {
                    except.push(e);
                }
            }
            IpBlock { cidr, except }
        })
}

fn v1_peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        3 => selector(&V1_POD_KV).prop_map(|p| Peer::Pods {
            pod_selector: Some(p),
            namespace_selector: None,
        }),
        2 => selector(&NS_EXPR_KV).prop_map(|n| Peer::Pods {
            pod_selector: None,
            namespace_selector: Some(n),
        }),
        1 => (selector(&V1_POD_KV), selector(&NS_EXPR_KV)).prop_map(|(p, n)| Peer::Pods {
            pod_selector: Some(p),
            namespace_selector: Some(n),
        }),
        3 => ip_block().prop_map(Peer::IpBlock),
    ]
}

fn policy_port() -> impl Strategy<Value = PolicyPort> {
    let spec = prop_oneof![
        1 => Just(PortSpec::All),
        3 => (
            select(vec![1u16, 53, 79, 80, 81, 443, 5432, 6443, 65535]),
            select(vec![0u16, 0, 0, 1, 400, 65535]),
        )
            .prop_map(|(lo, len)| PortSpec::Range(lo, lo.saturating_add(len))),
        3 => select(PORT_NAMES.to_vec()).prop_map(|n| PortSpec::Named(n.to_string())),
    ];
    (protocol(), spec).prop_map(|(protocol, port)| PolicyPort { protocol, port })
}

fn v1_rule() -> impl Strategy<Value = PolicyRule> {
    (
        proptest::collection::vec(v1_peer(), 0..=2),
        proptest::collection::vec(policy_port(), 0..=2),
    )
        .prop_map(|(peers, ports)| PolicyRule { peers, ports })
}

#[derive(Clone, Debug)]
struct V1Gen {
    ns: usize,
    pod_selector: LabelSelector,
    affects_ingress: bool,
    affects_egress: bool,
    ingress: Vec<PolicyRule>,
    egress: Vec<PolicyRule>,
}

fn v1_policy() -> impl Strategy<Value = V1Gen> {
    (
        0..3usize,
        selector(&V1_POD_KV),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.5),
        proptest::collection::vec(v1_rule(), 0..=2),
        proptest::collection::vec(v1_rule(), 0..=2),
    )
        .prop_map(|(ns, pod_selector, ai, ae, ingress, egress)| V1Gen {
            ns,
            pod_selector,
            affects_ingress: ai,
            affects_egress: ae,
            ingress,
            egress,
        })
}

// --- Dialect policies --------------------------------------------------------------------

fn leaf_expr(kvs: &'static [(&'static str, &'static str)]) -> impl Strategy<Value = LabelExpr> {
    let kv = || select(kvs);
    let s = |x: &str| x.to_string();
    prop_oneof![
        2 => Just(LabelExpr::All),
        1 => Just(LabelExpr::Global),
        2 => kv().prop_map(move |(k, _)| LabelExpr::Has(s(k))),
        5 => kv().prop_map(move |(k, v)| LabelExpr::Eq(s(k), s(v))),
        2 => kv().prop_map(move |(k, v)| LabelExpr::Ne(s(k), s(v))),
        2 => (kv(), kv()).prop_map(move |((k, v), (_, w))| LabelExpr::In(s(k), vec![s(v), s(w)])),
        2 => (kv(), kv()).prop_map(move |((k, v), (_, w))| LabelExpr::NotIn(s(k), vec![s(v), s(w)])),
        1 => (kv(), select(FRAGMENTS.to_vec()))
            .prop_map(move |((k, _), f)| LabelExpr::Contains(s(k), s(f))),
        1 => (kv(), select(FRAGMENTS.to_vec()))
            .prop_map(move |((k, _), f)| LabelExpr::StartsWith(s(k), s(f))),
        1 => (kv(), select(FRAGMENTS.to_vec()))
            .prop_map(move |((k, _), f)| LabelExpr::EndsWith(s(k), s(f))),
    ]
}

fn label_expr(
    kvs: &'static [(&'static str, &'static str)],
) -> impl Strategy<Value = LabelExpr> + Clone {
    leaf_expr(kvs).boxed().prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..=3).prop_map(LabelExpr::And),
            proptest::collection::vec(inner.clone(), 0..=3).prop_map(LabelExpr::Or),
            inner.prop_map(|e| LabelExpr::Not(Box::new(e))),
        ]
    })
}

fn namespace_match() -> impl Strategy<Value = NamespaceMatch> {
    prop_oneof![
        2 => Just(NamespaceMatch::Any),
        2 => select(NS_NAMES.to_vec()).prop_map(|n| NamespaceMatch::Named(n.to_string())),
        2 => label_expr(&NS_EXPR_KV).prop_map(NamespaceMatch::Selector),
    ]
}

fn sa_match() -> impl Strategy<Value = ServiceAccountMatch> {
    (
        proptest::collection::vec(select(vec!["default", "sa1", "sa2"]), 0..=2),
        prop::option::weighted(0.5, label_expr(&SA_KV)),
    )
        .prop_map(|(names, selector)| ServiceAccountMatch {
            names: names.into_iter().map(str::to_string).collect(),
            selector,
        })
}

fn pod_match() -> impl Strategy<Value = PodMatch> {
    (
        namespace_match(),
        label_expr(&POD_EXPR_KV),
        prop::option::weighted(0.2, sa_match()),
    )
        .prop_map(|(namespaces, labels, service_accounts)| PodMatch {
            namespaces,
            labels,
            service_accounts,
        })
}

fn nets() -> impl Strategy<Value = Vec<IpNet>> {
    proptest::collection::vec(select(CIDRS.to_vec()).prop_map(net), 1..=2)
}

fn excepts() -> impl Strategy<Value = Vec<IpNet>> {
    proptest::collection::vec(select(EXCEPTS.to_vec()).prop_map(net), 0..=1)
}

fn entity() -> impl Strategy<Value = Entity> {
    select(vec![
        Entity::All,
        Entity::World,
        Entity::Cluster,
        Entity::Host,
        Entity::RemoteNode,
        Entity::KubeApiserver,
        Entity::Internal,
    ])
}

fn tiered_peer() -> impl Strategy<Value = TieredPeer> {
    prop_oneof![
        1 => Just(TieredPeer::All),
        5 => (
            pod_match(),
            prop::option::weighted(0.2, label_expr(&POD_EXPR_KV)),
            prop::option::weighted(0.2, nets()),
            prop::bool::weighted(0.15),
            excepts(),
        )
            .prop_map(|(pods, not_labels, nets, use_not, not_nets)| TieredPeer::Pods {
                pods,
                not_labels,
                nets,
                not_nets: if use_not { not_nets } else { Vec::new() },
            }),
        2 => label_expr(&NODE_KV).prop_map(TieredPeer::Nodes),
        3 => (prop::option::weighted(0.85, nets()), excepts(), any::<bool>()).prop_map(
            |(nets, except, matches_pods)| TieredPeer::Networks {
                nets,
                except,
                matches_pods,
            }
        ),
        2 => entity().prop_map(TieredPeer::Entity),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => Just(Action::Allow),
        3 => Just(Action::Deny),
        1 => Just(Action::Pass),
        1 => Just(Action::Log),
    ]
}

fn tiered_rule() -> impl Strategy<Value = TieredRule> {
    (
        action(),
        prop_oneof![
            1 => Just(Vec::new()),
            8 => proptest::collection::vec(tiered_peer(), 1..=2),
        ],
        proptest::collection::vec(policy_port(), 0..=2),
        prop::option::weighted(0.2, proptest::collection::vec(policy_port(), 1..=2)),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(action, peers, ports, not_ports, l7)| TieredRule {
            name: None,
            action,
            peers,
            ports,
            not_ports: not_ports.unwrap_or_default(),
            l7,
            source: Source::implicit(),
        })
}

const DIALECTS: [Dialect; 7] = [
    Dialect::AdminNetworkPolicy,
    Dialect::BaselineAdminNetworkPolicy,
    Dialect::ClusterNetworkPolicy,
    Dialect::CalicoNetworkPolicy,
    Dialect::CalicoGlobalNetworkPolicy,
    Dialect::CiliumNetworkPolicy,
    Dialect::CiliumClusterwideNetworkPolicy,
];

/// Orders: unset, Cilium's deny position, low, around 1000 (the Kubernetes policies' order
/// in the default tier), high.
const ORDERS: [Option<f64>; 9] = [
    None,
    Some(f64::MIN),
    Some(0.0),
    Some(1.0),
    Some(999.5),
    Some(1000.0),
    Some(1001.0),
    Some(2.0),
    None,
];

/// A dialect policy before it is placed: `shape` picks how realistic it is.
#[derive(Clone, Debug)]
struct TieredGen {
    shape: u8,
    dialect: Dialect,
    tier: usize,
    order: Option<f64>,
    subject: Subject,
    ingress: Vec<TieredRule>,
    egress: Vec<TieredRule>,
    flags: [bool; 4],
}

fn tiered_gen() -> impl Strategy<Value = TieredGen> {
    let subject = prop_oneof![
        5 => pod_match().prop_map(Subject::Pods),
        1 => label_expr(&NODE_KV).prop_map(Subject::Nodes),
    ];
    (
        0u8..5,
        select(DIALECTS.to_vec()),
        0usize..8,
        select(ORDERS.to_vec()),
        subject,
        proptest::collection::vec(tiered_rule(), 0..=3),
        proptest::collection::vec(tiered_rule(), 0..=3),
        [any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()],
    )
        .prop_map(
            |(shape, dialect, tier, order, subject, ingress, egress, flags)| TieredGen {
                shape,
                dialect,
                tier,
                order,
                subject,
                ingress,
                egress,
                flags,
            },
        )
}

#[derive(Clone, Debug)]
struct EndpointGen {
    ns: usize,
    labels: Labels,
    ip: Option<u8>,
    ip6: Option<u8>,
    host_network: bool,
    node: Option<usize>,
    ports: Vec<ContainerPort>,
    representative: bool,
    service_account: Option<&'static str>,
}

fn container_port() -> impl Strategy<Value = ContainerPort> {
    container_port_from(&PORT_NAMES, &PORT_NUMBERS)
}

fn endpoint_gen() -> impl Strategy<Value = EndpointGen> {
    (
        (
            0..3usize,
            kv_labels(&POD_LABELS),
            prop::option::weighted(0.8, 0u8..16),
            prop::option::weighted(0.1, 0u8..8),
            prop::bool::weighted(0.25),
        ),
        (
            prop::option::weighted(0.85, 0..3usize),
            proptest::collection::vec(container_port(), 0..=2),
            prop::bool::weighted(0.08),
            prop::option::weighted(0.5, select(vec!["default", "sa1", "sa2"])),
        ),
    )
        .prop_map(
            |(
                (ns, labels, ip, ip6, host_network),
                (node, ports, representative, service_account),
            )| EndpointGen {
                ns,
                labels,
                ip,
                ip6,
                host_network,
                node,
                ports,
                representative,
                service_account,
            },
        )
}

#[derive(Clone, Debug)]
struct NodeGen {
    /// Which of the three node names have a Node object.
    present: [bool; 3],
    labels: [Labels; 3],
    /// Index into NODE_IPS per node, and whether the address is only a Hostname.
    ips: [(usize, bool); 3],
    /// A second, ExternalIP address for node0.
    external: bool,
}

fn node_gen() -> impl Strategy<Value = NodeGen> {
    (
        [
            prop::bool::weighted(0.9),
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.5),
        ],
        [
            kv_labels(&NODE_KV),
            kv_labels(&NODE_KV),
            kv_labels(&NODE_KV),
        ],
        [
            (0..4usize, prop::bool::weighted(0.05)),
            (0..4usize, prop::bool::weighted(0.05)),
            (0..4usize, prop::bool::weighted(0.05)),
        ],
        prop::bool::weighted(0.2),
    )
        .prop_map(|(present, labels, ips, external)| NodeGen {
            present,
            labels,
            ips,
            external,
        })
}

#[derive(Clone, Debug)]
struct ClusterGen {
    ns_count: usize,
    ns_labels: Vec<Labels>,
    nodes: NodeGen,
    eps: Vec<EndpointGen>,
    v1: Vec<V1Gen>,
    tiers: Vec<(Option<f64>, Action)>,
    tiered: Vec<TieredGen>,
    sa_labels: Vec<Labels>,
    apiserver: Option<usize>,
    /// Calico HostEndpoints: (node index, labels).
    host_endpoints: Vec<(usize, Labels)>,
}

fn cluster_gen() -> impl Strategy<Value = ClusterGen> {
    (
        (
            2..=3usize,
            proptest::collection::vec(kv_labels(&[("team", "a"), ("team", "b")]), 3),
            node_gen(),
            proptest::collection::vec(endpoint_gen(), 2..=7),
            proptest::collection::vec(v1_policy(), 0..=2),
        ),
        (
            proptest::collection::vec(
                (
                    select(vec![
                        None,
                        Some(1.0),
                        Some(1000.0),
                        Some(500_000.0),
                        Some(1_000_000.0),
                        Some(5_000_000.0),
                        Some(20_000_000.0),
                    ]),
                    select(vec![Action::Deny, Action::Pass]),
                ),
                0..=2,
            ),
            proptest::collection::vec(tiered_gen(), 0..=4),
            proptest::collection::vec(kv_labels(&SA_KV), 6),
            prop::option::weighted(0.4, 0..2usize),
            proptest::collection::vec((0..3usize, kv_labels(&NODE_KV)), 0..=3),
        ),
    )
        .prop_map(
            |(
                (ns_count, ns_labels, nodes, eps, v1),
                (tiers, tiered, sa_labels, apiserver, host_endpoints),
            )| {
                ClusterGen {
                    ns_count,
                    ns_labels,
                    nodes,
                    eps,
                    v1,
                    tiers,
                    tiered,
                    sa_labels,
                    apiserver,
                    host_endpoints,
                }
            },
        )
}

fn labels_of(kvs: &[(&str, &str)]) -> Labels {
    kvs.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Places a generated dialect policy in a tier with flags that fit its shape: shapes 0-3
/// look like what the readers produce (admin, Calico, Cilium deny part, Cilium allow part),
/// shape 4 is anything at all.
fn place(g: TieredGen, i: usize, ns_names: &[String], tier_names: &[String]) -> TieredPolicy {
    let [f0, f1, f2, f3] = g.flags;
    let mut p = TieredPolicy {
        dialect: g.dialect,
        namespace: None,
        name: format!("{}{i}", ["a", "z", "tp"][i % 3]),
        tier: tier_names[g.tier % tier_names.len()].clone(),
        order: g.order,
        subject: g.subject,
        ingress: g.ingress,
        egress: g.egress,
        applies_ingress: f0,
        applies_egress: f1,
        isolates_ingress: f2,
        isolates_egress: f3,
        annotations: Labels::new(),
        source: Source::implicit(),
    };
    let set_actions = |rules: &mut Vec<TieredRule>, allowed: &[Action]| {
        for r in rules {
            if !allowed.contains(&r.action) {
                r.action = allowed[0];
            }
        }
    };
    match g.shape {
        // Admin: the admin or baseline tier, priority as order, never isolating.
        0 => {
            let baseline = matches!(g.dialect, Dialect::BaselineAdminNetworkPolicy) || (f2 && f3);
            p.dialect = if baseline {
                Dialect::BaselineAdminNetworkPolicy
            } else if f2 {
                Dialect::ClusterNetworkPolicy
            } else {
                Dialect::AdminNetworkPolicy
            };
            p.tier = if baseline { BASELINE_TIER } else { ADMIN_TIER }.to_string();
            if baseline {
                set_actions(&mut p.ingress, &[Action::Allow, Action::Deny]);
                set_actions(&mut p.egress, &[Action::Allow, Action::Deny]);
            } else {
                set_actions(&mut p.ingress, &[Action::Allow, Action::Deny, Action::Pass]);
                set_actions(&mut p.egress, &[Action::Allow, Action::Deny, Action::Pass]);
            }
            p.isolates_ingress = false;
            p.isolates_egress = false;
            if let Subject::Nodes(_) = p.subject {
                p.subject = Subject::Pods(PodMatch {
                    namespaces: NamespaceMatch::Any,
                    labels: LabelExpr::All,
                    service_accounts: None,
                });
            }
        }
        // Calico: a custom or the default tier; isolates what it applies to.
        1 => {
            p.dialect = if matches!(
                p.subject,
                Subject::Pods(PodMatch {
                    namespaces: NamespaceMatch::Named(_),
                    ..
                })
            ) {
                Dialect::CalicoNetworkPolicy
            } else {
                Dialect::CalicoGlobalNetworkPolicy
            };
            if p.tier == ADMIN_TIER || p.tier == BASELINE_TIER {
                p.tier = DEFAULT_TIER.to_string();
            }
            p.isolates_ingress = p.applies_ingress;
            p.isolates_egress = p.applies_egress;
        }
        // Cilium deny part: default tier, before everything, Deny rules only.
        2 => {
            p.dialect = if f0 {
                Dialect::CiliumNetworkPolicy
            } else {
                Dialect::CiliumClusterwideNetworkPolicy
            };
            p.tier = DEFAULT_TIER.to_string();
            p.order = Some(f64::MIN);
            set_actions(&mut p.ingress, &[Action::Deny]);
            set_actions(&mut p.egress, &[Action::Deny]);
            p.applies_ingress = !p.ingress.is_empty() || f1;
            p.applies_egress = !p.egress.is_empty() || f2;
        }
        // Cilium allow part: default tier, Allow rules, default deny per flags.
        3 => {
            p.dialect = if f0 {
                Dialect::CiliumNetworkPolicy
            } else {
                Dialect::CiliumClusterwideNetworkPolicy
            };
            p.tier = DEFAULT_TIER.to_string();
            if p.order == Some(f64::MIN) {
                p.order = None;
            }
            set_actions(&mut p.ingress, &[Action::Allow]);
            set_actions(&mut p.egress, &[Action::Allow]);
        }
        _ => {}
    }
    // Namespaced kinds are named by their namespace: the one their subject is confined to.
    if let Subject::Pods(PodMatch {
        namespaces: NamespaceMatch::Named(ns),
        ..
    }) = &p.subject
        && matches!(
            p.dialect,
            Dialect::CalicoNetworkPolicy | Dialect::CiliumNetworkPolicy
        )
    {
        p.namespace = Some(ns.clone());
    }
    if let Subject::Pods(PodMatch {
        namespaces: NamespaceMatch::Named(ns),
        ..
    }) = &mut p.subject
        && !ns_names.contains(ns)
    {
        // Keep subjects inside the cluster's namespaces most of the time.
        *ns = ns_names[0].clone();
        if p.namespace.is_some() {
            p.namespace = Some(ns.clone());
        }
    }
    if !DEFAULT_TIER_ORDER_1000 && p.tier == DEFAULT_TIER && p.order == Some(1000.0) {
        p.order = Some(1000.5);
    }
    p
}

fn build_cluster(g: ClusterGen) -> Cluster {
    let mut cluster = Cluster::default();
    let ns_names: Vec<String> = NS_NAMES[..g.ns_count]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (i, mut labels) in g.ns_labels.into_iter().take(g.ns_count).enumerate() {
        let name = ns_names[i].clone();
        labels.insert(METADATA_NAME_LABEL.to_string(), name.clone());
        cluster.namespaces.insert(
            name.clone(),
            Namespace {
                name,
                labels,
                source: None,
                ..Default::default()
            },
        );
    }
    let n = &g.nodes;
    for (i, name) in NODE_NAMES.iter().enumerate() {
        if !n.present[i] {
            continue;
        }
        let (ip, hostname_only) = n.ips[i];
        let mut addresses = vec![NodeAddress {
            kind: if hostname_only {
                "Hostname"
            } else {
                "InternalIP"
            }
            .into(),
            address: if hostname_only {
                name.to_string()
            } else {
                NODE_IPS[ip].to_string()
            },
        }];
        if i == 0 && n.external {
            addresses.push(NodeAddress {
                kind: "ExternalIP".into(),
                address: "192.168.1.1".into(),
            });
        }
        cluster.nodes.insert(
            name.to_string(),
            Node {
                name: name.to_string(),
                labels: n.labels[i].clone(),
                addresses,
                taints: Vec::new(),
                source: Source::implicit(),
            },
        );
    }
    for (i, e) in g.eps.into_iter().enumerate() {
        let name = format!("p{i}");
        let node = if e.representative {
            None
        } else {
            e.node.map(|n| NODE_NAMES[n].to_string())
        };
        let mut ips = Vec::new();
        if !e.representative {
            if e.host_network {
                // A hostNetwork pod has its node's address (or, now and then, another).
                let own = node
                    .as_ref()
                    .and_then(|n| cluster.nodes.get(n))
                    .and_then(|n| reference::node_ips(n).first().copied());
                if let Some(ip) = e.ip {
                    ips.push(match own {
                        Some(own) if ip % 4 != 0 => own,
                        _ => NODE_IPS[ip as usize % NODE_IPS.len()].parse().unwrap(),
                    });
                }
            } else {
                ips.extend(e.ip.map(pod_ip));
                ips.extend(e.ip6.map(pod_ip6));
            }
        }
        cluster.endpoints.push(Endpoint {
            namespace: ns_names[e.ns % g.ns_count].clone(),
            name: name.clone(),
            labels: e.labels,
            ips,
            node,
            host_network: e.host_network,
            ports: e.ports,
            workload: WorkloadRef {
                kind: if e.representative {
                    "Deployment"
                } else {
                    "Pod"
                }
                .into(),
                name,
            },
            representative: e.representative,
            source: Source::implicit(),
            service_account: e.service_account.map(str::to_string),
            ..Default::default()
        });
    }
    cluster
        .endpoints
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    for (i, p) in g.v1.into_iter().enumerate() {
        cluster.policies.push(NetworkPolicy {
            namespace: ns_names[p.ns % g.ns_count].clone(),
            name: format!("np{i}"),
            pod_selector: p.pod_selector,
            affects_ingress: p.affects_ingress,
            affects_egress: p.affects_egress,
            ingress: p.ingress,
            egress: p.egress,
            source: Source::implicit(),
            ..Default::default()
        });
    }
    let mut tier_names: Vec<String> = vec![
        ADMIN_TIER.into(),
        DEFAULT_TIER.into(),
        BASELINE_TIER.into(),
        DEFAULT_TIER.into(),
    ];
    for (i, (order, default_action)) in g.tiers.into_iter().enumerate() {
        cluster.tiers.push(PolicyTier {
            name: TIER_NAMES[i].to_string(),
            order,
            default_action,
            source: Some(Source::implicit()),
        });
        tier_names.push(TIER_NAMES[i].to_string());
        tier_names.push(TIER_NAMES[i].to_string());
    }
    for (i, t) in g.tiered.into_iter().enumerate() {
        cluster
            .tiered_policies
            .push(place(t, i, &ns_names, &tier_names));
    }
    let mut sa_labels = g.sa_labels.into_iter();
    for ns in &ns_names {
        for name in ["default", "sa1"] {
            cluster.service_accounts.push(ServiceAccount {
                namespace: ns.clone(),
                name: name.to_string(),
                labels: sa_labels.next().unwrap_or_default(),
            });
        }
    }
    for (i, (node, labels)) in g.host_endpoints.into_iter().enumerate() {
        cluster.host_endpoints.push(HostEndpoint {
            name: format!("hep{i}"),
            node: NODE_NAMES[node].to_string(),
            labels,
            interface: Some("*".into()),
            expected_ips: Vec::new(),
            source: Source::implicit(),
        });
    }
    if let Some(a) = g.apiserver {
        cluster.service_endpoints.insert(
            ("default".to_string(), "kubernetes".to_string()),
            vec![ServiceEndpoint {
                ip: APISERVER_IPS[a].parse().unwrap(),
                ports: vec![(Some("https".into()), 6443, Protocol::Tcp)],
                pod: None,
            }],
        );
    }
    cluster
}

fn cluster_strategy() -> impl Strategy<Value = (Cluster, u64)> {
    (cluster_gen(), any::<u64>()).prop_map(|(g, seed)| (build_cluster(g), seed))
}

// ---------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------

fn probe_ports(cluster: &Cluster) -> Vec<u16> {
    let mut ports: BTreeSet<u16> = BTreeSet::from([1, 2, 65534, 65535]);
    let mut add = |p: u16| {
        ports.insert(p);
        ports.insert(p.saturating_sub(1).max(1));
        ports.insert(p.saturating_add(1));
    };
    for e in &cluster.endpoints {
        for cp in &e.ports {
            add(cp.port);
        }
    }
    let v1 = cluster
        .policies
        .iter()
        .flat_map(|p| p.ingress.iter().chain(&p.egress))
        .flat_map(|r| &r.ports);
    let tiered = cluster
        .tiered_policies
        .iter()
        .flat_map(|p| p.ingress.iter().chain(&p.egress))
        .flat_map(|r| r.ports.iter().chain(&r.not_ports));
    for pp in v1.chain(tiered) {
        if let PortSpec::Range(lo, hi) = pp.port {
            add(lo);
            add(hi);
        }
    }
    for n in PORT_NUMBERS {
        add(n);
    }
    ports.into_iter().collect()
}

fn external_probes(cluster: &Cluster) -> Vec<IpAddr> {
    let mut probes: BTreeSet<IpAddr> = BTreeSet::new();
    for last in 0..=8u8 {
        for third in 0..=2u8 {
            probes.insert(IpAddr::V4(Ipv4Addr::new(10, 0, third, last)));
        }
    }
    for s in [
        "0.0.0.0",
        "9.255.255.255",
        "10.0.0.127",
        "10.0.0.255",
        "10.0.2.4",
        "10.0.3.0",
        "10.1.0.0",
        "10.255.255.255",
        "11.0.0.0",
        "127.255.255.255",
        "128.0.0.0",
        "192.168.1.0",
        "192.168.1.1",
        "192.168.1.2",
        "192.168.100.1",
        "192.168.100.2",
        "192.169.0.0",
        "255.255.255.255",
        "::",
        "fd00::1",
        "fd00::2",
        "fd00::f",
        "fd00::10",
        "fd00::100",
        "2001:db8::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        probes.insert(s.parse().unwrap());
    }
    for n in NODE_IPS.iter().chain(&APISERVER_IPS) {
        probes.insert(n.parse().unwrap());
    }
    // A pod's own address stands for the pod, not for an outside client.
    let pod_ips: BTreeSet<IpAddr> = cluster
        .endpoints
        .iter()
        .filter(|e| !e.host_network)
        .flat_map(|e| e.ips.iter().copied())
        .collect();
    probes.retain(|ip| !pod_ips.contains(ip));
    probes.into_iter().collect()
}

/// A tiny deterministic generator for sampling `explain` calls.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Compares engine and reference for one cluster and setting; returns the first few
/// disagreements as readable lines.
fn compare(cluster: &Cluster, settings: Settings, seed: u64) -> Vec<String> {
    let matrix = engine_matrix(cluster, settings);
    let ports = probe_ports(cluster);
    let empty = PortSet::empty();
    let mut diffs = Vec::new();
    let mut note = |line: String| {
        if diffs.len() < 20 {
            diffs.push(line);
        }
    };

    let names: Vec<String> = cluster
        .endpoints
        .iter()
        .map(Endpoint::display_name)
        .collect();
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>().len(),
        names.len(),
        "generator produced duplicate names"
    );

    // Pod to pod, through connectivity.
    for (si, src) in cluster.endpoints.iter().enumerate() {
        for (di, dst) in cluster.endpoints.iter().enumerate() {
            if si == di {
                continue;
            }
            let got = matrix
                .get(&(names[si].clone(), names[di].clone()))
                .unwrap_or(&empty);
            for proto in Protocol::ALL {
                for &port in &ports {
                    let want = reference::allowed(
                        cluster,
                        settings,
                        Other::Pod(src),
                        Other::Pod(dst),
                        proto,
                        port,
                    );
                    let have = got.contains(proto, port);
                    if want != have {
                        note(format!(
                            "{} -> {} {proto}/{port}: reference {want}, connectivity {have}",
                            names[si], names[di]
                        ));
                    }
                }
            }
        }
    }

    // External and node addresses: find the engine's `ext:` peer holding each probe.
    let engine = Engine::new(cluster, settings);
    let classes = engine.peer_count() - engine.external.len();
    let all_ext: Vec<(String, (bool, u128, u128))> = (0..engine.external.len())
        .map(|j| {
            let name = engine.external_name((classes + j) as u32);
            let iv = parse_ext(&name).unwrap_or_else(|| panic!("unparsable external name {name}"));
            (name, iv)
        })
        .collect();
    for (s, d) in matrix.keys() {
        for n in [s, d] {
            if n.starts_with("ext:") {
                assert!(
                    all_ext.iter().any(|(e, _)| e == n),
                    "output names external peer {n} the engine does not have"
                );
            }
        }
    }
    let probes = external_probes(cluster);
    for &ip in &probes {
        let key = (ip.is_ipv6(), ip_key(ip));
        let hits: Vec<&String> = all_ext
            .iter()
            .filter(|(_, (v6, lo, hi))| *v6 == key.0 && *lo <= key.1 && key.1 <= *hi)
            .map(|(n, _)| n)
            .collect();
        if ip.is_ipv6() && hits.is_empty() {
            continue; // IPv6 is modelled only when the input uses it
        }
        assert_eq!(hits.len(), 1, "probe {ip} lies in external peers {hits:?}");
        let ext = hits[0];
        for (i, ep) in cluster.endpoints.iter().enumerate() {
            let inbound = matrix
                .get(&(ext.clone(), names[i].clone()))
                .unwrap_or(&empty);
            let outbound = matrix
                .get(&(names[i].clone(), ext.clone()))
                .unwrap_or(&empty);
            for proto in Protocol::ALL {
                for &port in &ports {
                    let want_in = reference::allowed(
                        cluster,
                        settings,
                        Other::Addr(ip),
                        Other::Pod(ep),
                        proto,
                        port,
                    );
                    if want_in != inbound.contains(proto, port) {
                        note(format!(
                            "{ip} ({ext}) -> {} {proto}/{port}: reference {want_in}, connectivity {}",
                            names[i], !want_in
                        ));
                    }
                    let want_out = reference::allowed(
                        cluster,
                        settings,
                        Other::Pod(ep),
                        Other::Addr(ip),
                        proto,
                        port,
                    );
                    if want_out != outbound.contains(proto, port) {
                        note(format!(
                            "{} -> {ip} ({ext}) {proto}/{port}: reference {want_out}, connectivity {}",
                            names[i], !want_out
                        ));
                    }
                }
            }
        }
    }

    // `explain` on sampled pairs: pods, addresses and nodes, either way round.
    let nodes: Vec<&Node> = cluster.nodes.values().collect();
    let mut rng = Lcg(seed);
    let n_eps = cluster.endpoints.len();
    for _ in 0..60 {
        let pick = |rng: &mut Lcg| -> (PeerRef, Other<'_>) {
            match rng.next(8) {
                0 if !probes.is_empty() => {
                    let ip = probes[rng.next(probes.len())];
                    (PeerRef::Address(ip), Other::Addr(ip))
                }
                1 if !nodes.is_empty() => {
                    let n = nodes[rng.next(nodes.len())];
                    (
                        PeerRef::Node {
                            name: n.name.clone(),
                            ips: reference::node_ips(n),
                        },
                        Other::Node(n),
                    )
                }
                _ => {
                    let i = rng.next(n_eps);
                    (PeerRef::Endpoint(i), Other::Pod(&cluster.endpoints[i]))
                }
            }
        };
        let (sr, so) = pick(&mut rng);
        let (dr, d_o) = pick(&mut rng);
        if sr == dr
            || !matches!(
                (&sr, &dr),
                (PeerRef::Endpoint(_), _) | (_, PeerRef::Endpoint(_))
            )
        {
            continue; // self, or neither end a pod
        }
        let port = ports[rng.next(ports.len())];
        let proto = Protocol::ALL[rng.next(3)];
        let want = reference::allowed(cluster, settings, so, d_o, proto, port);
        let e = explain(cluster, settings, &sr, &dr, port, proto);
        if e.allowed != want {
            note(format!(
                "explain {sr:?} -> {dr:?} {proto}/{port}: reference {want}, explain {} ({})",
                e.allowed, e.decided_by
            ));
        }
    }
    diffs
}

proptest! {
    // 256 cases by default; `PROPTEST_CASES=5000` for a deep run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(256),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_agrees_with_tiered_reference((cluster, seed) in cluster_strategy()) {
        for settings in all_settings() {
            let diffs = compare(&cluster, settings, seed);
            prop_assert!(
                diffs.is_empty(),
                "{settings:?}: engine and reference disagree:\n{}\ncluster: {:#?}",
                diffs.join("\n"),
                cluster
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Unit cases: one semantic rule each, expected verdicts stated from the docs
// ---------------------------------------------------------------------------------------

mod cases {
    use super::*;

    pub fn ns(name: &str) -> Namespace {
        Namespace {
            name: name.into(),
            labels: labels_of(&[(METADATA_NAME_LABEL, name)]),
            source: None,
            ..Default::default()
        }
    }

    pub struct Pod(pub Endpoint);

    pub fn pod(namespace: &str, name: &str, labels: &[(&str, &str)]) -> Pod {
        Pod(Endpoint {
            namespace: namespace.into(),
            name: name.into(),
            labels: labels_of(labels),
            workload: WorkloadRef {
                kind: "Pod".into(),
                name: name.into(),
            },
            source: Source::implicit(),
            ..Default::default()
        })
    }

    impl Pod {
        pub fn ip(mut self, ip: &str) -> Self {
            self.0.ips.push(ip.parse().unwrap());
            self
        }
        pub fn node(mut self, node: &str) -> Self {
            self.0.node = Some(node.into());
            self
        }
        pub fn host_network(mut self) -> Self {
            self.0.host_network = true;
            self
        }
    }

    pub fn node(name: &str, labels: &[(&str, &str)], ip: &str) -> Node {
        Node {
            name: name.into(),
            labels: labels_of(labels),
            addresses: vec![NodeAddress {
                kind: "InternalIP".into(),
                address: ip.into(),
            }],
            taints: Vec::new(),
            source: Source::implicit(),
        }
    }

    pub fn cluster(nss: &[&str], pods: Vec<Pod>) -> Cluster {
        let mut c = Cluster::default();
        for n in nss {
            c.namespaces.insert(n.to_string(), ns(n));
        }
        c.endpoints = pods.into_iter().map(|p| p.0).collect();
        c.endpoints
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        c
    }

    /// A NetworkPolicy v1 isolating `selector` pods of `namespace` for ingress, admitting
    /// `from` pods of its namespace (`None`: everything).
    pub fn np_ingress(
        namespace: &str,
        name: &str,
        selector: &[(&str, &str)],
        from: Option<&[(&str, &str)]>,
    ) -> NetworkPolicy {
        let sel = |kvs: &[(&str, &str)]| LabelSelector {
            match_labels: kvs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            match_expressions: Vec::new(),
        };
        NetworkPolicy {
            namespace: namespace.into(),
            name: name.into(),
            pod_selector: sel(selector),
            affects_ingress: true,
            affects_egress: false,
            ingress: vec![PolicyRule {
                peers: from
                    .map(|f| {
                        vec![Peer::Pods {
                            pod_selector: Some(sel(f)),
                            namespace_selector: None,
                        }]
                    })
                    .unwrap_or_default(),
                ports: Vec::new(),
            }],
            egress: Vec::new(),
            source: Source::implicit(),
            ..Default::default()
        }
    }

    pub fn eq(k: &str, v: &str) -> LabelExpr {
        LabelExpr::Eq(k.into(), v.into())
    }

    pub fn pods_in(namespaces: NamespaceMatch, labels: LabelExpr) -> PodMatch {
        PodMatch {
            namespaces,
            labels,
            service_accounts: None,
        }
    }

    /// Pods of any namespace whose labels match.
    pub fn pods_peer(labels: LabelExpr) -> TieredPeer {
        TieredPeer::Pods {
            pods: pods_in(NamespaceMatch::Any, labels),
            not_labels: None,
            nets: None,
            not_nets: Vec::new(),
        }
    }

    pub fn rule(action: Action, peers: Vec<TieredPeer>) -> TieredRule {
        TieredRule {
            name: None,
            action,
            peers,
            ports: Vec::new(),
            not_ports: Vec::new(),
            l7: false,
            source: Source::implicit(),
        }
    }

    /// A dialect policy applying to the directions it has rules for (ingress when it has
    /// none); `isolates` makes those directions fall to the tier's default action.
    #[allow(clippy::too_many_arguments)] // plain and explicit on purpose
    pub fn tiered(
        dialect: Dialect,
        name: &str,
        tier: &str,
        order: Option<f64>,
        subject: Subject,
        ingress: Vec<TieredRule>,
        egress: Vec<TieredRule>,
        isolates: bool,
    ) -> TieredPolicy {
        TieredPolicy {
            dialect,
            namespace: None,
            name: name.into(),
            tier: tier.into(),
            order,
            subject,
            applies_ingress: !ingress.is_empty() || egress.is_empty(),
            applies_egress: !egress.is_empty(),
            isolates_ingress: isolates && (!ingress.is_empty() || egress.is_empty()),
            isolates_egress: isolates && !egress.is_empty(),
            ingress,
            egress,
            annotations: Labels::new(),
            source: Source::implicit(),
        }
    }

    pub fn on(labels: LabelExpr) -> Subject {
        Subject::Pods(pods_in(NamespaceMatch::Any, labels))
    }

    pub fn generic() -> Settings {
        Settings::for_cni(Cni::Generic)
    }
    pub fn calico() -> Settings {
        Settings::for_cni(Cni::Calico)
    }
    pub fn cilium() -> Settings {
        Settings::for_cni(Cni::Cilium)
    }

    /// The connectivity verdict for one pair (`ns/pod` or `ext:IP`), `None` for `node:`
    /// ends (connectivity has no nodes).
    fn connectivity(
        c: &Cluster,
        settings: Settings,
        src: &str,
        dst: &str,
        proto: Protocol,
        port: u16,
    ) -> Option<bool> {
        if src.starts_with("node:") || dst.starts_with("node:") {
            return None;
        }
        let engine = Engine::new(c, settings);
        let classes = engine.peer_count() - engine.external.len();
        let group = |name: &str| -> String {
            let Some(ip) = name.strip_prefix("ext:") else {
                return name.to_string();
            };
            let ip: IpAddr = ip.parse().unwrap();
            (0..engine.external.len())
                .map(|j| engine.external_name((classes + j) as u32))
                .find(|n| {
                    let (v6, lo, hi) = parse_ext(n).unwrap();
                    v6 == ip.is_ipv6() && lo <= ip_key(ip) && ip_key(ip) <= hi
                })
                .unwrap()
        };
        let m = engine_matrix(c, settings);
        Some(
            m.get(&(group(src), group(dst)))
                .is_some_and(|p| p.contains(proto, port)),
        )
    }

    fn ends<'c>(c: &'c Cluster, name: &str) -> (PeerRef, Other<'c>) {
        if let Some(ip) = name.strip_prefix("ext:") {
            let ip: IpAddr = ip.parse().unwrap();
            return (PeerRef::Address(ip), Other::Addr(ip));
        }
        if let Some(n) = name.strip_prefix("node:") {
            let n = &c.nodes[n];
            return (
                PeerRef::Node {
                    name: n.name.clone(),
                    ips: reference::node_ips(n),
                },
                Other::Node(n),
            );
        }
        let i = c
            .endpoints
            .iter()
            .position(|e| e.display_name() == name)
            .unwrap_or_else(|| panic!("no endpoint {name}"));
        (PeerRef::Endpoint(i), Other::Pod(&c.endpoints[i]))
    }

    /// Checks that connectivity, `explain` and the reference all give the stated verdict.
    pub fn expect(
        c: &Cluster,
        settings: Settings,
        src: &str,
        dst: &str,
        proto: Protocol,
        port: u16,
        want: bool,
    ) {
        let (sr, so) = ends(c, src);
        let (dr, d_o) = ends(c, dst);
        let reference = reference::allowed(c, settings, so, d_o, proto, port);
        assert_eq!(reference, want, "reference: {src} -> {dst} {proto}/{port}");
        let e = explain(c, settings, &sr, &dr, port, proto);
        assert_eq!(
            e.allowed, want,
            "explain: {src} -> {dst} {proto}/{port}: {e:#?}"
        );
        if let Some(have) = connectivity(c, settings, src, dst, proto, port) {
            assert_eq!(have, want, "connectivity: {src} -> {dst} {proto}/{port}");
        }
    }
}

use cases::*;

mod support;
use support::{
    container_port_from, engine_matrix, ip_key, net, parse_ext, pod_ip, pod_ip6, protocol,
};

const TCP: Protocol = Protocol::Tcp;

/// Three pods in `shop`: `web`, `other`, `db` (the one policies protect).
fn shop() -> Cluster {
    cluster(
        &["shop"],
        vec![
            pod("shop", "web", &[("app", "web")]),
            pod("shop", "other", &[("app", "other")]),
            pod("shop", "db", &[("app", "db")]),
        ],
    )
}

#[test]
fn admin_deny_beats_networkpolicy_allow() {
    // AdminNetworkPolicy API: ANPs are evaluated before NetworkPolicies, and a Deny rule
    // cannot be overridden by a NetworkPolicy (network-policy-api, "AdminNetworkPolicy":
    // "Deny: ... takes precedence over NetworkPolicy").
    let mut c = shop();
    c.policies
        .push(np_ingress("shop", "allow-all", &[("app", "db")], None));
    c.tiered_policies.push(tiered(
        Dialect::AdminNetworkPolicy,
        "deny-web",
        ADMIN_TIER,
        Some(10.0),
        on(eq("app", "db")),
        vec![rule(Action::Deny, vec![pods_peer(eq("app", "web"))])],
        vec![],
        false,
    ));
    for s in [generic(), calico()] {
        expect(&c, s, "shop/web", "shop/db", TCP, 5432, false);
        expect(&c, s, "shop/other", "shop/db", TCP, 5432, true);
    }
    // Cilium does not implement admin policies: the NetworkPolicy alone decides.
    expect(&c, cilium(), "shop/web", "shop/db", TCP, 5432, true);
}

#[test]
fn admin_pass_defers_to_networkpolicy() {
    // ANP `Pass`: skip the remaining admin rules and let NetworkPolicy (then the baseline)
    // decide. The lower priority number is evaluated first.
    let mut c = shop();
    c.policies.push(np_ingress(
        "shop",
        "from-web",
        &[("app", "db")],
        Some(&[("app", "web")]),
    ));
    c.tiered_policies.push(tiered(
        Dialect::AdminNetworkPolicy,
        "pass-web",
        ADMIN_TIER,
        Some(1.0),
        on(LabelExpr::All),
        vec![rule(Action::Pass, vec![pods_peer(eq("app", "web"))])],
        vec![],
        false,
    ));
    c.tiered_policies.push(tiered(
        Dialect::AdminNetworkPolicy,
        "deny-rest",
        ADMIN_TIER,
        Some(2.0),
        on(LabelExpr::All),
        vec![rule(Action::Deny, vec![TieredPeer::All])],
        vec![],
        false,
    ));
    // Passed: the NetworkPolicy admits web.
    expect(&c, generic(), "shop/web", "shop/db", TCP, 80, true);
    // Passed, and `other` has no NetworkPolicy: nothing decides, allowed.
    expect(&c, generic(), "shop/web", "shop/other", TCP, 80, true);
    // Not passed: the second ANP denies.
    expect(&c, generic(), "shop/other", "shop/web", TCP, 80, false);
}

#[test]
fn baseline_applies_only_when_no_networkpolicy_isolates() {
    // BaselineAdminNetworkPolicy: evaluated after NetworkPolicy; it only decides traffic no
    // NetworkPolicy selects the pod for (a NetworkPolicy isolating the pod denies the rest).
    let mut c = shop();
    c.policies.push(np_ingress(
        "shop",
        "from-web",
        &[("app", "db")],
        Some(&[("app", "web")]),
    ));
    c.tiered_policies.push(tiered(
        Dialect::BaselineAdminNetworkPolicy,
        "default",
        BASELINE_TIER,
        None,
        on(LabelExpr::All),
        vec![
            rule(Action::Allow, vec![pods_peer(eq("app", "other"))]),
            rule(Action::Deny, vec![TieredPeer::All]),
        ],
        vec![],
        false,
    ));
    // db is isolated by the NetworkPolicy: it decides, the baseline never gets a say.
    expect(&c, generic(), "shop/web", "shop/db", TCP, 80, true);
    expect(&c, generic(), "shop/other", "shop/db", TCP, 80, false);
    // web is not isolated by any NetworkPolicy: the baseline decides.
    expect(&c, generic(), "shop/other", "shop/web", TCP, 80, true);
    expect(&c, generic(), "shop/db", "shop/web", TCP, 80, false);
}

fn security_tier(default_action: Action) -> PolicyTier {
    PolicyTier {
        name: "security".into(),
        order: Some(100.0),
        default_action,
        source: Some(Source::implicit()),
    }
}

#[test]
fn calico_end_of_tier_deny() {
    // Calico tiers: a policy of the tier selects db; traffic no rule of the tier matched
    // is denied at the end of the tier (defaultAction Deny), whatever later tiers say.
    let mut c = shop();
    c.policies
        .push(np_ingress("shop", "allow-all", &[("app", "db")], None));
    c.tiers.push(security_tier(Action::Deny));
    c.tiered_policies.push(tiered(
        Dialect::CalicoGlobalNetworkPolicy,
        "db-from-web",
        "security",
        Some(1.0),
        on(eq("app", "db")),
        vec![rule(Action::Allow, vec![pods_peer(eq("app", "web"))])],
        vec![],
        true,
    ));
    expect(&c, calico(), "shop/web", "shop/db", TCP, 80, true);
    expect(&c, calico(), "shop/other", "shop/db", TCP, 80, false);
    // Pods the tier's policies do not select are untouched.
    expect(&c, calico(), "shop/other", "shop/web", TCP, 80, true);
    // Calico policies are not enforced under the generic CNI.
    expect(&c, generic(), "shop/other", "shop/db", TCP, 80, true);
}

#[test]
fn tier_default_action_pass_goes_on_to_the_next_tier() {
    // Calico Tier `defaultAction: Pass`: unmatched traffic goes on to the next tier, here
    // the default tier where the NetworkPolicy allows everything.
    let mut c = shop();
    c.policies.push(np_ingress(
        "shop",
        "from-web",
        &[("app", "db")],
        Some(&[("app", "other")]),
    ));
    c.tiers.push(security_tier(Action::Pass));
    c.tiered_policies.push(tiered(
        Dialect::CalicoGlobalNetworkPolicy,
        "db",
        "security",
        Some(1.0),
        on(eq("app", "db")),
        vec![rule(Action::Deny, vec![pods_peer(eq("app", "web"))])],
        vec![],
        true,
    ));
    expect(&c, calico(), "shop/web", "shop/db", TCP, 80, false);
    expect(&c, calico(), "shop/other", "shop/db", TCP, 80, true);
}

#[test]
fn unset_order_comes_last() {
    // Calico `order`: lower first; a policy without an order after every ordered one.
    let mut c = shop();
    c.tiered_policies.push(tiered(
        Dialect::CalicoGlobalNetworkPolicy,
        "a-deny-all",
        DEFAULT_TIER,
        None,
        on(eq("app", "db")),
        vec![rule(Action::Deny, vec![TieredPeer::All])],
        vec![],
        true,
    ));
    c.tiered_policies.push(tiered(
        Dialect::CalicoGlobalNetworkPolicy,
        "z-allow-web",
        DEFAULT_TIER,
        Some(5000.0),
        on(eq("app", "db")),
        vec![rule(Action::Allow, vec![pods_peer(eq("app", "web"))])],
        vec![],
        true,
    ));
    expect(&c, calico(), "shop/web", "shop/db", TCP, 80, true);
    expect(&c, calico(), "shop/other", "shop/db", TCP, 80, false);
}

#[test]
fn log_continues_with_the_next_rule() {
    // Calico `Log`: logs and goes on; the next matching rule decides.
    let mut c = shop();
    c.tiered_policies.push(tiered(
        Dialect::CalicoGlobalNetworkPolicy,
        "db",
        DEFAULT_TIER,
        Some(1.0),
        on(eq("app", "db")),
        vec![
            rule(Action::Log, vec![TieredPeer::All]),
            rule(Action::Deny, vec![pods_peer(eq("app", "web"))]),
            rule(Action::Allow, vec![TieredPeer::All]),
        ],
        vec![],
        true,
    ));
    expect(&c, calico(), "shop/web", "shop/db", TCP, 80, false);
    expect(&c, calico(), "shop/other", "shop/db", TCP, 80, true);
}

#[test]
fn not_ports_are_taken_away() {
    // Calico `notPorts`: the rule matches every listed port except these.
    let mut c = shop();
    let mut allow = rule(Action::Allow, vec![TieredPeer::All]);
    allow.not_ports = vec![PolicyPort {
        protocol: TCP,
        port: PortSpec::Range(22, 22),
    }];
    c.tiered_policies.push(tiered(
        Dialect::CalicoGlobalNetworkPolicy,
        "db",
        DEFAULT_TIER,
        Some(1.0),
        on(eq("app", "db")),
        vec![allow],
        vec![],
        true,
    ));
    expect(&c, calico(), "shop/web", "shop/db", TCP, 22, false);
    expect(&c, calico(), "shop/web", "shop/db", TCP, 23, true);
    expect(&c, calico(), "shop/web", "shop/db", Protocol::Udp, 22, true);
}

#[test]
fn cilium_deny_overrides_allow_including_networkpolicy() {
    // Cilium: deny policies take precedence over allow policies, NetworkPolicy included
    // (docs.cilium.io, "Deny Policies"). The reader puts the deny part first in the
    // default tier (order f64::MIN), the allow part with its default deny after it.
    let mut c = shop();
    c.policies
        .push(np_ingress("shop", "allow-all", &[("app", "db")], None));
    c.tiered_policies.push(tiered(
        Dialect::CiliumNetworkPolicy,
        "deny-web",
        DEFAULT_TIER,
        Some(f64::MIN),
        on(eq("app", "db")),
        vec![rule(Action::Deny, vec![pods_peer(eq("app", "web"))])],
        vec![],
        false,
    ));
    c.tiered_policies.push(tiered(
        Dialect::CiliumNetworkPolicy,
        "allow-other",
        DEFAULT_TIER,
        None,
        on(eq("app", "db")),
        vec![rule(Action::Allow, vec![pods_peer(eq("app", "other"))])],
        vec![],
        true,
    ));
    expect(&c, cilium(), "shop/web", "shop/db", TCP, 80, false);
    expect(&c, cilium(), "shop/other", "shop/db", TCP, 80, true);
    // Not enforced elsewhere: the NetworkPolicy allows everything.
    expect(&c, calico(), "shop/web", "shop/db", TCP, 80, true);
}

#[test]
fn node_origin_still_applies() {
    // Traffic from a pod's own node is always allowed (docs/semantics.md), whatever the
    // dialect policies say: a hostNetwork pod reaches the pods on its node.
    let mut c = cluster(
        &["shop"],
        vec![
            pod("shop", "agent", &[])
                .host_network()
                .node("n1")
                .ip("10.9.0.1"),
            pod("shop", "d1", &[("app", "db")]).node("n1"),
            pod("shop", "d2", &[("app", "db")]).node("n2"),
        ],
    );
    c.nodes.insert("n1".into(), node("n1", &[], "10.9.0.1"));
    c.nodes.insert("n2".into(), node("n2", &[], "10.9.0.2"));
    c.tiered_policies.push(tiered(
        Dialect::AdminNetworkPolicy,
        "deny-all",
        ADMIN_TIER,
        Some(1.0),
        on(LabelExpr::All),
        vec![rule(Action::Deny, vec![TieredPeer::All])],
        vec![],
        false,
    ));
    expect(&c, generic(), "shop/agent", "shop/d1", TCP, 10250, true);
    expect(&c, generic(), "node:n1", "shop/d1", TCP, 10250, true);
    expect(&c, generic(), "shop/agent", "shop/d2", TCP, 10250, false);
    expect(&c, generic(), "node:n1", "shop/d2", TCP, 10250, false);
    // Not the other way round.
    expect(&c, generic(), "shop/d2", "shop/d1", TCP, 80, false);
}

#[test]
fn node_subjects_and_entities() {
    // Cilium: a pod whose egress allows only `world` reaches outside addresses, not node
    // addresses (nodes are `host`/`remote-node`), nor pods.
    let mut c = cluster(
        &["shop"],
        vec![
            pod("shop", "web", &[("app", "web")]).node("n2"),
            pod("shop", "agent", &[])
                .host_network()
                .node("n1")
                .ip("10.9.0.1"),
            pod("shop", "db", &[("app", "db")]).node("n2"),
        ],
    );
    c.nodes
        .insert("n1".into(), node("n1", &[("role", "infra")], "10.9.0.1"));
    c.nodes.insert("n2".into(), node("n2", &[], "10.9.0.2"));
    c.tiered_policies.push(tiered(
        Dialect::CiliumNetworkPolicy,
        "web-out",
        DEFAULT_TIER,
        None,
        on(eq("app", "web")),
        vec![],
        vec![rule(Action::Allow, vec![TieredPeer::Entity(Entity::World)])],
        true,
    ));
    expect(&c, cilium(), "shop/web", "ext:8.8.8.8", TCP, 443, true);
    expect(&c, cilium(), "shop/web", "ext:10.9.0.2", TCP, 443, false);
    expect(&c, cilium(), "shop/web", "shop/db", TCP, 443, false);
    expect(&c, cilium(), "shop/web", "shop/agent", TCP, 443, false);

    // A node subject (Cilium nodeSelector on the Node's labels): ingress to the infra node
    // (its address and its hostNetwork pods) only from `cluster`.
    let mut c2 = c.clone();
    c2.tiered_policies = vec![tiered(
        Dialect::CiliumClusterwideNetworkPolicy,
        "infra-in",
        DEFAULT_TIER,
        None,
        Subject::Nodes(eq("role", "infra")),
        vec![rule(
            Action::Allow,
            vec![TieredPeer::Entity(Entity::Cluster)],
        )],
        vec![],
        true,
    )];
    expect(&c2, cilium(), "shop/web", "shop/agent", TCP, 22, true);
    expect(&c2, cilium(), "shop/web", "ext:10.9.0.1", TCP, 22, true);
    expect(&c2, cilium(), "ext:8.8.8.8", "shop/agent", TCP, 22, false);
    expect(&c2, cilium(), "ext:10.9.0.2", "shop/agent", TCP, 22, true);
    // The other node is not selected.
    expect(&c2, cilium(), "ext:8.8.8.8", "shop/db", TCP, 22, true);

    // Calico selects hosts through HostEndpoint labels, not Node labels.
    let mut c3 = c.clone();
    c3.tiered_policies = vec![tiered(
        Dialect::CalicoGlobalNetworkPolicy,
        "hosts-closed",
        DEFAULT_TIER,
        Some(10.0),
        Subject::Nodes(LabelExpr::Has("host".into())),
        vec![],
        vec![],
        true,
    )];
    // No HostEndpoint yet: nothing selected, even though the Node exists.
    expect(&c3, calico(), "shop/web", "shop/agent", TCP, 22, true);
    c3.host_endpoints.push(HostEndpoint {
        name: "n1-eth0".into(),
        node: "n1".into(),
        labels: labels_of(&[("host", "n1")]),
        interface: Some("eth0".into()),
        expected_ips: Vec::new(),
        source: Source::implicit(),
    });
    expect(&c3, calico(), "shop/web", "shop/agent", TCP, 22, false);
    expect(&c3, calico(), "shop/web", "ext:10.9.0.1", TCP, 22, false);
    expect(&c3, calico(), "shop/web", "node:n1", TCP, 22, false);
    expect(&c3, calico(), "shop/web", "ext:10.9.0.2", TCP, 22, true);
}

#[test]
fn cilium_cidr_selectors_never_select_nodes() {
    // docs/semantics.md (per-CNI table): under Cilium, ipBlock and CIDR rules select only
    // world addresses; Cilium's docs: CIDR rules do not apply to IPs of cluster nodes.
    let mut c = cluster(&["shop"], vec![pod("shop", "web", &[("app", "web")])]);
    c.nodes.insert("n1".into(), node("n1", &[], "10.9.0.1"));
    c.tiered_policies.push(tiered(
        Dialect::CiliumNetworkPolicy,
        "web-out",
        DEFAULT_TIER,
        None,
        on(eq("app", "web")),
        vec![],
        vec![rule(
            Action::Allow,
            vec![TieredPeer::Networks {
                nets: Some(vec!["10.9.0.0/16".parse().unwrap()]),
                except: Vec::new(),
                matches_pods: false,
            }],
        )],
        true,
    ));
    expect(&c, cilium(), "shop/web", "ext:10.9.5.5", TCP, 443, true);
    expect(&c, cilium(), "shop/web", "ext:10.9.0.1", TCP, 443, false);
    expect(&c, cilium(), "shop/web", "node:n1", TCP, 443, false);

    // A NetworkPolicy ipBlock, the same way under Cilium; under the generic CNI it matches
    // the node's address.
    let mut c = cluster(&["shop"], vec![pod("shop", "web", &[("app", "web")])]);
    c.nodes.insert("n1".into(), node("n1", &[], "10.9.0.1"));
    c.policies.push(NetworkPolicy {
        namespace: "shop".into(),
        name: "web-out".into(),
        affects_egress: true,
        egress: vec![PolicyRule {
            peers: vec![Peer::IpBlock(IpBlock {
                cidr: "10.9.0.0/16".parse().unwrap(),
                except: Vec::new(),
            })],
            ports: Vec::new(),
        }],
        source: Source::implicit(),
        ..Default::default()
    });
    expect(&c, cilium(), "shop/web", "ext:10.9.5.5", TCP, 443, true);
    expect(&c, cilium(), "shop/web", "ext:10.9.0.1", TCP, 443, false);
    expect(&c, generic(), "shop/web", "ext:10.9.0.1", TCP, 443, true);
}
