//! KS306: a Service whose selector matches no pod, or whose targetPort the selected pods
//! do not declare.

use std::collections::BTreeMap;

use kubesurface_model::{Endpoint, Source, TargetPort};

use super::common::{
    class_index, did_you_mean_pairs, endpoint_index, list, workload_object, workload_source,
};
use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};
use crate::services::{declares, selects};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS306",
    name: "service-without-backends",
    severity: Severity::Low,
    summary: "A Service's selector matches no pod, or its targetPort names a port the selected pods do not declare (medium) or numbers one they do not declare (low).",
    rationale: r#"
A Service with a `selector` sends traffic to the pods of its namespace whose labels include
every selector pair, on each port's `targetPort` (the Kubernetes Service documentation).
A **named** `targetPort` is looked up in each selected pod's `containerPorts` by name and
protocol; a pod that does not declare it gets no endpoint for that port, and when no pod
declares it the port has no endpoints at all — connections are refused or time out.
That is a hard failure, reported at **medium** severity.

A **numeric** `targetPort` is used as is: `containerPort` declarations are informational,
so an undeclared number still works if the process listens there. When the pods declare
other ports, though, a mismatch (`8080` against a declared `8079`) is usually a typo:
reported at low severity. Pods that declare no ports at all are not judged.

A selector that matches no pod leaves the Service without backends: clients get
connection errors, and anything routed to it (Ingress, Gateway, NodePort) is broken. Only
namespaces whose workloads are in the input are judged. `ExternalName` Services and
Services without a selector (backed by hand-written Endpoints/EndpointSlices) are skipped.
"#,
    example: r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]    # the container names its port "web"
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, image: nginx, ports: [{name: web, containerPort: 8080}]}]
"#,
    remediation: r#"
- Make the selector match the pods' labels (`kubectl get pods -n NS --show-labels`); the
  finding suggests the closest existing label value when there is one.
- Use a `targetPort` name that every backend container declares with the Service port's
  protocol, or the right number.
- Check with `kubectl get endpointslices -l kubernetes.io/service-name=NAME`.
"#,
    check,
};

/// Workload names of some endpoints, sorted.
fn names(endpoints: &[&Endpoint]) -> Vec<String> {
    let mut v: Vec<String> = endpoints.iter().map(|e| workload_object(e)).collect();
    v.sort();
    v.dedup();
    v
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    let by_ns = endpoint_index(cluster);
    // Selectors are judged once per class (endpoints with equal labels in a namespace),
    // not once per endpoint.
    let classes = &ctx.engine.classes.classes;
    let classes_by_ns = class_index(ctx.engine);
    for s in &cluster.services {
        if s.service_type == "ExternalName" {
            continue;
        }
        let Some(selector) = s.selector.as_ref().filter(|sel| !sel.is_empty()) else {
            continue;
        };
        let Some(in_ns) = by_ns.get(s.namespace.as_str()) else {
            continue; // nothing of that namespace in the input: cannot judge
        };
        let object = format!("{}/Service/{}", s.namespace, s.name);
        let selected: Vec<&Endpoint> = (classes_by_ns.get(s.namespace.as_str()))
            .into_iter()
            .flatten()
            .map(|&c| &classes[c])
            .filter(|c| selector.iter().all(|(k, v)| c.labels.get(k) == Some(v)))
            .flat_map(|c| c.members.iter().map(|&m| &cluster.endpoints[m as usize]))
            .collect();
        debug_assert!(selected.iter().all(|e| selects(s, e)));
        debug_assert_eq!(
            (in_ns.iter())
                .filter(|&&i| selects(s, &cluster.endpoints[i]))
                .count(),
            selected.len()
        );
        if selected.is_empty() {
            let in_ns: Vec<&Endpoint> = in_ns.iter().map(|&i| &cluster.endpoints[i]).collect();
            let sel_text: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let pairs: Vec<(String, String)> = selector
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let hint = did_you_mean_pairs(&pairs, in_ns.iter().map(|e| &e.labels))
                .map(|h| format!("; did you mean {h}?"))
                .unwrap_or_default();
            out.push(RULE.finding(
                vec![object.clone()],
                format!(
                    "{object} selects no pod: selector {} matches none of the {} workload(s) in namespace {}, so it has no backends{hint}",
                    sel_text.join(","),
                    names(&in_ns).len(),
                    s.namespace
                ),
                vec![&s.source],
            ));
            continue;
        }
        // Where each selected workload is defined: only needed for a finding.
        let sources = || -> BTreeMap<String, &Source> {
            (selected.iter())
                .map(|e| (workload_object(e), workload_source(e)))
                .collect()
        };
        for sp in &s.ports {
            let port = match &sp.name {
                Some(n) => format!("port {} ({n})", sp.port),
                None => format!("port {}", sp.port),
            };
            match &sp.target_port {
                TargetPort::Name(name) => {
                    let missing: Vec<&Endpoint> = selected
                        .iter()
                        .copied()
                        .filter(|e| {
                            !e.ports.iter().any(|p| {
                                p.name.as_deref() == Some(name) && p.protocol == sp.protocol
                            })
                        })
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    let missing_names = names(&missing);
                    let effect = if missing.len() == selected.len() {
                        "so the port has no endpoints at all: connections to it fail".to_string()
                    } else {
                        "so those pods get no traffic on it".to_string()
                    };
                    let mut locations = vec![&s.source];
                    let sources = sources();
                    locations.extend(missing_names.iter().filter_map(|n| sources.get(n).copied()));
                    let mut f = RULE.finding(
                        vec![object.clone()],
                        format!(
                            "{object} {port}: targetPort {name}/{} names no containerPort of {}, {effect}",
                            sp.protocol,
                            list(&missing_names)
                        ),
                        locations,
                    );
                    f.severity = Severity::Medium;
                    out.push(f);
                }
                TargetPort::Number(n) => {
                    let missing: Vec<&Endpoint> = selected
                        .iter()
                        .copied()
                        .filter(|e| !e.ports.is_empty() && !declares(e, *n, sp.protocol))
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    let missing_names = names(&missing);
                    let mut declared: Vec<String> = missing
                        .iter()
                        .flat_map(|e| e.ports.iter().map(|p| format!("{}/{}", p.port, p.protocol)))
                        .collect();
                    declared.sort();
                    declared.dedup();
                    let mut locations = vec![&s.source];
                    let sources = sources();
                    locations.extend(missing_names.iter().filter_map(|n| sources.get(n).copied()));
                    out.push(RULE.finding(
                        vec![object.clone()],
                        format!(
                            "{object} {port}: targetPort {n}/{} is not a declared containerPort of {} (they declare {}); it works only if the process listens there undeclared — check for a typo",
                            sp.protocol,
                            list(&missing_names),
                            list(&declared)
                        ),
                        locations,
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::findings::Severity;
    use crate::rules::testing::findings_of;

    const PODS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: c, ports: [{containerPort: 8079, name: http}]}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: bare, namespace: shop, labels: {app: bare}}\nspec:\n  containers: [{name: c}]\n---\n";

    fn service(selector: &str, ports: &str) -> String {
        format!(
            "{PODS}apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec:\n  selector: {selector}\n  ports: {ports}\n"
        )
    }

    #[test]
    fn selector_matching_nothing_is_reported() {
        let f = findings_of("KS306", &service("{app: wbe}", "[{port: 80}]"), "");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["shop/Service/web"]);
        assert_eq!(
            f[0].message,
            "shop/Service/web selects no pod: selector app=wbe matches none of the 2 workload(s) in namespace shop, so it has no backends; did you mean app=web?"
        );
        assert_eq!(f[0].locations[0].line, 17);
    }

    #[test]
    fn named_target_port_that_does_not_resolve_is_medium() {
        let f = findings_of(
            "KS306",
            &service("{app: web}", "[{port: 80, name: web, targetPort: htp}]"),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(
            f[0].message,
            "shop/Service/web port 80 (web): targetPort htp/TCP names no containerPort of shop/Deployment/web, so the port has no endpoints at all: connections to it fail"
        );
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 17]);
        // The protocol must match too.
        let f = findings_of(
            "KS306",
            &service(
                "{app: web}",
                "[{port: 80, protocol: UDP, targetPort: http}]",
            ),
            "",
        );
        assert!(
            f[0].message.contains("targetPort http/UDP"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn undeclared_number_is_a_low_warning() {
        let f = findings_of(
            "KS306",
            &service("{app: web}", "[{port: 80, targetPort: 8080}]"),
            "",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Low);
        assert!(
            f[0].message.contains(
                "targetPort 8080/TCP is not a declared containerPort of shop/Deployment/web (they declare 8079/TCP)"
            ),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn working_services_are_not_reported() {
        for (selector, ports) in [
            ("{app: web}", "[{port: 80, targetPort: http}]"),
            ("{app: web}", "[{port: 80, targetPort: 8079}]"),
            // Pods that declare no port are not judged on numbers.
            ("{app: bare}", "[{port: 80, targetPort: 8080}]"),
        ] {
            let f = findings_of("KS306", &service(selector, ports), "");
            assert!(f.is_empty(), "{selector} {ports}: {f:?}");
        }
        let external = "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: shop}\nspec:\n  type: ExternalName\n  externalName: db.example.com\n";
        assert!(findings_of("KS306", &format!("{PODS}{external}"), "").is_empty());
        let selectorless = "apiVersion: v1\nkind: Service\nmetadata: {name: manual, namespace: shop}\nspec:\n  ports: [{port: 5432}]\n";
        assert!(findings_of("KS306", &format!("{PODS}{selectorless}"), "").is_empty());
    }
}
