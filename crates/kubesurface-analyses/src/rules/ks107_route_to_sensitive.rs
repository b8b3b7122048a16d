//! KS107: an Ingress or Gateway API route leads to a sensitive workload.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use kubesurface_model::Source;

use super::common::{join_limited, workload_object, workload_source};
use super::{AuditContext, Rule};
use crate::exposure::Via;
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS107",
    name: "route-to-sensitive",
    severity: Severity::High,
    summary: "An Ingress or a Gateway API route sends outside traffic to a workload the config marks sensitive.",
    rationale: r#"
An Ingress rule or an HTTPRoute/GRPCRoute/TLSRoute/TCPRoute attached to a Gateway
publishes a Service to whoever reaches the ingress controller or the Gateway's data plane
— usually the Internet. Traffic then reaches the backend pods **from the controller
pods**, so backend NetworkPolicies that admit the ingress namespace (a common pattern)
admit everyone the controller admits.

Workloads listed under `sensitive:` in `kubesurface.yaml` (databases, secrets stores,
control planes) should not be one route away from the outside. This rule reports each
route that leads to one, with the hosts/paths or listeners, the pods and ports behind
them, and whether the backend's policies admit the controller's traffic (`admitted`) —
a route that policies currently block is still reported: one policy change opens it.
Without a `sensitive:` zone the rule reports nothing.
"#,
    example: r#"
# kubesurface.yaml
#   sensitive:
#   - selector: "data/app=db-admin"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: db-admin, namespace: data}
spec:
  ingressClassName: nginx
  rules:
  - host: db.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: db-admin, port: {number: 8080}}}
"#,
    remediation: r#"
- Remove the route, or point it at a front end that is not sensitive itself.
- If outside access is required, restrict it at the controller (source-range allowlists,
  authentication) and keep the backend's NetworkPolicy narrow: admit the controller pods
  only on the one port the route uses.
- If the workload is not actually sensitive, take it out of the `sensitive:` zone.
"#,
    check,
};

#[derive(Default)]
struct Group<'c> {
    route: String,
    workload: String,
    entries: BTreeSet<String>,
    admitted: BTreeSet<String>,
    blocked: BTreeSet<String>,
    sources: BTreeSet<String>,
    locations: Vec<&'c Source>,
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    if ctx.sensitive.is_empty() {
        return;
    }
    let cluster = ctx.cluster();
    let sensitive: HashSet<usize> = ctx.sensitive.iter().copied().collect();
    let mut groups: BTreeMap<(String, String), Group<'_>> = BTreeMap::new();
    for x in ctx
        .exposures
        .iter()
        .filter(|x| matches!(x.via, Via::Ingress | Via::Gateway) && sensitive.contains(&x.endpoint))
    {
        let e = &cluster.endpoints[x.endpoint];
        let g = groups
            .entry((x.object.clone(), workload_object(e)))
            .or_insert_with(|| Group {
                route: x.object.clone(),
                workload: e.workload_name(),
                locations: vec![&x.location],
                ..Group::default()
            });
        g.entries.insert(x.entry.clone());
        let target = format!("{}:{}/{}", x.target, x.port, x.protocol);
        if x.admitted {
            g.admitted.insert(target);
        } else {
            g.blocked.insert(target);
        }
        g.sources.insert(x.source.clone());
        let loc = workload_source(e);
        if !g.locations.contains(&loc) {
            g.locations.push(loc);
        }
    }
    for ((route_obj, workload_obj), g) in groups {
        let verdict = match (g.admitted.is_empty(), g.blocked.is_empty()) {
            (false, true) => format!(
                "NetworkPolicy admits it at {}",
                join_limited(g.admitted.into_iter(), 6)
            ),
            (false, false) => format!(
                "NetworkPolicy admits it at {} and blocks it at {}",
                join_limited(g.admitted.into_iter(), 6),
                join_limited(g.blocked.into_iter(), 6)
            ),
            _ => format!(
                "NetworkPolicy blocks it for now at {}",
                join_limited(g.blocked.into_iter(), 6)
            ),
        };
        out.push(RULE.finding(
            vec![route_obj, workload_obj],
            format!(
                "{} routes {} to sensitive {}: {verdict} (traffic from {})",
                g.route,
                join_limited(g.entries.into_iter(), 6),
                g.workload,
                g.sources.into_iter().collect::<Vec<_>>().join("; "),
            ),
            g.locations,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const APP: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: admin-0, namespace: data, labels: {app: db-admin}}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 8080, name: http}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: db-admin, namespace: data}\nspec:\n  selector: {app: db-admin}\n  ports: [{port: 80, targetPort: http}]\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: db-admin, namespace: data}\nspec:\n  rules:\n  - host: db.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend: {service: {name: db-admin, port: {number: 80}}}\n";
    const SENSITIVE: &str = "sensitive:\n- selector: \"data/app=db-admin\"\n";

    #[test]
    fn ingress_to_sensitive_is_reported() {
        let f = findings_of("KS107", APP, SENSITIVE);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["data/Ingress/db-admin", "data/Pod/admin-0"]);
        let m = &f[0].message;
        assert!(
            m.contains(
                "data/Ingress/db-admin routes http://db.example.com/ to sensitive data/admin-0[Pod]"
            ),
            "{m}"
        );
        assert!(
            m.contains("NetworkPolicy admits it at data/admin-0:8080/TCP"),
            "{m}"
        );
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 16]);
    }

    #[test]
    fn blocked_route_is_still_reported() {
        let yaml = format!(
            "{APP}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: data}}\nspec: {{podSelector: {{}}}}\n"
        );
        let f = findings_of("KS107", &yaml, SENSITIVE);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("blocks it for now"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn no_sensitive_zone_or_other_workload_is_not_reported() {
        assert!(findings_of("KS107", APP, "").is_empty());
        let other = "sensitive:\n- selector: \"data/app=db\"\n";
        assert!(findings_of("KS107", APP, other).is_empty());
    }
}
