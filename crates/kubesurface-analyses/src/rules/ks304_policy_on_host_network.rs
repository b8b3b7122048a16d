//! KS304: a NetworkPolicy whose podSelector matches hostNetwork pods, which it cannot
//! isolate.

use std::collections::BTreeMap;

use kubesurface_engine::Engine;
use kubesurface_engine::selector::matches;
use kubesurface_model::NetworkPolicy;

use super::common::{class_index, list, policy_object, workloads};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS304",
    name: "policy-selects-host-network",
    severity: Severity::Medium,
    summary: "A NetworkPolicy's podSelector matches hostNetwork pods: the policy has no effect on them.",
    rationale: r#"
Network plugins enforce NetworkPolicy on the pod's own network interface. A pod with
`hostNetwork: true` has none: it shares the node's network namespace, its address is the
node's, and its traffic is node traffic. The Kubernetes NetworkPolicy documentation leaves
NetworkPolicy behaviour for `hostNetwork` pods undefined, naming the usual outcome: the
plugin cannot tell their traffic from the node's, ignores them when matching selectors,
and treats their traffic like all other traffic to and from the node IP. kubesurface
models that outcome (policies neither isolate nor match `hostNetwork` pods).

A policy whose `podSelector` matches such pods therefore does not protect them: whatever
they listen on (on every address of the node, see KS105) stays open to every source. The
author usually believes the opposite — a default-deny in `kube-system`, or a policy
written for a DaemonSet agent, reads as protection. When the policy matches *only*
`hostNetwork` pods it has no effect at all.
"#,
    example: r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: agent, namespace: monitoring}
spec:
  podSelector: {matchLabels: {app: node-exporter}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: prometheus}}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: monitoring}
spec:
  selector: {matchLabels: {app: node-exporter}}
  template:
    metadata: {labels: {app: node-exporter}}
    spec:
      hostNetwork: true
      containers: [{name: node-exporter, image: prom/node-exporter, ports: [{containerPort: 9100}]}]
"#,
    remediation: r#"
- Run the workload without `hostNetwork` when it does not need the node's network
  namespace; then the policy applies.
- Otherwise protect its ports with host-level controls: bind to a specific address,
  a host firewall, Calico host endpoint policies or Cilium host policies, and keep
  untrusted workloads off those nodes.
- Drop the selector terms that match the hostNetwork pods so that the policy says only
  what it does.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let by_ns = class_index(ctx.engine);
    // Namespace-wide policies (`podSelector: {}`) are grouped per namespace: they all miss
    // the same hostNetwork pods, and one finding says it.
    let mut namespace_wide: BTreeMap<&str, Vec<&NetworkPolicy>> = BTreeMap::new();
    for p in &cluster.policies {
        if !p.affects_ingress && !p.affects_egress {
            continue;
        }
        if p.pod_selector.is_empty() {
            namespace_wide.entry(&p.namespace).or_default().push(p);
            continue;
        }
        let (host, regular) = matched(ctx.engine, &by_ns, p);
        if host.is_empty() {
            continue;
        }
        let host = workloads(cluster, host);
        let names: Vec<&String> = host.keys().collect();
        let object = policy_object(p);
        let effect = if regular == 0 {
            "the policy has no effect at all"
        } else {
            "the policy applies only to its other pods"
        };
        let mut objects = vec![object.clone()];
        objects.extend(names.iter().map(|n| n.to_string()));
        let mut locations = vec![&p.source];
        locations.extend(host.values().copied());
        out.push(RULE.finding(
            objects,
            format!(
                "{object} selects hostNetwork pods ({}), which NetworkPolicy does not isolate: their ports stay open to every source on the node's addresses; {effect}",
                list(&names)
            ),
            locations,
        ));
    }
    for (ns, policies) in namespace_wide {
        let (host, regular) = matched(ctx.engine, &by_ns, policies[0]);
        if host.is_empty() {
            continue;
        }
        let host = workloads(cluster, host);
        let names: Vec<&String> = host.keys().collect();
        let policy_names: Vec<String> = policies.iter().map(|p| policy_object(p)).collect();
        let effect = if regular == 0 {
            "; there is no other pod, so they have no effect at all"
        } else {
            ""
        };
        let mut objects = policy_names.clone();
        objects.extend(names.iter().map(|n| n.to_string()));
        let mut locations: Vec<_> = policies.iter().map(|p| &p.source).collect();
        locations.extend(host.values().copied());
        out.push(RULE.finding(
            objects,
            format!(
                "{} {} every pod of namespace {ns} but cannot isolate its hostNetwork pods ({}): their ports stay open to every source on the node's addresses{effect}",
                list(&policy_names),
                if policy_names.len() == 1 { "selects" } else { "select" },
                list(&names)
            ),
            locations,
        ));
    }
}

/// The hostNetwork endpoints a policy's podSelector matches, and how many other classes.
fn matched(
    engine: &Engine<'_>,
    by_ns: &BTreeMap<&str, Vec<usize>>,
    p: &NetworkPolicy,
) -> (Vec<usize>, usize) {
    let (mut host, mut regular) = (Vec::new(), 0usize);
    for &ci in by_ns.get(p.namespace.as_str()).into_iter().flatten() {
        let c = &engine.classes.classes[ci];
        if !matches(&p.pod_selector, &c.labels) {
            continue;
        }
        if c.host_network {
            host.extend(c.members.iter().map(|&m| m as usize));
        } else {
            regular += 1;
        }
    }
    (host, regular)
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const PODS: &str = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: node-exporter, namespace: mon}\nspec:\n  selector: {matchLabels: {app: node-exporter}}\n  template:\n    metadata: {labels: {app: node-exporter}}\n    spec:\n      hostNetwork: true\n      containers: [{name: c, ports: [{containerPort: 9100}]}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: prometheus, namespace: mon, labels: {app: prometheus}}\nspec:\n  containers: [{name: c}]\n---\n";

    fn policy(selector: &str) -> String {
        format!(
            "{PODS}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: mon}}\nspec:\n  podSelector: {selector}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{app: prometheus}}}}}}]}}]\n"
        )
    }

    #[test]
    fn policy_for_a_host_network_daemon_set_has_no_effect() {
        let f = findings_of("KS304", &policy("{matchLabels: {app: node-exporter}}"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].objects,
            ["mon/DaemonSet/node-exporter", "mon/NetworkPolicy/p"]
        );
        assert_eq!(
            f[0].message,
            "mon/NetworkPolicy/p selects hostNetwork pods (mon/DaemonSet/node-exporter), which NetworkPolicy does not isolate: their ports stay open to every source on the node's addresses; the policy has no effect at all"
        );
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 18]);
    }

    #[test]
    fn namespace_wide_policies_are_grouped() {
        let other = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: q, namespace: mon}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n";
        let f = findings_of("KS304", &format!("{}{other}", policy("{}")), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].message,
            "mon/NetworkPolicy/p, mon/NetworkPolicy/q select every pod of namespace mon but cannot isolate its hostNetwork pods (mon/DaemonSet/node-exporter): their ports stay open to every source on the node's addresses"
        );
        assert_eq!(
            f[0].objects,
            [
                "mon/DaemonSet/node-exporter",
                "mon/NetworkPolicy/p",
                "mon/NetworkPolicy/q"
            ]
        );
    }

    #[test]
    fn policies_on_regular_pods_are_not_reported() {
        assert!(findings_of("KS304", &policy("{matchLabels: {app: prometheus}}"), "").is_empty());
    }
}
