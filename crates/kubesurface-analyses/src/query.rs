//! The peers a user names on the command line (`reach`, `explain`, `test`), and the
//! verdicts between them.
//!
//! Forms: a pod `ns/name`; a workload `ns/name[Kind]` or `ns/Kind/name` (also `ns/name`
//! when no pod has that name); a Service `svc:ns/name[:port]` (its backends and
//! targetPorts); an address or range `ext:IP`, `ext:CIDR`; a node `node:NAME`; a label
//! selector `ns/key=value,…`. A destination may end in `:PORT[/PROTO]`.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use kubesurface_engine::explain::PeerRef;
use kubesurface_engine::{Engine, PeerId, PortSet};
use kubesurface_model::{Protocol, TargetPort};

use crate::services::{IpIndex, backends};
use crate::zones::parse_selector;

/// One resolved peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryPeer {
    /// An endpoint, with the port a Service maps the asked port to (for `svc:` targets).
    Endpoint {
        /// Index into `Cluster::endpoints`.
        index: usize,
        /// Service port → this target port (only for `svc:`).
        port_map: Option<(u16, u16, Protocol)>,
        /// The Service it was reached through, for display.
        via: Option<String>,
    },
    /// External addresses: the engine's external peers overlapping a range, with a
    /// representative address for `explain`.
    External {
        /// The range as written.
        range: IpNet,
        /// Overlapping external peers.
        peers: Vec<PeerId>,
    },
    /// A node.
    Node {
        /// Name.
        name: String,
        /// Its addresses.
        ips: Vec<IpAddr>,
    },
}

/// A parsed `--to` with optional port and protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The peer text without the port.
    pub peer: String,
    /// Port, when given.
    pub port: Option<u16>,
    /// Protocol (TCP when a port is given without one).
    pub protocol: Option<Protocol>,
}

/// Splits `X[:PORT[/PROTO]]`.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let mut rest = s.trim();
    let mut protocol = None;
    if let Some((head, proto)) = rest.rsplit_once('/')
        && let Ok(p) = Protocol::from_str(&proto.to_ascii_uppercase())
        && proto.chars().all(|c| c.is_ascii_alphabetic())
    {
        protocol = Some(p);
        rest = head;
    }
    let mut port = None;
    if let Some((head, p)) = rest.rsplit_once(':')
        && !p.is_empty()
        && p.chars().all(|c| c.is_ascii_digit())
        && !(head.starts_with("ext:")
            && IpAddr::from_str(&head[4..]).is_err()
            && head[4..].contains(':')
            && !head[4..].contains('/'))
    {
        let n: u16 = p
            .parse()
            .map_err(|_| format!("{s:?}: port {p} is out of range"))?;
        if n == 0 {
            return Err(format!("{s:?}: port 0 is not a port"));
        }
        port = Some(n);
        rest = head;
    }
    if protocol.is_some() && port.is_none() {
        return Err(format!("{s:?}: a protocol needs a port (PEER:PORT/PROTO)"));
    }
    Ok(Target {
        peer: rest.to_string(),
        port,
        protocol: protocol.or(port.map(|_| Protocol::Tcp)),
    })
}

/// Resolves a peer text to peers; an error names what did not match.
pub fn resolve(engine: &Engine<'_>, text: &str) -> Result<Vec<QueryPeer>, String> {
    let cluster = engine.cluster;
    let endpoint = |index| QueryPeer::Endpoint {
        index,
        port_map: None,
        via: None,
    };
    if let Some(addr) = text.strip_prefix("ext:") {
        let range = IpNet::from_str(addr)
            .or_else(|_| IpAddr::from_str(addr).map(IpNet::from))
            .map_err(|_| format!("{text:?}: not an address or CIDR"))?;
        let peers = engine.external_peers_overlapping(&range.trunc());
        if peers.is_empty() {
            return Err(format!(
                "{text:?}: that address family is not modelled (no IPv6 in the input)"
            ));
        }
        return Ok(vec![QueryPeer::External {
            range: range.trunc(),
            peers,
        }]);
    }
    if let Some(name) = text.strip_prefix("node:") {
        let node = cluster.nodes.get(name);
        let known_elsewhere = cluster
            .endpoints
            .iter()
            .any(|e| e.node.as_deref() == Some(name));
        if node.is_none() && !known_elsewhere {
            return Err(format!(
                "{text:?}: no Node {name} in the input, and no pod runs there"
            ));
        }
        return Ok(vec![QueryPeer::Node {
            name: name.to_string(),
            ips: node.map(|n| n.ips()).unwrap_or_default(),
        }]);
    }
    if let Some(svc) = text.strip_prefix("svc:") {
        let (ns_name, port) = match svc.rsplit_once(':') {
            Some((a, p)) if p.chars().all(|c| c.is_ascii_digit()) => (a, p.parse::<u16>().ok()),
            _ => (svc, None),
        };
        let (ns, name) = ns_name
            .split_once('/')
            .ok_or_else(|| format!("{text:?}: write svc:NAMESPACE/NAME"))?;
        let service = cluster
            .services
            .iter()
            .find(|s| s.namespace == ns && s.name == name)
            .ok_or_else(|| format!("{text:?}: no Service {ns}/{name} in the input"))?;
        let ips = IpIndex::new(cluster);
        let mut out = Vec::new();
        for sp in service
            .ports
            .iter()
            .filter(|sp| port.is_none_or(|p| sp.port == p))
        {
            for b in backends(cluster, &ips, service, sp) {
                out.push(QueryPeer::Endpoint {
                    index: b.endpoint,
                    port_map: Some((sp.port, b.port, sp.protocol)),
                    via: Some(format!("svc:{ns}/{name}:{}", sp.port)),
                });
            }
        }
        if out.is_empty() {
            let why = if matches!(
                service.ports.first().map(|p| &p.target_port),
                Some(TargetPort::Name(_))
            ) {
                " (does its named targetPort resolve?)"
            } else {
                ""
            };
            return Err(format!(
                "{text:?}: the Service has no backend in the input{why}"
            ));
        }
        return Ok(out);
    }
    let (ns, rest) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?}: write NAMESPACE/NAME, NAMESPACE/NAME[Kind], NAMESPACE/key=value, svc:, ext: or node:"))?;
    let found: Vec<usize> = if rest.contains('=') {
        let sel = parse_selector(&format!("{ns}/{rest}"))?;
        cluster
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| sel.matches(&e.namespace, &e.labels))
            .map(|(i, _)| i)
            .collect()
    } else if let Some((name, kind)) = rest.strip_suffix(']').and_then(|r| r.split_once('[')) {
        by_workload(engine, ns, kind, name)
    } else if let Some((kind, name)) = rest.split_once('/') {
        by_workload(engine, ns, kind, name)
    } else {
        let pods: Vec<usize> = cluster
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.namespace == ns && (e.name == rest && !e.representative))
            .map(|(i, _)| i)
            .collect();
        if pods.is_empty() {
            cluster
                .endpoints
                .iter()
                .enumerate()
                .filter(|(_, e)| e.namespace == ns && e.workload.name == rest)
                .map(|(i, _)| i)
                .collect()
        } else {
            pods
        }
    };
    if found.is_empty() {
        return Err(format!("{text:?} matches no pod or workload in the input"));
    }
    Ok(found.into_iter().map(endpoint).collect())
}

fn by_workload(engine: &Engine<'_>, ns: &str, kind: &str, name: &str) -> Vec<usize> {
    engine
        .cluster
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.namespace == ns
                && e.workload.name == name
                && e.workload.kind.eq_ignore_ascii_case(kind)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Every peer of the cluster: endpoints, external ranges and nodes (for `--to` or `--from`
/// alone).
pub fn everyone(engine: &Engine<'_>) -> Vec<QueryPeer> {
    let cluster = engine.cluster;
    let mut out: Vec<QueryPeer> = (0..cluster.endpoints.len())
        .map(|index| QueryPeer::Endpoint {
            index,
            port_map: None,
            via: None,
        })
        .collect();
    let classes = engine.classes.classes.len();
    for j in 0..engine.external.len() {
        let peer = (classes + j) as PeerId;
        let name = engine.external_name(peer);
        let range = IpNet::from_str(name.trim_start_matches("ext:")).unwrap_or_else(|_| {
            // A non-CIDR range: represent it by its first address.
            let first = name
                .trim_start_matches("ext:")
                .split('-')
                .next()
                .unwrap_or("0.0.0.0");
            IpNet::from(IpAddr::from_str(first).unwrap_or(IpAddr::from([0, 0, 0, 0])))
        });
        out.push(QueryPeer::External {
            range,
            peers: vec![peer],
        });
    }
    let mut nodes: Vec<String> = cluster.nodes.keys().cloned().collect();
    nodes.extend(cluster.endpoints.iter().filter_map(|e| e.node.clone()));
    nodes.sort();
    nodes.dedup();
    for name in nodes {
        let ips = cluster
            .nodes
            .get(&name)
            .map(|n| n.ips())
            .unwrap_or_default();
        out.push(QueryPeer::Node { name, ips });
    }
    out
}

/// The display name of a peer.
pub fn name(engine: &Engine<'_>, p: &QueryPeer) -> String {
    match p {
        QueryPeer::Endpoint { index, .. } => engine.cluster.endpoints[*index].display_name(),
        QueryPeer::External { range, peers } if peers.len() == 1 => {
            let n = engine.external_name(peers[0]);
            if n == format!("ext:{range}") || range.prefix_len() == range.max_prefix_len() {
                n
            } else {
                format!("ext:{range}")
            }
        }
        QueryPeer::External { range, .. } => format!("ext:{range}"),
        QueryPeer::Node { name, .. } => format!("node:{name}"),
    }
}

/// A representative `PeerRef` for `explain`.
pub fn peer_ref(engine: &Engine<'_>, p: &QueryPeer) -> PeerRef {
    match p {
        QueryPeer::Endpoint { index, .. } => PeerRef::Endpoint(*index),
        QueryPeer::External { range, peers } => {
            let n = engine.external_name(peers[0]);
            let first = n
                .trim_start_matches("ext:")
                .split(['-', '/'])
                .next()
                .unwrap_or("0.0.0.0");
            let atom_first = IpAddr::from_str(first).unwrap_or(range.network());
            PeerRef::Address(if range.contains(&atom_first) {
                atom_first
            } else {
                range.network()
            })
        }
        QueryPeer::Node { name, ips } => PeerRef::Node {
            name: name.clone(),
            ips: ips.clone(),
        },
    }
}

/// What `dst` admits from node addresses `ips` (unknown addresses when empty).
fn from_node_addresses(engine: &Engine<'_>, ips: &[IpAddr], dst_class: PeerId) -> PortSet {
    if ips.is_empty() {
        return engine.ingress_from_unknown_address(dst_class);
    }
    let mut out = PortSet::empty();
    for ip in ips {
        if let Some(p) = engine.external_peer_of(*ip) {
            out.union_with(&engine.ingress_allowed(dst_class, p));
        }
    }
    out
}

/// The ports allowed from `src` to `dst` (before any Service port mapping).
pub fn verdict(engine: &Engine<'_>, src: &QueryPeer, dst: &QueryPeer) -> PortSet {
    let class = |i: usize| engine.classes.class_of[i];
    match (src, dst) {
        (QueryPeer::Endpoint { index: s, .. }, QueryPeer::Endpoint { index: d, .. }) => {
            if s == d {
                PortSet::full()
            } else {
                engine.endpoint_verdict(*s, *d)
            }
        }
        (QueryPeer::External { peers, .. }, QueryPeer::Endpoint { index: d, .. }) => {
            let mut out = PortSet::empty();
            for p in peers {
                out.union_with(&engine.ingress_allowed(class(*d), *p));
            }
            out
        }
        (QueryPeer::Endpoint { index: s, .. }, QueryPeer::External { peers, .. }) => {
            let mut out = PortSet::empty();
            for p in peers {
                out.union_with(&engine.egress_allowed(class(*s), *p));
            }
            out
        }
        (QueryPeer::Node { name, ips }, QueryPeer::Endpoint { index: d, .. }) => {
            if engine.cluster.endpoints[*d].node.as_deref() == Some(name) {
                PortSet::full() // traffic from a pod's own node is always allowed
            } else {
                from_node_addresses(engine, ips, class(*d))
            }
        }
        (QueryPeer::Endpoint { index: s, .. }, QueryPeer::Node { ips, .. }) => {
            let mut out = PortSet::empty();
            for ip in ips {
                if let Some(p) = engine.external_peer_of(*ip) {
                    out.union_with(&engine.egress_allowed(class(*s), p));
                }
            }
            if ips.is_empty() {
                // Unknown node address: only an unisolated (or open) egress certainly allows it.
                if engine.egress[class(*s) as usize].is_none()
                    || engine.cluster.endpoints[*s].host_network
                {
                    out = PortSet::full();
                }
            }
            out
        }
        // Outside-to-outside and node-to-node traffic is not the cluster's to decide.
        _ => PortSet::empty(),
    }
}

/// True when `src` reaches `dst` on `port/protocol`, with `svc:` port mapping applied.
pub fn reaches(
    engine: &Engine<'_>,
    src: &QueryPeer,
    dst: &QueryPeer,
    port: u16,
    protocol: Protocol,
) -> bool {
    let (port, protocol) = match dst {
        QueryPeer::Endpoint {
            port_map: Some((sp, tp, proto)),
            ..
        } => {
            if *sp != port || *proto != protocol {
                return false;
            }
            (*tp, *proto)
        }
        _ => (port, protocol),
    };
    verdict(engine, src, dst).contains(protocol, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_port_and_protocol() {
        let t = parse_target("openstack/mariadb:3306/TCP").unwrap();
        assert_eq!(
            (t.peer.as_str(), t.port, t.protocol),
            ("openstack/mariadb", Some(3306), Some(Protocol::Tcp))
        );
        let t = parse_target("kube-system/k8s-app=kube-dns:53/udp").unwrap();
        assert_eq!(
            (t.peer.as_str(), t.port, t.protocol),
            (
                "kube-system/k8s-app=kube-dns",
                Some(53),
                Some(Protocol::Udp)
            )
        );
        let t = parse_target("ext:10.0.0.0/8").unwrap();
        assert_eq!((t.peer.as_str(), t.port), ("ext:10.0.0.0/8", None));
        let t = parse_target("ext:fd00::1").unwrap();
        assert_eq!((t.peer.as_str(), t.port), ("ext:fd00::1", None));
        let t = parse_target("svc:shop/web:80").unwrap();
        assert_eq!((t.peer.as_str(), t.port), ("svc:shop/web", Some(80)));
        assert!(parse_target("a/b/TCP").is_err());
        assert!(parse_target("a/b:0").is_err());
    }
}
