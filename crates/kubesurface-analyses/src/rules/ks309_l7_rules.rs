//! KS309: policy rules that filter at layer 7 (Cilium `rules:`, Calico `http`), which
//! kubesurface decides at layers 3 and 4.

use std::collections::BTreeSet;

use kubesurface_model::TieredPolicy;

use super::common::list;
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS309",
    name: "l7-filtered",
    severity: Severity::Low,
    summary: "A policy rule filters requests at layer 7: kubesurface's verdicts for it are the L3/L4 upper bound.",
    rationale: r#"
Cilium's `toPorts[].rules` (HTTP, Kafka, DNS) and Calico's `http` match send the
connections a rule admits through a proxy that checks each request (method, path, host,
topic). kubesurface answers who can open a connection to which port; it does not model
requests. For such a rule it reports the connection as allowed at L3/L4 — the most the
rule can allow — and this finding says which rules narrow it further, so the reader of a
connectivity or exposure report knows that, for example, `tiefighter → deathstar TCP 80`
only allows `POST /v1/request-landing`.

`explain` marks the deciding step of such a connection with "L7 rules filter further;
decided at L3/L4".
"#,
    example: r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: rule1, namespace: default}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http: [{method: POST, path: /v1/request-landing}]
"#,
    remediation: r#"
Nothing to fix: this is information. Review the L7 rules themselves for what they admit,
and remember that anything reaching the port *around* the proxy (hostNetwork pods on the
node, for instance, where the CNI does not redirect them) is only bound by L3/L4.
"#,
    check,
};

fn object(p: &TieredPolicy) -> String {
    match &p.namespace {
        Some(ns) => format!("{ns}/{}/{}", p.dialect.kind(), p.name),
        None => format!("{}/{}", p.dialect.kind(), p.name),
    }
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let engine = ctx.engine;
    for &pi in &engine.tiered.enforced {
        let p = &ctx.cluster().tiered_policies[pi as usize];
        let mut rules: Vec<String> = Vec::new();
        let mut sources = BTreeSet::new();
        for (dir, list_) in [("ingress", &p.ingress), ("egress", &p.egress)] {
            for (i, r) in list_.iter().enumerate() {
                if r.l7 {
                    rules.push(format!("{dir}[{i}]"));
                    sources.insert(&r.source);
                }
            }
        }
        if rules.is_empty() {
            continue;
        }
        let message = format!(
            "{} filters requests at L7 in {}: kubesurface reports the connections these rules admit as allowed at L3/L4; requests are restricted further",
            object(p),
            list(&rules)
        );
        let mut locations = vec![&p.source];
        locations.extend(sources);
        out.push(RULE.finding(vec![object(p)], message, locations));
    }
}

#[cfg(test)]
mod tests {
    use kubesurface_model::{Action, Dialect, Subject, TieredPolicy, TieredRule};

    #[test]
    fn reports_rules_with_l7_filters_only() {
        let rule = |l7| TieredRule {
            name: None,
            action: Action::Allow,
            peers: vec![kubesurface_model::TieredPeer::All],
            ports: vec![],
            not_ports: vec![],
            l7,
            source: Default::default(),
        };
        let mut cluster = kubesurface_model::Cluster::default();
        cluster.tiered_policies.push(TieredPolicy {
            dialect: Dialect::CiliumNetworkPolicy,
            namespace: Some("default".into()),
            name: "rule1".into(),
            tier: kubesurface_model::DEFAULT_TIER.into(),
            order: Some(1000.0),
            subject: Subject::Pods(kubesurface_model::PodMatch {
                namespaces: kubesurface_model::NamespaceMatch::Named("default".into()),
                labels: kubesurface_model::LabelExpr::All,
                service_accounts: None,
            }),
            ingress: vec![rule(false), rule(true)],
            egress: vec![],
            applies_ingress: true,
            applies_egress: false,
            isolates_ingress: true,
            isolates_egress: false,
            annotations: Default::default(),
            source: Default::default(),
        });
        let config = crate::config::Config::default();
        for (cni, want) in [
            (kubesurface_model::Cni::Cilium, 1),
            (kubesurface_model::Cni::Generic, 0),
        ] {
            let engine = kubesurface_engine::Engine::new(
                &cluster,
                kubesurface_engine::Settings::for_cni(cni),
            );
            let exposures = crate::exposure::exposures(&engine, &config);
            let ctx = crate::rules::AuditContext::new(&engine, &config, &exposures, &[]);
            let f: Vec<_> = crate::rules::audit(&ctx)
                .into_iter()
                .filter(|f| f.rule == "KS309")
                .collect();
            assert_eq!(f.len(), want, "{cni:?}: {f:?}");
            if want == 1 {
                assert_eq!(f[0].objects, ["default/CiliumNetworkPolicy/rule1"]);
                assert!(
                    f[0].message.contains("L7 in ingress[1]:"),
                    "{}",
                    f[0].message
                );
            }
        }
    }
}
