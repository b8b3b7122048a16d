//! Cilium policies through the public ingest API: YAML and JSON, Lists, sources, the
//! namespace of namespaced and clusterwide kinds, unknown kinds of the group, CNI
//! evidence, duplicates, and errors that name file, line, object and field.

use std::sync::Arc;

use kubesurface_ingest::{InputText, Loaded, load_texts};
use kubesurface_model::{
    Action, DEFAULT_TIER, Dialect, Entity, KUBERNETES_POLICY_ORDER, LabelExpr, NamespaceMatch,
    Subject, TieredPeer,
};

fn input(name: &str, text: &str) -> InputText {
    InputText {
        name: Arc::from(name),
        text: text.into(),
    }
}

fn load(name: &str, text: &str) -> Loaded {
    load_texts(&[input(name, text)]).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn error(name: &str, text: &str) -> String {
    load_texts(&[input(name, text)])
        .map(|_| ())
        .expect_err("input should be rejected")
        .to_string()
}

// The Star Wars demo's rule1 (github.com/cilium/cilium examples/minikube/
// sw_l3_l4_policy.yaml), after a Pod in another file.
const RULE1: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: tiefighter, labels: {org: empire}}
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
description: "L3-L4 policy to restrict deathstar access to empire ships only"
metadata:
  name: "rule1"
spec:
  endpointSelector:
    matchLabels:
      org: empire
      class: deathstar
  ingress:
  - fromEndpoints:
    - matchLabels:
        org: empire
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
"#;

#[test]
fn a_policy_is_read_with_its_source() {
    let loaded = load("sw.yaml", RULE1);
    let c = &loaded.cluster;
    assert_eq!(c.tiered_policies.len(), 1);
    let p = &c.tiered_policies[0];
    assert_eq!(p.dialect, Dialect::CiliumNetworkPolicy);
    assert_eq!(p.display_name(), "CiliumNetworkPolicy default/rule1");
    assert_eq!(p.tier, DEFAULT_TIER);
    assert_eq!(p.order, Some(KUBERNETES_POLICY_ORDER));
    assert_eq!(p.source.to_string(), "sw.yaml:5");
    assert_eq!(p.ingress.len(), 1);
    assert_eq!(p.ingress[0].action, Action::Allow);
    assert_eq!(p.ingress[0].source, p.source);
    assert!(p.isolates_ingress && !p.isolates_egress);
    assert_eq!(
        c.cni_evidence.cilium,
        ["cilium CiliumNetworkPolicy".to_string()]
    );
    assert!(c.cni_evidence.calico.is_empty());
}

#[test]
fn json_list_input() {
    let text = r#"{"apiVersion":"v1","kind":"List","items":[
{"apiVersion":"cilium.io/v2","kind":"CiliumClusterwideNetworkPolicy",
 "metadata":{"name":"allow-dns","namespace":"ignored"},
 "spec":{"endpointSelector":{},
         "egress":[{"toEndpoints":[{"matchLabels":{"k8s:io.kubernetes.pod.namespace":"kube-system","k8s-app":"kube-dns"}}],
                    "toPorts":[{"ports":[{"port":"53","protocol":"ANY"}],"rules":{"dns":[{"matchPattern":"*"}]}}]}]}}
]}"#;
    let loaded = load("dump.json", text);
    let p = &loaded.cluster.tiered_policies[0];
    assert_eq!(p.dialect, Dialect::CiliumClusterwideNetworkPolicy);
    // Cluster-scoped: a namespace in the manifest does not apply.
    assert_eq!(p.namespace, None);
    assert_eq!(p.display_name(), "CiliumClusterwideNetworkPolicy allow-dns");
    assert_eq!(p.source.line, 2);
    let rule = &p.egress[0];
    assert!(rule.l7);
    assert_eq!(rule.ports.len(), 3, "ANY is TCP, UDP and SCTP");
    match &rule.peers[..] {
        [TieredPeer::Pods { pods, .. }] => {
            assert_eq!(pods.namespaces, NamespaceMatch::Named("kube-system".into()));
            assert_eq!(
                pods.labels,
                LabelExpr::Eq("k8s-app".into(), "kube-dns".into())
            );
        }
        other => panic!("unexpected peers {other:?}"),
    }
}

#[test]
fn deny_only_policy_and_host_policy() {
    let loaded = load(
        "p.yaml",
        r#"apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-world, namespace: web}
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEntities: [world]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: host-ssh}
spec:
  nodeSelector: {matchLabels: {node-role.kubernetes.io/worker: ""}}
  ingress:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: "22", protocol: TCP}]}]
"#,
    );
    let c = &loaded.cluster;
    // Sorted by dialect, namespace, name.
    let names: Vec<String> = c.tiered_policies.iter().map(|p| p.display_name()).collect();
    assert_eq!(
        names,
        [
            "CiliumNetworkPolicy web/no-world",
            "CiliumClusterwideNetworkPolicy host-ssh"
        ]
    );
    let deny = &c.tiered_policies[0];
    assert_eq!(deny.order, Some(f64::MIN));
    assert_eq!(deny.ingress[0].action, Action::Deny);
    assert_eq!(deny.ingress[0].peers, [TieredPeer::Entity(Entity::World)]);
    assert!(deny.isolates_ingress);
    let host = &c.tiered_policies[1];
    assert_eq!(
        host.subject,
        Subject::Nodes(LabelExpr::Eq(
            "node-role.kubernetes.io/worker".into(),
            String::new()
        ))
    );
}

#[test]
fn other_kinds_of_the_group_are_counted() {
    let loaded = load(
        "x.yaml",
        "apiVersion: cilium.io/v2\nkind: CiliumEndpoint\nmetadata: {name: a, namespace: b}\n---\napiVersion: cilium.io/v2alpha1\nkind: CiliumCIDRGroup\nmetadata: {name: g}\n",
    );
    let c = &loaded.cluster;
    assert!(c.tiered_policies.is_empty());
    assert_eq!(c.unknown_kinds.get("cilium.io/v2/CiliumEndpoint"), Some(&1));
    assert_eq!(
        c.unknown_kinds.get("cilium.io/v2alpha1/CiliumCIDRGroup"),
        Some(&1)
    );
    assert_eq!(
        c.cni_evidence.cilium,
        [
            "cilium.io/v2/CiliumEndpoint".to_string(),
            "cilium.io/v2alpha1/CiliumCIDRGroup".to_string()
        ]
    );
}

#[test]
fn the_same_object_twice_is_harmless_two_definitions_are_not() {
    let twice = format!("{RULE1}---\n{}", RULE1.split("---\n").nth(1).unwrap());
    assert_eq!(load("a.yaml", &twice).cluster.tiered_policies.len(), 1);
    let changed = twice.replacen("port: \"80\"", "port: \"81\"", 1);
    let e = error("a.yaml", &changed);
    assert!(e.contains("defined twice"), "{e}");
    assert!(e.contains("CiliumNetworkPolicy default/rule1"), "{e}");
}

#[test]
fn errors_name_file_line_object_and_field() {
    let e = error(
        "bad.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad, namespace: web}\nspec:\n  endpointSelector: {}\n  egress:\n  - toCIDRSet: [{cidr: 10.0.0.0/16, except: [192.168.0.0/24]}]\n",
    );
    assert_eq!(
        e,
        "bad.yaml:5: CiliumNetworkPolicy web/bad: spec.egress[0].toCIDRSet[0].except[0]: 192.168.0.0/24 is not within cidr 10.0.0.0/16"
    );
    // A wrong type in the wire format names its path too.
    let e = error(
        "bad.yaml",
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad}\nspec:\n  endpointSelector: {}\n  ingress: {fromEntities: [world]}\n",
    );
    assert!(
        e.starts_with("bad.yaml:1: CiliumNetworkPolicy default/bad: spec.ingress"),
        "{e}"
    );
    let e = error(
        "bad.yaml",
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad}\nspec:\n  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: 80}]}]}]\n",
    );
    assert!(
        e.ends_with("spec.ingress[0].toPorts[0].ports[0].port: expected a string, found 80 (quote it: \"80\")"),
        "{e}"
    );
}

// An object with deny and allow sections, and `specs`: several policies, each named after
// its part (examples/policies/l3/egress-deny/egress-deny.yaml).
#[test]
fn one_object_several_policies() {
    let loaded = load(
        "p.yaml",
        r#"apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "deny-egress-example"
spec:
  endpointSelector:
    matchLabels:
      role: frontend
  egress:
  - toEntities:
    - all
  egressDeny:
  - toEndpoints:
    - matchLabels:
        role: backend
specs:
- endpointSelector: {matchLabels: {role: backend}}
  ingress: [{}]
"#,
    );
    let c = &loaded.cluster;
    let got: Vec<(String, Option<f64>)> = c
        .tiered_policies
        .iter()
        .map(|p| (p.name.clone(), p.order))
        .collect();
    assert_eq!(
        got,
        [
            (
                "deny-egress-example".to_string(),
                Some(KUBERNETES_POLICY_ORDER)
            ),
            ("deny-egress-example (deny)".to_string(), Some(f64::MIN)),
            (
                "deny-egress-example#0".to_string(),
                Some(KUBERNETES_POLICY_ORDER)
            ),
        ]
    );
    assert!(c.tiered_policies.iter().all(|p| p.source.line == 1));
    assert_eq!(c.tiered_policies[1].egress[0].action, Action::Deny);
}
