//! KS301: a NetworkPolicy whose `podSelector` selects no pod of its namespace.
//!
//! This module also holds the small helpers the policy rules (KS201–KS307) share: object
//! names, selector text, "did you mean" hints and capped lists.

use super::common::{class_index, did_you_mean, policy_object, selector_text, workload_object};
use std::collections::BTreeSet;

use kubesurface_engine::selector::matches;

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS301",
    name: "policy-selects-no-pod",
    severity: Severity::Low,
    summary: "A NetworkPolicy's podSelector matches no pod of its namespace: the policy isolates nothing and allows nothing.",
    rationale: r#"
A NetworkPolicy applies only to the pods its `spec.podSelector` selects **in the policy's
own namespace** (the Kubernetes NetworkPolicy documentation: "podSelector selects the
grouping of pods to which the policy applies"). A selector that matches no pod — a typo
in a label value (`name: cart` for pods labelled `name: carts`), a label the chart renamed,
the wrong namespace — makes the whole policy inert:

- the pods it was written for are **not isolated** by it, so they keep accepting whatever
  other policies allow (everything, when no other policy selects them);
- its allow rules grant nothing, so if *another* policy does isolate those pods, the
  traffic the author meant to allow is dropped instead.

Either way the cluster does not do what the manifest says. Only namespaces whose workloads
are in the input are judged (a policy shipped without its workloads cannot be checked).
A policy that matches only `hostNetwork` pods is reported by KS304 instead.
"#,
    example: r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cart-access, namespace: sock-shop}
spec:
  podSelector:
    matchLabels: {name: cart}      # the pods are labelled name: carts
  ingress:
  - from:
    - podSelector: {matchLabels: {name: front-end}}
    ports: [{protocol: TCP, port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: carts, namespace: sock-shop}
spec:
  selector: {matchLabels: {name: carts}}
  template:
    metadata: {labels: {name: carts}}
    spec:
      containers: [{name: carts, image: weaveworksdemos/carts, ports: [{containerPort: 80}]}]
"#,
    remediation: r#"
- Fix the selector to match the pods' labels (`kubectl get pods -n NS --show-labels`); the
  finding suggests the closest existing label value when there is one.
- Delete policies for workloads that no longer exist.
- In CI, render the workloads together with the policies so the check can see both.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let engine = ctx.engine;
    let by_ns = class_index(engine);
    for p in &cluster.policies {
        let Some(in_ns) = by_ns.get(p.namespace.as_str()) else {
            continue; // nothing of that namespace in the input: cannot judge
        };
        let classes = || in_ns.iter().map(|&c| &engine.classes.classes[c]);
        // hostNetwork pods that match are KS304's business.
        if classes().any(|c| matches(&p.pod_selector, &c.labels)) {
            continue;
        }
        let workloads: BTreeSet<String> = classes()
            .flat_map(|c| &c.members)
            .map(|&m| workload_object(&cluster.endpoints[m as usize]))
            .collect();
        let hint = did_you_mean(
            &p.pod_selector,
            classes().filter(|c| !c.host_network).map(|c| &c.labels),
        )
        .map(|h| format!("; did you mean {h}?"))
        .unwrap_or_default();
        let object = policy_object(p);
        out.push(RULE.finding(
            vec![object.clone()],
            format!(
                "{object} selects no pod: podSelector {} matches none of the {} workload(s) in namespace {}, so the pods it was written for are not isolated by it and its rules allow nothing{hint}",
                selector_text(&p.pod_selector),
                workloads.len(),
                p.namespace,
            ),
            vec![&p.source],
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::common::{edit_distance, list};
    use crate::rules::testing::findings_of;
    use crate::rules::testing::sock_shop_findings;

    const PODS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: carts-1, namespace: shop, labels: {name: carts}}\nspec:\n  containers: [{name: c, ports: [{containerPort: 80}]}]\n---\n";

    fn policy(selector: &str) -> String {
        format!(
            "{PODS}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: cart-access, namespace: shop}}\nspec:\n  podSelector: {selector}\n  ingress:\n  - from: [{{podSelector: {{}}}}]\n"
        )
    }

    #[test]
    fn typo_in_pod_selector_is_reported_with_a_suggestion() {
        let f = findings_of("KS301", &policy("{matchLabels: {name: cart}}"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/NetworkPolicy/cart-access"]);
        assert!(
            f[0].message
                .contains("podSelector name=cart matches none of the 1 workload(s)"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message.contains("did you mean name=carts?"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].locations[0].line, 7);
    }

    #[test]
    fn expressions_that_match_nothing_are_reported() {
        let f = findings_of(
            "KS301",
            &policy("{matchExpressions: [{key: tier, operator: In, values: [db]}]}"),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("tier in (db)"), "{}", f[0].message);
    }

    #[test]
    fn matching_and_empty_selectors_are_not_reported() {
        assert!(findings_of("KS301", &policy("{matchLabels: {name: carts}}"), "").is_empty());
        assert!(findings_of("KS301", &policy("{}"), "").is_empty());
    }

    #[test]
    fn namespaces_without_workloads_in_the_input_are_not_judged() {
        let yaml = policy("{matchLabels: {name: cart}}").replace(
            "name: carts-1, namespace: shop",
            "name: carts-1, namespace: other",
        );
        assert!(yaml.contains("namespace: other"));
        assert!(findings_of("KS301", &yaml, "").is_empty());
    }

    #[test]
    fn sock_shop_cart_access_selects_nothing() {
        let f = sock_shop_findings(&["."], "KS301");
        let cart: Vec<_> = f
            .iter()
            .filter(|f| f.objects == ["sock-shop/NetworkPolicy/cart-access"])
            .collect();
        assert_eq!(cart.len(), 1, "{f:?}");
        assert!(
            cart[0].message.contains("did you mean name=carts?"),
            "{}",
            cart[0].message
        );
        assert!(
            cart[0].locations[0]
                .file
                .ends_with("netpol-cart-access.yaml"),
            "{:?}",
            cart[0].locations
        );
        assert_eq!(cart[0].locations[0].line, 2);
        // Every other policy selects a workload that exists.
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn every_policy_rule_example_triggers_its_rule() {
        for code in [
            "KS201", "KS202", "KS205", "KS301", "KS302", "KS303", "KS304", "KS305", "KS306",
            "KS307",
        ] {
            let rule = crate::rules::rule(code).unwrap();
            let f = findings_of(code, rule.example, "");
            assert!(!f.is_empty(), "{code}: its example does not trigger it");
            assert!(!rule.rationale.contains("TODO"), "{code}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(edit_distance("cart", "carts"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let items: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        assert_eq!(list(&items), "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more");
        assert_eq!(list(&["a", "b"]), "a, b");
    }
}
