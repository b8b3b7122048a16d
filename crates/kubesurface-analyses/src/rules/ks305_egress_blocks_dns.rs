//! KS305: egress isolation that leaves a pod unable to reach cluster DNS.

use std::collections::{BTreeMap, BTreeSet};

use kubesurface_engine::classes::NamedPort;
use kubesurface_engine::compile::selects;
use kubesurface_engine::selector::matches;
use kubesurface_model::{Endpoint, Labels, METADATA_NAME_LABEL, Peer, Protocol, Source};

use super::common::{list, policy_object, workload_object, workload_source};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The namespace cluster DNS runs in.
const DNS_NAMESPACE: &str = "kube-system";
/// Labels that mark cluster DNS pods there (kubeadm's CoreDNS keeps `k8s-app: kube-dns`).
const DNS_LABELS: [(&str, &str); 3] = [
    ("k8s-app", "kube-dns"),
    ("k8s-app", "coredns"),
    ("app.kubernetes.io/name", "coredns"),
];

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS305",
    name: "egress-blocks-dns",
    severity: Severity::Medium,
    summary: "An egress-isolated pod cannot reach cluster DNS (UDP and TCP 53 of the kube-dns/CoreDNS pods): every name lookup fails.",
    rationale: r#"
Once a NetworkPolicy selects a pod with the `Egress` policy type, the pod may only open the
connections some egress rule allows (the Kubernetes NetworkPolicy documentation). That
includes DNS: the `kube-dns` Service address is translated to a CoreDNS pod address before
policy applies, so the rule must allow the **DNS pods** (in `kube-system`, labelled
`k8s-app: kube-dns`) on UDP 53, and TCP 53 for answers too large for UDP. A default-deny
egress policy without that allowance breaks every lookup of a Service name; the
application fails with resolution timeouts that look nothing like a policy problem.

kubesurface evaluates the pod's egress towards the DNS pods in the input (labels
`k8s-app=kube-dns`, `k8s-app=coredns` or `app.kubernetes.io/name=coredns` in
`kube-system`, on their declared DNS port, 53 by default). When the input has no DNS pods
it accepts any egress rule that allows port 53 to any destination, or whose peers would
match such a pod in `kube-system`. It reports at **low** severity when UDP is allowed and
only TCP 53 is blocked. The DNS pods themselves (which forward upstream) and
node-local DNS caches on link-local addresses are not judged.
"#,
    example: r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, image: nginx}]
"#,
    remediation: r#"
Allow DNS from every egress-isolated pod, for example in the namespace's default-deny
egress policy:

```yaml
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
```

With NodeLocal DNSCache, also allow its address (an `ipBlock`, usually `169.254.20.10/32`).
"#,
    check,
};

fn is_dns(e: &Endpoint) -> bool {
    e.namespace == DNS_NAMESPACE
        && DNS_LABELS
            .iter()
            .any(|(k, v)| e.labels.get(k).is_some_and(|l| l == v))
}

/// The port a DNS endpoint serves `protocol` on: its declared port named `dns…` or
/// numbered 53, else 53.
fn dns_port(e: &Endpoint, protocol: Protocol) -> u16 {
    e.ports
        .iter()
        .filter(|p| p.protocol == protocol)
        .find(|p| p.port == 53 || p.name.as_deref().is_some_and(|n| n.starts_with("dns")))
        .map_or(53, |p| p.port)
}

struct Dns<'a> {
    ctx: &'a AuditContext<'a>,
    /// DNS classes in the input, with one member each (for its ports).
    classes: BTreeMap<u32, usize>,
    /// Labels of the DNS namespace (real or assumed).
    namespace_labels: Labels,
}

impl Dns<'_> {
    /// True when class `src` may reach DNS on `protocol`.
    fn reaches(&self, src: u32, protocol: Protocol) -> bool {
        let engine = self.ctx.engine;
        if !self.classes.is_empty() {
            return self.classes.iter().any(|(&d, &member)| {
                let port = dns_port(&self.ctx.cluster().endpoints[member], protocol);
                engine.egress_allowed(src, d).contains(protocol, port)
            });
        }
        // No DNS pods in the input: a rule that allows 53 to any destination (numbered, or
        // named and resolving on a destination pod), or one that would match a DNS pod in
        // kube-system.
        let class_count = engine.classes.classes.len();
        let to_any = engine.egress[src as usize].iter().flatten().any(|&r| {
            let compiled = &engine.rules[r as usize];
            if compiled.peers.is_clear() {
                return false;
            }
            if compiled.ports.resolve(None).contains(protocol, 53) {
                return true;
            }
            compiled
                .peers
                .ones()
                .take_while(|&peer| peer < class_count)
                .any(|peer| {
                    let named = &engine.classes.classes[peer].named_ports;
                    compiled.ports.resolve(Some(named)).contains(protocol, 53)
                })
        });
        if to_any {
            return true;
        }
        let assumed = [
            NamedPort {
                name: "dns".into(),
                protocol: Protocol::Udp,
                port: 53,
            },
            NamedPort {
                name: "dns-tcp".into(),
                protocol: Protocol::Tcp,
                port: 53,
            },
        ];
        let cluster = self.ctx.cluster();
        engine.egress[src as usize].iter().flatten().any(|&r| {
            let compiled = &engine.rules[r as usize];
            if !compiled
                .ports
                .resolve(Some(&assumed))
                .contains(protocol, 53)
            {
                return false;
            }
            let policy = &cluster.policies[compiled.policy as usize];
            let rule = &policy.egress[compiled.index as usize];
            rule.peers.is_empty()
                || rule.peers.iter().any(|peer| match peer {
                    Peer::Pods {
                        pod_selector,
                        namespace_selector,
                    } => {
                        let ns_ok = match namespace_selector {
                            None => policy.namespace == DNS_NAMESPACE,
                            Some(s) => matches(s, &self.namespace_labels),
                        };
                        ns_ok
                            && pod_selector.as_ref().is_none_or(|s| {
                                DNS_LABELS.iter().any(|(k, v)| {
                                    matches(s, &Labels::from([(k.to_string(), v.to_string())]))
                                })
                            })
                    }
                    Peer::IpBlock(_) => false, // covered by the external peers above
                })
        })
    }
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let engine = ctx.engine;
    let classes = &engine.classes.classes;
    let mut dns_classes = BTreeMap::new();
    let mut dns_workloads = BTreeSet::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        if is_dns(e) {
            dns_classes.entry(engine.classes.class_of[i]).or_insert(i);
            dns_workloads.insert(workload_object(e));
        }
    }
    let namespace_labels = cluster
        .namespace_labels(DNS_NAMESPACE)
        .cloned()
        .unwrap_or_else(|| {
            Labels::from([(METADATA_NAME_LABEL.to_string(), DNS_NAMESPACE.to_string())])
        });
    let dns = Dns {
        ctx,
        classes: dns_classes,
        namespace_labels,
    };

    // Per workload: (UDP blocked, TCP blocked, its classes, where it was read).
    type Entry<'s> = (bool, bool, BTreeSet<usize>, &'s Source);
    let mut blocked: BTreeMap<String, Entry<'_>> = BTreeMap::new();
    for (ci, c) in classes.iter().enumerate() {
        if c.host_network || !engine.egress_isolated(ci) || dns.classes.contains_key(&(ci as u32)) {
            continue;
        }
        let udp = !dns.reaches(ci as u32, Protocol::Udp);
        let tcp = !dns.reaches(ci as u32, Protocol::Tcp);
        if !udp && !tcp {
            continue;
        }
        for &m in &c.members {
            let e = &cluster.endpoints[m as usize];
            let entry = blocked.entry(workload_object(e)).or_insert((
                false,
                false,
                BTreeSet::new(),
                workload_source(e),
            ));
            entry.0 |= udp;
            entry.1 |= tcp;
            entry.2.insert(ci);
        }
    }

    let dns_names: Vec<String> = dns_workloads.into_iter().collect();
    for (workload, (udp, tcp, cls, source)) in blocked {
        let isolating: Vec<_> = cluster
            .policies
            .iter()
            .filter(|p| p.affects_egress && cls.iter().any(|&c| selects(p, &classes[c])))
            .collect();
        let policy_names: Vec<String> = isolating.iter().map(|p| policy_object(p)).collect();
        let mut objects = vec![workload.clone()];
        objects.extend(policy_names.iter().cloned());
        let mut locations = vec![source];
        locations.extend(isolating.iter().map(|p| &p.source));
        let towards = if dns_names.is_empty() {
            "to any destination (no DNS pods in the input; assumed: kube-system pods labelled k8s-app=kube-dns)".to_string()
        } else {
            format!("to {}", list(&dns_names))
        };
        let head = format!("{workload} is egress-isolated by {}", list(&policy_names));
        let (message, low) = match (udp, tcp) {
            (true, true) => (
                format!(
                    "{head} and no egress rule allows UDP 53 or TCP 53 {towards}: every DNS lookup, Service names included, fails"
                ),
                false,
            ),
            (true, false) => (
                format!(
                    "{head} and no egress rule allows UDP 53 {towards} (TCP 53 is allowed): DNS lookups over UDP fail, and resolvers try UDP first"
                ),
                false,
            ),
            _ => (
                format!(
                    "{head}: UDP 53 {towards} is allowed but TCP 53 is not, so DNS answers too large for UDP (retried over TCP) fail"
                ),
                true,
            ),
        };
        let mut f = RULE.finding(objects, message, locations);
        if low {
            f.severity = Severity::Low;
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::findings::Severity;
    use crate::rules::testing::findings_of;

    const WEB: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers: [{name: c}]\n---\n";
    const DNS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: coredns, namespace: kube-system}\nspec:\n  selector: {matchLabels: {k8s-app: kube-dns}}\n  template:\n    metadata: {labels: {k8s-app: kube-dns}}\n    spec:\n      containers: [{name: c, ports: [{containerPort: 53, name: dns, protocol: UDP}, {containerPort: 53, name: dns-tcp}]}]\n---\n";

    fn deny(egress: &str) -> String {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: shop}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{{podSelector: {{matchLabels: {{app: db}}}}}}]\n    ports: [{{port: 5432}}]\n{egress}"
        )
    }

    const DNS_RULE: &str = "  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]\n";

    #[test]
    fn default_deny_egress_without_dns_is_reported() {
        let f = findings_of("KS305", &format!("{WEB}{DNS}{}", deny("")), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/NetworkPolicy/deny", "shop/Pod/web-1"]);
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(
            f[0].message,
            "shop/Pod/web-1 is egress-isolated by shop/NetworkPolicy/deny and no egress rule allows UDP 53 or TCP 53 to kube-system/Deployment/coredns: every DNS lookup, Service names included, fails"
        );
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 17]);
    }

    #[test]
    fn dns_allowed_is_not_reported_and_tcp_only_is_low() {
        assert!(findings_of("KS305", &format!("{WEB}{DNS}{}", deny(DNS_RULE)), "").is_empty());
        let udp_only = DNS_RULE.replace(", {protocol: TCP, port: 53}", "");
        let f = findings_of("KS305", &format!("{WEB}{DNS}{}", deny(&udp_only)), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Low);
        assert!(f[0].message.contains("TCP 53 is not"), "{}", f[0].message);
        // Named ports resolve on the DNS pods.
        let named = DNS_RULE.replace(
            "[{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]",
            "[{protocol: UDP, port: dns}, {port: dns-tcp}]",
        );
        assert!(findings_of("KS305", &format!("{WEB}{DNS}{}", deny(&named)), "").is_empty());
    }

    #[test]
    fn without_dns_pods_a_rule_that_would_match_them_is_enough() {
        // kube-system is not in the input: the usual DNS rule must still count.
        assert!(findings_of("KS305", &format!("{WEB}{}", deny(DNS_RULE)), "").is_empty());
        // Any destination on 53 counts too (the DNS pods are unknown: lenient).
        let block = "  - to: [{ipBlock: {cidr: 10.0.0.0/8}}]\n    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]\n";
        assert!(findings_of("KS305", &format!("{WEB}{}", deny(block)), "").is_empty());
        let f = findings_of("KS305", &format!("{WEB}{}", deny("")), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("no DNS pods in the input"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn pods_without_egress_isolation_are_not_reported() {
        let ingress_only = deny("").replace("policyTypes: [Egress]", "policyTypes: [Ingress]");
        assert!(findings_of("KS305", &format!("{WEB}{DNS}{ingress_only}"), "").is_empty());
    }
}
