//! The admin dialect reader: AdminNetworkPolicy and BaselineAdminNetworkPolicy
//! (`policy.networking.k8s.io/v1alpha1`) and ClusterNetworkPolicy (`v1alpha2`) into
//! `TieredPolicy`, and the API's validation.
//!
//! Sources: the API types of kubernetes-sigs/network-policy-api (`apis/v1alpha1/*.go` at
//! v0.1.7, `apis/v1alpha2/clusternetworkpolicy_types.go` at v0.2.0) and their generated CRDs
//! (`config/crd/{standard,experimental}/*.yaml`: required fields, enums, min/max, CEL rules).
//! Manifests marked "conformance" are the upstream conformance suite's base manifests
//! (`conformance/base/...`).

use std::sync::Arc;

use ipnet::IpNet;
use kubesurface_ingest::{InputText, Loaded, load_texts};
use kubesurface_model::{
    ADMIN_TIER, Action, BASELINE_TIER, Dialect, LabelExpr, NamespaceMatch, PodMatch, PolicyPort,
    PortSpec, Protocol, Subject, TieredPeer, TieredPolicy,
};

fn input(name: &str, text: &str) -> InputText {
    InputText {
        name: Arc::from(name),
        text: text.into(),
    }
}

fn load(text: &str) -> Loaded {
    load_texts(&[input("in.yaml", text)]).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn policies(text: &str) -> Vec<TieredPolicy> {
    load(text).cluster.tiered_policies
}

fn one(text: &str) -> TieredPolicy {
    let mut p = policies(text);
    assert_eq!(p.len(), 1, "expected one policy");
    p.remove(0)
}

/// The error message for `text`, which must be rejected.
fn error(text: &str) -> String {
    load_texts(&[input("in.yaml", text)])
        .map(|_| ())
        .expect_err("input should be rejected")
        .to_string()
}

fn eq(k: &str, v: &str) -> LabelExpr {
    LabelExpr::Eq(k.to_string(), v.to_string())
}

fn ns_named(name: &str) -> NamespaceMatch {
    NamespaceMatch::Selector(eq("kubernetes.io/metadata.name", name))
}

fn pods_in(ns: NamespaceMatch, labels: LabelExpr) -> TieredPeer {
    TieredPeer::Pods {
        pods: PodMatch {
            namespaces: ns,
            labels,
            service_accounts: None,
        },
        not_labels: None,
        nets: None,
        not_nets: Vec::new(),
    }
}

fn port(protocol: Protocol, lo: u16, hi: u16) -> PolicyPort {
    PolicyPort {
        protocol,
        port: PortSpec::Range(lo, hi),
    }
}

fn named(name: &str) -> Vec<PolicyPort> {
    Protocol::ALL
        .iter()
        .map(|&protocol| PolicyPort {
            protocol,
            port: PortSpec::Named(name.to_string()),
        })
        .collect()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

const ANP_HEAD: &str = "apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: p
spec:
  priority: 5
  subject:
    namespaces: {}
";

const BANP_HEAD: &str = "apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: default
spec:
  subject:
    namespaces: {}
";

const CNP_HEAD: &str = "apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: c
spec:
  tier: Admin
  priority: 5
  subject:
    namespaces: {}
";

// ---------------------------------------------------------------------------------------------
// Mapping

/// conformance/base/admin_network_policy/standard-ingress-tcp-rules.yaml (v0.1.7), shortened:
/// rule order, names, actions, namespace peers and a TCP port.
#[test]
fn admin_network_policy_maps_to_the_admin_tier() {
    let p = one("apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: ingress-tcp
  annotations: {kubesurface.io/ignore: KS201}
spec:
  priority: 3
  subject:
    namespaces:
      matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-gryffindor
  ingress:
  - name: \"allow-from-ravenclaw-everything\"
    action: \"Allow\"
    from:
    - namespaces:
        matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-ravenclaw
  - name: \"deny-from-slytherin-at-port-80\"
    action: \"Deny\"
    from:
    - namespaces:
        matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-slytherin
    ports:
      - portNumber:
          protocol: TCP
          port: 80
  - action: Pass
    from:
    - namespaces: {}
");
    assert_eq!(p.dialect, Dialect::AdminNetworkPolicy);
    assert_eq!(p.name, "ingress-tcp");
    assert_eq!(p.namespace, None);
    assert_eq!(p.tier, ADMIN_TIER);
    assert_eq!(p.order, Some(3.0));
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: ns_named("network-policy-conformance-gryffindor"),
            labels: LabelExpr::All,
            service_accounts: None,
        })
    );
    // Admin tiers never deny by default; the policy takes part in both directions.
    assert!(p.applies_ingress && p.applies_egress);
    assert!(!p.isolates_ingress && !p.isolates_egress);
    assert!(p.egress.is_empty());
    assert_eq!(p.ingress.len(), 3);
    let r = &p.ingress[0];
    assert_eq!(r.name.as_deref(), Some("allow-from-ravenclaw-everything"));
    assert_eq!(r.action, Action::Allow);
    assert_eq!(
        r.peers,
        [pods_in(
            ns_named("network-policy-conformance-ravenclaw"),
            LabelExpr::All
        )]
    );
    assert!(r.ports.is_empty(), "no ports: every port");
    assert!(r.not_ports.is_empty() && !r.l7);
    assert_eq!(p.ingress[1].action, Action::Deny);
    assert_eq!(p.ingress[1].ports, [port(Protocol::Tcp, 80, 80)]);
    assert_eq!(p.ingress[2].name, None);
    assert_eq!(p.ingress[2].action, Action::Pass);
    assert_eq!(
        p.ingress[2].peers,
        [pods_in(NamespaceMatch::Any, LabelExpr::All)]
    );
    assert_eq!(p.source.line, 1);
    assert_eq!(p.ingress[0].source, p.source);
    assert_eq!(
        p.annotations
            .get("kubesurface.io/ignore")
            .map(String::as_str),
        Some("KS201")
    );
}

/// conformance/base/admin_network_policy/experimental-egress-selector-rules.yaml (v0.1.7):
/// pods subject, node peers, networks peers, port ranges.
#[test]
fn egress_peers_pods_nodes_networks() {
    let p = one("apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: node-and-cidr-as-peers-example
spec:
  priority: 75
  subject:
    pods:
      namespaceSelector:
        matchLabels:
          conformance-house: gryffindor
      podSelector:
        matchLabels:
          conformance-house: gryffindor
  egress:
  - name: \"allow-egress-to-36363-on-nodes\"
    action: \"Allow\"
    to:
    - nodes:
        matchLabels:
          kubernetes.io/os: linux
    ports:
      - portNumber:
          protocol: TCP
          port: 36363
      - portRange:
          start: 100
          end: 200
      - portRange:
          protocol: UDP
          start: 7
          end: 7
  - name: \"deny-egress-to-slytherin-and-nodes-and-internet\"
    action: \"Deny\"
    to:
    - pods:
        namespaceSelector:
          matchLabels:
            conformance-house: slytherin
        podSelector:
          matchLabels:
            conformance-house: slytherin
    - nodes:
        matchLabels:
          kubernetes.io/os: linux
    - networks:
        - 0.0.0.0/0
        - ::/0
        - 10.1.2.3/8
");
    let house = |h: &str| eq("conformance-house", h);
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: NamespaceMatch::Selector(house("gryffindor")),
            labels: house("gryffindor"),
            service_accounts: None,
        })
    );
    assert!(p.ingress.is_empty());
    assert_eq!(
        p.egress[0].peers,
        [TieredPeer::Nodes(eq("kubernetes.io/os", "linux"))]
    );
    // portNumber and portRange protocols default to TCP; a single-port range is accepted.
    assert_eq!(
        p.egress[0].ports,
        [
            port(Protocol::Tcp, 36363, 36363),
            port(Protocol::Tcp, 100, 200),
            port(Protocol::Udp, 7, 7)
        ]
    );
    assert_eq!(p.egress[1].action, Action::Deny);
    assert_eq!(
        p.egress[1].peers,
        [
            pods_in(
                NamespaceMatch::Selector(house("slytherin")),
                house("slytherin")
            ),
            TieredPeer::Nodes(eq("kubernetes.io/os", "linux")),
            // Networks match pod addresses too ("cluster-internal traffic will be checked
            // against the rule as well"); host bits are cleared.
            TieredPeer::Networks {
                nets: Some(vec![net("0.0.0.0/0"), net("10.0.0.0/8"), net("::/0")]),
                except: Vec::new(),
                matches_pods: true,
            },
        ]
    );
}

/// conformance/base/baseline_admin_network_policy/standard-ingress-tcp-rules.yaml (v0.1.7).
#[test]
fn baseline_admin_network_policy_maps_to_the_baseline_tier() {
    let p = one("apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: default
spec:
  subject:
    namespaces:
      matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-gryffindor
  ingress:
  - name: \"allow-from-ravenclaw-everything\"
    action: \"Allow\"
    from:
    - namespaces:
        matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-ravenclaw
  - name: \"deny-from-hufflepuff-everything-else\"
    action: \"Deny\"
    from:
    - namespaces:
        matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-hufflepuff
");
    assert_eq!(p.dialect, Dialect::BaselineAdminNetworkPolicy);
    assert_eq!(p.name, "default");
    assert_eq!(p.tier, BASELINE_TIER);
    assert_eq!(p.order, None);
    assert!(!p.isolates_ingress && !p.isolates_egress);
    assert_eq!(
        p.ingress.iter().map(|r| r.action).collect::<Vec<_>>(),
        [Action::Allow, Action::Deny]
    );
}

/// conformance/base/admin_tier/standard-gress-rules-combined.yaml (v0.2.0), shortened:
/// `tier`, `Accept`, `protocols`.
#[test]
fn cluster_network_policy_tiers_actions_and_protocols() {
    let p = one("apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: gress-rules
spec:
  tier: Admin
  priority: 15
  subject:
    namespaces:
      matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-gryffindor
  egress:
  - name: \"allow-to-ravenclaw-everything\"
    action: \"Accept\"
    to:
    - namespaces:
        matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-ravenclaw
  - name: \"deny-to-slytherin-at-ports-80-53-9003\"
    action: \"Deny\"
    to:
    - namespaces:
        matchLabels:
          kubernetes.io/metadata.name: network-policy-conformance-slytherin
    protocols:
      - tcp:
          destinationPort:
            number: 80
      - udp:
          destinationPort:
            number: 53
      - sctp:
          destinationPort:
            range: {start: 9003, end: 9005}
  ingress:
  - name: \"pass-from-ravenclaw-everything\"
    action: \"Pass\"
    from:
    - pods:
        podSelector: {}
");
    assert_eq!(p.dialect, Dialect::ClusterNetworkPolicy);
    assert_eq!(p.tier, ADMIN_TIER);
    assert_eq!(p.order, Some(15.0));
    assert_eq!(p.egress[0].action, Action::Allow, "Accept is Allow");
    assert!(p.egress[0].ports.is_empty());
    assert_eq!(
        p.egress[1].ports,
        [
            port(Protocol::Tcp, 80, 80),
            port(Protocol::Udp, 53, 53),
            port(Protocol::Sctp, 9003, 9005)
        ]
    );
    assert_eq!(p.ingress[0].action, Action::Pass);
    // v1alpha2 made pods.namespaceSelector optional: absent is every namespace.
    assert_eq!(
        p.ingress[0].peers,
        [pods_in(NamespaceMatch::Any, LabelExpr::All)]
    );

    let b = one(&format!(
        "{}egress:\n- action: Deny\n  to:\n  - networks: [10.0.0.0/8]\n",
        CNP_HEAD.replace("tier: Admin", "tier: Baseline")
    ));
    assert_eq!(b.tier, BASELINE_TIER);
    assert_eq!(
        b.order,
        Some(5.0),
        "a baseline ClusterNetworkPolicy keeps its priority"
    );
}

/// `namedPort` / `destinationNamedPort` carry no protocol: the container port of that name,
/// whatever its protocol (conformance "named port" tests use `web` = TCP 80 and `dns` =
/// UDP 53 without saying so).
#[test]
fn named_ports_match_any_protocol() {
    let p = one(&format!(
        "{ANP_HEAD}  ingress:\n  - action: Allow\n    from: [{{namespaces: {{}}}}]\n    ports: [{{namedPort: dns}}]\n"
    ));
    assert_eq!(p.ingress[0].ports, named("dns"));
    let c = one(&format!(
        "{CNP_HEAD}  egress:\n  - action: Accept\n    to: [{{pods: {{podSelector: {{}}}}}}]\n    protocols: [{{destinationNamedPort: web}}, {{tcp: {{destinationPort: {{number: 8080}}}}}}]\n"
    ));
    let mut want = named("web");
    want.push(port(Protocol::Tcp, 8080, 8080));
    assert_eq!(c.egress[0].ports, want);
}

#[test]
fn selectors_with_expressions() {
    let p = one("apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 0
  subject:
    pods:
      namespaceSelector:
        matchExpressions:
        - {key: env, operator: In, values: [prod, dev]}
      podSelector:
        matchLabels: {app: db}
        matchExpressions:
        - {key: tier, operator: NotIn, values: [web]}
        - {key: legacy, operator: DoesNotExist}
        - {key: owner, operator: Exists}
  ingress:
  - action: Deny
    from:
    - pods:
        namespaceSelector: {}
        podSelector: {}
");
    assert_eq!(p.order, Some(0.0));
    let Subject::Pods(m) = &p.subject else {
        panic!("pods subject expected")
    };
    assert_eq!(
        m.namespaces,
        NamespaceMatch::Selector(LabelExpr::In(
            "env".into(),
            vec!["dev".into(), "prod".into()]
        ))
    );
    assert_eq!(
        m.labels,
        LabelExpr::And(vec![
            eq("app", "db"),
            LabelExpr::NotIn("tier".into(), vec!["web".into()]),
            LabelExpr::Not(Box::new(LabelExpr::Has("legacy".into()))),
            LabelExpr::Has("owner".into()),
        ])
    );
    assert_eq!(
        p.ingress[0].peers,
        [pods_in(NamespaceMatch::Any, LabelExpr::All)]
    );
}

/// `domainNames` (experimental, egress) name addresses only known at run time: the peer is
/// read, checked, and matches no address of the input.
#[test]
fn domain_names_match_nothing_offline() {
    let p = one(&format!(
        "{ANP_HEAD}  egress:\n  - action: Allow\n    to:\n    - domainNames: ['*.kubernetes.io', 'example.com.']\n"
    ));
    assert_eq!(
        p.egress[0].peers,
        [TieredPeer::Networks {
            nets: Some(Vec::new()),
            except: Vec::new(),
            matches_pods: false,
        }]
    );
}

#[test]
fn null_fields_read_as_omitted() {
    let p = one("apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: nulls, annotations: null}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: null}, pods: null}
  ingress: null
  egress:
  - {name: null, action: Allow, to: [{namespaces: {}, pods: null}], ports: null}
");
    assert!(p.ingress.is_empty());
    assert_eq!(p.egress[0].name, None);
    assert!(p.egress[0].ports.is_empty());
}

#[test]
fn json_input_and_lists() {
    let text = r#"{"apiVersion":"v1","kind":"List","items":[
{"apiVersion":"policy.networking.k8s.io/v1alpha2","kind":"ClusterNetworkPolicy",
 "metadata":{"name":"a"},
 "spec":{"tier":"Baseline","priority":1000,"subject":{"pods":{"podSelector":{"matchLabels":{"app":"x"}}}},
   "ingress":[{"action":"Deny","from":[{"namespaces":{}}],"protocols":[{"udp":{"destinationPort":{"range":{"start":1,"end":1024}}}}]}]}},
{"apiVersion":"policy.networking.k8s.io/v1alpha1","kind":"AdminNetworkPolicy",
 "metadata":{"name":"b"},
 "spec":{"priority":7,"subject":{"namespaces":{}},"egress":[{"action":"Pass","to":[{"networks":["192.168.0.0/16"]}]}]}}
]}"#;
    let loaded = load_texts(&[input("dump.json", text)]).unwrap();
    let p = &loaded.cluster.tiered_policies;
    assert_eq!(p.len(), 2);
    let cnp = p.iter().find(|p| p.name == "a").unwrap();
    assert_eq!(cnp.tier, BASELINE_TIER);
    assert_eq!(cnp.order, Some(1000.0));
    assert_eq!(cnp.ingress[0].ports, [port(Protocol::Udp, 1, 1024)]);
    let anp = p.iter().find(|p| p.name == "b").unwrap();
    assert_eq!(anp.egress[0].action, Action::Pass);
    assert_eq!(anp.source.line, 6);
}

/// Other versions and kinds of the group are counted, not guessed at.
#[test]
fn other_versions_and_kinds_are_counted() {
    let loaded = load(
        "apiVersion: policy.networking.k8s.io/v1alpha2
kind: AdminNetworkPolicy
metadata: {name: a}
spec: {}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: b}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicyList
metadata: {name: c}
",
    );
    assert!(loaded.cluster.tiered_policies.is_empty());
    let kinds: Vec<&str> = loaded
        .cluster
        .unknown_kinds
        .keys()
        .map(String::as_str)
        .collect();
    assert!(kinds.contains(&"policy.networking.k8s.io/v1alpha2/AdminNetworkPolicy"));
    assert!(kinds.contains(&"policy.networking.k8s.io/v1alpha1/ClusterNetworkPolicy"));
}

// ---------------------------------------------------------------------------------------------
// Validation, as the API server's CRD schema and CEL rules

fn anp_with(rest: &str) -> String {
    format!("{ANP_HEAD}{rest}")
}

fn assert_rejects(text: &str, needles: &[&str]) {
    let e = error(text);
    assert!(e.starts_with("in.yaml:"), "no file:line in {e:?}");
    for n in needles {
        assert!(e.contains(n), "{e:?} lacks {n:?}");
    }
}

#[test]
fn priority_is_required_and_bounded() {
    // +kubebuilder:validation:Minimum=0, Maximum=1000
    assert_rejects(
        &ANP_HEAD.replace("priority: 5", "priority: 1001"),
        &["spec.priority", "1001", "0-1000"],
    );
    assert_rejects(
        &ANP_HEAD.replace("priority: 5", "priority: -1"),
        &["spec.priority"],
    );
    assert_rejects(
        &ANP_HEAD.replace("  priority: 5\n", ""),
        &["spec.priority: missing required field"],
    );
    assert_rejects(
        &CNP_HEAD.replace("priority: 5", "priority: 2000"),
        &["spec.priority"],
    );
    assert_rejects(
        &ANP_HEAD.replace("priority: 5", "priority: high"),
        &["spec.priority"],
    );
}

#[test]
fn baseline_is_named_default_and_has_no_priority() {
    // CEL: self.metadata.name == 'default'
    assert_rejects(
        &BANP_HEAD.replace("name: default", "name: banp-name"),
        &[
            "BaselineAdminNetworkPolicy",
            "metadata.name",
            "\"default\"",
            "banp-name",
        ],
    );
    assert_rejects(
        &BANP_HEAD.replace("spec:\n", "spec:\n  priority: 3\n"),
        &["spec", "unknown field `priority`"],
    );
    // Two baselines named `default` with different content: one object defined twice.
    let two = format!(
        "{BANP_HEAD}---\n{}",
        BANP_HEAD.replace("namespaces: {}", "namespaces: {matchLabels: {a: b}}")
    );
    assert!(error(&two).contains("default"));
}

#[test]
fn subject_has_exactly_one_field() {
    assert_rejects(
        &ANP_HEAD.replace("  subject:\n    namespaces: {}\n", "  subject:\n"),
        &["spec.subject", "missing required field"],
    );
    assert_rejects(
        &ANP_HEAD.replace("  subject:\n    namespaces: {}\n", "  subject: {}\n"),
        &["spec.subject", "exactly one of namespaces and pods", "none"],
    );
    assert_rejects(
        &ANP_HEAD.replace(
            "    namespaces: {}\n",
            "    namespaces: {}\n    pods: {namespaceSelector: {}, podSelector: {}}\n",
        ),
        &["spec.subject", "both"],
    );
    assert_rejects(
        &ANP_HEAD.replace("    namespaces: {}\n", "    services: {}\n"),
        &["spec.subject", "unknown field `services`"],
    );
}

/// v1alpha1 `NamespacedPod`: both selectors required (CRD `required: [namespaceSelector,
/// podSelector]`); v1alpha2: `podSelector` required, `namespaceSelector` optional.
#[test]
fn namespaced_pod_selectors_required() {
    assert_rejects(
        &ANP_HEAD.replace(
            "    namespaces: {}\n",
            "    pods: {namespaceSelector: {}}\n",
        ),
        &["spec.subject.pods.podSelector: missing required field"],
    );
    assert_rejects(
        &anp_with("  egress:\n  - action: Deny\n    to: [{pods: {podSelector: {}}}]\n"),
        &["spec.egress[0].to[0].pods.namespaceSelector: missing required field"],
    );
    assert_rejects(
        &format!(
            "{CNP_HEAD}  egress:\n  - action: Deny\n    to: [{{pods: {{namespaceSelector: {{}}}}}}]\n"
        ),
        &["spec.egress[0].to[0].pods.podSelector: missing required field"],
    );
}

#[test]
fn rules_need_an_action_and_peers() {
    // anp_bad_path_test_12: no action; _9 / _18: unknown actions.
    assert_rejects(
        &anp_with("  egress:\n  - name: a\n    to: [{namespaces: {}}]\n"),
        &["spec.egress[0].action: missing required field"],
    );
    assert_rejects(
        &anp_with("  ingress:\n  - action: Ok\n    from: [{namespaces: {}}]\n"),
        &[
            "spec.ingress[0].action",
            "unrecognized action \"Ok\"",
            "Allow, Deny, Pass",
        ],
    );
    assert_rejects(
        &anp_with("  ingress:\n  - action: Accept\n    from: [{namespaces: {}}]\n"),
        &["v1alpha1 says Allow"],
    );
    assert_rejects(
        &format!("{CNP_HEAD}  ingress:\n  - action: Allow\n    from: [{{namespaces: {{}}}}]\n"),
        &["spec.ingress[0].action", "renamed Allow to Accept"],
    );
    // BaselineAdminNetworkPolicyRuleAction: Allow, Deny.
    assert_rejects(
        &format!("{BANP_HEAD}  egress:\n  - action: Pass\n    to: [{{namespaces: {{}}}}]\n"),
        &["spec.egress[0].action", "Allow, Deny"],
    );
    // From/To: MinItems=1, required (anp_bad_path_test_6, _10, _14, _15).
    for rule in [
        "  egress:\n  - action: Allow\n",
        "  egress:\n  - action: Allow\n    to:\n",
        "  egress:\n  - action: Allow\n    to: []\n",
    ] {
        assert_rejects(
            &anp_with(rule),
            &["spec.egress[0].to: must be defined and contain at least one peer"],
        );
    }
    assert_rejects(
        &anp_with("  ingress:\n  - action: Allow\n"),
        &["spec.ingress[0].from: must be defined"],
    );
    assert_rejects(
        &anp_with("  ingress:\n  - action: Allow\n    to: [{namespaces: {}}]\n"),
        &["spec.ingress[0].to", "`from`"],
    );
    assert_rejects(
        &anp_with(&format!(
            "  ingress:\n  - name: {}\n    action: Allow\n    from: [{{namespaces: {{}}}}]\n",
            "n".repeat(101)
        )),
        &["spec.ingress[0].name", "at most 100"],
    );
}

#[test]
fn peers_have_exactly_one_field() {
    // anp_bad_path_test_7 / _16: two fields.
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Allow\n    to:\n    - namespaces: {}\n      pods: {namespaceSelector: {}, podSelector: {}}\n",
        ),
        &[
            "spec.egress[0].to[0]",
            "exactly one of",
            "namespaces and pods",
        ],
    );
    assert_rejects(
        &anp_with("  egress:\n  - action: Allow\n    to: [{}]\n"),
        &["spec.egress[0].to[0]", "found none"],
    );
    // AdminNetworkPolicyIngressPeer has namespaces and pods only.
    assert_rejects(
        &anp_with("  ingress:\n  - action: Deny\n    from: [{networks: [10.0.0.0/8]}]\n"),
        &["spec.ingress[0].from[0].networks", "ingress peer"],
    );
    assert_rejects(
        &anp_with("  ingress:\n  - action: Deny\n    from: [{nodes: {}}]\n"),
        &["spec.ingress[0].from[0].nodes"],
    );
    // BaselineAdminNetworkPolicyEgressPeer has no domainNames.
    assert_rejects(
        &format!("{BANP_HEAD}  egress:\n  - action: Allow\n    to: [{{domainNames: [a.io]}}]\n"),
        &["spec.egress[0].to[0].domainNames"],
    );
    assert_rejects(
        &anp_with("  egress:\n  - action: Allow\n    to: [{services: {}}]\n"),
        &["unknown field `services`"],
    );
}

#[test]
fn networks_are_cidrs() {
    // anp_bad_path_test_19: `zc00::/8`; CEL isCIDR(self), MaxLength=43, MinItems=1,
    // MaxItems=25, listType=set.
    assert_rejects(
        &anp_with("  egress:\n  - action: Allow\n    to:\n    - networks: [zc00::/8]\n"),
        &["spec.egress[0].to[0].networks[0]", "not a valid CIDR"],
    );
    assert_rejects(
        &anp_with("  egress:\n  - action: Allow\n    to:\n    - networks: [10.0.0.1]\n"),
        &["networks[0]", "not a valid CIDR"],
    );
    assert_rejects(
        &anp_with("  egress:\n  - action: Allow\n    to:\n    - networks: []\n"),
        &["networks", "at least one"],
    );
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Allow\n    to:\n    - networks: [10.0.0.0/8, 10.0.0.0/8]\n",
        ),
        &["networks[1]", "duplicate"],
    );
    let many: Vec<String> = (0..26).map(|i| format!("10.{i}.0.0/16")).collect();
    assert_rejects(
        &anp_with(&format!(
            "  egress:\n  - action: Allow\n    to:\n    - networks: [{}]\n",
            many.join(", ")
        )),
        &["networks", "at most 25"],
    );
}

#[test]
fn ports_have_exactly_one_field_and_valid_numbers() {
    // anp_bad_path_test_8 / _17: two fields in one AdminNetworkPolicyPort.
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    ports:\n    - portNumber: {protocol: TCP, port: 80}\n      namedPort: tcp\n",
        ),
        &[
            "spec.egress[0].ports[0]",
            "exactly one of portNumber, namedPort and portRange",
        ],
    );
    assert_rejects(
        &anp_with("  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    ports: [{}]\n"),
        &["spec.egress[0].ports[0]", "found 0"],
    );
    // Ports: MinItems=1 when present.
    assert_rejects(
        &anp_with("  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    ports: []\n"),
        &["spec.egress[0].ports", "at least one"],
    );
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    ports: [{portNumber: {port: 0}}]\n",
        ),
        &[
            "spec.egress[0].ports[0].portNumber.port",
            "not a valid port",
        ],
    );
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    ports: [{portNumber: {protocol: ICMP, port: 1}}]\n",
        ),
        &["portNumber.protocol", "ICMP"],
    );
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    ports: [{portNumber: {protocol: TCP}}]\n",
        ),
        &["missing field `port`"],
    );
    // anp_test_with_empty_port_range: start 10, end 1.
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    ports: [{portRange: {start: 10, end: 1}}]\n",
        ),
        &["spec.egress[0].ports[0].portRange", "greater than end"],
    );
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    ports: [{namedPort: ''}]\n",
        ),
        &["namedPort", "empty"],
    );
}

#[test]
fn v1alpha2_protocols() {
    let rule = |protocols: &str| {
        format!(
            "{CNP_HEAD}  egress:\n  - action: Deny\n    to: [{{namespaces: {{}}}}]\n    protocols: {protocols}\n"
        )
    };
    // ClusterNetworkPolicyProtocol: exactly one field.
    assert_rejects(
        &rule("[{tcp: {destinationPort: {number: 80}}, udp: {destinationPort: {number: 53}}}]"),
        &[
            "spec.egress[0].protocols[0]",
            "exactly one of tcp, udp, sctp and destinationNamedPort",
        ],
    );
    // ...ProtocolTCP: MinProperties=1.
    assert_rejects(
        &rule("[{tcp: {}}]"),
        &["spec.egress[0].protocols[0].tcp.destinationPort: missing required field"],
    );
    // Port: exactly one of number and range.
    assert_rejects(
        &rule("[{tcp: {destinationPort: {number: 80, range: {start: 1, end: 2}}}}]"),
        &["destinationPort", "exactly one of number and range"],
    );
    // PortRange CEL: self.start < self.end.
    assert_rejects(
        &rule("[{udp: {destinationPort: {range: {start: 53, end: 53}}}}]"),
        &["destinationPort.range", "less than end"],
    );
    assert_rejects(&rule("[]"), &["spec.egress[0].protocols", "at least one"]);
    // v1alpha1's `ports` in a v1alpha2 object: an unknown field, not "every port".
    assert_rejects(
        &format!(
            "{CNP_HEAD}  egress:\n  - action: Deny\n    to: [{{namespaces: {{}}}}]\n    ports: [{{portNumber: {{port: 80}}}}]\n"
        ),
        &["spec.egress[0]", "unknown field `ports`"],
    );
    assert_rejects(
        &CNP_HEAD.replace("tier: Admin", "tier: NetworkPolicy"),
        &["spec.tier", "Admin or Baseline"],
    );
    assert_rejects(
        &CNP_HEAD.replace("  tier: Admin\n", ""),
        &["spec.tier: missing required field"],
    );
}

/// CEL on egress rules: "networks/nodes/domainNames peer cannot be set with namedPorts".
#[test]
fn named_ports_not_with_address_peers() {
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Allow\n    to: [{namespaces: {}}, {networks: [10.0.0.0/8]}]\n    ports: [{namedPort: web}]\n",
        ),
        &["spec.egress[0].ports", "named ports"],
    );
    assert_rejects(
        &format!(
            "{CNP_HEAD}  egress:\n  - action: Accept\n    to: [{{nodes: {{}}}}]\n    protocols: [{{destinationNamedPort: web}}]\n"
        ),
        &["spec.egress[0].protocols", "named ports"],
    );
    // Towards pods a named port is fine.
    let p = one(&anp_with(
        "  egress:\n  - action: Allow\n    to: [{namespaces: {}}]\n    ports: [{namedPort: web}]\n",
    ));
    assert_eq!(p.egress[0].ports, named("web"));
}

#[test]
fn selectors_are_checked() {
    assert_rejects(
        &ANP_HEAD.replace(
            "    namespaces: {}\n",
            "    namespaces:\n      matchExpressions: [{key: a, operator: Equals, values: [b]}]\n",
        ),
        &[
            "spec.subject.namespaces.matchExpressions[0].operator",
            "Equals",
        ],
    );
    assert_rejects(
        &ANP_HEAD.replace(
            "    namespaces: {}\n",
            "    namespaces:\n      matchLabels: {'app@b': x}\n",
        ),
        &["spec.subject.namespaces.matchLabels", "app@b"],
    );
    // An older API's nesting (`namespaces: {namespaceSelector: ...}`) must not read as `{}`.
    assert_rejects(
        &ANP_HEAD.replace(
            "    namespaces: {}\n",
            "    namespaces:\n      namespaceSelector: {matchLabels: {a: b}}\n",
        ),
        &[
            "spec.subject.namespaces",
            "unknown field `namespaceSelector`",
        ],
    );
}

#[test]
fn item_limits() {
    // MaxItems=100 rules per direction in v1alpha1, 25 in v1alpha2.
    let rules: String = (0..101)
        .map(|_| "  - action: Deny\n    from: [{namespaces: {}}]\n")
        .collect();
    assert_rejects(
        &anp_with(&format!("  ingress:\n{rules}")),
        &["spec.ingress", "at most 100"],
    );
    let rules: String = (0..26)
        .map(|_| "  - action: Deny\n    from: [{namespaces: {}}]\n")
        .collect();
    assert_rejects(
        &format!("{CNP_HEAD}  ingress:\n{rules}"),
        &["spec.ingress", "at most 25"],
    );
}

#[test]
fn spec_is_required() {
    assert_rejects(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: x}\n",
        &["spec: missing required field"],
    );
}

/// v1alpha2's `protocols` in a v1alpha1 object is not read as "every port".
#[test]
fn v1alpha2_fields_in_v1alpha1_are_errors() {
    assert_rejects(
        &anp_with(
            "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n    protocols: [{tcp: {destinationPort: {number: 80}}}]\n",
        ),
        &["spec.egress[0]", "unknown field `protocols`"],
    );
    assert_rejects(
        &ANP_HEAD.replace("spec:\n", "spec:\n  tier: Admin\n"),
        &["spec", "unknown field `tier`"],
    );
}
