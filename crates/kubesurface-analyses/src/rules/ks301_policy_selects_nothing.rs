//! KS301: a NetworkPolicy whose `podSelector` selects no pod of its namespace.
//!
//! This module also holds the small helpers the policy rules (KS201–KS307) share: object
//! names, selector text, "did you mean" hints and capped lists.

use std::collections::{BTreeMap, BTreeSet};

use kubesurface_engine::Engine;
use kubesurface_engine::selector::matches;
use kubesurface_model::{
    Cluster, Endpoint, LabelSelector, Labels, NetworkPolicy, Operator, PolicyRule, PortSpec, Source,
};

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

// ---------------------------------------------------------------------------------------
// Helpers shared by the policy rules (KS2xx, KS3xx).

/// Namespaces whose pods are the control plane's own: findings there are reported at a
/// lower severity, never skipped.
pub(super) const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// Endpoint classes per namespace (class ids, ascending): what selectors need, once.
pub(super) fn class_index<'e>(engine: &'e Engine<'_>) -> BTreeMap<&'e str, Vec<usize>> {
    let mut map: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in engine.classes.classes.iter().enumerate() {
        map.entry(c.namespace.as_str()).or_default().push(i);
    }
    map
}

/// Endpoint indices per namespace.
pub(super) fn endpoint_index(cluster: &Cluster) -> BTreeMap<&str, Vec<usize>> {
    let mut map: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        map.entry(e.namespace.as_str()).or_default().push(i);
    }
    map
}

/// `NS/NetworkPolicy/NAME`.
pub(super) fn policy_object(p: &NetworkPolicy) -> String {
    format!("{}/NetworkPolicy/{}", p.namespace, p.name)
}

/// `NS/Kind/NAME` of the endpoint's workload (`NS/Pod/NAME` for a bare pod).
pub(super) fn workload_object(e: &Endpoint) -> String {
    format!("{}/{}/{}", e.namespace, e.workload.kind, e.workload.name)
}

/// Where the endpoint's workload was read (the Pod itself when the workload is absent).
pub(super) fn workload_source(e: &Endpoint) -> &Source {
    e.workload_source.as_ref().unwrap_or(&e.source)
}

/// Workloads of some endpoints, each with where it was read, sorted by object name.
pub(super) fn workloads(
    cluster: &Cluster,
    endpoints: impl IntoIterator<Item = usize>,
) -> BTreeMap<String, &Source> {
    endpoints
        .into_iter()
        .map(|i| {
            let e = &cluster.endpoints[i];
            (workload_object(e), workload_source(e))
        })
        .collect()
}

/// At most ten items joined by `, `, then `and N more`.
pub(super) fn list<S: AsRef<str>>(items: &[S]) -> String {
    const CAP: usize = 10;
    let mut s = items
        .iter()
        .take(CAP)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > CAP {
        s.push_str(&format!(" and {} more", items.len() - CAP));
    }
    s
}

/// A label selector in `kubectl -l` syntax (`{}` for the empty selector).
pub(super) fn selector_text(s: &LabelSelector) -> String {
    if s.is_empty() {
        return "{}".to_string();
    }
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for r in &s.match_expressions {
        parts.push(match r.operator {
            Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
            Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
            Operator::Exists => r.key.clone(),
            Operator::DoesNotExist => format!("!{}", r.key),
        });
    }
    parts.join(",")
}

/// The closest existing `key=value` for a `matchLabels` pair that matches none of
/// `candidates` (a typo such as `name=cart` for `name=carts`).
pub(super) fn did_you_mean<'a>(
    selector: &LabelSelector,
    candidates: impl Iterator<Item = &'a Labels> + Clone,
) -> Option<String> {
    did_you_mean_pairs(&selector.match_labels, candidates)
}

/// [`did_you_mean`] for plain equality pairs (Service selectors).
pub(super) fn did_you_mean_pairs<'a>(
    pairs: &[(String, String)],
    candidates: impl Iterator<Item = &'a Labels> + Clone,
) -> Option<String> {
    for (k, v) in pairs {
        let values: BTreeSet<&str> = candidates
            .clone()
            .filter_map(|l| l.get(k).map(String::as_str))
            .collect();
        if values.contains(v.as_str()) {
            continue;
        }
        let best = values
            .iter()
            .map(|c| (edit_distance(v, c), *c))
            .filter(|(d, c)| *d <= 2.max(v.len() / 3) || c.starts_with(v.as_str()))
            .min();
        if let Some((_, c)) = best {
            return Some(format!("{k}={c}"));
        }
    }
    None
}

/// Levenshtein distance over characters.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A rule's `ports` as text: `every port`, or `TCP 80, TCP 8000-8080, UDP (every port),
/// TCP port named http`.
pub(super) fn ports_text(rule: &PolicyRule) -> String {
    if rule.ports.is_empty() {
        return "every port".to_string();
    }
    rule.ports
        .iter()
        .map(|p| match &p.port {
            PortSpec::All => format!("{} (every port)", p.protocol),
            PortSpec::Range(lo, hi) if lo == hi => format!("{} {lo}", p.protocol),
            PortSpec::Range(lo, hi) => format!("{} {lo}-{hi}", p.protocol),
            PortSpec::Named(n) => format!("{} port named {n}", p.protocol),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Test support: every finding of `code` for the vendored Sock Shop corpus, read from
/// `paths` relative to `tests/corpus/sock-shop` (in that order: the first definition of a
/// duplicated object wins in ingest).
#[cfg(test)]
pub(super) fn sock_shop_findings(paths: &[&str], code: &str) -> Vec<Finding> {
    use crate::config::Config;
    use crate::exposure::exposures;
    use kubesurface_engine::{Engine, Settings};

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/corpus/sock-shop");
    let paths: Vec<String> = paths.iter().map(|p| format!("{root}/{p}")).collect();
    let loaded = kubesurface_ingest::load_paths(&paths).expect("the Sock Shop corpus loads");
    let config = Config::default();
    let engine = Engine::new(&loaded.cluster, Settings::default());
    let exposures = exposures(&engine, &config);
    let ctx = AuditContext::new(&engine, &config, &exposures, &[]);
    super::audit(&ctx)
        .into_iter()
        .filter(|f| f.rule == code)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::findings_of;

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
