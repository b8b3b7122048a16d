//! KS108: an entry point whose every backend blocks the traffic (a broken exposure).

use std::collections::{BTreeMap, BTreeSet};

use kubesurface_model::Source;

use super::{AuditContext, Rule};
use crate::exposure::Exposure;
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS108",
    name: "exposure-blocked-by-policy",
    severity: Severity::Low,
    summary: "An entry point (LoadBalancer, NodePort, externalIP, Ingress, Gateway route, hostPort) leads only to pods whose NetworkPolicies block that traffic: the exposure cannot work.",
    rationale: r#"
A Service, Ingress or route opens an entry point; NetworkPolicy then decides, at each
backend pod, whether the traffic is admitted. When *no* backend admits it, the entry point
is broken: clients time out, and the usual "fix" under pressure is to delete the policy or
add an allow-all rule — a much larger opening than the one intended.

Which source the backend sees depends on the path, and the verdict says which one it
assumed:
- through an Ingress or a Gateway, the controller or data-plane pods (policies must admit
  them, e.g. their namespace);
- through a NodePort or LoadBalancer with `externalTrafficPolicy: Cluster`, kube-proxy may
  SNAT the client to a **node address** (setting `snat: node`, the default); with `Local`
  (or `snat: client`) the client's own address is kept;
- through a hostPort, the client's address.

It is reported at low severity: nothing is exposed, but the configuration is either dead
or about to be loosened.
"#,
    example: r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"#,
    remediation: r#"
- If the entry point is meant to work: add an ingress rule on the backend for the source
  shown (the ingress controller's namespace and pods, the client ranges with
  `externalTrafficPolicy: Local`, or the node addresses) on the target port only.
- If it is not: remove the Service type, Ingress rule or route, so that the exposure does
  not come back the day someone loosens the policy.
"#,
    check,
};

#[derive(Default)]
struct Blocked {
    targets: BTreeSet<String>,
    sources: BTreeSet<String>,
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    // (object, entry) → records; the object's source location.
    let mut entries: BTreeMap<(&str, &str), Vec<&Exposure>> = BTreeMap::new();
    for x in ctx.exposures {
        entries
            .entry((x.object.as_str(), x.entry.as_str()))
            .or_default()
            .push(x);
    }
    let mut by_object: BTreeMap<&str, (BTreeMap<&str, Blocked>, &Source)> = BTreeMap::new();
    for ((object, entry), records) in entries {
        if records.iter().any(|x| x.admitted) {
            continue;
        }
        let (blocked, _) = by_object
            .entry(object)
            .or_insert_with(|| (BTreeMap::new(), &records[0].location));
        let b = blocked.entry(entry).or_default();
        for x in records {
            b.targets
                .insert(format!("{}:{}/{}", x.target, x.port, x.protocol));
            b.sources.insert(x.source.clone());
        }
    }
    for (object, (blocked, location)) in by_object {
        let snat = blocked
            .values()
            .any(|b| b.sources.iter().any(|s| s.contains("SNAT")));
        let parts: Vec<String> = blocked
            .iter()
            .map(|(entry, b)| {
                format!(
                    "{entry} → {} (source assumed: {})",
                    b.targets.iter().cloned().collect::<Vec<_>>().join(", "),
                    b.sources.iter().cloned().collect::<Vec<_>>().join("; ")
                )
            })
            .collect();
        let hint = if snat {
            "; with externalTrafficPolicy: Local (or settings.snat: client) the client address would be evaluated instead"
        } else {
            ""
        };
        out.push(RULE.finding(
            vec![object.to_string()],
            format!(
                "{object} opens an entry point that NetworkPolicy blocks at every backend: {}{hint}",
                parts.join("; ")
            ),
            vec![location],
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const APP: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 8080}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]\n";
    const DENY: &str = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}}\n";

    #[test]
    fn node_port_blocked_everywhere_is_reported_with_the_source() {
        let yaml = format!("{APP}{DENY}");
        let f = findings_of("KS108", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/Service/web"]);
        let m = &f[0].message;
        assert!(m.contains("node:*:30080 → shop/web-1:8080/TCP"), "{m}");
        assert!(m.contains("source assumed: node addresses"), "{m}");
        assert!(m.contains("externalTrafficPolicy: Local"), "{m}");
        assert_eq!(f[0].locations[0].line, 9);
    }

    #[test]
    fn admitted_exposure_is_not_reported() {
        assert!(findings_of("KS108", APP, "").is_empty());
        // One backend admitting it is enough for the entry point to work.
        let allow_web2 = format!(
            "{APP}{DENY}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web-2, namespace: shop, labels: {{app: web, open: \"yes\"}}}}\nspec:\n  containers:\n  - name: c\n    ports: [{{containerPort: 8080}}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: allow, namespace: shop}}\nspec:\n  podSelector: {{matchLabels: {{open: \"yes\"}}}}\n  ingress: [{{}}]\n"
        );
        assert!(findings_of("KS108", &allow_web2, "").is_empty());
    }
}
