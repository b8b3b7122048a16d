//! KS104: a container publishes a hostPort on its node's addresses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kubesurface_model::{Protocol, Source};

use super::common::{join_limited, short_name, workload_object, workload_source};
use super::{AuditContext, Rule};
use crate::exposure::{Exposure, Via};
use crate::findings::{Finding, Severity};
use crate::scheduling::nodes_of;

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS104",
    name: "host-port",
    severity: Severity::Medium,
    summary: "A container's hostPort opens a port on the addresses of the node it runs on, outside any Service.",
    rationale: r#"
`hostPort` makes the CNI (the `portmap` plugin) forward a port of the **node** to the
container: without `hostIP`, on every address of the node — management, storage and
public interfaces alike. Unlike a Service it is invisible to `kubectl get services`, it
moves with the pod from node to node, and the Kubernetes configuration best practices
advise against it ("Don't specify a hostPort for a Pod unless it is absolutely
necessary") because it also limits where the pod can be scheduled.

NetworkPolicy still applies (the traffic is DNATed to the pod IP) and the client address
is usually kept, so the verdict for outside clients is shown; but nothing restricts
*which* outside clients reach the node address except a host or cloud firewall.
hostNetwork pods are reported by KS105 instead: for them the API sets hostPort to the
containerPort and no forwarding takes place.
"#,
    example: r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ingress, namespace: edge}
spec:
  selector: {matchLabels: {app: ingress}}
  template:
    metadata: {labels: {app: ingress}}
    spec:
      containers:
      - name: proxy
        image: envoy
        ports:
        - containerPort: 8443
          hostPort: 443
"#,
    remediation: r#"
- Expose the pod through a Service (ClusterIP behind an Ingress/Gateway, or a
  LoadBalancer with `loadBalancerSourceRanges`) instead of a hostPort.
- If a hostPort is required, set `hostIP` to the one node address that should serve it,
  and restrict who reaches that address and port with a host or cloud firewall.
- Keep NetworkPolicy on the pod: it still decides which client addresses the container
  accepts.
"#,
    check,
};

#[derive(Default)]
struct Spec {
    nodes: BTreeSet<String>,
    unknown_nodes: bool,
    admitted: BTreeSet<String>,
    blocked: BTreeSet<String>,
}

#[derive(Default)]
struct Group<'c> {
    name: String,
    /// (hostPort, protocol, hostIP, containerPort).
    specs: BTreeMap<(u16, Protocol, Option<String>, u16), Spec>,
    pods: BTreeSet<String>,
    locations: Vec<&'c Source>,
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let verdicts: HashMap<(usize, u16, Protocol), &Exposure> = ctx
        .exposures
        .iter()
        .filter(|x| x.via == Via::HostPort)
        .map(|x| ((x.endpoint, x.port, x.protocol), x))
        .collect();
    let mut groups: BTreeMap<String, Group<'_>> = BTreeMap::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        if e.host_network {
            continue; // KS105
        }
        let nodes: Option<Vec<String>> = match &e.node {
            Some(n) => Some(vec![n.clone()]),
            None => nodes_of(cluster, e).map(|ns| ns.iter().map(|n| n.name.clone()).collect()),
        };
        for p in &e.ports {
            let Some(host_port) = p.host_port else {
                continue;
            };
            let g = groups.entry(workload_object(e)).or_default();
            if g.name.is_empty() {
                g.name = e.workload_name();
            }
            if g.pods.insert(short_name(e)) {
                g.locations.push(workload_source(e));
            }
            let host_ip = p.host_ip.clone().filter(|ip| ip != "0.0.0.0" && ip != "::");
            let spec = g
                .specs
                .entry((host_port, p.protocol, host_ip, p.port))
                .or_default();
            match &nodes {
                Some(ns) => spec.nodes.extend(ns.iter().cloned()),
                None => spec.unknown_nodes = true,
            }
            if let Some(x) = verdicts.get(&(i, p.port, p.protocol)) {
                let set = if x.admitted {
                    &mut spec.admitted
                } else {
                    &mut spec.blocked
                };
                set.insert(x.source.clone());
            }
        }
    }
    for (object, g) in groups {
        let specs: Vec<String> = g
            .specs
            .iter()
            .map(|((host_port, proto, host_ip, port), s)| {
                let nodes = if s.nodes.is_empty() {
                    if s.unknown_nodes {
                        "every node it runs on (the input has no Node objects)".to_string()
                    } else {
                        "no node (no Node admits it)".to_string()
                    }
                } else {
                    format!("node {}", join_limited(s.nodes.iter().cloned(), 8))
                };
                let place = match host_ip {
                    Some(ip) => format!("on hostIP {ip} only, of {nodes}"),
                    None => format!("on every address of {nodes} (no hostIP)"),
                };
                let verdict = match (s.admitted.is_empty(), s.blocked.is_empty()) {
                    (false, _) => format!(
                        "; NetworkPolicy admits it from {}",
                        s.admitted.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    (true, false) => format!(
                        "; NetworkPolicy blocks it at the pod for {}",
                        s.blocked.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    (true, true) => String::new(),
                };
                format!("hostPort {host_port}/{proto} {place} → container port {port}{verdict}")
            })
            .collect();
        out.push(RULE.finding(
            vec![object],
            format!(
                "{} publishes {} (pods: {})",
                g.name,
                specs.join("; "),
                join_limited(g.pods.iter().cloned(), 5)
            ),
            g.locations,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    fn pod(host_network: bool, port: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: proxy, namespace: edge, labels: {{app: proxy}}}}\nspec:\n  nodeName: node-1\n  hostNetwork: {host_network}\n  containers:\n  - name: proxy\n    ports: [{port}]\n"
        )
    }

    #[test]
    fn host_port_is_reported_with_node_and_container_port() {
        let yaml = pod(false, "{containerPort: 8443, hostPort: 443}");
        let f = findings_of("KS104", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["edge/Pod/proxy"]);
        let m = &f[0].message;
        assert!(
            m.contains(
                "hostPort 443/TCP on every address of node node-1 (no hostIP) → container port 8443"
            ),
            "{m}"
        );
        assert!(m.contains("NetworkPolicy admits it"), "{m}");
        assert_eq!(f[0].locations[0].line, 1);
    }

    #[test]
    fn host_ip_and_blocking_policy_are_noted() {
        let yaml = format!(
            "{}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: edge}}\nspec: {{podSelector: {{}}}}\n",
            pod(
                false,
                "{containerPort: 8443, hostPort: 443, hostIP: 192.0.2.7}"
            )
        );
        let f = findings_of("KS104", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        let m = &f[0].message;
        assert!(
            m.contains("on hostIP 192.0.2.7 only, of node node-1"),
            "{m}"
        );
        assert!(m.contains("NetworkPolicy blocks it at the pod"), "{m}");
    }

    #[test]
    fn host_network_or_plain_container_port_is_not_reported() {
        assert!(
            findings_of(
                "KS104",
                &pod(true, "{containerPort: 8443, hostPort: 8443}"),
                ""
            )
            .is_empty()
        );
        assert!(findings_of("KS104", &pod(false, "{containerPort: 8443}"), "").is_empty());
    }

    #[test]
    fn pods_of_one_workload_make_one_finding() {
        let rs = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: proxy, namespace: edge, uid: u1}\nspec:\n  selector: {matchLabels: {app: proxy}}\n  template:\n    metadata: {labels: {app: proxy}}\n    spec:\n      containers:\n      - name: proxy\n        ports: [{containerPort: 8443, hostPort: 443}]\n";
        let pod = |name: &str, node: &str| {
            format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: edge\n  labels: {{app: proxy}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: DaemonSet, name: proxy, uid: u1, controller: true}}]\nspec:\n  nodeName: {node}\n  containers:\n  - name: proxy\n    ports: [{{containerPort: 8443, hostPort: 443}}]\n"
            )
        };
        let yaml = format!("{rs}{}{}", pod("proxy-a", "n1"), pod("proxy-b", "n2"));
        let f = findings_of("KS104", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["edge/DaemonSet/proxy"]);
        assert!(f[0].message.contains("node n1, n2"), "{}", f[0].message);
        assert!(
            f[0].message.contains("pods: proxy-a, proxy-b"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].locations[0].line, 1);
    }
}
