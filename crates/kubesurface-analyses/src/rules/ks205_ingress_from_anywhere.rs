//! KS205: an ingress rule that admits `0.0.0.0/0` or `::/0`.

use kubesurface_engine::compile::selects;
use kubesurface_model::Peer;

use super::common::{class_index, list, policy_object, ports_text, workloads};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS205",
    name: "ingress-from-anywhere",
    severity: Severity::Medium,
    summary: "An ingress rule admits the ipBlock 0.0.0.0/0 or ::/0: every address, inside and outside the cluster.",
    rationale: r#"
An `ipBlock` peer admits the addresses of its `cidr` minus its `except` ranges. A prefix of
length zero (`0.0.0.0/0`, `::/0`) is the whole address family: every client on the
internet that can route to the pod (through a LoadBalancer or NodePort with
`externalTrafficPolicy: Local`, a hostPort, or a routable pod network), and — with Calico
and the upstream conformance behaviour, where ipBlocks match pod IPs — **every pod of the
cluster** as well, so the rule quietly undoes any pod and namespace selectors beside it.
With Cilium, ipBlocks do not match pods, and the same rule means "the world" only.

Such a rule is sometimes exactly what a public front end needs, but it is often a
debugging shortcut left in place, or an attempt at "external clients only" that forgot
the pod network. `except` ranges narrow it (the finding lists them); excluding the
private ranges does not exclude the internet.
"#,
    example: r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - ipBlock: {cidr: 0.0.0.0/0}
    ports: [{port: 5432}]
"#,
    remediation: r#"
- Admit the clients that need the service: their CIDRs (office, partner, load balancer
  health-check ranges), or `podSelector`/`namespaceSelector` peers for in-cluster clients.
- For a public front end, restrict exposure at the Service (`loadBalancerSourceRanges`)
  or the Ingress controller, and admit only the controller pods in the policy.
- If the rule is intended, keep it and suppress the finding with a reason.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let engine = ctx.engine;
    let by_ns = class_index(engine);
    for p in cluster.policies.iter().filter(|p| p.affects_ingress) {
        // Most policies admit no /0 block: their pods are only looked up for a finding.
        let wide_peer = |peer: &Peer| matches!(peer, Peer::IpBlock(b) if b.cidr.prefix_len() == 0);
        if !p.ingress.iter().any(|r| r.peers.iter().any(wide_peer)) {
            continue;
        }
        let selected: Vec<usize> = by_ns
            .get(p.namespace.as_str())
            .into_iter()
            .flatten()
            .map(|&c| &engine.classes.classes[c])
            .filter(|c| selects(p, c))
            .flat_map(|c| c.members.iter().map(|&m| m as usize))
            .collect();
        let selected = workloads(cluster, selected);
        let names: Vec<&String> = selected.keys().collect();
        let object = policy_object(p);
        for (ri, rule) in p.ingress.iter().enumerate() {
            let wide: Vec<String> = rule
                .peers
                .iter()
                .enumerate()
                .filter_map(|(xi, peer)| match peer {
                    Peer::IpBlock(b) if b.cidr.prefix_len() == 0 => {
                        let except = if b.except.is_empty() {
                            " (no except)".to_string()
                        } else {
                            let e: Vec<String> = b.except.iter().map(|n| n.to_string()).collect();
                            format!(" except {}", e.join(", "))
                        };
                        Some(format!("from[{xi}] {}{except}", b.cidr))
                    }
                    _ => None,
                })
                .collect();
            if wide.is_empty() {
                continue;
            }
            let to = if names.is_empty() {
                "no pod in the input (see KS301)".to_string()
            } else {
                list(&names)
            };
            let mut locations = vec![&p.source];
            locations.extend(selected.values().copied());
            out.push(RULE.finding(
                vec![object.clone()],
                format!(
                    "{object}: spec.ingress[{ri}] admits every address ({}) on {} to {to}",
                    wide.join("; "),
                    ports_text(rule),
                ),
                locations,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const PODS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db, namespace: shop}\nspec:\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers: [{name: c, ports: [{containerPort: 5432, name: pg}]}]\n---\n";

    fn policy(from: &str) -> String {
        format!(
            "{PODS}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db, namespace: shop}}\nspec:\n  podSelector: {{matchLabels: {{app: db}}}}\n  ingress:\n  - from: [{{podSelector: {{}}}}]\n  - from:\n{from}    ports: [{{port: pg}}, {{protocol: UDP, port: 9000, endPort: 9010}}]\n"
        )
    }

    #[test]
    fn whole_address_space_is_reported_with_pods_and_ports() {
        let f = findings_of(
            "KS205",
            &policy("    - podSelector: {}\n    - ipBlock: {cidr: 0.0.0.0/0}\n"),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/NetworkPolicy/db"]);
        assert_eq!(
            f[0].message,
            "shop/NetworkPolicy/db: spec.ingress[1] admits every address (from[1] 0.0.0.0/0 (no except)) on TCP port named pg, UDP 9000-9010 to shop/Deployment/db"
        );
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 11]);
    }

    #[test]
    fn excepts_and_ipv6_are_named() {
        let f = findings_of(
            "KS205",
            &policy(
                "    - ipBlock: {cidr: ::/0}\n    - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 192.168.0.0/16]}\n",
            ),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains(
                "(from[0] ::/0 (no except); from[1] 0.0.0.0/0 except 10.0.0.0/8, 192.168.0.0/16)"
            ),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn narrower_blocks_and_egress_are_not_reported() {
        assert!(findings_of("KS205", &policy("    - ipBlock: {cidr: 0.0.0.0/1}\n"), "").is_empty());
        let egress = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: out, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]\n";
        assert!(findings_of("KS205", &format!("{PODS}{egress}"), "").is_empty());
    }
}
