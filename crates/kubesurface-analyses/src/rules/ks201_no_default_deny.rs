//! KS201: a namespace whose pods are not all isolated for ingress (no default-deny).

use super::common::{SYSTEM_NAMESPACES, list, unisolated_by_namespace, workloads};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS201",
    name: "namespace-without-default-deny",
    severity: Severity::Medium,
    summary: "A namespace has pods that no NetworkPolicy isolates for ingress: they accept connections from every pod and address, on every port.",
    rationale: r#"
The pod network is flat and open: per the Kubernetes NetworkPolicy documentation, a pod is
**non-isolated for ingress** — it accepts connections from any source — until some
NetworkPolicy in its namespace selects it with the `Ingress` policy type. Policies are
allow-lists that only apply to the pods they select, so a namespace where only some
workloads have policies still leaves every other workload open to every pod of every
namespace (including compromised or untrusted ones) and to any address that can route to
the pod network.

The usual safeguard is a namespace-wide default-deny policy (`podSelector: {}`,
`policyTypes: [Ingress]`, no rules), on top of which each workload gets the allowances it
needs; a workload added later is then closed until someone opens it. This rule reports a
namespace as soon as one of its (non-`hostNetwork`) pods is not isolated for ingress,
and names those workloads. `hostNetwork` pods are left out: no policy can isolate them
(see KS105, KS304).

System namespaces (`kube-system`, `kube-public`, `kube-node-lease`) are reported too, at
**low** severity: their pods are often meant to be reachable (DNS, metrics) and a
default-deny there must keep admitting DNS and the API server's webhook calls, but an
open `kube-system` is still worth knowing about.
"#,
    example: r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]
"#,
    remediation: r#"
Add a default-deny ingress policy to the namespace, then one allow policy per workload
for the clients and ports it needs:

```yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
```

If a workload must stay open to everything, say so with an allow-all policy for it (an
ingress rule with no `from`) and suppress the finding with a reason.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let engine = ctx.engine;
    let by_ns = unisolated_by_namespace(ctx, |c| !engine.ingress_isolated(c));
    for (ns, (all, open)) in by_ns {
        if open.is_empty() {
            continue;
        }
        let open = workloads(cluster, open);
        let names: Vec<&String> = open.keys().collect();
        let object = format!("Namespace/{ns}");
        let any_ingress_policy = cluster
            .policies
            .iter()
            .any(|p| p.namespace == ns && p.affects_ingress);
        let what = if any_ingress_policy {
            format!(
                "{} of {} workload(s) are selected by no ingress policy and",
                names.len(),
                all.len()
            )
        } else {
            format!("no ingress policy exists, so all {} workload(s)", all.len())
        };
        let system = SYSTEM_NAMESPACES.contains(&ns);
        let note = if system {
            " (system namespace: reported at low severity; a default-deny here must keep admitting DNS and webhook calls from the API server)"
        } else {
            ""
        };
        let mut locations: Vec<_> = open.values().copied().collect();
        if let Some(s) = cluster.namespaces.get(ns).and_then(|n| n.source.as_ref()) {
            locations.push(s);
        }
        let mut f = RULE.finding(
            vec![object],
            format!(
                "namespace {ns} has no default-deny ingress: {what} accept connections from every pod and address on every port: {}{note}",
                list(&names)
            ),
            locations,
        );
        if system {
            f.severity = Severity::Low;
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::findings::Severity;
    use crate::rules::testing::findings_of;

    const PODS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers: [{name: c}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db-1, namespace: shop, labels: {app: db}}\nspec:\n  containers: [{name: c}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: shop, labels: {app: agent}}\nspec:\n  hostNetwork: true\n  containers: [{name: c}]\n---\n";

    const DB_POLICY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n";

    #[test]
    fn namespace_without_policies_names_every_workload() {
        let f = findings_of("KS201", PODS, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["Namespace/shop"]);
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(
            f[0].message,
            "namespace shop has no default-deny ingress: no ingress policy exists, so all 2 workload(s) accept connections from every pod and address on every port: shop/Pod/db-1, shop/Pod/web-1"
        );
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 7]);
    }

    #[test]
    fn partly_isolated_namespace_names_the_open_workloads() {
        let f = findings_of("KS201", &format!("{PODS}{DB_POLICY}"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains(
                "1 of 2 workload(s) are selected by no ingress policy and accept connections from every pod and address on every port: shop/Pod/web-1"
            ),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn default_deny_or_egress_only_policies() {
        let deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";
        assert!(findings_of("KS201", &format!("{PODS}{deny}"), "").is_empty());
        // An egress-only policy isolates nothing for ingress.
        let egress = deny.replace("[Ingress]", "[Egress]");
        assert_eq!(
            findings_of("KS201", &format!("{PODS}{egress}"), "").len(),
            1
        );
    }

    #[test]
    fn system_namespaces_are_reported_at_low_severity() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns}}\nspec:\n  containers: [{name: c}]\n";
        let f = findings_of("KS201", yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Low);
        assert!(
            f[0].message.contains("system namespace"),
            "{}",
            f[0].message
        );
    }
}
