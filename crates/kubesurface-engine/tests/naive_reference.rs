//! The engine against a deliberately naive reference evaluator.
//!
//! The reference below is written from the NetworkPolicy v1 API reference (and the
//! semantics section of the design), one (source, destination, port, protocol) at a time,
//! with no classes, atoms, bitsets or port sets. It shares no code with the engine beyond
//! the model types. A property test generates small clusters whose selectors, ipBlocks and
//! named ports collide often and compares every pod pair and a set of external addresses
//! against the engine's pod-granularity connectivity output. Plain unit tests below pin
//! single rules through the public API, with the expected verdict stated from the spec.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use kubesurface_engine::{Engine, PortSet, Settings};
use kubesurface_model::{
    Cluster, ContainerPort, Endpoint, IpBlock, LabelSelector, Labels, METADATA_NAME_LABEL,
    Namespace, NetworkPolicy, Operator, Peer, PolicyPort, PolicyRule, PortSpec, Protocol,
    Requirement, Source, WorkloadRef,
};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------
// The naive reference
// ---------------------------------------------------------------------------------------

mod naive {
    use super::*;

    /// The other end of a connection, as a policy rule's peer sees it.
    #[derive(Clone, Copy, Debug)]
    pub enum Other<'a> {
        /// A pod (or workload representative) of the cluster.
        Pod(&'a Endpoint),
        /// An address outside the cluster.
        External(IpAddr),
    }

    /// `metav1.LabelSelector` semantics: every matchLabels entry and every
    /// matchExpressions requirement must hold; `{}` matches everything.
    pub fn selector_matches(sel: &LabelSelector, labels: &Labels) -> bool {
        for (k, v) in &sel.match_labels {
            if labels.get(k) != Some(v) {
                return false;
            }
        }
        for req in &sel.match_expressions {
            let value = labels.get(&req.key);
            let ok = match req.operator {
                Operator::In => value.is_some_and(|v| req.values.contains(v)),
                Operator::NotIn => value.is_none_or(|v| !req.values.contains(v)),
                Operator::Exists => value.is_some(),
                Operator::DoesNotExist => value.is_none(),
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// `cidr` minus every `except`.
    fn in_block(block: &IpBlock, ip: &IpAddr) -> bool {
        block.cidr.contains(ip) && !block.except.iter().any(|e| e.contains(ip))
    }

    /// Does the policy select this endpoint (its `spec.podSelector`)? hostNetwork pods are
    /// node traffic and are never selected.
    pub fn policy_selects(policy: &NetworkPolicy, ep: &Endpoint) -> bool {
        !ep.host_network
            && policy.namespace == ep.namespace
            && selector_matches(&policy.pod_selector, &ep.labels)
    }

    /// Does one `NetworkPolicyPeer` of `policy` match `other`?
    fn peer_matches(
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
                    return false; // selectors only ever match pods
                };
                if ep.host_network {
                    return false; // hostNetwork pods are node traffic
                }
                let ns_ok = match namespace_selector {
                    None => ep.namespace == policy.namespace,
                    Some(sel) => {
                        let ns = cluster
                            .namespaces
                            .get(&ep.namespace)
                            .expect("every endpoint's namespace exists");
                        selector_matches(sel, &ns.labels)
                    }
                };
                let pod_ok = pod_selector
                    .as_ref()
                    .is_none_or(|sel| selector_matches(sel, &ep.labels));
                ns_ok && pod_ok
            }
            Peer::IpBlock(block) => match other {
                Other::External(ip) => in_block(block, &ip),
                Other::Pod(ep) => {
                    if !settings.ipblock_matches_pods {
                        false
                    } else if ep.ips.is_empty() {
                        // Address unknown: only a block covering the whole space is sure to
                        // contain it.
                        block.cidr.prefix_len() == 0 && block.except.is_empty()
                    } else {
                        ep.ips.iter().any(|ip| in_block(block, ip))
                    }
                }
            },
        }
    }

    /// Does one `NetworkPolicyPort` admit `port/proto` towards `dst` (`None` = external)?
    fn port_matches(pp: &PolicyPort, dst: Option<&Endpoint>, proto: Protocol, port: u16) -> bool {
        if pp.protocol != proto {
            return false;
        }
        match &pp.port {
            PortSpec::All => true,
            PortSpec::Range(lo, hi) => *lo <= port && port <= *hi,
            PortSpec::Named(name) => dst.is_some_and(|d| {
                d.ports.iter().any(|cp| {
                    cp.name.as_deref() == Some(name.as_str())
                        && cp.protocol == proto
                        && cp.port == port
                })
            }),
        }
    }

    #[allow(clippy::too_many_arguments)] // plain and explicit on purpose
    fn rule_matches(
        cluster: &Cluster,
        settings: Settings,
        policy: &NetworkPolicy,
        rule: &PolicyRule,
        other: Other<'_>,
        dst: Option<&Endpoint>,
        proto: Protocol,
        port: u16,
    ) -> bool {
        let peer_ok = rule.peers.is_empty()
            || rule
                .peers
                .iter()
                .any(|p| peer_matches(cluster, settings, policy, p, other));
        let port_ok = rule.ports.is_empty()
            || rule
                .ports
                .iter()
                .any(|pp| port_matches(pp, dst, proto, port));
        peer_ok && port_ok
    }

    /// Does `dst`'s ingress side admit `src` on `port/proto`?
    pub fn ingress_ok(
        cluster: &Cluster,
        settings: Settings,
        dst: &Endpoint,
        src: Other<'_>,
        proto: Protocol,
        port: u16,
    ) -> bool {
        if dst.host_network {
            return true;
        }
        let isolating: Vec<&NetworkPolicy> = cluster
            .policies
            .iter()
            .filter(|p| p.affects_ingress && policy_selects(p, dst))
            .collect();
        if isolating.is_empty() {
            return true;
        }
        isolating.iter().any(|p| {
            p.ingress
                .iter()
                .any(|r| rule_matches(cluster, settings, p, r, src, Some(dst), proto, port))
        })
    }

    /// Does `src`'s egress side admit traffic to `dst` on `port/proto`?
    pub fn egress_ok(
        cluster: &Cluster,
        settings: Settings,
        src: &Endpoint,
        dst: Other<'_>,
        proto: Protocol,
        port: u16,
    ) -> bool {
        if src.host_network {
            return true;
        }
        let isolating: Vec<&NetworkPolicy> = cluster
            .policies
            .iter()
            .filter(|p| p.affects_egress && policy_selects(p, src))
            .collect();
        if isolating.is_empty() {
            return true;
        }
        let dst_pod = match dst {
            Other::Pod(ep) => Some(ep),
            Other::External(_) => None,
        };
        isolating.iter().any(|p| {
            p.egress
                .iter()
                .any(|r| rule_matches(cluster, settings, p, r, dst, dst_pod, proto, port))
        })
    }

    /// Pod to pod.
    pub fn allowed(
        cluster: &Cluster,
        settings: Settings,
        src: &Endpoint,
        dst: &Endpoint,
        proto: Protocol,
        port: u16,
    ) -> bool {
        if src.host_network && src.node.is_some() && src.node == dst.node {
            return true; // traffic from a pod's own node
        }
        ingress_ok(cluster, settings, dst, Other::Pod(src), proto, port)
            && egress_ok(cluster, settings, src, Other::Pod(dst), proto, port)
    }
}

// ---------------------------------------------------------------------------------------
// Engine access through the public API
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

const NS_NAMES: [&str; 3] = ["ns0", "ns1", "ns2"];
const POD_KEYS: [&str; 2] = ["app", "tier"];
const POD_VALUES: [&str; 2] = ["a", "b"];
const NS_KEYS: [&str; 3] = ["team", "env", METADATA_NAME_LABEL];
const NS_VALUES: [&str; 4] = ["a", "b", "ns0", "ns1"];
const PORT_NAMES: [&str; 3] = ["http", "dns", "db"];
const PORT_NUMBERS: [u16; 5] = [53, 80, 81, 443, 5432];
const CIDRS: [&str; 8] = [
    "10.0.0.0/24",
    "10.0.0.0/30",
    "0.0.0.0/0",
    "10.0.1.0/29",
    "10.0.0.4/30",
    "10.0.0.0/8",
    "::/0",
    "fd00::/120",
];
const EXCEPTS: [&str; 11] = [
    "10.0.0.0/30",
    "10.0.0.2/31",
    "10.0.0.4/32",
    "10.0.1.0/30",
    "10.0.0.0/29",
    "10.0.0.128/25",
    "10.0.1.4/31",
    "10.0.0.0/24",
    "0.0.0.0/1",
    "fd00::/124",
    "fd00::2/127",
];

fn labels(
    keys: &'static [&'static str],
    values: &'static [&'static str],
) -> impl Strategy<Value = Labels> {
    proptest::collection::btree_map(select(keys), select(values), 0..=2).prop_map(|m| {
        m.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn requirement(
    keys: &'static [&'static str],
    values: &'static [&'static str],
) -> impl Strategy<Value = Requirement> {
    (
        select(keys),
        select(vec![
            Operator::In,
            Operator::NotIn,
            Operator::Exists,
            Operator::DoesNotExist,
        ]),
        proptest::collection::btree_set(select(values), 1..=2),
    )
        .prop_map(|(key, operator, vals)| Requirement {
            key: key.to_string(),
            operator,
            values: match operator {
                Operator::In | Operator::NotIn => vals.into_iter().map(str::to_string).collect(),
                Operator::Exists | Operator::DoesNotExist => Vec::new(),
            },
        })
}

fn selector(
    keys: &'static [&'static str],
    values: &'static [&'static str],
) -> impl Strategy<Value = LabelSelector> {
    prop_oneof![
        // `{}` is common in real policies.
        1 => Just(LabelSelector::default()),
        3 => (
            proptest::collection::vec((select(keys), select(values)), 0..=2),
            proptest::collection::vec(requirement(keys, values), 0..=2),
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

fn pod_selector() -> impl Strategy<Value = LabelSelector> {
    selector(&POD_KEYS, &POD_VALUES)
}

fn ns_selector() -> impl Strategy<Value = LabelSelector> {
    selector(&NS_KEYS, &NS_VALUES)
}

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
                let inside = cidr.contains(&e) && e.prefix_len() > cidr.prefix_len();
                if inside && !except.contains(&e) {
                    except.push(e);
                }
            }
            IpBlock { cidr, except }
        })
}

fn peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        3 => pod_selector().prop_map(|p| Peer::Pods {
            pod_selector: Some(p),
            namespace_selector: None,
        }),
        2 => ns_selector().prop_map(|n| Peer::Pods {
            pod_selector: None,
            namespace_selector: Some(n),
        }),
        2 => (pod_selector(), ns_selector()).prop_map(|(p, n)| Peer::Pods {
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
            select(vec![1u16, 53, 79, 80, 81, 443, 5432, 65534, 65535]),
            select(vec![0u16, 0, 0, 1, 2, 400, 65535]),
        )
            .prop_map(|(lo, len)| PortSpec::Range(lo, lo.saturating_add(len))),
        3 => select(PORT_NAMES.to_vec()).prop_map(|n| PortSpec::Named(n.to_string())),
    ];
    (protocol(), spec).prop_map(|(protocol, port)| PolicyPort { protocol, port })
}

fn rule_strategy() -> impl Strategy<Value = PolicyRule> {
    (
        proptest::collection::vec(peer(), 0..=3),
        proptest::collection::vec(policy_port(), 0..=3),
    )
        .prop_map(|(peers, ports)| PolicyRule { peers, ports })
}

#[derive(Clone, Debug)]
struct PolicyGen {
    ns: usize,
    pod_selector: LabelSelector,
    affects_ingress: bool,
    affects_egress: bool,
    ingress: Vec<PolicyRule>,
    egress: Vec<PolicyRule>,
}

fn policy_gen() -> impl Strategy<Value = PolicyGen> {
    (
        0..3usize,
        pod_selector(),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.5),
        proptest::collection::vec(rule_strategy(), 0..=3),
        proptest::collection::vec(rule_strategy(), 0..=3),
    )
        .prop_map(
            |(ns, pod_selector, affects_ingress, affects_egress, ingress, egress)| PolicyGen {
                ns,
                pod_selector,
                affects_ingress,
                affects_egress,
                ingress,
                egress,
            },
        )
}

#[derive(Clone, Debug)]
struct EndpointGen {
    ns: usize,
    labels: Labels,
    /// Index into the 16 pod addresses 10.0.0.0-7 and 10.0.1.0-7.
    ip: Option<u8>,
    /// A second, IPv6 address (dual stack).
    ip6: Option<u8>,
    host_network: bool,
    node: Option<usize>,
    ports: Vec<ContainerPort>,
    representative: bool,
}

fn container_port() -> impl Strategy<Value = ContainerPort> {
    container_port_from(&PORT_NAMES, &PORT_NUMBERS)
}

fn endpoint_gen() -> impl Strategy<Value = EndpointGen> {
    (
        0..3usize,
        labels(&POD_KEYS, &POD_VALUES),
        prop::option::weighted(0.75, 0u8..16),
        prop::option::weighted(0.1, 0u8..8),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.8, 0..2usize),
        proptest::collection::vec(container_port(), 0..=3),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(ns, labels, ip, ip6, host_network, node, ports, representative)| EndpointGen {
                ns,
                labels,
                ip,
                ip6,
                host_network,
                node,
                ports,
                representative,
            },
        )
}

fn build_cluster(
    ns_count: usize,
    ns_labels: Vec<Labels>,
    eps: Vec<EndpointGen>,
    pols: Vec<PolicyGen>,
) -> Cluster {
    let mut cluster = Cluster::default();
    for (i, mut labels) in ns_labels.into_iter().take(ns_count).enumerate() {
        let name = NS_NAMES[i].to_string();
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
    for (i, g) in eps.into_iter().enumerate() {
        let name = format!("p{i}");
        let mut ips = Vec::new();
        if !g.representative {
            ips.extend(g.ip.map(pod_ip));
            ips.extend(g.ip6.map(pod_ip6));
        }
        cluster.endpoints.push(Endpoint {
            namespace: NS_NAMES[g.ns % ns_count].to_string(),
            name: name.clone(),
            labels: g.labels,
            ips,
            node: g.node.map(|n| format!("node{n}")),
            host_network: g.host_network,
            ports: g.ports,
            workload: if g.representative {
                WorkloadRef {
                    kind: "Deployment".into(),
                    name,
                }
            } else {
                WorkloadRef {
                    kind: "Pod".into(),
                    name,
                }
            },
            representative: g.representative,
            source: Source::implicit(),
            ..Default::default()
        });
    }
    cluster
        .endpoints
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    for (i, g) in pols.into_iter().enumerate() {
        cluster.policies.push(NetworkPolicy {
            namespace: NS_NAMES[g.ns % ns_count].to_string(),
            name: format!("pol{i}"),
            pod_selector: g.pod_selector,
            affects_ingress: g.affects_ingress,
            affects_egress: g.affects_egress,
            ingress: g.ingress,
            egress: g.egress,
            source: Source::implicit(),
            ..Default::default()
        });
    }
    cluster
}

fn cluster_strategy() -> impl Strategy<Value = (Cluster, Vec<u32>)> {
    (
        2..=3usize,
        proptest::collection::vec(labels(&["team", "env"], &["a", "b"]), 3),
        proptest::collection::vec(endpoint_gen(), 2..=8),
        proptest::collection::vec(policy_gen(), 0..=4),
        proptest::collection::vec(any::<u32>(), 0..=3),
    )
        .prop_map(|(n, nsl, eps, pols, random_ips)| (build_cluster(n, nsl, eps, pols), random_ips))
}

// ---------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------

fn probe_ports(cluster: &Cluster) -> Vec<u16> {
    let mut ports: BTreeSet<u16> = BTreeSet::from([1, 2, 65534, 65535]);
    let mut add = |p: u16| {
        ports.insert(p);
        if p > 1 {
            ports.insert(p - 1);
        }
        if p < 65535 {
            ports.insert(p + 1);
        }
    };
    for e in &cluster.endpoints {
        for cp in &e.ports {
            add(cp.port);
        }
    }
    for p in &cluster.policies {
        for r in p.ingress.iter().chain(&p.egress) {
            for pp in &r.ports {
                if let PortSpec::Range(lo, hi) = pp.port {
                    add(lo);
                    add(hi);
                }
            }
        }
    }
    for n in PORT_NUMBERS {
        add(n);
    }
    ports.into_iter().collect()
}

fn external_probes(cluster: &Cluster, random: &[u32]) -> Vec<IpAddr> {
    let mut probes: BTreeSet<IpAddr> = BTreeSet::new();
    for last in 0..=16u8 {
        probes.insert(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)));
        probes.insert(IpAddr::V4(Ipv4Addr::new(10, 0, 1, last)));
    }
    for s in [
        "0.0.0.0",
        "0.0.0.1",
        "9.255.255.255",
        "10.0.0.127",
        "10.0.0.128",
        "10.0.0.255",
        "10.0.1.255",
        "10.0.2.0",
        "10.255.255.255",
        "11.0.0.0",
        "127.255.255.255",
        "128.0.0.0",
        "192.168.1.1",
        "255.255.255.255",
    ] {
        probes.insert(s.parse().unwrap());
    }
    for &r in random {
        probes.insert(IpAddr::V4(Ipv4Addr::from(r)));
    }
    let uses_v6 = cluster
        .endpoints
        .iter()
        .flat_map(|e| &e.ips)
        .any(IpAddr::is_ipv6)
        || cluster
            .policies
            .iter()
            .flat_map(|p| p.ingress.iter().chain(&p.egress))
            .flat_map(|r| &r.peers)
            .any(|p| matches!(p, Peer::IpBlock(b) if b.cidr.addr().is_ipv6()));
    if uses_v6 {
        for i in [0u16, 1, 2, 3, 4, 15, 16, 255, 256] {
            probes.insert(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i)));
        }
        for s in [
            "::",
            "::1",
            "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db8::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            probes.insert(s.parse().unwrap());
        }
    }
    let pod_ips: BTreeSet<IpAddr> = cluster
        .endpoints
        .iter()
        .flat_map(|e| e.ips.iter().copied())
        .collect();
    probes.retain(|ip| !pod_ips.contains(ip));
    probes.into_iter().collect()
}

/// Compares engine and reference for one cluster and setting; returns the first few
/// disagreements as readable lines.
fn compare(cluster: &Cluster, settings: Settings, random_ips: &[u32]) -> Vec<String> {
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
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "generator produced duplicate names"
    );

    // Pod to pod.
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
                    let want = naive::allowed(cluster, settings, src, dst, proto, port);
                    let have = got.contains(proto, port);
                    if want != have {
                        note(format!(
                            "{} -> {} {proto}/{port}: reference {want}, engine {have}",
                            names[si], names[di]
                        ));
                    }
                }
            }
        }
    }

    // External peers: find the engine's `ext:` group containing each probe address.
    let mut ext_groups: BTreeMap<String, (bool, u128, u128)> = BTreeMap::new();
    for (s, d) in matrix.keys() {
        for n in [s, d] {
            if let Some(iv) = parse_ext(n) {
                ext_groups.insert(n.clone(), iv);
            } else {
                assert!(!n.starts_with("ext:"), "unparsable external name {n}");
            }
        }
    }
    // Groups with nothing allowed do not appear in the output; recover every external
    // peer's name from the engine so a probe always finds its group.
    let engine = Engine::new(cluster, settings);
    let classes = engine.peer_count() - engine.external.len();
    let mut all_ext = Vec::new();
    for j in 0..engine.external.len() {
        let name = engine.external_name((classes + j) as u32);
        let iv = parse_ext(&name).unwrap_or_else(|| panic!("unparsable external name {name}"));
        all_ext.push((name, iv));
    }
    for (name, iv) in &ext_groups {
        assert!(
            all_ext.iter().any(|(n, i)| n == name && i == iv),
            "output names external peer {name} the engine does not have"
        );
    }
    // External peers must be disjoint.
    for (a, (na, ia)) in all_ext.iter().enumerate() {
        for (nb, ib) in &all_ext[a + 1..] {
            assert!(
                ia.0 != ib.0 || ia.2 < ib.1 || ib.2 < ia.1,
                "external peers {na} and {nb} overlap"
            );
        }
    }

    for ip in external_probes(cluster, random_ips) {
        let key = (ip.is_ipv6(), ip_key(ip));
        let hits: Vec<&String> = all_ext
            .iter()
            .filter(|(_, (v6, lo, hi))| *v6 == key.0 && *lo <= key.1 && key.1 <= *hi)
            .map(|(n, _)| n)
            .collect();
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
                    let want_in = naive::ingress_ok(
                        cluster,
                        settings,
                        ep,
                        naive::Other::External(ip),
                        proto,
                        port,
                    );
                    let have_in = inbound.contains(proto, port);
                    if want_in != have_in {
                        note(format!(
                            "{ip} ({ext}) -> {} {proto}/{port}: reference {want_in}, engine {have_in}",
                            names[i]
                        ));
                    }
                    let want_out = naive::egress_ok(
                        cluster,
                        settings,
                        ep,
                        naive::Other::External(ip),
                        proto,
                        port,
                    );
                    let have_out = outbound.contains(proto, port);
                    if want_out != have_out {
                        note(format!(
                            "{} -> {ip} ({ext}) {proto}/{port}: reference {want_out}, engine {have_out}",
                            names[i]
                        ));
                    }
                }
            }
        }
    }
    diffs
}

/// The number of cases a property runs: `PROPTEST_CASES` when set, else `default`.
fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

proptest! {
    // 256 cases by default (a few seconds in debug); `PROPTEST_CASES=20000` for a deep run.
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(256),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_agrees_with_naive_reference((cluster, random_ips) in cluster_strategy()) {
        for matches_pods in [true, false] {
            let settings = Settings {
                ipblock_matches_pods: matches_pods,
                ..Settings::default()
            };
            let diffs = compare(&cluster, settings, &random_ips);
            prop_assert!(
                diffs.is_empty(),
                "ipblock_matches_pods={matches_pods}: engine and reference disagree:\n{}\ncluster: {:#?}",
                diffs.join("\n"),
                cluster
            );
        }
    }
}

/// The rows of a source signature do not depend on which rows were computed before, in the
/// same call or an earlier one (row buffers are reused between calls).
fn rows_independent_of_order(cluster: &Cluster, settings: Settings) -> Result<(), String> {
    let engine = Engine::new(cluster, settings);
    let mut matrix = kubesurface_engine::matrix::Matrix::new(&engine);
    let (sources, _) = matrix.signatures();
    let all: Vec<u32> = (0..sources as u32).collect();
    let as_portsets = |matrix: &kubesurface_engine::matrix::Matrix<'_, '_>,
                       rows: Vec<Vec<(u32, u32)>>| {
        rows.into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|(d, id)| (d, matrix.portset(id)))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let together = matrix.rows(&all);
    let together = as_portsets(&matrix, together);
    for (k, &s) in all.iter().enumerate().rev() {
        let alone = matrix.rows(&[s]);
        let alone = as_portsets(&matrix, alone);
        if alone[0] != together[k] {
            return Err(format!(
                "source signature {s}: alone {:?}, with the others {:?}",
                alone[0], together[k]
            ));
        }
    }
    let again = matrix.rows(&all);
    if as_portsets(&matrix, again) != together {
        return Err("a second call over every source gave other rows".to_string());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn matrix_rows_do_not_depend_on_earlier_rows((cluster, _ips) in cluster_strategy()) {
        for matches_pods in [true, false] {
            let settings = Settings {
                ipblock_matches_pods: matches_pods,
                ..Settings::default()
            };
            let result = rows_independent_of_order(&cluster, settings);
            prop_assert!(result.is_ok(), "{}", result.unwrap_err());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Unit cases: one semantic rule each, expected verdicts from the API reference
// ---------------------------------------------------------------------------------------

mod cases {
    use super::*;

    pub fn ns(name: &str, labels: &[(&str, &str)]) -> Namespace {
        let mut l: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.insert(METADATA_NAME_LABEL.into(), name.into());
        Namespace {
            name: name.into(),
            labels: l,
            source: None,
            ..Default::default()
        }
    }

    pub struct Pod {
        pub ep: Endpoint,
    }

    pub fn pod(namespace: &str, name: &str, labels: &[(&str, &str)]) -> Pod {
        Pod {
            ep: Endpoint {
                namespace: namespace.into(),
                name: name.into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ips: Vec::new(),
                node: None,
                host_network: false,
                ports: Vec::new(),
                workload: WorkloadRef {
                    kind: "Pod".into(),
                    name: name.into(),
                },
                representative: false,
                source: Source::implicit(),
                ..Default::default()
            },
        }
    }

    impl Pod {
        pub fn ip(mut self, ip: &str) -> Self {
            self.ep.ips.push(ip.parse().unwrap());
            self
        }
        pub fn node(mut self, node: &str) -> Self {
            self.ep.node = Some(node.into());
            self
        }
        pub fn host_network(mut self) -> Self {
            self.ep.host_network = true;
            self
        }
        pub fn port(mut self, name: &str, port: u16, protocol: Protocol) -> Self {
            self.ep.ports.push(ContainerPort {
                name: Some(name.into()),
                port,
                protocol,
                host_port: None,
                host_ip: None,
            });
            self
        }
    }

    pub fn sel(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            match_expressions: Vec::new(),
        }
    }

    pub fn pods_peer(pod: Option<LabelSelector>, ns: Option<LabelSelector>) -> Peer {
        Peer::Pods {
            pod_selector: pod,
            namespace_selector: ns,
        }
    }

    pub fn block(cidr: &str, except: &[&str]) -> Peer {
        Peer::IpBlock(IpBlock {
            cidr: cidr.parse().unwrap(),
            except: except.iter().map(|e| e.parse().unwrap()).collect(),
        })
    }

    pub fn rule(peers: Vec<Peer>, ports: Vec<PolicyPort>) -> PolicyRule {
        PolicyRule { peers, ports }
    }

    pub fn tcp(p: PortSpec) -> PolicyPort {
        PolicyPort {
            protocol: Protocol::Tcp,
            port: p,
        }
    }

    pub fn policy(
        namespace: &str,
        pod_selector: LabelSelector,
        ingress: Option<Vec<PolicyRule>>,
        egress: Option<Vec<PolicyRule>>,
    ) -> NetworkPolicy {
        NetworkPolicy {
            namespace: namespace.into(),
            name: format!(
                "pol-{}",
                ingress.is_some() as u8 + 2 * egress.is_some() as u8
            ),
            pod_selector,
            affects_ingress: ingress.is_some(),
            affects_egress: egress.is_some(),
            ingress: ingress.unwrap_or_default(),
            egress: egress.unwrap_or_default(),
            source: Source::implicit(),
            ..Default::default()
        }
    }

    pub fn cluster(nss: Vec<Namespace>, pods: Vec<Pod>, policies: Vec<NetworkPolicy>) -> Cluster {
        let mut c = Cluster::default();
        for n in nss {
            c.namespaces.insert(n.name.clone(), n);
        }
        c.endpoints = pods.into_iter().map(|p| p.ep).collect();
        c.endpoints
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        c.policies = policies;
        c
    }

    /// The engine's pod-granularity verdict between two names (`ns/pod` or `ext:…`).
    pub fn verdict(c: &Cluster, settings: Settings, src: &str, dst: &str) -> PortSet {
        engine_matrix(c, settings)
            .remove(&(src.to_string(), dst.to_string()))
            .unwrap_or_else(PortSet::empty)
    }

    pub fn upstream() -> Settings {
        Settings {
            ipblock_matches_pods: true,
            ..Settings::default()
        }
    }

    /// Checks the engine and the reference agree with the stated expectation.
    pub fn expect(
        c: &Cluster,
        settings: Settings,
        src: &str,
        dst: &str,
        proto: Protocol,
        port: u16,
        want: bool,
    ) {
        let have = verdict(c, settings, src, dst).contains(proto, port);
        assert_eq!(have, want, "engine: {src} -> {dst} {proto}/{port}");
        let find = |n: &str| c.endpoints.iter().find(|e| e.display_name() == n);
        if let (Some(s), Some(d)) = (find(src), find(dst)) {
            let reference = naive::allowed(c, settings, s, d, proto, port);
            assert_eq!(reference, want, "reference: {src} -> {dst} {proto}/{port}");
        }
    }
}

use cases::*;

mod support;
use support::{
    container_port_from, engine_matrix, ip_key, net, parse_ext, pod_ip, pod_ip6, protocol,
};

const TCP: Protocol = Protocol::Tcp;
const UDP: Protocol = Protocol::Udp;
const SCTP: Protocol = Protocol::Sctp;

#[test]
fn egress_only_policy_does_not_isolate_ingress() {
    // policyTypes: [Egress] with no egress rules: the selected pod may send nothing, but
    // receiving is untouched.
    let c = cluster(
        vec![ns("a", &[])],
        vec![pod("a", "x", &[]), pod("a", "y", &[("app", "db")])],
        vec![policy("a", sel(&[("app", "db")]), None, Some(vec![]))],
    );
    expect(&c, upstream(), "a/x", "a/y", TCP, 80, true);
    expect(&c, upstream(), "a/y", "a/x", TCP, 80, false);
}

#[test]
fn ingress_policy_with_no_rules_denies_all_ingress_only() {
    let c = cluster(
        vec![ns("a", &[])],
        vec![pod("a", "x", &[]), pod("a", "y", &[])],
        vec![policy("a", sel(&[]), Some(vec![]), None)],
    );
    expect(&c, upstream(), "a/x", "a/y", TCP, 80, false);
    expect(&c, upstream(), "a/y", "a/x", UDP, 53, false);
    // An empty rule (no from, no ports) allows everything.
    let c = cluster(
        vec![ns("a", &[])],
        vec![pod("a", "x", &[]), pod("a", "y", &[])],
        vec![policy(
            "a",
            sel(&[]),
            Some(vec![rule(vec![], vec![])]),
            None,
        )],
    );
    expect(&c, upstream(), "a/x", "a/y", SCTP, 9, true);
}

#[test]
fn pod_and_namespace_selector_in_one_peer_is_and() {
    let nss = vec![
        ns("dst", &[("team", "y")]),
        ns("one", &[("team", "x")]),
        ns("two", &[]),
    ];
    let pods = || {
        vec![
            pod("dst", "d", &[("app", "db")]),
            pod("dst", "local", &[("app", "web")]),
            pod("one", "web", &[("app", "web")]),
            pod("one", "other", &[("app", "other")]),
            pod("two", "web", &[("app", "web")]),
        ]
    };
    let both = cluster(
        nss.clone(),
        pods(),
        vec![policy(
            "dst",
            sel(&[("app", "db")]),
            Some(vec![rule(
                vec![pods_peer(
                    Some(sel(&[("app", "web")])),
                    Some(sel(&[("team", "x")])),
                )],
                vec![],
            )]),
            None,
        )],
    );
    expect(&both, upstream(), "one/web", "dst/d", TCP, 80, true);
    expect(&both, upstream(), "one/other", "dst/d", TCP, 80, false);
    expect(&both, upstream(), "two/web", "dst/d", TCP, 80, false);
    // The pod selector is not scoped to the policy's namespace once a namespace selector
    // is given: dst's own web pod is in a namespace with team=y, so it is not admitted.
    expect(&both, upstream(), "dst/local", "dst/d", TCP, 80, false);

    let either = cluster(
        nss,
        pods(),
        vec![policy(
            "dst",
            sel(&[("app", "db")]),
            Some(vec![rule(
                vec![
                    pods_peer(Some(sel(&[("app", "web")])), None),
                    pods_peer(None, Some(sel(&[("team", "x")]))),
                ],
                vec![],
            )]),
            None,
        )],
    );
    expect(&either, upstream(), "one/web", "dst/d", TCP, 80, true);
    expect(&either, upstream(), "one/other", "dst/d", TCP, 80, true);
    // podSelector alone is the policy's namespace: web in "two" is not admitted.
    expect(&either, upstream(), "two/web", "dst/d", TCP, 80, false);
    expect(&either, upstream(), "dst/local", "dst/d", TCP, 80, true);
}

#[test]
fn namespace_selector_sees_metadata_name_label() {
    let c = cluster(
        vec![ns("a", &[]), ns("b", &[])],
        vec![pod("a", "d", &[]), pod("b", "s", &[]), pod("a", "s", &[])],
        vec![policy(
            "a",
            sel(&[]),
            Some(vec![rule(
                vec![pods_peer(None, Some(sel(&[(METADATA_NAME_LABEL, "b")])))],
                vec![],
            )]),
            None,
        )],
    );
    expect(&c, upstream(), "b/s", "a/d", TCP, 80, true);
    expect(&c, upstream(), "a/s", "a/d", TCP, 80, false);
}

#[test]
fn match_expressions_operators() {
    let exprs = |op: Operator, values: &[&str]| LabelSelector {
        match_labels: vec![],
        match_expressions: vec![Requirement {
            key: "app".into(),
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
        }],
    };
    for (op, values, want_web, want_none) in [
        (Operator::In, &["web"][..], true, false),
        (Operator::NotIn, &["web"][..], false, true),
        (Operator::Exists, &[][..], true, false),
        (Operator::DoesNotExist, &[][..], false, true),
    ] {
        let c = cluster(
            vec![ns("a", &[])],
            vec![
                pod("a", "d", &[("role", "dst")]),
                pod("a", "web", &[("app", "web")]),
                pod("a", "none", &[]),
            ],
            vec![policy(
                "a",
                sel(&[("role", "dst")]),
                Some(vec![rule(
                    vec![pods_peer(Some(exprs(op, values)), None)],
                    vec![],
                )]),
                None,
            )],
        );
        expect(&c, upstream(), "a/web", "a/d", TCP, 80, want_web);
        expect(&c, upstream(), "a/none", "a/d", TCP, 80, want_none);
    }
}

#[test]
fn named_port_resolves_on_destination_with_same_protocol() {
    let mk = |protocol: Protocol| {
        cluster(
            vec![ns("a", &[])],
            vec![
                pod("a", "d", &[("app", "dns")])
                    .port("dns", 53, UDP)
                    .port("web", 8080, TCP),
                pod("a", "s", &[]).port("dns", 5353, protocol),
            ],
            vec![policy(
                "a",
                sel(&[("app", "dns")]),
                Some(vec![rule(
                    vec![],
                    vec![PolicyPort {
                        protocol,
                        port: PortSpec::Named("dns".into()),
                    }],
                )]),
                None,
            )],
        )
    };
    // TCP "dns": the destination's "dns" port is UDP, so the name resolves to nothing.
    let c = mk(TCP);
    expect(&c, upstream(), "a/s", "a/d", TCP, 53, false);
    expect(&c, upstream(), "a/s", "a/d", UDP, 53, false);
    // The source's own "dns" port (5353) is irrelevant.
    expect(&c, upstream(), "a/s", "a/d", TCP, 5353, false);
    // UDP "dns": exactly UDP 53.
    let c = mk(UDP);
    expect(&c, upstream(), "a/s", "a/d", UDP, 53, true);
    expect(&c, upstream(), "a/s", "a/d", TCP, 53, false);
    expect(&c, upstream(), "a/s", "a/d", UDP, 5353, false);
    expect(&c, upstream(), "a/s", "a/d", UDP, 54, false);
}

#[test]
fn egress_named_port_resolves_on_destination() {
    let c = cluster(
        vec![ns("a", &[])],
        vec![
            pod("a", "s", &[("app", "client")]).port("http", 9999, TCP),
            pod("a", "d1", &[]).port("http", 8080, TCP),
            pod("a", "d2", &[]).port("http", 80, TCP),
        ],
        vec![policy(
            "a",
            sel(&[("app", "client")]),
            None,
            Some(vec![rule(
                vec![],
                vec![tcp(PortSpec::Named("http".into()))],
            )]),
        )],
    );
    expect(&c, upstream(), "a/s", "a/d1", TCP, 8080, true);
    expect(&c, upstream(), "a/s", "a/d1", TCP, 80, false);
    expect(&c, upstream(), "a/s", "a/d2", TCP, 80, true);
    expect(&c, upstream(), "a/s", "a/d2", TCP, 8080, false);
    expect(&c, upstream(), "a/s", "a/d1", TCP, 9999, false);
    // External destinations have no named ports.
    let v = verdict(&c, upstream(), "a/s", "ext:0.0.0.0/0");
    assert!(
        v.is_empty(),
        "named egress port must not open anything to the outside"
    );
}

#[test]
fn port_ranges_and_protocol_wide_ports() {
    let c = cluster(
        vec![ns("a", &[])],
        vec![pod("a", "d", &[("app", "d")]), pod("a", "s", &[])],
        vec![policy(
            "a",
            sel(&[("app", "d")]),
            Some(vec![rule(
                vec![],
                vec![
                    tcp(PortSpec::Range(8000, 8010)),
                    PolicyPort {
                        protocol: UDP,
                        port: PortSpec::All,
                    },
                ],
            )]),
            None,
        )],
    );
    expect(&c, upstream(), "a/s", "a/d", TCP, 7999, false);
    expect(&c, upstream(), "a/s", "a/d", TCP, 8000, true);
    expect(&c, upstream(), "a/s", "a/d", TCP, 8010, true);
    expect(&c, upstream(), "a/s", "a/d", TCP, 8011, false);
    expect(&c, upstream(), "a/s", "a/d", UDP, 1, true);
    expect(&c, upstream(), "a/s", "a/d", UDP, 65535, true);
    expect(&c, upstream(), "a/s", "a/d", SCTP, 8000, false);
}

#[test]
fn ip_block_except_and_pod_ip_setting() {
    let mk = || {
        cluster(
            vec![ns("a", &[])],
            vec![
                pod("a", "d", &[("app", "d")]).ip("10.0.0.100"),
                pod("a", "in", &[]).ip("10.0.0.5"),
                pod("a", "out", &[]).ip("10.0.0.2"),
                pod("a", "unknown", &[]),
            ],
            vec![policy(
                "a",
                sel(&[("app", "d")]),
                Some(vec![rule(
                    vec![block("10.0.0.0/24", &["10.0.0.0/30"])],
                    vec![],
                )]),
                None,
            )],
        )
    };
    let c = mk();
    expect(&c, upstream(), "a/in", "a/d", TCP, 80, true);
    expect(&c, upstream(), "a/out", "a/d", TCP, 80, false);
    expect(&c, upstream(), "a/unknown", "a/d", TCP, 80, false);
    let cilium = Settings {
        ipblock_matches_pods: false,
        ..Settings::default()
    };
    expect(&c, cilium, "a/in", "a/d", TCP, 80, false);
    expect(&c, cilium, "a/out", "a/d", TCP, 80, false);
    // External addresses: 10.0.0.0/30 is excepted, the rest of the /24 is admitted.
    for s in [upstream(), cilium] {
        assert!(verdict(&c, s, "ext:10.0.0.0/30", "a/d").is_empty());
        assert!(verdict(&c, s, "ext:10.0.0.4-10.0.0.255", "a/d").is_full());
        assert!(verdict(&c, s, "ext:10.0.1.0-255.255.255.255", "a/d").is_empty());
    }
}

#[test]
fn unknown_pod_ip_matches_only_whole_space_block() {
    let mk = |cidr: &str| {
        cluster(
            vec![ns("a", &[])],
            vec![pod("a", "d", &[("app", "d")]), pod("a", "s", &[])],
            vec![policy(
                "a",
                sel(&[("app", "d")]),
                Some(vec![rule(vec![block(cidr, &[])], vec![])]),
                None,
            )],
        )
    };
    expect(&mk("0.0.0.0/0"), upstream(), "a/s", "a/d", TCP, 80, true);
    expect(&mk("10.0.0.0/8"), upstream(), "a/s", "a/d", TCP, 80, false);
}

#[test]
fn host_network_pod_is_never_selected_nor_matched() {
    // Ingress to app=x pods only from app=x pods (podSelector peer).
    let c = cluster(
        vec![ns("a", &[])],
        vec![
            pod("a", "host", &[("app", "x")]).host_network().node("n2"),
            pod("a", "d", &[("app", "x")]).node("n1"),
            pod("a", "s", &[("app", "x")]).node("n1"),
        ],
        vec![policy(
            "a",
            sel(&[("app", "x")]),
            Some(vec![rule(
                vec![pods_peer(Some(sel(&[("app", "x")])), None)],
                vec![],
            )]),
            None,
        )],
    );
    expect(&c, upstream(), "a/s", "a/d", TCP, 80, true);
    // Same labels, but a hostNetwork pod is node traffic: the pod selector never matches it.
    expect(&c, upstream(), "a/host", "a/d", TCP, 80, false);
    // The policy selects app=x, but not the hostNetwork pod: its ingress stays open.
    expect(&c, upstream(), "a/d", "a/host", TCP, 80, true);

    // Deny-all ingress and egress in the namespace isolates neither side of the
    // hostNetwork pod.
    let deny = cluster(
        vec![ns("a", &[])],
        vec![
            pod("a", "host", &[]).host_network().node("n2"),
            pod("a", "s", &[]).node("n1"),
            pod("b", "t", &[]).node("n1"),
        ],
        vec![policy("a", sel(&[]), Some(vec![]), Some(vec![]))],
    );
    let deny = Cluster {
        namespaces: [ns("a", &[]), ns("b", &[])]
            .into_iter()
            .map(|n| (n.name.clone(), n))
            .collect(),
        ..deny
    };
    expect(&deny, upstream(), "a/host", "b/t", TCP, 80, true);
    expect(&deny, upstream(), "b/t", "a/host", TCP, 80, true);
    expect(&deny, upstream(), "a/s", "a/host", TCP, 80, false); // s's egress is isolated
    expect(&deny, upstream(), "a/host", "a/s", TCP, 80, false); // s's ingress is isolated
}

#[test]
fn traffic_from_own_node_is_always_allowed() {
    let c = cluster(
        vec![ns("a", &[])],
        vec![
            pod("a", "agent", &[]).host_network().node("n1"),
            pod("a", "d1", &[]).node("n1"),
            pod("a", "d2", &[]).node("n2"),
            pod("a", "nonode", &[]),
        ],
        vec![policy("a", sel(&[]), Some(vec![]), None)],
    );
    expect(&c, upstream(), "a/agent", "a/d1", SCTP, 7, true);
    expect(&c, upstream(), "a/agent", "a/d2", TCP, 80, false);
    expect(&c, upstream(), "a/agent", "a/nonode", TCP, 80, false);
    // The rule is about the node as a source, not the other way round.
    expect(&c, upstream(), "a/d1", "a/d2", TCP, 80, false);
}

#[test]
fn connection_needs_both_egress_and_ingress() {
    let c = cluster(
        vec![ns("a", &[])],
        vec![
            pod("a", "s", &[("app", "s")]),
            pod("a", "d", &[("app", "d")]),
        ],
        vec![
            policy(
                "a",
                sel(&[("app", "s")]),
                None,
                Some(vec![rule(vec![], vec![tcp(PortSpec::Range(80, 90))])]),
            ),
            policy(
                "a",
                sel(&[("app", "d")]),
                Some(vec![rule(vec![], vec![tcp(PortSpec::Range(85, 100))])]),
                None,
            ),
        ],
    );
    expect(&c, upstream(), "a/s", "a/d", TCP, 84, false);
    expect(&c, upstream(), "a/s", "a/d", TCP, 85, true);
    expect(&c, upstream(), "a/s", "a/d", TCP, 90, true);
    expect(&c, upstream(), "a/s", "a/d", TCP, 91, false);
}

#[test]
fn policies_are_unions_across_policies() {
    let c = cluster(
        vec![ns("a", &[])],
        vec![pod("a", "d", &[("app", "d")]), pod("a", "s", &[])],
        vec![
            policy(
                "a",
                sel(&[("app", "d")]),
                Some(vec![rule(vec![], vec![tcp(PortSpec::Range(80, 80))])]),
                None,
            ),
            policy(
                "a",
                sel(&[]),
                Some(vec![rule(vec![], vec![tcp(PortSpec::Range(443, 443))])]),
                None,
            ),
        ],
    );
    expect(&c, upstream(), "a/s", "a/d", TCP, 80, true);
    expect(&c, upstream(), "a/s", "a/d", TCP, 443, true);
    expect(&c, upstream(), "a/s", "a/d", TCP, 81, false);
}
