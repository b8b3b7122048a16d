//! KS203: an untrusted workload can reach a sensitive one.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use kubesurface_engine::{PeerId, PortSet};
use kubesurface_model::{Protocol, Source};

use super::common::{join_limited, workload_object, workload_source};
use super::ks204_shared_node::{Shared, sharing};
use super::{AuditContext, Rule};
use crate::exposure::Exposure;
use crate::findings::{Finding, Severity};
use crate::services::{IpIndex, backends};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS203",
    name: "untrusted-reaches-sensitive",
    severity: Severity::Critical,
    summary: "A workload of the untrusted zone can reach a workload of the sensitive zone: over the pod network, through an entry point, or from a shared node.",
    rationale: r#"
The trust zones in `kubesurface.yaml` say which workloads run code the cluster admin
does not control (`untrusted:` — tenant workloads, Nova compute nodes running customer
VMs, CI runners) and which hold what must be protected (`sensitive:`). The founding note
is explicit that untrusted workloads "should not have unrestricted access to the
cluster": keep them off the cluster, or isolate them with NetworkPolicy and dedicated
nodes. This rule checks that isolation path by path, for every (untrusted, sensitive)
pair of workloads:

1. **Network.** The NetworkPolicy verdict between the two (egress of the source AND
   ingress of the destination, as the API reference defines it). ClusterIP Services are
   included: policy applies after the Service's DNAT, to the pod and its target port, so
   the Services that front the sensitive pods on an admitted port are named.
   A hostNetwork untrusted pod is node traffic: pod selectors never match it, but an
   `ipBlock` covering its node's address does.
2. **Entry points.** LoadBalancer, NodePort, externalIP, Ingress/Gateway, hostPort and
   hostNetwork listeners that lead to the sensitive pods and admit outside traffic: the
   untrusted workload can use them like any other client (if its own egress lets it).
3. **Shared node.** A hostNetwork untrusted pod on a node where the sensitive pod runs (or
   may run) reaches it on **every port**: traffic from a pod's own node is always allowed.
   Untrusted pods on the pod network sharing a node are a node-level risk reported by
   KS204.
"#,
    example: r#"
# kubesurface.yaml
#   untrusted:
#   - namespace: tenants
#   sensitive:
#   - selector: "data/app=db"
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: data, labels: {app: db}}
spec:
  containers:
  - name: db
    image: postgres
    ports: [{containerPort: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: tenants}
spec:
  containers: [{name: job, image: tenant-code}]
# no NetworkPolicy in data: tenants/job reaches data/db-0 on every port
"#,
    remediation: r#"
- Isolate the sensitive pods: a default-deny ingress policy in their namespace and rules
  that admit only the clients they serve (by namespace and pod labels, never by broad
  ipBlocks that include node or tenant ranges).
- Give untrusted workloads egress isolation (default-deny egress plus DNS and the few
  services they need).
- Keep untrusted and hostNetwork workloads on nodes of their own (taints, tolerations,
  node affinity), or outside the cluster entirely, as the founding note advises.
- Remove entry points (NodePort, LoadBalancer, Ingress routes) in front of sensitive
  workloads.
"#,
    check,
};

#[derive(Default)]
struct Group<'c> {
    names: (String, String),
    ports: PortSet,
    services: BTreeSet<String>,
    entries: BTreeSet<String>,
    nodes: BTreeSet<String>,
    unknown_node: bool,
    egress_isolated: bool,
    pairs: usize,
    locations: Vec<&'c Source>,
}

fn ports_text(ports: &PortSet) -> String {
    if ports.is_full() {
        "every port".to_string()
    } else {
        ports.to_string()
    }
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    if ctx.untrusted.is_empty() || ctx.sensitive.is_empty() {
        return;
    }
    let engine = ctx.engine;
    let cluster = ctx.cluster();
    let eps = &cluster.endpoints;
    let sensitive: HashSet<usize> = ctx.sensitive.iter().copied().collect();

    // Services in front of each sensitive endpoint: (label, target port, protocol).
    let ips = IpIndex::new(cluster);
    let mut fronts: HashMap<usize, Vec<(String, u16, Protocol)>> = HashMap::new();
    for s in &cluster.services {
        for sp in &s.ports {
            for b in backends(cluster, &ips, s, sp) {
                if sensitive.contains(&b.endpoint) {
                    fronts.entry(b.endpoint).or_default().push((
                        format!("{}/{}:{}", s.namespace, s.name, sp.port),
                        b.port,
                        sp.protocol,
                    ));
                }
            }
        }
    }
    // Entry points that lead to each sensitive endpoint and admit outside traffic.
    let mut entries: HashMap<usize, Vec<&Exposure>> = HashMap::new();
    for x in ctx
        .exposures
        .iter()
        .filter(|x| x.admitted && sensitive.contains(&x.endpoint))
    {
        entries.entry(x.endpoint).or_default().push(x);
    }
    // hostNetwork untrusted pods that may share a node with a sensitive one.
    let host: Vec<usize> = ctx
        .untrusted
        .iter()
        .copied()
        .filter(|&u| eps[u].host_network)
        .collect();
    let shared: HashMap<(usize, usize), Shared> = sharing(cluster, &host, &ctx.sensitive)
        .into_iter()
        .map(|(u, s, sh)| ((u, s), sh))
        .collect();

    let mut verdicts: HashMap<(PeerId, PeerId), PortSet> = HashMap::new();
    let mut groups: BTreeMap<(String, String), Group<'_>> = BTreeMap::new();
    for &u in &ctx.untrusted {
        let ue = &eps[u];
        let uc = engine.classes.class_of[u];
        for &s in &ctx.sensitive {
            let se = &eps[s];
            let key = (workload_object(ue), workload_object(se));
            if u == s || key.0 == key.1 {
                continue;
            }
            let sc = engine.classes.class_of[s];
            // The policy verdict alone; node-local traffic is the shared-node path.
            let verdict = verdicts
                .entry((uc, sc))
                .or_insert_with(|| engine.class_verdict(uc, sc));
            let node = shared.get(&(u, s));
            let outside = entries.get(&s).map(Vec::as_slice).unwrap_or_default();
            if verdict.is_empty() && outside.is_empty() && node.is_none() {
                continue;
            }
            let g = groups.entry(key).or_insert_with(|| Group {
                names: (ue.workload_name(), se.workload_name()),
                locations: vec![workload_source(ue), workload_source(se)],
                ..Group::default()
            });
            g.pairs += 1;
            g.ports.union_with(verdict);
            for (label, port, proto) in fronts.get(&s).into_iter().flatten() {
                if verdict.contains(*proto, *port) {
                    g.services.insert(format!("{label} → {port}/{proto}"));
                }
            }
            for x in outside {
                g.entries
                    .insert(format!("{} {} ({})", x.via, x.entry, x.object));
            }
            g.egress_isolated |= !ue.host_network && engine.egress_isolated(uc as usize);
            match node {
                Some(Shared::Nodes(n)) => g.nodes.extend(n.iter().cloned()),
                Some(Shared::Unknown) => g.unknown_node = true,
                None => {}
            }
        }
    }

    for ((u_obj, s_obj), g) in groups {
        let mut paths = Vec::new();
        if !g.ports.is_empty() {
            let mut p = format!("NetworkPolicy admits {}", ports_text(&g.ports));
            if !g.services.is_empty() {
                p.push_str(&format!(
                    ", also through Service {}",
                    join_limited(g.services.into_iter(), 6)
                ));
            }
            paths.push(p);
        }
        if !g.entries.is_empty() {
            let caveat = if g.egress_isolated {
                " (if its egress policies let it reach them)"
            } else {
                ""
            };
            paths.push(format!(
                "through entry points open from outside: {}{caveat}",
                join_limited(g.entries.into_iter(), 6)
            ));
        }
        if !g.nodes.is_empty() {
            paths.push(format!(
                "from a shared node (it uses the host network, and node traffic is always allowed): every port, on node {}",
                join_limited(g.nodes.into_iter(), 8)
            ));
        } else if g.unknown_node {
            paths.push(
                "from a shared node (it uses the host network, and node traffic is always allowed): every port, if they land on the same node (the input has no Node objects to tell)"
                    .to_string(),
            );
        }
        out.push(RULE.finding(
            vec![u_obj, s_obj],
            format!(
                "untrusted {} can reach sensitive {} ({} pod pair{}): {}",
                g.names.0,
                g.names.1,
                g.pairs,
                if g.pairs == 1 { "" } else { "s" },
                paths.join("; ")
            ),
            g.locations,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const DB: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: db-0, namespace: data, labels: {app: db}}\nspec:\n  nodeName: node-1\n  containers:\n  - name: db\n    ports: [{containerPort: 5432, name: pg}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: data}\nspec:\n  selector: {app: db}\n  ports: [{port: 5432, targetPort: pg}]\n---\n";
    const ZONES: &str =
        "untrusted:\n- namespace: tenants\nsensitive:\n- selector: \"data/app=db\"\n";

    fn tenant(node: &str, host_network: bool) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: job, namespace: tenants, labels: {{app: job}}}}\nspec:\n  nodeName: {node}\n  hostNetwork: {host_network}\n  containers: [{{name: job}}]\n"
        )
    }

    const ALLOW_APP_ONLY: &str = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: data}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: api}}}]\n    ports: [{port: 5432}]\n";

    #[test]
    fn open_pod_network_is_reported_with_ports_and_service() {
        let yaml = format!("{DB}{}", tenant("node-2", false));
        let f = findings_of("KS203", &yaml, ZONES);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["data/Pod/db-0", "tenants/Pod/job"]);
        let m = &f[0].message;
        assert!(
            m.contains("untrusted tenants/job[Pod] can reach sensitive data/db-0[Pod]"),
            "{m}"
        );
        assert!(m.contains("NetworkPolicy admits every port"), "{m}");
        assert!(
            m.contains("also through Service data/db:5432 → 5432/TCP"),
            "{m}"
        );
        assert!(!m.contains("shared node"), "{m}");
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 17]);
    }

    #[test]
    fn isolated_sensitive_pod_is_not_reported() {
        let yaml = format!("{DB}{}{ALLOW_APP_ONLY}", tenant("node-2", false));
        assert!(findings_of("KS203", &yaml, ZONES).is_empty());
        // Without zones there is nothing to check.
        let yaml = format!("{DB}{}", tenant("node-2", false));
        assert!(findings_of("KS203", &yaml, "").is_empty());
    }

    #[test]
    fn host_network_untrusted_on_the_same_node_bypasses_policy() {
        let yaml = format!("{DB}{}{ALLOW_APP_ONLY}", tenant("node-1", true));
        let f = findings_of("KS203", &yaml, ZONES);
        assert_eq!(f.len(), 1, "{f:?}");
        let m = &f[0].message;
        assert!(m.contains("from a shared node"), "{m}");
        assert!(m.contains("every port, on node node-1"), "{m}");
        assert!(!m.contains("NetworkPolicy admits"), "{m}");
        // On another node the same policy keeps it out.
        let yaml = format!("{DB}{}{ALLOW_APP_ONLY}", tenant("node-2", true));
        assert!(findings_of("KS203", &yaml, ZONES).is_empty());
    }

    #[test]
    fn entry_point_in_front_of_sensitive_is_a_path() {
        let node_port = DB.replace(
            "  ports: [{port: 5432, targetPort: pg}]",
            "  type: NodePort\n  externalTrafficPolicy: Local\n  ports: [{port: 5432, targetPort: pg, nodePort: 30432}]",
        );
        let allow_outside = ALLOW_APP_ONLY.replace(
            "  - from: [{podSelector: {matchLabels: {app: api}}}]",
            "  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]",
        );
        let pod_ip = tenant("node-2", false).replace(
            "  containers: [{name: job}]\n",
            "  containers: [{name: job}]\nstatus: {podIP: 10.1.0.5}\n",
        );
        let yaml = format!("{node_port}{pod_ip}{allow_outside}");
        let f = findings_of("KS203", &yaml, ZONES);
        assert_eq!(f.len(), 1, "{f:?}");
        let m = &f[0].message;
        assert!(
            m.contains(
                "through entry points open from outside: NodePort node:*:30432 (data/Service/db)"
            ),
            "{m}"
        );
        assert!(!m.contains("NetworkPolicy admits"), "{m}");
    }
}
