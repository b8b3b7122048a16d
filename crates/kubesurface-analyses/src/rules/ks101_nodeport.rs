//! KS101: a NodePort opens a port on every node.

use std::collections::{BTreeMap, HashMap, HashSet};

use kubesurface_model::{Protocol, Service};

use super::{AuditContext, Rule};
use crate::exposure::Via;
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS101",
    name: "nodeport-on-every-node",
    severity: Severity::Medium,
    summary: "A Service of type NodePort (or a LoadBalancer that allocates node ports) opens its port on every node of the cluster.",
    rationale: r#"
A NodePort is not opened on "the node the pod runs on": kube-proxy opens it on **every**
node, on every node address, for as long as the Service exists. Anyone who can reach any
node's address on the node-port range (30000-32767 by default) reaches the backends —
including hosts the cluster operator thinks of as internal, and untrusted workloads that
run with `hostNetwork` or on nodes of their own. LoadBalancer Services allocate node
ports too unless `allocateLoadBalancerNodePorts: false`, so the load balancer's source
ranges do not protect the node ports behind it.
"#,
    example: r#"
apiVersion: v1
kind: Service
metadata: {name: front-end, namespace: shop}
spec:
  type: NodePort
  selector: {app: front-end}
  ports:
  - port: 80
    targetPort: 8079
    nodePort: 30001
"#,
    remediation: r#"
- Prefer `type: ClusterIP` behind an Ingress or Gateway, or a LoadBalancer with
  `loadBalancerSourceRanges` and `allocateLoadBalancerNodePorts: false`.
- If a NodePort is required, restrict who reaches node addresses on the node-port range
  (cloud firewall, host firewall, or Calico host endpoint policy with `preDNAT`).
- Use `externalTrafficPolicy: Local` so backend NetworkPolicies see client addresses.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    // One finding per Service: its node ports and the pods they reach, each once, in the
    // order met.
    let mut by_service: BTreeMap<&str, (Vec<&str>, Vec<String>, bool)> = BTreeMap::new();
    let mut seen: HashSet<(&str, &str, u16, Protocol)> = HashSet::new();
    for e in ctx.exposures.iter().filter(|e| e.via == Via::NodePort) {
        let entry = by_service.entry(e.object.as_str()).or_default();
        let port = e.entry.rsplit(':').next().unwrap_or("");
        if !entry.0.contains(&port) {
            entry.0.push(port);
        }
        if seen.insert((e.object.as_str(), e.target.as_str(), e.port, e.protocol)) {
            entry
                .1
                .push(format!("{}:{}/{}", e.target, e.port, e.protocol));
        }
        entry.2 |= e.admitted;
    }
    let services: HashMap<String, &Service> = (cluster.services.iter())
        .map(|s| (format!("{}/Service/{}", s.namespace, s.name), s))
        .collect();
    for (object, (ports, targets, admitted)) in &by_service {
        let Some(service) = services.get(*object) else {
            continue;
        };
        let verdict = if *admitted {
            ""
        } else {
            " (NetworkPolicies block it at every backend)"
        };
        out.push(RULE.finding(
            vec![object.to_string()],
            format!(
                "{} opens node port {} on every node, reaching {}{}",
                object,
                ports.join(", "),
                targets.join(", "),
                verdict
            ),
            vec![&service.source],
        ));
    }
    // NodePort Services with no backends still open the port.
    for s in &cluster.services {
        let object = format!("{}/Service/{}", s.namespace, s.name);
        let opens = s.service_type == "NodePort"
            || (s.service_type == "LoadBalancer" && s.allocate_load_balancer_node_ports);
        if opens && !by_service.contains_key(object.as_str()) {
            out.push(RULE.finding(
                vec![object.clone()],
                format!("{object} opens node ports on every node (no backend pod in the input)"),
                vec![&s.source],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 8080, name: http}]\n---\n";

    #[test]
    fn nodeport_service_is_reported_with_its_backends() {
        let yaml = format!(
            "{POD}apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec:\n  type: NodePort\n  selector: {{app: web}}\n  ports: [{{port: 80, targetPort: http, nodePort: 30080}}]\n"
        );
        let f = findings_of("KS101", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/Service/web"]);
        assert!(f[0].message.contains("node port 30080"), "{}", f[0].message);
        assert!(
            f[0].message.contains("shop/web-1:8080/TCP"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].locations[0].line, 9);
    }

    #[test]
    fn load_balancer_allocates_node_ports_unless_told_not_to() {
        let lb = |extra: &str| {
            format!(
                "{POD}apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec:\n  type: LoadBalancer\n{extra}  selector: {{app: web}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"
            )
        };
        assert_eq!(findings_of("KS101", &lb(""), "").len(), 1);
        assert!(
            findings_of("KS101", &lb("  allocateLoadBalancerNodePorts: false\n"), "").is_empty()
        );
    }

    #[test]
    fn cluster_ip_is_not_reported() {
        let yaml = format!(
            "{POD}apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec:\n  selector: {{app: web}}\n  ports: [{{port: 80}}]\n"
        );
        assert!(findings_of("KS101", &yaml, "").is_empty());
    }

    #[test]
    fn annotation_suppresses_with_reason() {
        let yaml = format!(
            "{POD}apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {{kubesurface.io/ignore: \"KS101\", kubesurface.io/ignore-reason: public on purpose}}\nspec:\n  type: NodePort\n  selector: {{app: web}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"
        );
        let f = findings_of("KS101", &yaml, "");
        assert!(f[0].suppressed);
        assert_eq!(
            f[0].suppression.as_deref(),
            Some("annotation on shop/Service/web: public on purpose")
        );
        let cfg = "ignore:\n- {rule: KS101, object: shop/Service/web, reason: reviewed}\n";
        let yaml2 = yaml.replace("kubesurface.io/ignore: \"KS101\", ", "");
        let f = findings_of("KS101", &yaml2, cfg);
        assert_eq!(f[0].suppression.as_deref(), Some("config: reviewed"));
    }
}
