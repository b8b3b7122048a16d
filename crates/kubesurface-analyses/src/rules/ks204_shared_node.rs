//! KS204: a sensitive pod may share a node with a hostNetwork or untrusted pod.
//!
//! Also home of the small helpers the zone rules share (workload naming, node sharing).

use super::common::{join_limited, short_name, workload_object, workload_source};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use kubesurface_model::{Cluster, Endpoint, Source};

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};
use crate::scheduling::may_run_on;

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS204",
    name: "sensitive-shares-node",
    severity: Severity::High,
    summary: "A sensitive pod may run on the same node as a hostNetwork pod or an untrusted pod, which reach it from the node whatever the NetworkPolicies say.",
    rationale: r#"
NetworkPolicy does not isolate a pod from **its own node**: the API reference states that
traffic to and from the node where a pod is running is always allowed, whatever the
policies say, so that kubelet probes work. A `hostNetwork: true` pod *is* node traffic:
it shares the node's network namespace, no policy selector ever matches it, and every
process in it reaches every port of every pod on the same node. An untrusted pod (tenant
code, a Nova compute node running customer VMs, a CI runner) is one container escape away
from the same position.

The founding note (kolla-kubernetes, "why is everything binding to 0.0.0.0") draws the
conclusion: NetworkPolicy can keep untrusted workloads away from internal services, but
"pods will still be accessible from the host on which they are running", so hostNetwork
and untrusted workloads need **dedicated nodes**.

This rule reports every (sensitive workload, hostNetwork-or-untrusted workload) pair that
may share a node: for Pods with `spec.nodeName` the node they run on; for templates,
every Node whose labels and taints their nodeSelector, required node affinity and
tolerations allow. When the input has no Node objects the nodes are unknown: the pair is
reported as "may share" unless `nodeName` or conflicting `nodeSelector` values keep
them apart.
"#,
    example: r#"
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: data, labels: {app: db}}
spec:
  nodeName: node-1
  containers:
  - name: db
    image: mariadb
    ports: [{containerPort: 3306}]
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: monitoring}
spec:
  nodeName: node-1
  hostNetwork: true
  containers:
  - name: agent
    image: agent
# kubesurface.yaml
# sensitive:
# - selector: "data/app=db"
"#,
    remediation: r#"
- Give sensitive workloads nodes of their own: taint those nodes
  (`kubectl taint nodes db-1 dedicated=db:NoSchedule`) and give only the sensitive
  workloads the matching toleration plus a `nodeSelector` or required node affinity.
- Keep hostNetwork and untrusted workloads off those nodes (a `nodeSelector` or node
  affinity that excludes them), or move untrusted compute out of the cluster entirely.
- For node agents every node must run (kube-proxy, the CNI agent), accept the risk
  explicitly: `ignore: [{rule: KS204, object: kube-system/DaemonSet/kube-proxy, reason: …}]`.
"#,
    check,
};

/// Where two endpoints may meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Shared {
    /// Nodes both may run on (never empty).
    Nodes(BTreeSet<String>),
    /// The input has no Node objects, and nothing in the two specs keeps them apart.
    Unknown,
}

/// The nodes `e` runs or may run on; `None` when that is unknown (no Node objects in the
/// input and no `nodeName`). A Pod pinned by `nodeName` runs there even when that Node is
/// not in the input.
fn candidate_nodes<'c>(cluster: &'c Cluster, e: &'c Endpoint) -> Option<Vec<&'c str>> {
    if let Some(n) = &e.node {
        return Some(vec![n.as_str()]);
    }
    if cluster.nodes.is_empty() {
        return None;
    }
    Some(
        cluster
            .nodes
            .values()
            .filter(|n| may_run_on(e, n))
            .map(|n| n.name.as_str())
            .collect(),
    )
}

/// True when the two `nodeSelector`s require different values of one label key: no node
/// can satisfy both.
fn selectors_conflict(a: &Endpoint, b: &Endpoint) -> bool {
    a.scheduling
        .node_selector
        .iter()
        .any(|(k, v)| b.scheduling.node_selector.get(k).is_some_and(|w| w != v))
}

/// Every pair (`a` of `left`, `b` of `right`, `a != b`) that may share a node. Costs the
/// size of the answer (plus one scheduling evaluation per endpoint and node), not
/// `left × right × nodes`.
pub(super) fn sharing(
    cluster: &Cluster,
    left: &[usize],
    right: &[usize],
) -> Vec<(usize, usize, Shared)> {
    let eps = &cluster.endpoints;
    let mut on_node: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut unknown_right = Vec::new();
    for &b in right {
        match candidate_nodes(cluster, &eps[b]) {
            Some(nodes) => {
                for n in nodes {
                    on_node.entry(n).or_default().push(b);
                }
            }
            None => unknown_right.push(b),
        }
    }
    let mut out = Vec::new();
    for &a in left {
        let ea = &eps[a];
        let unknown_with: &[usize] = match candidate_nodes(cluster, ea) {
            Some(nodes) => {
                let mut shared: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
                for n in nodes {
                    for &b in on_node.get(n).into_iter().flatten() {
                        shared.entry(b).or_default().insert(n.to_string());
                    }
                }
                out.extend(
                    shared
                        .into_iter()
                        .filter(|(b, _)| *b != a)
                        .map(|(b, nodes)| (a, b, Shared::Nodes(nodes))),
                );
                &unknown_right
            }
            None => right,
        };
        out.extend(
            unknown_with
                .iter()
                .filter(|&&b| b != a && !selectors_conflict(ea, &eps[b]))
                .map(|&b| (a, b, Shared::Unknown)),
        );
    }
    out
}

// ----- the rule -----

#[derive(Default)]
struct Group<'c> {
    nodes: BTreeSet<String>,
    unknown: bool,
    /// Every pair is two Pods pinned by nodeName: they do share, not merely may.
    pinned: bool,
    sensitive: BTreeSet<String>,
    others: BTreeSet<String>,
    host_network: bool,
    untrusted: bool,
    locations: Vec<&'c Source>,
    names: (String, String),
}

fn check(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let cluster = ctx.cluster();
    if ctx.sensitive.is_empty() {
        return;
    }
    let eps = &cluster.endpoints;
    let untrusted: HashSet<usize> = ctx.untrusted.iter().copied().collect();
    let others: Vec<usize> = (0..eps.len())
        .filter(|i| eps[*i].host_network || untrusted.contains(i))
        .collect();
    let mut groups: BTreeMap<(String, String), Group<'_>> = BTreeMap::new();
    for (s, o, shared) in sharing(cluster, &ctx.sensitive, &others) {
        let (se, oe) = (&eps[s], &eps[o]);
        let key = (workload_object(se), workload_object(oe));
        if key.0 == key.1 {
            continue; // two replicas of one workload
        }
        let g = groups.entry(key).or_insert_with(|| Group {
            pinned: true,
            locations: vec![workload_source(se), workload_source(oe)],
            names: (se.workload_name(), oe.workload_name()),
            ..Group::default()
        });
        match shared {
            Shared::Nodes(nodes) => g.nodes.extend(nodes),
            Shared::Unknown => g.unknown = true,
        }
        g.pinned &= se.node.is_some() && oe.node.is_some();
        g.sensitive.insert(short_name(se));
        g.others.insert(short_name(oe));
        g.host_network |= oe.host_network;
        g.untrusted |= untrusted.contains(&o);
    }
    for ((s_obj, o_obj), g) in groups {
        let why = match (g.untrusted, g.host_network) {
            (true, true) => "untrusted, hostNetwork",
            (true, false) => "untrusted",
            _ => "hostNetwork",
        };
        let nodes: Vec<String> = g.nodes.iter().cloned().collect();
        let place = match (nodes.is_empty(), g.unknown) {
            (false, false) if g.pinned => format!("runs on node {}", nodes.join(", ")),
            (false, false) => format!("may share node {}", join_limited(nodes, 8)),
            (false, true) => format!(
                "may share node {} (and other nodes: some of them have no nodeName and the input has no Node objects)",
                join_limited(nodes, 8)
            ),
            (true, _) => "may share a node (the input has no Node objects, and neither nodeName nor nodeSelector keeps them apart)".to_string(),
        };
        let with = if g.pinned && !g.unknown {
            "together with"
        } else {
            "with"
        };
        let reach = if g.host_network {
            format!("{} reaches", join_limited(g.others.iter().cloned(), 5))
        } else {
            format!(
                "a container escape from {} reaches",
                join_limited(g.others.iter().cloned(), 5)
            )
        };
        out.push(RULE.finding(
            vec![s_obj, o_obj],
            format!(
                "sensitive {} {place} {with} {} ({why}): traffic from a pod's own node is always allowed, so {reach} every port of {} there, whatever the NetworkPolicies say",
                g.names.0,
                g.names.1,
                join_limited(g.sensitive.iter().cloned(), 5),
            ),
            g.locations,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::findings_of;

    const DB: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: db-0, namespace: data, labels: {app: db}}\nspec:\n  nodeName: node-1\n  containers:\n  - name: db\n    ports: [{containerPort: 3306}]\n---\n";
    const SENSITIVE: &str = "sensitive:\n- selector: \"data/app=db\"\n";

    fn agent(node: &str, host_network: bool) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: agent, namespace: monitoring, labels: {{app: agent}}}}\nspec:\n  nodeName: {node}\n  hostNetwork: {host_network}\n  containers:\n  - name: agent\n    ports: [{{containerPort: 9100}}]\n"
        )
    }

    #[test]
    fn host_network_pod_on_the_same_node_is_reported() {
        let yaml = format!("{DB}{}", agent("node-1", true));
        let f = findings_of("KS204", &yaml, SENSITIVE);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].objects, ["data/Pod/db-0", "monitoring/Pod/agent"]);
        let m = &f[0].message;
        assert!(m.contains("runs on node node-1"), "{m}");
        assert!(m.contains("(hostNetwork)"), "{m}");
        assert!(m.contains("agent reaches every port of db-0"), "{m}");
        let lines: Vec<u32> = f[0].locations.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 10]);
    }

    #[test]
    fn other_node_or_no_sensitive_zone_is_not_reported() {
        let yaml = format!("{DB}{}", agent("node-2", true));
        assert!(findings_of("KS204", &yaml, SENSITIVE).is_empty());
        let yaml = format!("{DB}{}", agent("node-1", true));
        assert!(findings_of("KS204", &yaml, "").is_empty());
        // A trusted pod-network pod on the same node is not a finding.
        let yaml = format!("{DB}{}", agent("node-1", false));
        assert!(findings_of("KS204", &yaml, SENSITIVE).is_empty());
    }

    #[test]
    fn untrusted_pod_on_the_same_node_is_reported() {
        let yaml = format!("{DB}{}", agent("node-1", false));
        let cfg = format!("{SENSITIVE}untrusted:\n- namespace: monitoring\n");
        let f = findings_of("KS204", &yaml, &cfg);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("(untrusted)"), "{}", f[0].message);
        assert!(
            f[0].message
                .contains("a container escape from agent reaches"),
            "{}",
            f[0].message
        );
    }

    const NODES: &str = "apiVersion: v1\nkind: Node\nmetadata: {name: db-1, labels: {role: db}}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: work-1, labels: {role: work}}\n---\n";

    fn templates(db_selector: &str, ds_selector: &str) -> String {
        format!(
            "{NODES}apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db, namespace: data}}\nspec:\n  selector: {{matchLabels: {{app: db}}}}\n  template:\n    metadata: {{labels: {{app: db}}}}\n    spec:\n      nodeSelector: {{{db_selector}}}\n      containers: [{{name: db}}]\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent, namespace: monitoring}}\nspec:\n  selector: {{matchLabels: {{app: agent}}}}\n  template:\n    metadata: {{labels: {{app: agent}}}}\n    spec:\n      hostNetwork: true\n      nodeSelector: {{{ds_selector}}}\n      containers: [{{name: agent}}]\n"
        )
    }

    #[test]
    fn templates_follow_node_selectors() {
        let f = findings_of("KS204", &templates("role: db", ""), SENSITIVE);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].objects,
            ["data/StatefulSet/db", "monitoring/DaemonSet/agent"]
        );
        assert!(
            f[0].message
                .contains("may share node db-1 with monitoring/agent[DaemonSet]"),
            "{}",
            f[0].message
        );
        assert!(findings_of("KS204", &templates("role: db", "role: work"), SENSITIVE).is_empty());
    }

    #[test]
    fn without_nodes_conflicting_selectors_keep_pods_apart() {
        let strip = |y: String| y.replace(NODES, "");
        let f = findings_of("KS204", &strip(templates("role: db", "")), SENSITIVE);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("the input has no Node objects"),
            "{}",
            f[0].message
        );
        assert!(
            findings_of(
                "KS204",
                &strip(templates("role: db", "role: work")),
                SENSITIVE
            )
            .is_empty()
        );
    }

    /// Audits the bundled OpenStack example under a config.
    fn audit_example(config: &str) -> Vec<crate::findings::Finding> {
        use kubesurface_engine::{Engine, Settings};

        use crate::config::Config;
        use crate::exposure::exposures;
        use crate::rules::{AuditContext, audit};

        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/openstack").to_string();
        let loaded = kubesurface_ingest::load_paths(&[dir]).unwrap();
        let config = Config::parse("kubesurface.yaml", config).unwrap();
        let engine = Engine::new(&loaded.cluster, Settings::default());
        let exposures = exposures(&engine, &config);
        let ctx = AuditContext::new(&engine, &config, &exposures, &[]);
        audit(&ctx)
    }

    const OPENSTACK_ZONES: &str = "sensitive:\n- selector: \"openstack/application=mariadb\"\nuntrusted:\n- selector: \"openstack/application=nova,component=compute\"\n";

    /// The bundled OpenStack example: novncproxy (hostNetwork, 6080) shares ctl-1 with
    /// mariadb-server-0; the compute nodes are pinned apart from mariadb.
    #[test]
    fn openstack_example() {
        let findings = audit_example(OPENSTACK_ZONES);
        let of = |code: &str| -> Vec<_> { findings.iter().filter(|f| f.rule == code).collect() };

        let ks105 = of("KS105");
        let novnc = ks105
            .iter()
            .find(|f| f.objects == ["openstack/Deployment/nova-novncproxy"])
            .unwrap_or_else(|| panic!("{ks105:#?}"));
        assert!(novnc.message.contains("6080/TCP"), "{}", novnc.message);
        assert!(novnc.message.contains("node ctl-1"), "{}", novnc.message);
        assert!(
            novnc.message.contains("mariadb-server-0"),
            "{}",
            novnc.message
        );
        assert!(
            novnc
                .locations
                .iter()
                .any(|l| l.file.ends_with("nova.yaml")),
            "{:?}",
            novnc.locations
        );

        let ks204 = of("KS204");
        let shared = ks204
            .iter()
            .find(|f| {
                f.objects
                    == [
                        "openstack/Deployment/nova-novncproxy",
                        "openstack/StatefulSet/mariadb-server",
                    ]
            })
            .unwrap_or_else(|| panic!("{ks204:#?}"));
        assert!(
            shared.message.contains("runs on node ctl-1"),
            "{}",
            shared.message
        );
        assert!(
            shared
                .message
                .contains("every port of mariadb-server-0 there"),
            "{}",
            shared.message
        );
        // ceph-mon is a hostNetwork DaemonSet on every control node.
        assert!(
            ks204
                .iter()
                .any(|f| f.objects.contains(&"ceph/DaemonSet/ceph-mon".to_string())),
            "{ks204:#?}"
        );
        // nova-compute runs on cmp-1/2 only, mariadb on ctl-1..3: never together.
        assert!(
            !ks204.iter().any(|f| f
                .objects
                .contains(&"openstack/DaemonSet/nova-compute-default".to_string())),
            "{ks204:#?}"
        );
        // nova-compute (hostNetwork, node IPs 10.10.0.21-22) cannot reach mariadb: its
        // policy admits only pod peers, and no node is shared.
        assert!(of("KS203").is_empty(), "{:#?}", of("KS203"));
    }

    /// With CoreDNS sensitive too: the coredns pod on cmp-1 shares its node with the
    /// untrusted, hostNetwork nova-compute, which reaches it on every port.
    #[test]
    fn openstack_example_compute_node_neighbour() {
        let zones = "sensitive:\n- selector: \"openstack/application=mariadb\"\n- selector: \"kube-system/k8s-app=kube-dns\"\nuntrusted:\n- selector: \"openstack/application=nova,component=compute\"\n";
        let findings = audit_example(zones);
        let of = |code: &str| -> Vec<_> { findings.iter().filter(|f| f.rule == code).collect() };
        let ks203 = of("KS203");
        let f = ks203
            .iter()
            .find(|f| {
                f.objects
                    == [
                        "kube-system/Deployment/coredns",
                        "openstack/DaemonSet/nova-compute-default",
                    ]
            })
            .unwrap_or_else(|| panic!("{ks203:#?}"));
        assert_eq!(f.severity, crate::findings::Severity::Critical);
        assert!(
            f.message.contains("every port, on node cmp-1"),
            "{}",
            f.message
        );
        assert!(
            !ks203.iter().any(|f| f
                .objects
                .contains(&"openstack/StatefulSet/mariadb-server".to_string())),
            "{ks203:#?}"
        );
        let ks204 = of("KS204");
        let f = ks204
            .iter()
            .find(|f| {
                f.objects
                    == [
                        "kube-system/Deployment/coredns",
                        "openstack/DaemonSet/nova-compute-default",
                    ]
            })
            .unwrap_or_else(|| panic!("{ks204:#?}"));
        assert!(
            f.message.contains("runs on node cmp-1 together with"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("(untrusted, hostNetwork)"),
            "{}",
            f.message
        );
    }
}
