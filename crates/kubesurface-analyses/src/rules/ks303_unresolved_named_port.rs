//! KS303: a named port in a NetworkPolicy rule that no destination pod declares.

use kubesurface_engine::compile::{Direction, selects};
use kubesurface_model::{Peer, PortSpec};

use super::common::{class_index, edit_distance, list, policy_object, workloads};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS303",
    name: "named-port-unresolved",
    severity: Severity::Medium,
    summary: "A NetworkPolicy port given by name matches no containerPort (same name and protocol) of any destination pod: it allows nothing.",
    rationale: r#"
A `NetworkPolicyPort` may name a port instead of numbering it. The name is resolved **on
the destination pod**: the port is the pod's `containerPort` whose `name` equals it and
whose `protocol` equals the rule's protocol (TCP when omitted). For an ingress rule the
destinations are the pods the policy selects; for an egress rule they are the pods the
rule's `to` peers match (every pod, when `to` is empty). A name matches nothing outside
the cluster.

When no destination declares the name with that protocol — a typo, a port renamed in the
Deployment, `protocol` left at TCP for a UDP port, a name that only exists on the *source*
pod — the entry allows nothing. The traffic the author meant to allow is dropped (the pod
is still isolated by the policy), typically surfacing as timeouts after a chart upgrade.
Names that resolve on some destinations but not others are normal and not reported.
"#,
    example: r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: https}]           # the container names its port "http"
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]
"#,
    remediation: r#"
- Use the name the destination containers declare (`kubectl get pod POD -o
  jsonpath='{.spec.containers[*].ports}'`), with the same protocol.
- Or declare the name on the destination containers (`ports: [{name: https,
  containerPort: 8443}]`).
- Or use the port number.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let engine = ctx.engine;
    let classes = &engine.classes.classes;
    let by_ns = class_index(engine);
    for (pi, p) in cluster.policies.iter().enumerate() {
        let object = policy_object(p);
        for (direction, affects, rules) in [
            (Direction::Ingress, p.affects_ingress, &p.ingress),
            (Direction::Egress, p.affects_egress, &p.egress),
        ] {
            if !affects {
                continue;
            }
            let dir = match direction {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
            };
            for (ri, rule) in rules.iter().enumerate() {
                if !rule
                    .ports
                    .iter()
                    .any(|pp| matches!(pp.port, PortSpec::Named(_)))
                {
                    continue;
                }
                // The destination classes.
                let dests: Vec<usize> = match direction {
                    Direction::Ingress => by_ns
                        .get(p.namespace.as_str())
                        .into_iter()
                        .flatten()
                        .copied()
                        .filter(|&c| selects(p, &classes[c]))
                        .collect(),
                    // Compiled rules are in policy order: this policy's are found by
                    // bisection, not by scanning every rule of the cluster.
                    Direction::Egress => engine.rules
                        [engine.rules.partition_point(|r| (r.policy as usize) < pi)..]
                        .iter()
                        .take_while(|r| r.policy as usize == pi)
                        .find(|r| r.direction == Direction::Egress && r.index as usize == ri)
                        .map(|r| r.peers.ones().filter(|&c| c < classes.len()).collect())
                        .unwrap_or_default(),
                };
                if dests.is_empty() {
                    let only_ip_blocks = !rule.peers.is_empty()
                        && rule.peers.iter().all(|x| matches!(x, Peer::IpBlock(_)));
                    if direction == Direction::Egress && only_ip_blocks {
                        for (xi, pp) in rule.ports.iter().enumerate() {
                            if let PortSpec::Named(name) = &pp.port {
                                out.push(RULE.finding(
                                    vec![object.clone()],
                                    format!(
                                        "{object}: spec.egress[{ri}].ports[{xi}] names port {name}/{}, but the rule's peers are only ipBlocks holding no pod of the input, and a name matches nothing outside the cluster: it allows nothing",
                                        pp.protocol
                                    ),
                                    vec![&p.source],
                                ));
                            }
                        }
                    }
                    // Otherwise the selectors match nothing: KS301 / KS302.
                    continue;
                }
                // The destination workloads, named only for a finding (most names resolve).
                let mut dest_workloads = None;
                for (xi, pp) in rule.ports.iter().enumerate() {
                    let PortSpec::Named(name) = &pp.port else {
                        continue;
                    };
                    let resolves = dests.iter().any(|&c| {
                        classes[c]
                            .named_ports
                            .iter()
                            .any(|n| &n.name == name && n.protocol == pp.protocol)
                    });
                    if resolves {
                        continue;
                    }
                    // Hints: the name under another protocol, or a close name.
                    let mut hint = String::new();
                    let declared: Vec<_> = dests
                        .iter()
                        .flat_map(|&c| classes[c].named_ports.iter())
                        .collect();
                    if let Some(n) = declared.iter().find(|n| &n.name == name) {
                        hint = format!(
                            " (it is declared as {}/{}: set the rule's protocol to {})",
                            n.name, n.protocol, n.protocol
                        );
                    } else if let Some((_, n)) = declared
                        .iter()
                        .map(|n| (edit_distance(name, &n.name), n))
                        .filter(|(d, _)| *d <= 2)
                        .min_by_key(|(d, n)| (*d, &n.name))
                    {
                        hint = format!("; did you mean {}/{}?", n.name, n.protocol);
                    }
                    let whom = match direction {
                        Direction::Ingress => "none of the pods it selects declares it".to_string(),
                        Direction::Egress if rule.peers.is_empty() => {
                            "no pod in the input declares it".to_string()
                        }
                        Direction::Egress => {
                            "none of the destination pods its peers match declares it".to_string()
                        }
                    };
                    let dest_workloads = dest_workloads.get_or_insert_with(|| {
                        let members = (dests.iter())
                            .flat_map(|&c| classes[c].members.iter().map(|&m| m as usize));
                        workloads(cluster, members)
                    });
                    let dest_names: Vec<&String> = dest_workloads.keys().collect();
                    let mut locations = vec![&p.source];
                    locations.extend(dest_workloads.values().copied());
                    out.push(RULE.finding(
                        vec![object.clone()],
                        format!(
                            "{object}: spec.{dir}[{ri}].ports[{xi}] names port {name}/{}, but {whom} ({}): it allows nothing{hint}",
                            pp.protocol,
                            list(&dest_names)
                        ),
                        locations,
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const PODS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers: [{name: c, ports: [{containerPort: 8080, name: http}, {containerPort: 5353, name: dns, protocol: UDP}]}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: shop, labels: {app: client}}\nspec:\n  containers: [{name: c, ports: [{containerPort: 9000, name: metrics}]}]\n---\n";

    fn ingress(ports: &str) -> String {
        format!(
            "{PODS}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: web, namespace: shop}}\nspec:\n  podSelector: {{matchLabels: {{app: web}}}}\n  ingress:\n  - ports: {ports}\n"
        )
    }

    #[test]
    fn ingress_name_resolves_on_the_selected_pods_only() {
        // `metrics` exists, but on the client, not on the pods the policy protects.
        let f = findings_of("KS303", &ingress("[{port: http}, {port: metrics}]"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/NetworkPolicy/web"]);
        assert_eq!(
            f[0].message,
            "shop/NetworkPolicy/web: spec.ingress[0].ports[1] names port metrics/TCP, but none of the pods it selects declares it (shop/Pod/web-1): it allows nothing"
        );
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 13]);
    }

    #[test]
    fn protocol_must_match_too() {
        let f = findings_of("KS303", &ingress("[{port: dns}]"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message
                .contains("names port dns/TCP, but none of the pods it selects declares it"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message.contains("declared as dns/UDP"),
            "{}",
            f[0].message
        );
        assert!(findings_of("KS303", &ingress("[{port: dns, protocol: UDP}]"), "").is_empty());
        let f = findings_of("KS303", &ingress("[{port: htp}]"), "");
        assert!(
            f[0].message.ends_with("did you mean http/TCP?"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn egress_names_resolve_on_the_destinations() {
        let egress = |to: &str| {
            format!(
                "{PODS}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: client, namespace: shop}}\nspec:\n  podSelector: {{matchLabels: {{app: client}}}}\n  policyTypes: [Egress]\n  egress:\n  - {to}ports: [{{port: http}}]\n"
            )
        };
        // To web: resolves on web's `http`.
        assert!(
            findings_of(
                "KS303",
                &egress("to: [{podSelector: {matchLabels: {app: web}}}]\n    "),
                ""
            )
            .is_empty()
        );
        // Empty `to`: any pod declaring it is enough.
        assert!(findings_of("KS303", &egress(""), "").is_empty());
        // To the client itself only: it declares no `http`.
        let f = findings_of(
            "KS303",
            &egress("to: [{podSelector: {matchLabels: {app: client}}}]\n    "),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains(
                "spec.egress[0].ports[0] names port http/TCP, but none of the destination pods its peers match declares it (shop/Pod/client)"
            ),
            "{}",
            f[0].message
        );
        // To an ipBlock only: names never resolve outside the cluster.
        let f = findings_of(
            "KS303",
            &egress("to: [{ipBlock: {cidr: 203.0.113.0/24}}]\n    "),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("only ipBlocks"), "{}", f[0].message);
    }
}
