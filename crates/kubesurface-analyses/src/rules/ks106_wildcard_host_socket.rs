//! KS106: a process in a node's own network namespace listens on a wildcard address.

use std::collections::BTreeMap;

use super::{AuditContext, HostSocket, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS106",
    name: "wildcard-bind-in-host-netns",
    severity: Severity::High,
    summary: "A process in a node's host network namespace listens on 0.0.0.0 or :: (every interface of the node). Needs socket reports (`audit --sockets FILE`).",
    rationale: r#"
This is the founding question: *why is everything binding to 0.0.0.0?* Inside a pod's own
network namespace a wildcard bind is harmless — only what a Service exposes is reachable,
and NetworkPolicy filters it. In the **host** network namespace (hostNetwork pods, and the
node's own daemons) a wildcard bind listens on every interface of the node: the management
network, the tenant or storage network, the overlay, and whatever else is plugged in.
NetworkPolicy does not apply there, and every pod on the node can reach it. A
`nova-novncproxy` bound to `0.0.0.0:6080` is on every interface; bound to the management
address it is not.

Manifests cannot show this: a container declares ports, not bind addresses. Only the
node's real sockets (`kubesurface sockets`) can.
"#,
    example: r#"
# kubesurface sockets report (excerpt) joined with a hostNetwork pod:
{"netns":"net:[4026531840]","host_netns":true,"protocol":"TCP",
 "address":"0.0.0.0","port":6080,"scope":"wildcard","commands":["nova-novncproxy"]}
"#,
    remediation: r#"
- Bind to the one address the service must serve on (e.g. the management network's
  address, passed to the pod through the downward API `status.hostIP` or a config value),
  or to `127.0.0.1` when only local clients need it.
- Move the workload off `hostNetwork` and expose it through a Service, so NetworkPolicy
  applies.
- If it must stay, restrict the interfaces at the host firewall (or Calico host endpoints)
  and run it on dedicated nodes.
"#,
    check,
};

fn owner(ctx: &AuditContext<'_>, s: &HostSocket) -> String {
    match s.endpoint {
        Some(i) => {
            let e = &ctx.cluster().endpoints[i];
            format!("pod {}", e.display_name())
        }
        None => "a host process (not a pod)".to_string(),
    }
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    // One finding per (node, owner): its wildcard listeners.
    let mut groups: BTreeMap<(String, Option<usize>), Vec<&HostSocket>> = BTreeMap::new();
    for s in ctx
        .sockets
        .iter()
        .filter(|s| s.host_netns && s.scope == "wildcard")
    {
        groups
            .entry((s.node.clone(), s.endpoint))
            .or_default()
            .push(s);
    }
    for ((node, endpoint), sockets) in groups {
        let listeners: Vec<String> = sockets
            .iter()
            .map(|s| {
                let cmd = if s.commands.is_empty() {
                    "?".to_string()
                } else {
                    s.commands.join(",")
                };
                format!("{}:{}/{} ({cmd})", s.address, s.port, s.protocol)
            })
            .collect();
        let (objects, locations) = match endpoint {
            Some(i) => {
                let e = &ctx.cluster().endpoints[i];
                let object = if e.representative {
                    format!("{}/{}/{}", e.namespace, e.workload.kind, e.workload.name)
                } else {
                    format!("{}/Pod/{}", e.namespace, e.name)
                };
                (vec![object, format!("Node/{node}")], vec![&e.source])
            }
            None => (vec![format!("Node/{node}")], vec![]),
        };
        out.push(RULE.finding(
            objects,
            format!(
                "{} on node {node} listens on every interface of the node: {}",
                owner(ctx, sockets[0]),
                listeners.join(", ")
            ),
            locations,
        ));
    }
}

#[cfg(test)]
mod tests {
    use kubesurface_model::Protocol;

    use crate::rules::HostSocket;
    use crate::rules::testing::audit_with_sockets;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: vnc, namespace: openstack}\nspec:\n  hostNetwork: true\n  nodeName: ctl-1\n  containers:\n  - name: c\n    ports: [{containerPort: 6080}]\n";

    fn socket(address: &str, scope: &str, host: bool, endpoint: Option<usize>) -> HostSocket {
        HostSocket {
            node: "ctl-1".into(),
            protocol: Protocol::Tcp,
            address: address.into(),
            port: 6080,
            scope: scope.into(),
            host_netns: host,
            commands: vec!["nova-novncproxy".into()],
            endpoint,
        }
    }

    #[test]
    fn wildcard_listener_of_a_host_network_pod_is_reported() {
        let f: Vec<_> =
            audit_with_sockets(POD, "", &[socket("0.0.0.0", "wildcard", true, Some(0))])
                .into_iter()
                .filter(|f| f.rule == "KS106")
                .collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["Node/ctl-1", "openstack/Pod/vnc"]);
        assert!(
            f[0].message.contains("pod openstack/vnc on node ctl-1"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message.contains("0.0.0.0:6080/TCP (nova-novncproxy)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn host_processes_are_node_exposure() {
        let f: Vec<_> = audit_with_sockets(POD, "", &[socket("::", "wildcard", true, None)])
            .into_iter()
            .filter(|f| f.rule == "KS106")
            .collect();
        assert_eq!(f[0].objects, ["Node/ctl-1"]);
        assert!(f[0].message.contains("a host process (not a pod)"));
    }

    #[test]
    fn specific_and_loopback_binds_and_pod_namespaces_are_fine() {
        let sockets = [
            socket("10.10.0.11", "specific", true, Some(0)),
            socket("127.0.0.1", "loopback", true, None),
            socket("0.0.0.0", "wildcard", false, None),
        ];
        let f = audit_with_sockets(POD, "", &sockets);
        assert!(f.iter().all(|f| f.rule != "KS106"), "{f:?}");
        assert!(
            audit_with_sockets(POD, "", &[])
                .iter()
                .all(|f| f.rule != "KS106")
        );
    }
}
