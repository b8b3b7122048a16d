//! KS109: a pod listens on a port its manifest never declared.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS109",
    name: "listener-on-undeclared-port",
    severity: Severity::Medium,
    summary: "A pod's process listens on a port (not loopback) that none of its containers declares. Needs socket reports (`audit --sockets FILE`).",
    rationale: r#"
Manifest review, NetworkPolicy named ports, Services and every scanner that reads specs
see only declared `containerPorts`. A process can listen on any port regardless: a debug
endpoint, a metrics exporter, a replication port. For a pod on the pod network the
listener is reachable wherever policies allow all ports (no policy, or rules without
`ports`); for a hostNetwork pod it is on the node's interfaces and no policy applies at
all. Either way it bypasses what the reviewer saw.
"#,
    example: r#"
# The pod declares 8080; the socket report shows it also listening on 0.0.0.0:6060:
{"host_netns":false,"protocol":"TCP","address":"0.0.0.0","port":6060,"scope":"wildcard",
 "commands":["server"],"pod_uid":"<the pod's uid>"}
"#,
    remediation: r#"
- Declare every port the pod serves (`ports:` in the container), so reviews, named ports
  and policies see it; or
- stop the listener, or bind it to `127.0.0.1` when only the pod itself uses it; and
- give the pod ingress policies with explicit `ports`, so undeclared listeners are not
  reachable by accident.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let mut seen = std::collections::BTreeSet::new();
    for s in ctx.sockets.iter().filter(|s| s.scope != "loopback") {
        let Some(i) = s.endpoint else { continue };
        let e = &cluster.endpoints[i];
        let declared = e
            .ports
            .iter()
            .any(|p| p.protocol == s.protocol && (p.port == s.port || p.host_port == Some(s.port)));
        if declared || !seen.insert((i, s.protocol, s.port)) {
            continue;
        }
        let object = if e.representative {
            format!("{}/{}/{}", e.namespace, e.workload.kind, e.workload.name)
        } else {
            format!("{}/Pod/{}", e.namespace, e.name)
        };
        let cmd = if s.commands.is_empty() {
            "?".to_string()
        } else {
            s.commands.join(",")
        };
        let place = if s.host_netns {
            format!("in the network namespace of node {} (hostNetwork)", s.node)
        } else {
            format!("on node {}", s.node)
        };
        out.push(RULE.finding(
            vec![object],
            format!(
                "{} listens on {}:{}/{} ({cmd}) {place}, a port no container declares",
                e.display_name(),
                s.address,
                s.port,
                s.protocol
            ),
            vec![&e.source],
        ));
    }
}

#[cfg(test)]
mod tests {
    use kubesurface_model::Protocol;

    use crate::rules::HostSocket;
    use crate::rules::testing::audit_with_sockets;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: shop}\nspec:\n  nodeName: n1\n  containers:\n  - name: c\n    ports: [{containerPort: 8080}]\n";

    fn socket(port: u16, address: &str, scope: &str) -> HostSocket {
        HostSocket {
            node: "n1".into(),
            protocol: Protocol::Tcp,
            address: address.into(),
            port,
            scope: scope.into(),
            host_netns: false,
            commands: vec!["server".into()],
            endpoint: Some(0),
        }
    }

    #[test]
    fn undeclared_listener_is_reported() {
        let f: Vec<_> = audit_with_sockets(POD, "", &[socket(6060, "0.0.0.0", "wildcard")])
            .into_iter()
            .filter(|f| f.rule == "KS109")
            .collect();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].objects, ["shop/Pod/api"]);
        assert!(
            f[0].message.contains("0.0.0.0:6060/TCP (server)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn declared_and_loopback_listeners_are_fine() {
        let sockets = [
            socket(8080, "0.0.0.0", "wildcard"),
            socket(6060, "127.0.0.1", "loopback"),
        ];
        assert!(
            audit_with_sockets(POD, "", &sockets)
                .iter()
                .all(|f| f.rule != "KS109")
        );
    }
}
