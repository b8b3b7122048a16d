//! KS308: a policy of a dialect the CNI in use does not enforce (a Calico policy under
//! Cilium, an AdminNetworkPolicy under Cilium, ...).

use kubesurface_model::TieredPolicy;

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS308",
    name: "policy-not-enforced",
    severity: Severity::Medium,
    summary: "A policy of a dialect the cluster's CNI does not enforce: it decides nothing.",
    rationale: r#"
Kubernetes accepts any custom resource whose CRD is installed, whether or not something
acts on it. A Calico `GlobalNetworkPolicy` in a cluster whose pod network is Cilium, a
`CiliumNetworkPolicy` under Calico, or an `AdminNetworkPolicy` under a CNI that does not
implement the admin network policy API (Cilium, for one) is stored, listed by `kubectl`,
reviewed in pull requests — and enforced by nothing. Whoever wrote it believes traffic is
denied (or allowed) that is not.

kubesurface evaluates the dialects of the CNI in use (`--cni`, `settings.cni`, or detected
from the input's Calico or Cilium objects: see docs/semantics.md, "Policy dialects and the
CNI") and ignores the others, so the connectivity it reports is what the cluster does.
This finding names every ignored policy, so that a wrong CNI setting is noticed too: if the
cluster does run the policy's CNI, rerun with `--cni`.
"#,
    example: r#"
# The cluster runs Cilium (kubesurface --cni cilium, or detected from cilium.io objects)
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-tenant-to-infra}
spec:
  selector: role == 'infra'
  types: [Ingress]
  ingress:
  - action: Deny
    source: {namespaceSelector: tenant == 'true'}
"#,
    remediation: r#"
Express the intent in a dialect the CNI enforces — a Kubernetes NetworkPolicy works
everywhere; a `CiliumClusterwideNetworkPolicy` with `ingressDeny` under Cilium; an
AdminNetworkPolicy where the CNI implements it — and delete the ignored object so that
nobody relies on it. If kubesurface guessed the CNI wrong, pass `--cni` (or set
`settings.cni` in `kubesurface.yaml`).
"#,
    check,
};

/// The manifest object a normalized part came from: ingest names the extra parts of one
/// object `NAME (hosts)`, `NAME (deny)` or `NAME#i`.
fn object(p: &TieredPolicy) -> String {
    let name = p.name.split(" (").next().unwrap_or(&p.name);
    let name = name.split('#').next().unwrap_or(name);
    match &p.namespace {
        Some(ns) => format!("{ns}/{}/{name}", p.dialect.kind()),
        None => format!("{}/{name}", p.dialect.kind()),
    }
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let engine = ctx.engine;
    let cni = engine.settings.cni.as_str();
    let mut seen = std::collections::BTreeSet::new();
    for &pi in &engine.tiered.ignored {
        let p = &ctx.cluster().tiered_policies[pi as usize];
        if !seen.insert(object(p)) {
            continue; // another part of the same object
        }
        let message = format!(
            "{} is a {} policy, but the CNI is {cni}, which does not enforce it: it allows and denies nothing (pass --cni if the cluster runs another CNI)",
            object(p),
            p.dialect.family()
        );
        out.push(RULE.finding(vec![object(p)], message, vec![&p.source]));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const CALICO: &str = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: deny-all}\nspec:\n  selector: all()\n  types: [Ingress]\n";
    const ANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: deny-all}\nspec:\n  priority: 10\n  subject: {namespaces: {}}\n  ingress:\n  - name: all\n    action: Deny\n    from: [{namespaces: {}}]\n";

    #[test]
    fn calico_policy_under_the_generic_cni_is_reported() {
        // The test harness evaluates with the default settings: CNI generic.
        let f = findings_of("KS308", CALICO, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["GlobalNetworkPolicy/deny-all"]);
        assert!(
            f[0].message
                .contains("is a calico policy, but the CNI is generic"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].locations[0].line, 1);
    }

    #[test]
    fn admin_policies_are_enforced_under_generic() {
        let loaded = kubesurface_ingest::load_texts(&[kubesurface_ingest::InputText {
            name: std::sync::Arc::from("anp.yaml"),
            text: ANP.into(),
        }])
        .unwrap();
        assert_eq!(loaded.cluster.tiered_policies.len(), 1, "the ANP is read");
        assert!(findings_of("KS308", ANP, "").is_empty());
    }
}
