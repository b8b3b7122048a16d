//! KS307: the pre-v1 `net.beta.kubernetes.io/network-policy` namespace annotation, which
//! no longer isolates anything.

use std::collections::BTreeSet;

use super::common::{list, policy_object, workload_object, workloads};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The annotation of the beta NetworkPolicy API.
const ANNOTATION: &str = "net.beta.kubernetes.io/network-policy";

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS307",
    name: "legacy-isolation-annotation",
    severity: Severity::Medium,
    summary: "A Namespace carries the beta net.beta.kubernetes.io/network-policy annotation, which has isolated nothing since NetworkPolicy v1.",
    rationale: r#"
Before NetworkPolicy went GA (`networking.k8s.io/v1`, Kubernetes 1.7), a namespace was
switched to "default deny" with the annotation

```yaml
net.beta.kubernetes.io/network-policy: '{"ingress": {"isolation": "DefaultDeny"}}'
```

and `extensions/v1beta1` policies then opened holes in it. The v1 API dropped the
annotation: as the Kubernetes NetworkPolicy documentation puts it, a pod is isolated for
ingress only when **some NetworkPolicy in its namespace selects it** with the Ingress
policy type; nothing else isolates it. Network plugins that implement v1 ignore the
annotation.

Manifests that still carry it (the Sock Shop demo's `netpol-default-deny.yaml` does) were
written by someone who believed every pod of the namespace denies ingress by default.
Every pod that no v1 policy selects for ingress accepts connections from every pod and
address in the cluster. The finding names those pods.
"#,
    example: r#"
apiVersion: v1
kind: Namespace
metadata:
  name: sock-shop
  annotations:
    net.beta.kubernetes.io/network-policy: |
      {"ingress": {"isolation": "DefaultDeny"}}
"#,
    remediation: r#"
Replace the annotation with a v1 default-deny policy in the namespace, then allow what
each workload needs:

```yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: sock-shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
```

and remove the annotation (`kubectl annotate namespace sock-shop
net.beta.kubernetes.io/network-policy-`) so that no reader mistakes it for protection.
"#,
    check,
};

/// True when the annotation's value asks for ingress `DefaultDeny`.
fn asks_default_deny(value: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(value).is_ok_and(|v| {
        v.pointer("/ingress/isolation")
            .and_then(|i| i.as_str())
            .is_some_and(|i| i == "DefaultDeny")
    })
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let engine = ctx.engine;
    for ns in cluster.namespaces.values() {
        let Some(value) = ns.annotations.get(ANNOTATION) else {
            continue;
        };
        let object = format!("Namespace/{}", ns.name);
        let mut locations = Vec::new();
        locations.extend(ns.source.as_ref());
        let message = if !asks_default_deny(value) {
            format!(
                "{object} carries {ANNOTATION} ({:?}): the annotation of the beta API is ignored by NetworkPolicy v1 and has no effect",
                value.trim()
            )
        } else {
            let regular: Vec<usize> = cluster
                .endpoints
                .iter()
                .enumerate()
                .filter(|(_, e)| e.namespace == ns.name && !e.host_network)
                .map(|(i, _)| i)
                .collect();
            let open: Vec<usize> = regular
                .iter()
                .copied()
                .filter(|&i| !engine.ingress_isolated(engine.classes.class_of[i] as usize))
                .collect();
            let head = format!(
                "{object} asks for ingress DefaultDeny with {ANNOTATION}, which NetworkPolicy v1 ignores: only v1 policies isolate pods"
            );
            if regular.is_empty() {
                format!("{head} (no workload of the namespace is in the input)")
            } else if open.is_empty() {
                let isolating: BTreeSet<String> = cluster
                    .policies
                    .iter()
                    .filter(|p| p.namespace == ns.name && p.affects_ingress)
                    .filter(|p| {
                        regular.iter().any(|&i| {
                            let c = &engine.classes.classes[engine.classes.class_of[i] as usize];
                            kubesurface_engine::compile::selects(p, c)
                        })
                    })
                    .map(policy_object)
                    .collect();
                let isolating: Vec<String> = isolating.into_iter().collect();
                format!(
                    "{head}; here every pod happens to be isolated for ingress by v1 policies ({}), so the annotation only misleads readers",
                    list(&isolating)
                )
            } else {
                let open = workloads(cluster, open);
                locations.extend(open.values().copied());
                let names: Vec<&String> = open.keys().collect();
                let total: BTreeSet<String> = regular
                    .iter()
                    .map(|&i| workload_object(&cluster.endpoints[i]))
                    .collect();
                format!(
                    "{head}; {} of {} workload(s) the author probably believed isolated are selected by no ingress policy and accept traffic from every pod and address: {}",
                    names.len(),
                    total.len(),
                    list(&names)
                )
            }
        };
        out.push(RULE.finding(vec![object], message, locations));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;
    use crate::rules::testing::sock_shop_findings;

    const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations:\n    net.beta.kubernetes.io/network-policy: '{\"ingress\": {\"isolation\": \"DefaultDeny\"}}'\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers: [{name: c}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db-1, namespace: shop, labels: {app: db}}\nspec:\n  containers: [{name: c}]\n---\n";

    const DB_POLICY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n";

    #[test]
    fn names_the_pods_the_author_believed_isolated() {
        let f = findings_of("KS307", &format!("{NS}{DB_POLICY}"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["Namespace/shop"]);
        assert!(
            f[0].message.contains(
                "1 of 2 workload(s) the author probably believed isolated are selected by no ingress policy and accept traffic from every pod and address: shop/Pod/web-1"
            ),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].locations[0].line, 1);
        assert_eq!(f[0].locations.len(), 2, "{:?}", f[0].locations);
    }

    #[test]
    fn still_reported_when_v1_policies_isolate_everything() {
        let deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec:\n  podSelector: {}\n";
        let f = findings_of("KS307", &format!("{NS}{deny}"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message
                .contains("every pod happens to be isolated for ingress by v1 policies (shop/NetworkPolicy/deny)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn namespaces_without_the_annotation_are_not_reported() {
        let yaml = NS.replace("net.beta.kubernetes.io/network-policy", "example.com/note");
        assert!(findings_of("KS307", &yaml, "").is_empty());
    }

    #[test]
    fn other_values_have_no_effect_either() {
        let yaml = NS.replace("DefaultDeny", "None");
        let f = findings_of("KS307", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("has no effect"), "{}", f[0].message);
    }

    #[test]
    fn sock_shop_default_deny_annotation() {
        // The whole corpus: complete-demo.yaml declares the Namespace again without the
        // annotation; ingest merges the two definitions.
        let f = sock_shop_findings(&["."], "KS307");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["Namespace/sock-shop"]);
        // cortex-access (`podSelector` with null matchLabels = every pod) is what isolates
        // the pods in v1, not the annotation.
        assert!(
            f[0].message.contains("asks for ingress DefaultDeny")
                && f[0]
                    .message
                    .contains("sock-shop/NetworkPolicy/cortex-access"),
            "{}",
            f[0].message
        );
        // The policies alone: the finding points at the annotated definition.
        let f = sock_shop_findings(&["manifests-policy"], "KS307");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].locations[0].file.ends_with("netpol-default-deny.yaml"),
            "{:?}",
            f[0].locations
        );
        assert_eq!(f[0].locations[0].line, 2);
        assert!(
            f[0].message
                .contains("no workload of the namespace is in the input"),
            "{}",
            f[0].message
        );
    }
}
