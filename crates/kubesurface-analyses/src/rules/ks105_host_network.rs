//! KS105: a hostNetwork pod serves on its node's interfaces.

use std::collections::{BTreeMap, BTreeSet};

use kubesurface_model::{Protocol, Source};

use super::common::{join_limited, short_name, workload_object, workload_source};
use super::{AuditContext, Rule};
use crate::exposure::Via;
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS105",
    name: "host-network-serving",
    severity: Severity::High,
    summary: "A hostNetwork pod serves its ports on every interface of its node, outside the Service model and out of reach of NetworkPolicy.",
    rationale: r#"
With `hostNetwork: true` a pod uses the node's network namespace: "network operations are
not containerized and, as far as the TCP/IP stack is concerned, the process is running in
the parent host" (the founding note). A server that binds `0.0.0.0` — the default of most
daemons — listens on **every address of the node**: the management network, the storage
network, a public interface. Nothing in Kubernetes stands in front of it:

- no Service decides whether it is exposed: it simply is, on every node it runs on;
- NetworkPolicy does not apply: the API reference says policies never select
  hostNetwork pods, and their traffic is node traffic;
- from the node's namespace it reaches **every pod on the same node on every port**,
  because traffic from a pod's own node is always allowed.

So a hostNetwork pod must be as careful as a host daemon about which interface it binds
and who may connect, and it should run on nodes of its own (see KS204). The declared
`containerPort`s are what the manifest shows; what actually listens may differ (see
`kubesurface sockets` and KS106).
"#,
    example: r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: nova-novncproxy, namespace: openstack}
spec:
  selector: {matchLabels: {component: novnc-proxy}}
  template:
    metadata: {labels: {component: novnc-proxy}}
    spec:
      hostNetwork: true
      containers:
      - name: nova-novncproxy
        image: nova
        ports: [{name: n-novnc, containerPort: 6080}]
"#,
    remediation: r#"
- Drop `hostNetwork: true` unless the pod truly manages the node's networking; serve
  through a Service instead, where NetworkPolicy applies.
- If it must stay: bind the server to the one address it needs (e.g.
  `novncproxy_host = <management IP>`, not `0.0.0.0`), filter the port with a host
  firewall or Calico host endpoint policy, and schedule it on dedicated nodes (taints and
  tolerations) so it shares no node with workloads it could reach on every port.
"#,
    check,
};

#[derive(Default)]
struct Group<'c> {
    name: String,
    ports: BTreeSet<(u16, Protocol, Option<String>)>,
    nodes: BTreeSet<String>,
    unknown_nodes: bool,
    pods: BTreeSet<usize>,
    locations: Vec<&'c Source>,
}

/// `node:NAME:PORT` → `Some(NAME)`; `node:*:PORT` → `None`.
fn node_of(entry: &str) -> Option<&str> {
    let rest = entry.strip_prefix("node:")?;
    let (node, _) = rest.rsplit_once(':')?;
    (node != "*").then_some(node)
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let eps = &cluster.endpoints;
    let mut groups: BTreeMap<String, Group<'_>> = BTreeMap::new();
    for x in ctx.exposures.iter().filter(|x| x.via == Via::HostNetwork) {
        let e = &eps[x.endpoint];
        let g = groups.entry(workload_object(e)).or_default();
        if g.name.is_empty() {
            g.name = e.workload_name();
        }
        let port_name = e
            .ports
            .iter()
            .find(|p| p.port == x.port && p.protocol == x.protocol)
            .and_then(|p| p.name.clone());
        g.ports.insert((x.port, x.protocol, port_name));
        match node_of(&x.entry) {
            Some(n) => {
                g.nodes.insert(n.to_string());
            }
            None => g.unknown_nodes = true,
        }
        if g.pods.insert(x.endpoint) {
            g.locations.push(workload_source(e));
        }
    }
    // Pod-network endpoints by node (ascending), for the neighbours of each group.
    let mut on_node: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    if !groups.is_empty() {
        for (i, e) in eps.iter().enumerate() {
            if let Some(node) = e.node.as_deref().filter(|_| !e.host_network) {
                on_node.entry(node).or_default().push(i);
            }
        }
    }
    for (object, g) in groups {
        let ports: Vec<String> = g
            .ports
            .iter()
            .map(|(port, proto, name)| match name {
                Some(n) => format!("{port}/{proto} ({n})"),
                None => format!("{port}/{proto}"),
            })
            .collect();
        let nodes = if g.nodes.is_empty() {
            "of every node it runs on (the input has no Node objects)".to_string()
        } else {
            format!("of node {}", join_limited(g.nodes.iter().cloned(), 10))
        };
        // Pods on those nodes (known by nodeName): reachable from it on every port.
        let mut neighbours: Vec<usize> = g
            .nodes
            .iter()
            .filter_map(|n| on_node.get(n.as_str()))
            .flatten()
            .copied()
            .filter(|i| !g.pods.contains(i))
            .collect();
        neighbours.sort_unstable();
        let reach = if neighbours.is_empty() {
            "every pod on the same node".to_string()
        } else {
            let names = neighbours.iter().map(|&i| {
                let e = &eps[i];
                format!("{}/{}", e.namespace, short_name(e))
            });
            format!("every pod on the same node ({})", join_limited(names, 6))
        };
        out.push(RULE.finding(
            vec![object],
            format!(
                "{} uses the host network and serves {} on every address {nodes}: no Service is involved and NetworkPolicy cannot restrict it; from there it reaches every port of {reach}",
                g.name,
                ports.join(", "),
            ),
            g.locations,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    fn proxy(host_network: bool, ports: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: db-0, namespace: data, labels: {{app: db}}}}\nspec:\n  nodeName: ctl-1\n  containers: [{{name: db}}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: novnc, namespace: openstack}}\nspec:\n  nodeName: ctl-1\n  hostNetwork: {host_network}\n  containers:\n  - name: novnc\n    ports: {ports}\n"
        )
    }

    #[test]
    fn host_network_ports_are_reported_with_node_and_neighbours() {
        let yaml = proxy(true, "[{name: n-novnc, containerPort: 6080}]");
        let f = findings_of("KS105", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["openstack/Pod/novnc"]);
        let m = &f[0].message;
        assert!(m.contains("serves 6080/TCP (n-novnc)"), "{m}");
        assert!(m.contains("every address of node ctl-1"), "{m}");
        assert!(m.contains("NetworkPolicy cannot restrict it"), "{m}");
        assert!(m.contains("(data/db-0)"), "{m}");
        assert_eq!(f[0].locations[0].line, 8);
    }

    #[test]
    fn neighbours_are_the_pod_network_pods_of_its_nodes_in_order() {
        let pod = |ns: &str, name: &str, node: &str, host: bool| {
            format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  nodeName: {node}\n  hostNetwork: {host}\n  containers: [{{name: c}}]\n"
            )
        };
        let yaml = [
            proxy(true, "[{name: n-novnc, containerPort: 6080}]"),
            pod("a", "early", "ctl-1", false),
            pod("z", "elsewhere", "ctl-2", false),
            pod("b", "host-agent", "ctl-1", true),
        ]
        .concat();
        let f = findings_of("KS105", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        let m = &f[0].message;
        assert!(
            m.contains("every pod on the same node (a/early, data/db-0)"),
            "{m}"
        );
    }

    #[test]
    fn pod_network_or_no_declared_port_is_not_reported() {
        let yaml = proxy(false, "[{name: n-novnc, containerPort: 6080}]");
        assert!(findings_of("KS105", &yaml, "").is_empty());
        let yaml = proxy(true, "[]");
        assert!(findings_of("KS105", &yaml, "").is_empty());
    }

    #[test]
    fn template_without_nodes_says_so() {
        let yaml = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: mon}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      hostNetwork: true\n      containers:\n      - name: a\n        ports: [{containerPort: 9100}, {containerPort: 9100, protocol: UDP}]\n";
        let f = findings_of("KS105", yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["mon/DaemonSet/agent"]);
        assert!(
            f[0].message.contains("9100/TCP, 9100/UDP"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message.contains("the input has no Node objects"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].locations[0].line, 1);
    }
}
