//! KS102: a LoadBalancer Service is open to the world (no source ranges, not internal).

use std::collections::BTreeSet;
use std::str::FromStr;

use ipnet::IpNet;
use kubesurface_model::Service;

use super::{AuditContext, Rule};
use crate::exposure::{Via, is_internal_lb};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS102",
    name: "load-balancer-open-to-world",
    severity: Severity::High,
    summary: "A LoadBalancer Service with no source ranges (or 0.0.0.0/0) and no internal-LB annotation is reachable from any address on the Internet.",
    rationale: r#"
`type: LoadBalancer` asks the cloud provider for an external load balancer in front of
the Service. Unless told otherwise, that load balancer accepts traffic **from every
address**: the Kubernetes documentation says that without `loadBalancerSourceRanges`
"traffic from all sources is allowed" (0.0.0.0/0), and the provider configures its
firewall or security group accordingly. Nothing else in Kubernetes filters it before
it reaches the pods; NetworkPolicy at the backends is the last line, and with
`externalTrafficPolicy: Cluster` it sees a node address instead of the client's, so an
ipBlock rule cannot tell Internet clients apart.

Load balancers annotated internal (`service.beta.kubernetes.io/aws-load-balancer-internal`,
`networking.gke.io/load-balancer-type: Internal`,
`service.beta.kubernetes.io/azure-load-balancer-internal`, …) get a private address and
are not reported; neither are Services whose `loadBalancerSourceRanges` (or the older
`service.beta.kubernetes.io/load-balancer-source-ranges` annotation) list specific
ranges.
"#,
    example: r#"
apiVersion: v1
kind: Service
metadata: {name: frontend-external, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: frontend}
  ports:
  - name: http
    port: 80
    targetPort: 8080
"#,
    remediation: r#"
- If only known clients need it, list them: `spec.loadBalancerSourceRanges:
  [203.0.113.0/24]` (the provider enforces it; kube-proxy enforces it too).
- If it only serves other networks of your own, make it internal with your cloud's
  annotation (e.g. `networking.gke.io/load-balancer-type: Internal`).
- If it is public on purpose, say so: `kubesurface.io/ignore: "KS102"` with a
  `kubesurface.io/ignore-reason`, and keep backend NetworkPolicies and
  `externalTrafficPolicy: Local` so client addresses stay visible.
"#,
    check,
};

/// The annotation cloud providers read when `spec.loadBalancerSourceRanges` is empty.
const SOURCE_RANGES_ANNOTATION: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";

/// The source ranges in force and whether they include the whole Internet: `None` when
/// open to the world (no ranges, or a `/0` among them), else the ranges.
fn restricted_to(service: &Service) -> Option<Vec<String>> {
    let ranges: Vec<String> = if service.load_balancer_source_ranges.is_empty() {
        service
            .annotations
            .get(SOURCE_RANGES_ANNOTATION)
            .map(|v| {
                v.split(',')
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        service
            .load_balancer_source_ranges
            .iter()
            .map(|r| r.trim().to_string())
            .collect()
    };
    let world = ranges
        .iter()
        .any(|r| IpNet::from_str(r).is_ok_and(|n| n.prefix_len() == 0));
    (!ranges.is_empty() && !world).then_some(ranges)
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    for s in &cluster.services {
        if s.service_type != "LoadBalancer" || is_internal_lb(s) || restricted_to(s).is_some() {
            continue;
        }
        let object = format!("{}/Service/{}", s.namespace, s.name);
        let addresses: Vec<String> = if s.load_balancer_ingress.is_empty() {
            vec!["<pending address>".to_string()]
        } else {
            s.load_balancer_ingress.clone()
        };
        let entries: Vec<String> = addresses
            .iter()
            .flat_map(|a| {
                s.ports
                    .iter()
                    .map(move |p| format!("{a}:{}/{}", p.port, p.protocol))
            })
            .collect();
        let why = if s.load_balancer_source_ranges.is_empty()
            && !s.annotations.contains_key(SOURCE_RANGES_ANNOTATION)
        {
            "no loadBalancerSourceRanges"
        } else {
            "loadBalancerSourceRanges include a /0"
        };
        let mut admitted = BTreeSet::new();
        let mut blocked = BTreeSet::new();
        let mut sources = BTreeSet::new();
        for x in ctx
            .exposures
            .iter()
            .filter(|x| x.via == Via::LoadBalancer && x.object == object)
        {
            let target = format!("{}:{}/{}", x.target, x.port, x.protocol);
            if x.admitted {
                admitted.insert(target);
            } else {
                blocked.insert(target);
                sources.insert(x.source.clone());
            }
        }
        let reach = match (admitted.is_empty(), blocked.is_empty()) {
            (true, true) => "no backend pod in the input".to_string(),
            (false, true) => format!(
                "reaching {}",
                admitted.into_iter().collect::<Vec<_>>().join(", ")
            ),
            (false, false) => format!(
                "reaching {}; NetworkPolicy blocks {} (for {})",
                admitted.into_iter().collect::<Vec<_>>().join(", "),
                blocked.into_iter().collect::<Vec<_>>().join(", "),
                sources.into_iter().collect::<Vec<_>>().join(", ")
            ),
            (true, false) => format!(
                "towards {}, which NetworkPolicy blocks at every backend (for {})",
                blocked.into_iter().collect::<Vec<_>>().join(", "),
                sources.into_iter().collect::<Vec<_>>().join(", ")
            ),
        };
        out.push(RULE.finding(
            vec![object.clone()],
            format!(
                "{object} accepts traffic from any address ({why}, not internal) at {}, {reach}",
                entries.join(", ")
            ),
            vec![&s.source],
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 8080}]\n---\n";

    fn lb(annotations: &str, spec: &str) -> String {
        format!(
            "{POD}apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {{{annotations}}}\nspec:\n  type: LoadBalancer\n{spec}  selector: {{app: web}}\n  ports: [{{port: 80, targetPort: 8080}}]\nstatus:\n  loadBalancer:\n    ingress: [{{ip: 203.0.113.10}}]\n"
        )
    }

    #[test]
    fn open_load_balancer_is_reported_with_address_and_backends() {
        let f = findings_of("KS102", &lb("", ""), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/Service/web"]);
        let m = &f[0].message;
        assert!(m.contains("no loadBalancerSourceRanges"), "{m}");
        assert!(m.contains("at 203.0.113.10:80/TCP"), "{m}");
        assert!(m.contains("reaching shop/web-1:8080/TCP"), "{m}");
        assert_eq!(f[0].locations[0].line, 9);
    }

    #[test]
    fn world_source_range_is_still_open() {
        let f = findings_of(
            "KS102",
            &lb("", "  loadBalancerSourceRanges: [10.0.0.0/8, 0.0.0.0/0]\n"),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message
                .contains("loadBalancerSourceRanges include a /0"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn source_ranges_or_internal_annotation_are_not_reported() {
        let ranges = lb("", "  loadBalancerSourceRanges: [198.51.100.0/24]\n");
        assert!(findings_of("KS102", &ranges, "").is_empty());
        let annotated = lb(
            "service.beta.kubernetes.io/load-balancer-source-ranges: \"198.51.100.0/24\"",
            "",
        );
        assert!(findings_of("KS102", &annotated, "").is_empty());
        let internal = lb("networking.gke.io/load-balancer-type: Internal", "");
        assert!(findings_of("KS102", &internal, "").is_empty());
        let node_port = lb("", "").replace("type: LoadBalancer", "type: NodePort");
        assert!(findings_of("KS102", &node_port, "").is_empty());
    }

    #[test]
    fn blocked_backends_are_said() {
        let yaml = format!(
            "{}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: shop}}\nspec: {{podSelector: {{}}}}\n",
            lb("", "")
        );
        let f = findings_of("KS102", &yaml, "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains(
                "towards shop/web-1:8080/TCP, which NetworkPolicy blocks at every backend"
            ),
            "{}",
            f[0].message
        );
    }
}
