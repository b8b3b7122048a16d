//! The Calico reader: `projectcalico.org/v3` NetworkPolicy, GlobalNetworkPolicy, Tier and
//! HostEndpoint into the normalized tiered form, and what it rejects.
//!
//! Semantics from the Calico resource references (docs.tigera.io/calico/latest/reference/
//! resources/{networkpolicy,globalnetworkpolicy,tier,hostendpoint}) and libcalico-go's
//! validator (`lib/validator/v3/validator.go`) and rule conversion
//! (`lib/backend/syncersv1/updateprocessors/rules.go`).

use std::sync::Arc;

use kubesurface_ingest::{InputText, load_texts};
use kubesurface_model::{
    Action, Cluster, Dialect, LabelExpr, NamespaceMatch, PodMatch, PolicyPort, PortSpec, Protocol,
    ServiceAccountMatch, Subject, TieredPeer, TieredPolicy,
};

fn load(text: &str) -> Cluster {
    let input = InputText {
        name: Arc::from("calico.yaml"),
        text: text.into(),
    };
    load_texts(&[input])
        .unwrap_or_else(|e| panic!("unexpected error: {e}"))
        .cluster
}

fn try_error(text: &str) -> Option<String> {
    let input = InputText {
        name: Arc::from("calico.yaml"),
        text: text.into(),
    };
    load_texts(&[input]).err().map(|e| e.to_string())
}

fn error(text: &str) -> String {
    try_error(text).unwrap_or_else(|| panic!("input should be rejected:\n{text}"))
}

fn one(text: &str) -> TieredPolicy {
    let c = load(text);
    assert_eq!(c.tiered_policies.len(), 1, "{:?}", c.tiered_policies);
    c.tiered_policies.into_iter().next().unwrap()
}

fn s(x: &str) -> String {
    x.to_string()
}

fn eq(k: &str, v: &str) -> LabelExpr {
    LabelExpr::Eq(s(k), s(v))
}

fn tcp(lo: u16, hi: u16) -> PolicyPort {
    PolicyPort {
        protocol: Protocol::Tcp,
        port: PortSpec::Range(lo, hi),
    }
}

fn all_of(p: Protocol) -> PolicyPort {
    PolicyPort {
        protocol: p,
        port: PortSpec::All,
    }
}

fn pods(ns: NamespaceMatch, labels: LabelExpr) -> TieredPeer {
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

fn np(spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: shop\nspec:\n{spec}"
    )
}

fn gnp(spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: g\nspec:\n{spec}"
    )
}

/// The networkpolicy reference's first example ("allow-tcp-6379"): ingress from
/// role == 'frontend' to role == 'database' on TCP 6379, in the default tier.
#[test]
fn reference_example_allow_tcp_6379() {
    let p = one(r#"
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-tcp-6379
  namespace: production
spec:
  selector: role == 'database'
  types:
  - Ingress
  - Egress
  ingress:
  - action: Allow
    metadata:
      annotations:
        from: frontend
        to: database
    protocol: TCP
    source:
      selector: role == 'frontend'
    destination:
      ports:
      - 6379
  egress:
  - action: Allow
"#);
    assert_eq!(p.dialect, Dialect::CalicoNetworkPolicy);
    assert_eq!(p.namespace.as_deref(), Some("production"));
    assert_eq!(p.name, "allow-tcp-6379");
    assert_eq!(p.tier, "default");
    assert_eq!(p.order, None);
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: NamespaceMatch::Named(s("production")),
            labels: eq("role", "database"),
            service_accounts: None,
        })
    );
    assert!(p.applies_ingress && p.applies_egress);
    assert!(p.isolates_ingress && p.isolates_egress);
    assert_eq!(p.ingress.len(), 1);
    let r = &p.ingress[0];
    assert_eq!(r.action, Action::Allow);
    // A namespaced policy's rule selector is limited to its namespace (rules.go).
    assert_eq!(
        r.peers,
        vec![pods(
            NamespaceMatch::Named(s("production")),
            eq("role", "frontend")
        )]
    );
    assert_eq!(r.ports, vec![tcp(6379, 6379)]);
    assert!(r.not_ports.is_empty());
    assert!(!r.l7);
    // An egress rule with no source/destination matches everything, every protocol.
    assert_eq!(p.egress[0].peers, vec![TieredPeer::All]);
    assert!(p.egress[0].ports.is_empty());
}

/// `types` defaulting (libcalico-go defaultPolicyTypesField, and the reference: "When not
/// specified ... Ingress if there are no Egress rules ... Egress if there are Egress rules
/// but no Ingress rules, both if both").
#[test]
fn types_default_from_the_rules_present() {
    let cases = [
        ("  selector: all()\n", (true, false)),
        ("  ingress:\n  - action: Allow\n", (true, false)),
        ("  egress:\n  - action: Allow\n", (false, true)),
        (
            "  ingress:\n  - action: Allow\n  egress:\n  - action: Allow\n",
            (true, true),
        ),
        ("  types: [Egress]\n", (false, true)),
        ("  types: []\n  egress:\n  - action: Deny\n", (false, true)),
        ("  types: [Ingress, Egress]\n", (true, true)),
    ];
    for (spec, (i, e)) in cases {
        let p = one(&np(spec));
        assert_eq!((p.applies_ingress, p.applies_egress), (i, e), "{spec}");
        assert_eq!((p.isolates_ingress, p.isolates_egress), (i, e), "{spec}");
    }
}

/// An absent or empty selector selects every endpoint (`all()`); the tier defaults to
/// `default`; the `TIER.` prefix of a name is dropped.
#[test]
fn defaults_and_tier_prefixed_names() {
    let p = one(&np("  order: 10\n"));
    assert_eq!(p.order, Some(10.0));
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: NamespaceMatch::Named(s("shop")),
            labels: LabelExpr::All,
            service_accounts: None,
        })
    );
    let text = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: security.block\n  namespace: shop\nspec:\n  tier: security\n  order: 1.5\n";
    let p = one(text);
    assert_eq!((p.tier.as_str(), p.name.as_str()), ("security", "block"));
    assert_eq!(p.order, Some(1.5));
    // Both spellings are one policy: defining both is a duplicate.
    let both = format!(
        "{text}---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: block\n  namespace: shop\nspec:\n  tier: security\n  order: 2\n"
    );
    assert!(error(&both).contains("defined twice"), "{}", error(&both));
    // crd.projectcalico.org/v1 objects read the same.
    let crd =
        one(&np("  selector: app == 'x'\n")
            .replace("projectcalico.org/v3", "crd.projectcalico.org/v1"));
    assert_eq!(crd.dialect, Dialect::CalicoNetworkPolicy);
}

/// Actions, protocols, ports, notPorts, notProtocol, named ports and ranges.
#[test]
fn actions_protocols_and_ports() {
    let p = one(&np(r#"  ingress:
  - action: Deny
    protocol: UDP
    destination:
      ports: [53, "8000:8080", "9000", dns]
      notPorts: [8053]
  - action: Log
  - action: Pass
    protocol: 6
  - action: Allow
    notProtocol: SCTP
  - action: Allow
    protocol: SCTP
"#));
    let r = &p.ingress;
    assert_eq!(
        r.iter().map(|r| r.action).collect::<Vec<_>>(),
        [
            Action::Deny,
            Action::Log,
            Action::Pass,
            Action::Allow,
            Action::Allow
        ]
    );
    let udp = |port| PolicyPort {
        protocol: Protocol::Udp,
        port,
    };
    assert_eq!(
        r[0].ports,
        vec![
            udp(PortSpec::Range(53, 53)),
            udp(PortSpec::Range(8000, 8080)),
            udp(PortSpec::Range(9000, 9000)),
            udp(PortSpec::Named(s("dns"))),
        ]
    );
    assert_eq!(r[0].not_ports, vec![udp(PortSpec::Range(8053, 8053))]);
    assert!(r[1].ports.is_empty() && r[1].not_ports.is_empty());
    assert_eq!(r[2].ports, vec![all_of(Protocol::Tcp)]);
    assert!(r[3].ports.is_empty());
    assert_eq!(r[3].not_ports, vec![all_of(Protocol::Sctp)]);
    assert_eq!(r[4].ports, vec![all_of(Protocol::Sctp)]);
}

/// ICMP (and other non-port protocols) match no TCP, UDP or SCTP port: every port is
/// excluded, so the rule never decides a connection kubesurface models.
#[test]
fn icmp_rules_match_no_port() {
    let p = one(&np(
        "  ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp:\n      type: 8\n  - action: Deny\n    protocol: 47\n",
    ));
    for r in &p.ingress {
        assert!(r.ports.is_empty());
        assert_eq!(
            r.not_ports,
            vec![
                all_of(Protocol::Tcp),
                all_of(Protocol::Udp),
                all_of(Protocol::Sctp)
            ]
        );
    }
}

/// Rule peers: nets, notNets, notSelector, namespaceSelector (with `projectcalico.org/name`
/// as the namespace name), serviceAccounts.
#[test]
fn rule_peers() {
    let p = one(&np(r#"  egress:
  - action: Allow
    destination:
      nets: [10.0.0.0/8, 192.168.1.1]
      notNets: [10.1.0.0/16]
  - action: Allow
    destination:
      selector: app == 'db'
      nets: [10.0.0.0/8]
      notSelector: tier == 'legacy'
  - action: Allow
    destination:
      namespaceSelector: projectcalico.org/name == 'kube-system'
      selector: k8s-app == 'kube-dns'
  - action: Allow
    destination:
      namespaceSelector: all()
  - action: Allow
    destination:
      serviceAccounts:
        names: [api, web]
        selector: team == 'a'
  - action: Allow
    destination:
      notSelector: app == 'x'
  - action: Allow
    destination:
      notNets: [10.0.0.0/8]
"#));
    let r = &p.egress;
    let net = |x: &str| x.parse::<ipnet::IpNet>().unwrap();
    assert_eq!(
        r[0].peers,
        vec![TieredPeer::Networks {
            nets: Some(vec![net("10.0.0.0/8"), net("192.168.1.1/32")]),
            except: vec![net("10.1.0.0/16")],
            matches_pods: true,
        }]
    );
    assert_eq!(
        r[1].peers,
        vec![TieredPeer::Pods {
            pods: PodMatch {
                namespaces: NamespaceMatch::Named(s("shop")),
                labels: eq("app", "db"),
                service_accounts: None,
            },
            not_labels: Some(eq("tier", "legacy")),
            nets: Some(vec![net("10.0.0.0/8")]),
            not_nets: vec![],
        }]
    );
    assert_eq!(
        r[2].peers,
        vec![pods(
            NamespaceMatch::Selector(eq("kubernetes.io/metadata.name", "kube-system")),
            eq("k8s-app", "kube-dns"),
        )]
    );
    assert_eq!(r[3].peers, vec![pods(NamespaceMatch::Any, LabelExpr::All)]);
    assert_eq!(
        r[4].peers,
        vec![TieredPeer::Pods {
            pods: PodMatch {
                namespaces: NamespaceMatch::Named(s("shop")),
                labels: LabelExpr::All,
                service_accounts: Some(ServiceAccountMatch {
                    names: vec![s("api"), s("web")],
                    selector: Some(eq("team", "a")),
                }),
            },
            not_labels: None,
            nets: None,
            not_nets: vec![],
        }]
    );
    // notSelector alone in a namespaced policy: the policy's namespace minus the matches.
    assert_eq!(
        r[5].peers,
        vec![TieredPeer::Pods {
            pods: PodMatch {
                namespaces: NamespaceMatch::Named(s("shop")),
                labels: LabelExpr::All,
                service_accounts: None,
            },
            not_labels: Some(eq("app", "x")),
            nets: None,
            not_nets: vec![],
        }]
    );
    assert_eq!(
        r[6].peers,
        vec![TieredPeer::Networks {
            nets: None,
            except: vec![net("10.0.0.0/8")],
            matches_pods: true,
        }]
    );
}

/// GlobalNetworkPolicy: namespaceSelector on the subject, rule selectors in every
/// namespace, and the "deny all but system namespaces" example of the docs
/// (docs.tigera.io/calico/latest/network-policy/get-started/kubernetes-default-deny).
#[test]
fn global_policy_subject_and_peers() {
    let p = one(&gnp(
        r#"  namespaceSelector: has(projectcalico.org/name) && projectcalico.org/name not in {"kube-system", "calico-system", "calico-apiserver"}
  types:
  - Ingress
  - Egress
  egress:
  - action: Allow
    protocol: UDP
    destination:
      selector: k8s-app == "kube-dns"
      ports:
      - 53
"#,
    ));
    assert_eq!(p.dialect, Dialect::CalicoGlobalNetworkPolicy);
    assert_eq!(p.namespace, None);
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: NamespaceMatch::Selector(LabelExpr::And(vec![
                LabelExpr::Has(s("kubernetes.io/metadata.name")),
                LabelExpr::NotIn(
                    s("kubernetes.io/metadata.name"),
                    vec![s("calico-apiserver"), s("calico-system"), s("kube-system")]
                ),
            ])),
            labels: LabelExpr::All,
            service_accounts: None,
        })
    );
    // A GlobalNetworkPolicy rule selector covers pods of every namespace, and host
    // endpoints with those labels.
    assert_eq!(
        p.egress[0].peers,
        vec![
            pods(NamespaceMatch::Any, eq("k8s-app", "kube-dns")),
            TieredPeer::Nodes(eq("k8s-app", "kube-dns")),
        ]
    );
}

/// `namespaceSelector: global()` in a rule selects only non-namespaced endpoints (host
/// endpoints, global network sets), never pods (networkpolicy reference, "global()").
#[test]
fn global_namespace_selector_selects_hosts_only() {
    let p = one(&np(
        "  ingress:\n  - action: Allow\n    source:\n      namespaceSelector: global()\n      selector: role == 'gw'\n",
    ));
    assert_eq!(
        p.ingress[0].peers,
        vec![TieredPeer::Nodes(eq("role", "gw"))]
    );
}

/// Pseudo-labels: `projectcalico.org/orchestrator` is `k8s` on pods, the namespace and
/// ServiceAccount labels move to their matches.
#[test]
fn pseudo_labels_in_selectors() {
    let p = one(&gnp(
        "  selector: projectcalico.org/orchestrator == 'k8s' && projectcalico.org/namespace in {'a', 'b'} && app == 'x'\n",
    ));
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: NamespaceMatch::Selector(LabelExpr::In(
                s("kubernetes.io/metadata.name"),
                vec![s("a"), s("b")]
            )),
            labels: eq("app", "x"),
            service_accounts: None,
        })
    );
    // In a namespaced policy the namespace pseudo-label is known.
    let p = one(&np(
        "  selector: projectcalico.org/namespace == 'shop' && app == 'x'\n",
    ));
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: NamespaceMatch::Named(s("shop")),
            labels: eq("app", "x"),
            service_accounts: None,
        })
    );
    let p = one(&np("  serviceAccountSelector: role == 'api'\n"));
    let Subject::Pods(m) = &p.subject else {
        panic!("pods")
    };
    assert_eq!(
        m.service_accounts,
        Some(ServiceAccountMatch {
            names: vec![],
            selector: Some(eq("role", "api")),
        })
    );
}

#[test]
fn tiers_and_host_endpoints() {
    let c = load(
        r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: security
spec:
  order: 300
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: platform
spec:
  defaultAction: Pass
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels:
    environment: production
spec:
  interfaceName: eth0
  node: node1
  expectedIPs:
  - 192.168.0.1
  - 192.168.0.2
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: nets
spec:
  nets: [1.2.3.0/24]
"#,
    );
    assert_eq!(c.tiers.len(), 2);
    let platform = &c.tiers[0];
    assert_eq!(platform.name, "platform");
    assert_eq!(platform.order, None);
    assert_eq!(platform.default_action, Action::Pass);
    let security = &c.tiers[1];
    assert_eq!(security.order, Some(300.0));
    assert_eq!(security.default_action, Action::Deny);
    let h = &c.host_endpoints[0];
    assert_eq!(h.name, "node1-eth0");
    assert_eq!(h.node, "node1");
    assert_eq!(h.interface.as_deref(), Some("eth0"));
    assert_eq!(h.expected_ips.len(), 2);
    assert_eq!(
        h.labels.get("environment").map(String::as_str),
        Some("production")
    );
    assert_eq!(
        c.unknown_kinds.get("projectcalico.org/v3/GlobalNetworkSet"),
        Some(&1)
    );
}

/// What the API server (or kubesurface's model) rejects, with the field path.
#[test]
fn rejections_name_the_field() {
    let cases: Vec<(String, &str)> = vec![
        (
            np("  selector: app = 'x'\n"),
            "spec.selector: column 5: expected '=='",
        ),
        (
            np("  selector: global()\n"),
            "spec.selector: global() can only be used",
        ),
        (
            np("  types: [Inbound]\n"),
            "spec.types[0]: \"Inbound\" is not a policy type",
        ),
        (
            np("  types: [Ingress, Ingress]\n"),
            "spec.types[1]: \"Ingress\" is listed twice",
        ),
        (
            np("  ingress:\n  - action: Accept\n"),
            "spec.ingress[0].action: \"Accept\" is not an action",
        ),
        (
            np("  ingress:\n  - protocol: TCP\n"),
            "spec.ingress[0].action: required",
        ),
        (
            np("  ingress:\n  - action: Allow\n    protocol: tcpx\n"),
            "spec.ingress[0].protocol: \"tcpx\" is not a protocol",
        ),
        (
            np("  ingress:\n  - action: Allow\n    protocol: 256\n"),
            "spec.ingress[0].protocol: 256 is not a protocol number",
        ),
        (
            np("  ingress:\n  - action: Allow\n    destination:\n      ports: [80]\n"),
            "spec.ingress[0].destination.ports: rules that specify ports must set protocol",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    protocol: ICMP\n    destination:\n      ports: [80]\n",
            ),
            "spec.ingress[0].destination.ports: rules that specify ports must set protocol",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [\"90:80\"]\n",
            ),
            "spec.ingress[0].destination.ports[0]: \"90:80\": the minimum port is greater",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [70000]\n",
            ),
            "spec.ingress[0].destination.ports[0]: 70000 is not a valid port",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [\"Bad_Name\"]\n",
            ),
            "is not a port number, a MIN:MAX range or a port name",
        ),
        (
            np("  ingress:\n  - action: Allow\n    source:\n      nets: [10.0.0.0/33]\n"),
            "spec.ingress[0].source.nets[0]: \"10.0.0.0/33\" is not a valid CIDR",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    source:\n      nets: [10.0.0.0/8, \"fd00::/8\"]\n",
            ),
            "spec.ingress[0]: rule contains both IPv4 and IPv6 CIDRs",
        ),
        (
            np("  ingress:\n  - action: Allow\n    source:\n      selector: global()\n"),
            "spec.ingress[0].source.selector: global() can only be used in a namespaceSelector",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    source:\n      namespaceSelector: global() || a == 'b'\n",
            ),
            "global() cannot be combined",
        ),
        (
            np("  ingress:\n  - action: Allow\n    icmp:\n      type: 8\n"),
            "spec.ingress[0].icmp: rules that specify ICMP fields must set protocol to ICMP",
        ),
        (
            np("  egress:\n  - action: Allow\n    http:\n      methods: [GET]\n"),
            "spec.egress[0].http: not allowed in egress rules",
        ),
        (
            np("  ingress:\n  - action: Deny\n    http:\n      methods: [GET]\n"),
            "spec.ingress[0].http: only valid for Allow rules",
        ),
        (
            np("  preDNAT: true\n"),
            "spec.preDNAT: only a GlobalNetworkPolicy may set it",
        ),
        (
            np("  namespaceSelector: all()\n"),
            "spec.namespaceSelector: only a GlobalNetworkPolicy",
        ),
        (
            gnp("  preDNAT: true\n  doNotTrack: true\n  applyOnForward: true\n"),
            "spec.preDNAT: preDNAT and doNotTrack cannot both be true",
        ),
        (
            gnp("  preDNAT: true\n"),
            "spec.applyOnForward: must be true",
        ),
        (
            gnp("  preDNAT: true\n  applyOnForward: true\n  types: [Egress]\n"),
            "spec.egress: a preDNAT policy cannot have egress",
        ),
        (
            np("  tier: Security\n"),
            "spec.tier: \"Security\" is not a valid tier name",
        ),
        // Beyond the model: constraints on the policy's own endpoint, source ports, services.
        (
            np("  ingress:\n  - action: Allow\n    destination:\n      selector: app == 'x'\n"),
            "spec.ingress[0].destination.selector: in ingress rules `destination` is the policy's own endpoint",
        ),
        (
            np("  egress:\n  - action: Allow\n    source:\n      nets: [10.0.0.0/8]\n"),
            "spec.egress[0].source.nets: in egress rules `source` is the policy's own endpoint",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    protocol: TCP\n    source:\n      ports: [1024]\n",
            ),
            "spec.ingress[0].source.ports: kubesurface does not model source ports",
        ),
        (
            np(
                "  egress:\n  - action: Allow\n    destination:\n      services:\n        name: kubernetes\n        namespace: default\n",
            ),
            "spec.egress[0].destination.services: kubesurface does not model",
        ),
        (
            gnp("  selector: a == 'b' || pcns.team == 'x'\n"),
            "spec.selector: kubesurface cannot evaluate Calico's pcns.* / pcsa.* pseudo-labels",
        ),
    ];
    let mut wrong = Vec::new();
    for (text, needle) in cases {
        match try_error(&text) {
            Some(e) if e.contains(needle) => {}
            Some(e) => wrong.push(format!("wanted {needle:?}\n   got {e}")),
            None => wrong.push(format!("wanted {needle:?}\n   accepted:\n{text}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn tier_and_host_endpoint_rejections() {
    let tier = |spec: &str| {
        format!("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: t\nspec:\n{spec}")
    };
    let hep = |spec: &str| {
        format!(
            "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: h\nspec:\n{spec}"
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (tier("  defaultAction: Allow\n"), "spec.defaultAction: \"Allow\" is not a tier default action"),
        (
            "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: default\nspec:\n  order: 5\n".to_string(),
            "spec.order: the default tier's order must be 1000000",
        ),
        (
            "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: a.b\n".to_string(),
            "metadata.name: \"a.b\" is not a valid tier name",
        ),
        (hep("  interfaceName: eth0\n"), "spec.node: required"),
        (hep("  node: n1\n"), "spec: an interfaceName or expectedIPs must be given"),
        (hep("  node: n1\n  expectedIPs: [1.2.3]\n"), "spec.expectedIPs[0]: \"1.2.3\" is not an IP address"),
    ];
    for (text, needle) in cases {
        let e = error(&text);
        assert!(e.contains(needle), "wanted {needle:?}\n   got {e}");
    }
}
