//! KS103: a Service sets `externalIPs` (CVE-2020-8554).

use std::collections::BTreeSet;

use super::{AuditContext, Rule};
use crate::exposure::Via;
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS103",
    name: "service-external-ips",
    severity: Severity::High,
    summary: "A Service sets externalIPs: every node captures traffic to those addresses, and whoever can create Services can claim any address (CVE-2020-8554).",
    rationale: r#"
`spec.externalIPs` tells kube-proxy on **every node** to accept traffic for those
addresses on the Service's ports and send it to the backends. Kubernetes does not check
that the addresses belong to the cluster or to the Service's owner. That is
CVE-2020-8554 ("man in the middle using LoadBalancer or ExternalIPs"): any user allowed to
create or update a Service can set `externalIPs` to someone else's address — a database,
an API, a DNS server — and kube-proxy then intercepts the cluster's own traffic to that
address, from every pod and every node. The Kubernetes project did not fix this in
kube-proxy; it recommends the `DenyServiceExternalIPs` admission plugin (Kubernetes 1.21+)
or a policy engine that restricts `externalIPs`.

Legitimate uses also deserve a look: the Service is served on every node for any client
that routes the address there, with no source restriction, outside the
LoadBalancer/NodePort model most reviews look at.
"#,
    example: r#"
apiVersion: v1
kind: Service
metadata: {name: intercept, namespace: tenant-a}
spec:
  selector: {app: mitm}
  ports:
  - port: 5432
  externalIPs:
  - 10.0.5.20    # somebody else's database
"#,
    remediation: r#"
- Remove `externalIPs`; use a LoadBalancer (with `loadBalancerSourceRanges`) or an
  Ingress/Gateway to give a Service an outside address.
- Enable the `DenyServiceExternalIPs` admission plugin, or a Kyverno/Gatekeeper policy that
  only allows approved addresses, and restrict who may create or patch Services.
- If the addresses are yours and needed, document them:
  `kubesurface.io/ignore: "KS103"` with a `kubesurface.io/ignore-reason`.
"#,
    check,
};

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    for s in &ctx.cluster().services {
        if s.external_ips.is_empty() {
            continue;
        }
        let object = format!("{}/Service/{}", s.namespace, s.name);
        let entries: Vec<String> = s
            .external_ips
            .iter()
            .flat_map(|ip| {
                s.ports
                    .iter()
                    .map(move |p| format!("{ip}:{}/{}", p.port, p.protocol))
            })
            .collect();
        let targets: BTreeSet<String> = ctx
            .exposures
            .iter()
            .filter(|x| x.via == Via::ExternalIP && x.object == object)
            .map(|x| {
                let verdict = if x.admitted {
                    ""
                } else {
                    " (NetworkPolicy blocks it)"
                };
                format!("{}:{}/{}{verdict}", x.target, x.port, x.protocol)
            })
            .collect();
        let to = if targets.is_empty() {
            "no backend pod in the input".to_string()
        } else {
            targets.into_iter().collect::<Vec<_>>().join(", ")
        };
        out.push(RULE.finding(
            vec![object.clone()],
            format!(
                "{object} claims externalIPs {}: kube-proxy on every node captures traffic to {} (from outside, from every pod and from every node) and sends it to {to}; anyone who can create Services can claim any address this way (CVE-2020-8554)",
                s.external_ips.join(", "),
                entries.join(", "),
            ),
            vec![&s.source],
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: mitm-1, namespace: tenant, labels: {app: mitm}}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 5432}]\n---\n";

    fn svc(extra: &str) -> String {
        format!(
            "{POD}apiVersion: v1\nkind: Service\nmetadata: {{name: intercept, namespace: tenant}}\nspec:\n  selector: {{app: mitm}}\n  ports: [{{port: 5432}}, {{port: 53, protocol: UDP, name: dns}}]\n{extra}"
        )
    }

    #[test]
    fn external_ips_are_reported_with_every_address_and_port() {
        let f = findings_of("KS103", &svc("  externalIPs: [10.0.5.20, 10.0.5.21]\n"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["tenant/Service/intercept"]);
        let m = &f[0].message;
        assert!(m.contains("claims externalIPs 10.0.5.20, 10.0.5.21"), "{m}");
        assert!(
            m.contains("10.0.5.20:5432/TCP, 10.0.5.20:53/UDP, 10.0.5.21:5432/TCP"),
            "{m}"
        );
        assert!(m.contains("tenant/mitm-1:5432/TCP"), "{m}");
        assert!(m.contains("CVE-2020-8554"), "{m}");
        assert_eq!(f[0].locations[0].line, 9);
    }

    #[test]
    fn service_without_external_ips_is_not_reported() {
        assert!(findings_of("KS103", &svc(""), "").is_empty());
        assert!(findings_of("KS103", &svc("  externalIPs: []\n"), "").is_empty());
    }
}
