//! Joins node socket reports (`kubesurface sockets -o json`) with the cluster: each
//! listener is tied to the pod that owns it.
//!
//! Matching, strongest first: the report's pod UID equals a Pod's `metadata.uid` (or a
//! static pod's `kubernetes.io/config.hash`); else, for a socket in the node's own network
//! namespace, the one hostNetwork endpoint that runs (or may run) on that node and declares
//! that protocol and port; else, for a socket in a pod's namespace bound to a specific
//! address, the endpoint with that address. Unmatched host-namespace sockets are host
//! processes.

use kubesurface_analyses::rules::HostSocket;
use kubesurface_analyses::scheduling::may_run_on;
use kubesurface_model::{Cluster, Protocol};
use kubesurface_sockets::{Owner, Scope, Socket, parse_report};

/// The annotation static pods carry, equal to the pod UID the kubelet uses.
const CONFIG_HASH_ANNOTATION: &str = "kubernetes.io/config.hash";

fn protocol(s: &Socket) -> Protocol {
    match s.protocol.as_str() {
        "UDP" => Protocol::Udp,
        _ => Protocol::Tcp,
    }
}

fn owner_of(cluster: &Cluster, node: &str, s: &Socket) -> Option<usize> {
    let eps = &cluster.endpoints;
    if let Some(uid) = s.pod_uid.as_deref().filter(|u| !u.is_empty()) {
        let by_uid = eps.iter().position(|e| {
            e.uid.as_deref() == Some(uid)
                || e.annotations
                    .get(CONFIG_HASH_ANNOTATION)
                    .is_some_and(|h| h == uid)
        });
        if by_uid.is_some() {
            return by_uid;
        }
    }
    if s.owner == Owner::Kernel {
        return None;
    }
    let proto = protocol(s);
    if s.host_netns {
        let on_node = |e: &kubesurface_model::Endpoint| match (&e.node, cluster.nodes.get(node)) {
            (Some(n), _) => n == node,
            (None, Some(n)) => may_run_on(e, n),
            (None, None) => true,
        };
        let candidates: Vec<usize> = eps
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.host_network
                    && on_node(e)
                    && e.ports.iter().any(|p| {
                        p.protocol == proto && (p.port == s.port || p.host_port == Some(s.port))
                    })
            })
            .map(|(i, _)| i)
            .collect();
        return (candidates.len() == 1).then(|| candidates[0]);
    }
    if s.scope == Scope::Specific {
        return eps.iter().position(|e| e.ips.contains(&s.address));
    }
    None
}

/// Reads socket report files and ties each listener to its endpoint.
pub fn load(cluster: &Cluster, files: &[String]) -> Result<Vec<HostSocket>, String> {
    let mut out = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(file).map_err(|e| format!("{file}: cannot read: {e}"))?;
        let report = parse_report(&text).map_err(|e| format!("{file}: {e}"))?;
        for s in &report.sockets {
            out.push(HostSocket {
                node: report.node.clone(),
                protocol: protocol(s),
                address: s.address.to_string(),
                port: s.port,
                scope: s.scope.as_str().to_string(),
                host_netns: s.host_netns,
                commands: s.commands.clone(),
                endpoint: owner_of(cluster, &report.node, s),
            });
        }
    }
    Ok(out)
}
