//! KS202: pods that no NetworkPolicy isolates for egress, grouped per namespace.

use super::common::{SYSTEM_NAMESPACES, list, unisolated_by_namespace, workloads};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS202",
    name: "pods-without-egress-isolation",
    severity: Severity::Low,
    summary: "Pods that no NetworkPolicy isolates for egress may open connections to any pod, node, the API server, cloud metadata and the internet.",
    rationale: r#"
A pod is isolated for egress only when some NetworkPolicy in its namespace selects it with
the `Egress` policy type (the Kubernetes NetworkPolicy documentation; `policyTypes`
defaults to `[Ingress]`, plus `Egress` only when the policy has `egress` rules). Until then
it may connect anywhere the network routes: every pod of every namespace that does not
isolate itself for ingress, node addresses (kubelet, node-exporter, hostNetwork daemons),
the API server, the cloud metadata endpoint (`169.254.169.254`, which hands out node
credentials on several clouds) and the internet.

Egress control is what limits the blast radius of a compromised workload: lateral movement,
data exfiltration, callbacks to a command-and-control server. It is reported per
namespace, at low severity because ingress isolation (KS201) is the first line, and many
workloads legitimately need broad egress. `hostNetwork` pods are left out: no policy can
isolate them.
"#,
    example: r#"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, image: nginx}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}   # policyTypes defaults to [Ingress]: egress stays open
  ingress: [{ports: [{port: 80}]}]
"#,
    remediation: r#"
Add a default-deny egress policy to the namespace that still allows DNS, then allow each
workload the destinations it needs:

```yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
```

Check the result with KS305 (egress isolation that blocks DNS).
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let engine = ctx.engine;
    let by_ns = unisolated_by_namespace(ctx, |c| !engine.egress_isolated(c));
    for (ns, (all, open)) in by_ns {
        if open.is_empty() {
            continue;
        }
        let open = workloads(cluster, open);
        let names: Vec<&String> = open.keys().collect();
        let note = if SYSTEM_NAMESPACES.contains(&ns) {
            " (system namespace: its components often need the API server and upstream DNS)"
        } else {
            ""
        };
        let mut locations: Vec<_> = open.values().copied().collect();
        if let Some(s) = cluster.namespaces.get(ns).and_then(|n| n.source.as_ref()) {
            locations.push(s);
        }
        out.push(RULE.finding(
            vec![format!("Namespace/{ns}")],
            format!(
                "namespace {ns}: {} of {} workload(s) are selected by no egress policy and may connect to any pod, node, the API server and any external address: {}{note}",
                names.len(),
                all.len(),
                list(&names)
            ),
            locations,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const PODS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers: [{name: c}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db-1, namespace: shop, labels: {app: db}}\nspec:\n  containers: [{name: c}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: shop, labels: {app: agent}}\nspec:\n  hostNetwork: true\n  containers: [{name: c}]\n---\n";

    #[test]
    fn ingress_only_policies_leave_egress_open() {
        let policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n";
        let f = findings_of("KS202", &format!("{PODS}{policy}"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["Namespace/shop"]);
        assert_eq!(
            f[0].message,
            "namespace shop: 2 of 2 workload(s) are selected by no egress policy and may connect to any pod, node, the API server and any external address: shop/Pod/db-1, shop/Pod/web-1"
        );
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 7]);
    }

    #[test]
    fn egress_rules_default_the_policy_type() {
        // `egress:` present without policyTypes makes the policy an egress policy too.
        let policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  egress: [{to: [{podSelector: {matchLabels: {app: db}}}]}]\n";
        let f = findings_of("KS202", &format!("{PODS}{policy}"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("1 of 2 workload(s)")
                && f[0].message.ends_with(": shop/Pod/db-1"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn default_deny_egress_is_not_reported() {
        let deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n";
        assert!(findings_of("KS202", &format!("{PODS}{deny}"), "").is_empty());
    }
}
