//! KS302: a `podSelector` / `namespaceSelector` peer of a NetworkPolicy rule that matches
//! nothing in the input.

use std::collections::{BTreeSet, HashMap, HashSet};

use kubesurface_engine::classes::EndpointClass;
use kubesurface_engine::selector::matches;
use kubesurface_model::{LabelSelector, Peer};

use super::common::{
    class_index, did_you_mean, list, policy_object, selector_text, workload_object,
};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS302",
    name: "policy-peer-matches-nothing",
    severity: Severity::Low,
    summary: "A from/to peer of a NetworkPolicy rule selects no pod (or its namespaceSelector no namespace): that part of the rule allows nothing.",
    rationale: r#"
In a NetworkPolicy rule, each `from` (ingress) or `to` (egress) entry is a peer, and the
peers are ORed. Per the Kubernetes NetworkPolicy documentation, a `podSelector` alone
selects pods **in the policy's own namespace**, a `namespaceSelector` alone selects every
pod of the matching namespaces, and both in one entry select the pods matching the pod
selector in the matching namespaces. Selectors never match `hostNetwork` pods.

A peer that matches nothing — a typo (`name: cortex` when no pod has it, `name: cart` for
pods labelled `name: carts`), a pod selector that was meant to be paired with a
namespace selector, a namespace label that the namespace does not carry (every namespace
carries `kubernetes.io/metadata.name`, but not `name` unless someone set it) — silently
allows nothing. With the rest of the policy in force, the traffic the author meant to allow
is dropped, or the author believes a path is limited to one client when the policy in fact
admits none.

Peers are judged only against namespaces whose workloads are in the input; a
`namespaceSelector` alone is reported only when it matches no namespace at all.
"#,
    example: r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cortex-access, namespace: sock-shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector: {matchLabels: {name: cortex}}   # no pod in sock-shop is labelled name=cortex
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: front-end, namespace: sock-shop}
spec:
  selector: {matchLabels: {name: front-end}}
  template:
    metadata: {labels: {name: front-end}}
    spec:
      containers: [{name: front-end, image: weaveworksdemos/front-end}]
"#,
    remediation: r#"
- Fix the selector to match the client's labels (`kubectl get pods -A --show-labels`); the
  finding suggests the closest existing label value when there is one.
- For a client in another namespace, put `namespaceSelector` (for example
  `kubernetes.io/metadata.name: monitoring`) **in the same entry** as the `podSelector`.
- Remove peers for clients that no longer exist.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let engine = ctx.engine;
    let by_ns = class_index(engine);
    // Policies repeat their peers: namespaces per namespace selector are found once, and a
    // peer found to match (or to have nothing to match) is not looked at again.
    let mut selected: HashMap<&LabelSelector, Vec<&str>> = HashMap::new();
    type PeerKey<'p> = (
        Option<&'p LabelSelector>,
        Option<&'p str>,
        &'p LabelSelector,
    );
    let mut quiet: HashSet<PeerKey<'_>> = HashSet::new();
    for p in &cluster.policies {
        let object = policy_object(p);
        for (direction, key, affects, rules) in [
            ("ingress", "from", p.affects_ingress, &p.ingress),
            ("egress", "to", p.affects_egress, &p.egress),
        ] {
            if !affects {
                continue; // rules of a direction the policy does not affect are ignored
            }
            let effect = if direction == "ingress" {
                "admits no source"
            } else {
                "allows no destination"
            };
            for (ri, rule) in rules.iter().enumerate() {
                for (xi, peer) in rule.peers.iter().enumerate() {
                    let Peer::Pods {
                        pod_selector,
                        namespace_selector,
                    } = peer
                    else {
                        continue;
                    };
                    let own = [p.namespace.as_str()];
                    let namespaces: &[&str] = match namespace_selector {
                        None => &own,
                        Some(s) => selected.entry(s).or_insert_with(|| {
                            (cluster.namespaces.values())
                                .filter(|n| matches(s, &n.labels))
                                .map(|n| n.name.as_str())
                                .collect()
                        }),
                    };
                    if let Some(s) = namespace_selector
                        && namespaces.is_empty()
                    {
                        let path = format!("spec.{direction}[{ri}].{key}[{xi}]");
                        let hint = did_you_mean(s, cluster.namespaces.values().map(|n| &n.labels))
                            .map(|h| format!("; did you mean {h}?"))
                            .unwrap_or_default();
                        out.push(RULE.finding(
                            vec![object.clone()],
                            format!(
                                "{object}: {path} namespaceSelector {} matches no namespace in the input, so this peer {effect}{hint}",
                                selector_text(s)
                            ),
                            vec![&p.source],
                        ));
                        continue;
                    }
                    let Some(ps) = pod_selector else {
                        continue;
                    };
                    let peer_key = (
                        namespace_selector.as_ref(),
                        namespace_selector.is_none().then_some(p.namespace.as_str()),
                        ps,
                    );
                    if quiet.contains(&peer_key) {
                        continue;
                    }
                    let classes: Vec<&EndpointClass> = namespaces
                        .iter()
                        .filter_map(|ns| by_ns.get(ns))
                        .flatten()
                        .map(|&c| &engine.classes.classes[c])
                        .collect();
                    let regular = || classes.iter().filter(|c| !c.host_network);
                    // No workload of those namespaces in the input, or one matches.
                    if regular().next().is_none() || regular().any(|c| matches(ps, &c.labels)) {
                        quiet.insert(peer_key);
                        continue;
                    }
                    let path = format!("spec.{direction}[{ri}].{key}[{xi}]");
                    let where_ = if namespace_selector.is_some() {
                        format!("namespaces {}", namespaces.join(", "))
                    } else {
                        format!("namespace {}", p.namespace)
                    };
                    let mut why = String::new();
                    let host: BTreeSet<String> = classes
                        .iter()
                        .filter(|c| c.host_network && matches(ps, &c.labels))
                        .flat_map(|c| &c.members)
                        .map(|&m| workload_object(&cluster.endpoints[m as usize]))
                        .collect();
                    if !host.is_empty() {
                        let host: Vec<String> = host.into_iter().collect();
                        why.push_str(&format!(
                            " (only hostNetwork pods match, and selectors never match them: {})",
                            list(&host)
                        ));
                    }
                    if let Some(h) = did_you_mean(ps, regular().map(|c| &c.labels)) {
                        why.push_str(&format!("; did you mean {h}?"));
                    }
                    out.push(RULE.finding(
                        vec![object.clone()],
                        format!(
                            "{object}: {path} podSelector {} matches no pod in {where_}, so this peer {effect}{why}",
                            selector_text(ps)
                        ),
                        vec![&p.source],
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;
    use crate::rules::testing::sock_shop_findings;

    const PODS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: mon, labels: {team: obs}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: prom-1, namespace: mon, labels: {app: prometheus}}\nspec:\n  containers: [{name: c}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db-1, namespace: shop, labels: {app: db}}\nspec:\n  containers: [{name: c}]\n---\n";

    fn policy(peers: &str) -> String {
        format!(
            "{PODS}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db, namespace: shop}}\nspec:\n  podSelector: {{}}\n  ingress:\n  - ports: [{{port: 5432}}]\n  - from:\n{peers}"
        )
    }

    #[test]
    fn pod_selector_alone_looks_in_the_policy_namespace() {
        // prometheus exists, but in mon: a podSelector alone only looks in shop.
        let f = findings_of(
            "KS302",
            &policy(
                "    - podSelector: {matchLabels: {app: db}}\n    - podSelector: {matchLabels: {app: prometheus}}\n",
            ),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/NetworkPolicy/db"]);
        assert!(
            f[0].message.contains(
                "spec.ingress[1].from[1] podSelector app=prometheus matches no pod in namespace shop, so this peer admits no source"
            ),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].locations[0].line, 17);
    }

    #[test]
    fn namespace_selector_matching_no_namespace_is_reported() {
        let f = findings_of(
            "KS302",
            &policy("    - namespaceSelector: {matchLabels: {team: ob}}\n"),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message
                .contains("namespaceSelector team=ob matches no namespace in the input"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message.contains("did you mean team=obs?"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn peers_that_match_are_not_reported() {
        let yaml = policy(
            "    - namespaceSelector: {matchLabels: {team: obs}}\n      podSelector: {matchLabels: {app: prometheus}}\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: mon}}\n    - podSelector: {}\n    - ipBlock: {cidr: 10.0.0.0/8}\n",
        );
        assert!(findings_of("KS302", &yaml, "").is_empty());
    }

    #[test]
    fn host_network_pods_are_never_peers() {
        let agent = "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: shop, labels: {app: agent}}\nspec:\n  hostNetwork: true\n  containers: [{name: c}]\n---\n";
        let yaml = format!(
            "{agent}{}",
            policy("    - podSelector: {matchLabels: {app: agent}}\n")
        );
        let f = findings_of("KS302", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains(
                "(only hostNetwork pods match, and selectors never match them: shop/Pod/agent)"
            ),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn both_selectors_are_anded() {
        let f = findings_of(
            "KS302",
            &policy(
                "    - namespaceSelector: {matchLabels: {team: obs}}\n      podSelector: {matchLabels: {app: db}}\n",
            ),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("matches no pod in namespaces mon"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn sock_shop_cortex_and_cart_peers_match_nothing() {
        let f = sock_shop_findings(&["."], "KS302");
        let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.starts_with(
                "sock-shop/NetworkPolicy/cortex-access: spec.ingress[0].from[0] podSelector name=cortex matches no pod in namespace sock-shop"
            )),
            "{messages:#?}"
        );
        assert!(
            messages.iter().any(|m| m.starts_with(
                "sock-shop/NetworkPolicy/carts-db-access: spec.ingress[0].from[0] podSelector name=cart matches no pod"
            ) && m.ends_with("did you mean name=carts?")),
            "{messages:#?}"
        );
        assert_eq!(f.len(), 2, "{messages:#?}");
    }

    #[test]
    fn a_repeated_peer_is_judged_in_each_policy_namespace_and_reported_per_policy() {
        // The same podSelector-only peer in three policies: it matches in shop, not in mon
        // (reported for both policies there), and a namespaceSelector peer repeated.
        let np = |ns: &str, name: &str| {
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  podSelector: {{}}\n  ingress:\n  - from:\n    - podSelector: {{matchLabels: {{app: db}}}}\n    - namespaceSelector: {{matchLabels: {{team: obs}}}}\n      podSelector: {{matchLabels: {{app: grafana}}}}\n---\n"
            )
        };
        let yaml = format!(
            "{PODS}{}{}{}",
            np("shop", "a"),
            np("mon", "b"),
            np("mon", "c")
        );
        let f = findings_of("KS302", &yaml, "");
        let mut found: Vec<(String, bool)> = f
            .iter()
            .map(|f| (f.objects[0].clone(), f.message.contains("grafana")))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("mon/NetworkPolicy/b".to_string(), false),
                ("mon/NetworkPolicy/b".to_string(), true),
                ("mon/NetworkPolicy/c".to_string(), false),
                ("mon/NetworkPolicy/c".to_string(), true),
                ("shop/NetworkPolicy/a".to_string(), true),
            ],
            "{f:#?}"
        );
    }
}
