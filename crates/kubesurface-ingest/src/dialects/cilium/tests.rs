//! The reader on the examples of docs.cilium.io (github.com/cilium/cilium `examples/`),
//! and Cilium's validation (`pkg/policy/api/rule_validation.go`).

use std::sync::Arc;

use ipnet::IpNet;
use kubesurface_model::{
    Action, Dialect, Entity, LabelExpr, METADATA_NAME_LABEL, NamespaceMatch, PodMatch, PolicyPort,
    PortSpec, Protocol, ServiceAccountMatch, Source, Subject, TieredPeer, TieredPolicy, TieredRule,
};

use super::{Read, read};
use crate::document::Body;

fn source() -> Source {
    Source {
        file: Arc::from("p.yaml"),
        line: 1,
    }
}

fn body(yaml: &str) -> Body<'static> {
    Body::Value(serde_saphyr::from_str::<serde_json::Value>(yaml).expect("test YAML"))
}

fn dialect(yaml: &str) -> Dialect {
    if yaml.contains("kind: CiliumClusterwideNetworkPolicy") {
        Dialect::CiliumClusterwideNetworkPolicy
    } else {
        Dialect::CiliumNetworkPolicy
    }
}

fn load(yaml: &str) -> Read {
    read(dialect(yaml), &body(yaml), "default", source())
        .unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn one(yaml: &str) -> TieredPolicy {
    let mut r = load(yaml);
    assert_eq!(r.policies.len(), 1, "{:#?}", r.policies);
    r.policies.remove(0)
}

fn error(yaml: &str) -> String {
    read(dialect(yaml), &body(yaml), "default", source()).expect_err("should be rejected")
}

fn eq(k: &str, v: &str) -> LabelExpr {
    LabelExpr::Eq(k.into(), v.into())
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
        not_nets: vec![],
    }
}

fn named(ns: &str) -> NamespaceMatch {
    NamespaceMatch::Named(ns.into())
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn tcp(p: u16) -> PolicyPort {
    PolicyPort {
        protocol: Protocol::Tcp,
        port: PortSpec::Range(p, p),
    }
}

fn allow(peers: Vec<TieredPeer>, ports: Vec<PolicyPort>) -> TieredRule {
    TieredRule {
        name: None,
        action: Action::Allow,
        peers,
        ports,
        not_ports: vec![],
        l7: false,
        source: source(),
    }
}

fn deny(peers: Vec<TieredPeer>, ports: Vec<PolicyPort>) -> TieredRule {
    TieredRule {
        action: Action::Deny,
        ..allow(peers, ports)
    }
}

// The Star Wars demo, L3/L4 step (examples/minikube/sw_l3_l4_policy.yaml,
// https://docs.cilium.io/en/stable/gettingstarted/demo/#apply-an-l3-l4-policy). Its
// top-level `description` is not part of the schema and is ignored.
const SW_L3_L4: &str = r#"
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
fn star_wars_l3_l4() {
    let p = one(SW_L3_L4);
    assert_eq!(p.dialect, Dialect::CiliumNetworkPolicy);
    assert_eq!(p.namespace.as_deref(), Some("default"));
    assert_eq!(p.name, "rule1");
    assert_eq!(p.tier, kubesurface_model::DEFAULT_TIER);
    assert_eq!(p.order, Some(kubesurface_model::KUBERNETES_POLICY_ORDER));
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: named("default"),
            labels: LabelExpr::And(vec![eq("class", "deathstar"), eq("org", "empire")]),
            service_accounts: None,
        })
    );
    assert_eq!(
        p.ingress,
        vec![allow(
            vec![pods(named("default"), eq("org", "empire"))],
            vec![tcp(80)]
        )]
    );
    assert!(p.egress.is_empty());
    assert!(p.applies_ingress && p.isolates_ingress);
    assert!(!p.applies_egress && !p.isolates_egress);
    assert_eq!(p.source, source());
}

// examples/minikube/sw_l3_l4_l7_policy.yaml: the same L3/L4 decision, L7-filtered.
#[test]
fn star_wars_l7_is_marked() {
    let p = one(&SW_L3_L4.replace(
        "        protocol: TCP\n",
        "        protocol: TCP\n      rules:\n        http:\n        - method: \"POST\"\n          path: \"/v1/request-landing\"\n",
    ));
    assert_eq!(p.ingress.len(), 1);
    assert!(p.ingress[0].l7);
    assert_eq!(p.ingress[0].ports, vec![tcp(80)]);
}

// examples/minikube/sw_deny_policy.yaml: `ingress: [{}]` isolates and allows nothing.
#[test]
fn empty_ingress_rule_is_default_deny() {
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "empire-default-deny"
spec:
  description: "Default-deny ingress policy for the empire"
  endpointSelector:
    matchLabels:
      org: empire
  ingress:
  - {}
"#);
    assert!(p.ingress.is_empty());
    assert!(p.applies_ingress && p.isolates_ingress);
    assert!(!p.applies_egress);
}

// examples/policies/l3/entities/from_world_deny.yaml (docs "Deny policies"): the deny
// part precedes every allow rule and isolates nothing; the allow part isolates.
#[test]
fn deny_and_allow_become_two_policies() {
    let r = load(
        r#"
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: "external-lockdown"
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEntities:
    - "world"
  ingress:
  - fromEntities:
    - "all"
"#,
    );
    assert_eq!(r.policies.len(), 2);
    let (d, a) = (&r.policies[0], &r.policies[1]);
    assert_eq!(d.name, "external-lockdown (deny)");
    assert_eq!(d.namespace, None);
    assert_eq!(d.order, Some(f64::MIN));
    assert_eq!(
        d.ingress,
        vec![deny(vec![TieredPeer::Entity(Entity::World)], vec![])]
    );
    assert!(d.applies_ingress && !d.isolates_ingress && !d.applies_egress);
    assert_eq!(
        d.subject,
        Subject::Pods(PodMatch {
            namespaces: NamespaceMatch::Any,
            labels: LabelExpr::All,
            service_accounts: None
        })
    );
    assert_eq!(a.name, "external-lockdown");
    assert_eq!(
        a.ingress,
        vec![allow(vec![TieredPeer::Entity(Entity::All)], vec![])]
    );
    assert!(a.applies_ingress && a.isolates_ingress);
    assert_eq!(a.subject, d.subject);
}

// examples/policies/l3/egress-deny/egress-deny.yaml (docs "Simple Egress Deny").
#[test]
fn egress_deny_example() {
    let r = load(
        r#"
apiVersion: "cilium.io/v2"
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
"#,
    );
    let (d, a) = (&r.policies[0], &r.policies[1]);
    assert_eq!(
        d.egress,
        vec![deny(
            vec![pods(named("default"), eq("role", "backend"))],
            vec![]
        )]
    );
    assert!(d.applies_egress && !d.isolates_egress);
    assert_eq!(
        a.egress,
        vec![allow(vec![TieredPeer::Entity(Entity::All)], vec![])]
    );
    assert!(a.applies_egress && a.isolates_egress);
}

// The source's Sanitize: "if a policy only has Ingress or IngressDeny rules, then the
// default for ingress is true" — a deny-only rule puts the endpoint in default deny. With
// no allow section it is one policy, before the allow rules, carrying the isolation.
#[test]
fn deny_sections_enable_default_deny() {
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: d}
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEntities: [world]
"#);
    assert_eq!(p.name, "d");
    assert_eq!(p.order, Some(f64::MIN));
    assert_eq!(
        p.ingress,
        vec![deny(vec![TieredPeer::Entity(Entity::World)], vec![])]
    );
    assert!(p.applies_ingress && p.isolates_ingress);
    assert!(!p.applies_egress && !p.isolates_egress);
    // ... unless default deny is disabled.
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: d}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false}
  ingressDeny:
  - fromEntities: [world]
"#);
    assert!(p.applies_ingress && !p.isolates_ingress);
    // Deny in one direction, allow in the other: two policies.
    let r = load(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: d}
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEntities: [world]
  egress:
  - toEntities: [cluster]
"#,
    );
    let (d, a) = (&r.policies[0], &r.policies[1]);
    assert_eq!(d.name, "d (deny)");
    assert!(d.applies_ingress && !d.isolates_ingress && !d.applies_egress);
    assert!(a.applies_ingress && a.isolates_ingress && a.ingress.is_empty());
    assert!(a.applies_egress && a.isolates_egress);
}

// docs "Endpoint default policy": the intercept-all-dns example disables default deny.
#[test]
fn enable_default_deny_false() {
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: intercept-all-dns
spec:
  endpointSelector:
    matchExpressions:
      - key: "io.kubernetes.pod.namespace"
        operator: "NotIn"
        values:
        - "kube-system"
      - key: "k8s-app"
        operator: "NotIn"
        values:
        - kube-dns
  enableDefaultDeny:
    egress: false
    ingress: false
  egress:
    - toEndpoints:
        - matchLabels:
            io.kubernetes.pod.namespace: kube-system
            k8s-app: kube-dns
      toPorts:
        - ports:
          - port: "53"
            protocol: TCP
          - port: "53"
            protocol: UDP
          rules:
            dns:
              - matchPattern: "*"
"#);
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: NamespaceMatch::Selector(LabelExpr::NotIn(
                METADATA_NAME_LABEL.into(),
                vec!["kube-system".into()]
            )),
            labels: LabelExpr::NotIn("k8s-app".into(), vec!["kube-dns".into()]),
            service_accounts: None,
        })
    );
    assert!(p.applies_egress && !p.isolates_egress);
    assert!(!p.applies_ingress && !p.isolates_ingress);
    assert_eq!(p.egress.len(), 1);
    let rule = &p.egress[0];
    assert!(rule.l7, "DNS rules go through the DNS proxy");
    assert_eq!(
        rule.peers,
        vec![pods(named("kube-system"), eq("k8s-app", "kube-dns"))]
    );
    assert_eq!(
        rule.ports,
        vec![
            tcp(53),
            PolicyPort {
                protocol: Protocol::Udp,
                port: PortSpec::Range(53, 53)
            }
        ]
    );
}

// Explicit `enableDefaultDeny: {ingress: true}` on a rule without ingress changes nothing
// (the repository only counts rules that have the section).
#[test]
fn default_deny_needs_the_section() {
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: e}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: true}
  egress:
  - toEntities: [world]
"#);
    assert!(!p.applies_ingress && !p.isolates_ingress);
    assert!(p.applies_egress && p.isolates_egress);
}

// `ingress: []` is no section: len(r.Ingress) == 0 in the source.
#[test]
fn empty_list_is_no_section() {
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: e}
spec:
  endpointSelector: {}
  ingress: []
  egress:
  - toEntities: [world]
"#);
    assert!(!p.applies_ingress && !p.isolates_ingress);
    // ... and a rule with no non-empty section is rejected by Cilium.
    let e = error(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: e}\nspec:\n  endpointSelector: {}\n  ingress: []\n",
    );
    assert!(
        e.starts_with("spec: a rule must have at least one of"),
        "{e}"
    );
}

// examples/policies/l3/cidr/cidr.yaml (docs "Allow to external CIDR block").
#[test]
fn cidr_and_cidr_set_with_except() {
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "cidr-rule"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  egress:
  - toCIDR:
    - 20.1.1.1/32
  - toCIDRSet:
    - cidr: 10.0.0.0/8
      except:
      - 10.96.0.0/12
"#);
    assert_eq!(
        p.egress,
        vec![
            allow(
                vec![TieredPeer::Networks {
                    nets: Some(vec![net("20.1.1.1/32")]),
                    except: vec![],
                    matches_pods: false
                }],
                vec![]
            ),
            allow(
                vec![TieredPeer::Networks {
                    nets: Some(vec![net("10.0.0.0/8")]),
                    except: vec![net("10.96.0.0/12")],
                    matches_pods: false
                }],
                vec![]
            ),
        ]
    );
}

// examples/policies/l4/l4.yaml, l4_port_range.yaml, multi_rule.yaml (docs "Layer 4").
#[test]
fn layer4_rules() {
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l4-rule"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  egress:
    - toPorts:
      - ports:
        - port: "80"
          protocol: TCP
    - toPorts:
      - ports:
        - port: "80"
          endPort: 444
          protocol: TCP
"#);
    assert_eq!(
        p.egress,
        vec![
            allow(vec![TieredPeer::All], vec![tcp(80)]),
            allow(
                vec![TieredPeer::All],
                vec![PolicyPort {
                    protocol: Protocol::Tcp,
                    port: PortSpec::Range(80, 444)
                }]
            ),
        ]
    );
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l4-rules"
spec:
  endpointSelector:
    matchLabels:
      role: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        role: frontend
  - toPorts:
    - ports:
      - port: "80"
        protocol: TCP
"#);
    assert_eq!(
        p.ingress,
        vec![
            allow(vec![pods(named("default"), eq("role", "frontend"))], vec![]),
            allow(vec![TieredPeer::All], vec![tcp(80)]),
        ]
    );
}

#[test]
fn port_forms() {
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ports}
spec:
  endpointSelector: {}
  ingress:
  - toPorts:
    - ports:
      - port: "53"
      - port: "HTTP-alt"
        protocol: TCP
      - port: "0"
        protocol: UDP
    - ports:
      - port: "9000"
        endPort: 10
        protocol: SCTP
  - toPorts:
    - {}
  - toPorts:
    - ports:
      - port: "0"
        protocol: ANY
"#);
    let all = |protocol| PolicyPort {
        protocol,
        port: PortSpec::All,
    };
    assert_eq!(
        p.ingress[0].ports,
        vec![
            tcp(53),
            PolicyPort {
                protocol: Protocol::Udp,
                port: PortSpec::Range(53, 53)
            },
            PolicyPort {
                protocol: Protocol::Sctp,
                port: PortSpec::Range(53, 53)
            },
            PolicyPort {
                protocol: Protocol::Tcp,
                port: PortSpec::Named("http-alt".into())
            },
            all(Protocol::Udp),
            // endPort below port: a single port.
            PolicyPort {
                protocol: Protocol::Sctp,
                port: PortSpec::Range(9000, 9000)
            },
        ]
    );
    // A PortRule without ports, and port 0 of ANY: every port.
    assert_eq!(p.ingress[1].ports, vec![]);
    assert_eq!(p.ingress[2].ports, vec![]);
    assert_eq!(p.ingress.len(), 3);
}

// Plain and L7 port rules of one Cilium rule: the plain rule comes first so that an
// unfiltered allow decides before the L7-filtered one.
#[test]
fn plain_and_l7_port_rules_split() {
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: split}
spec:
  endpointSelector: {}
  ingress:
  - fromEntities: [cluster]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: GET}]}
    - ports: [{port: "8080", protocol: TCP}]
"#);
    assert_eq!(p.ingress.len(), 2);
    assert!(!p.ingress[0].l7);
    assert_eq!(p.ingress[0].ports, vec![tcp(8080)]);
    assert!(p.ingress[1].l7);
    assert_eq!(p.ingress[1].ports, vec![tcp(80)]);
    assert_eq!(
        p.ingress[1].peers,
        vec![TieredPeer::Entity(Entity::Cluster)]
    );
}

// docs "Entities based"; world-ipv4/-ipv6 are read as world; `none` selects nothing, so a
// rule of only `none` allows nothing.
#[test]
fn entities() {
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ent}
spec:
  endpointSelector: {}
  ingress:
  - fromEntities: [host, remote-node, kube-apiserver, health, init, unmanaged, ingress, world-ipv4, world-ipv6]
  - fromEntities: [none]
"#);
    assert_eq!(p.ingress.len(), 1);
    assert_eq!(
        p.ingress[0].peers,
        vec![
            TieredPeer::Entity(Entity::Host),
            TieredPeer::Entity(Entity::RemoteNode),
            TieredPeer::Entity(Entity::KubeApiserver),
            TieredPeer::Entity(Entity::Internal),
            TieredPeer::Entity(Entity::World),
        ]
    );
}

// examples/policies/kubernetes/: namespaces, namespace labels, service accounts and the
// clusterwide wildcard (docs "Using Kubernetes Constructs in Policy").
#[test]
fn kubernetes_constructs() {
    let read_in = |yaml: &str, ns: &str| -> TieredPolicy {
        let mut r = read(dialect(yaml), &body(yaml), ns, source()).unwrap();
        r.policies.remove(0)
    };
    // namespace-policy.yaml
    let p = read_in(
        r#"
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "k8s-expose-across-namespace"
  namespace: ns1
spec:
  endpointSelector:
    matchLabels:
      name: leia
  ingress:
  - fromEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: ns2
        name: luke
"#,
        "ns1",
    );
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: named("ns1"),
            labels: eq("name", "leia"),
            service_accounts: None
        })
    );
    assert_eq!(
        p.ingress[0].peers,
        vec![pods(named("ns2"), eq("name", "luke"))]
    );
    // namespace-labels-policy.yaml
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "alliance-only"
spec:
  endpointSelector:
    matchLabels:
      name: rebel-base
  ingress:
  - fromEndpoints:
    - matchLabels:
        io.cilium.k8s.namespace.labels.faction: "alliance"
  egress:
  - toEndpoints:
    - matchLabels:
        io.cilium.k8s.namespace.labels.faction: "alliance"
"#);
    let alliance = pods(
        NamespaceMatch::Selector(eq("faction", "alliance")),
        LabelExpr::All,
    );
    assert_eq!(p.ingress[0].peers, vec![alliance.clone()]);
    assert_eq!(p.egress[0].peers, vec![alliance]);
    // serviceaccount-policy.yaml
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "k8s-svc-account"
spec:
  endpointSelector:
    matchLabels:
      io.cilium.k8s.policy.serviceaccount: leia
  ingress:
  - fromEndpoints:
    - matchLabels:
        io.cilium.k8s.policy.serviceaccount: luke
    toPorts:
    - ports:
      - port: '80'
        protocol: TCP
      rules:
        http:
        - method: GET
          path: "/public$"
"#);
    let sa = |n: &str| {
        Some(ServiceAccountMatch {
            names: vec![n.into()],
            selector: None,
        })
    };
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: named("default"),
            labels: LabelExpr::All,
            service_accounts: sa("leia")
        })
    );
    assert_eq!(
        p.ingress[0].peers,
        vec![TieredPeer::Pods {
            pods: PodMatch {
                namespaces: named("default"),
                labels: LabelExpr::All,
                service_accounts: sa("luke")
            },
            not_labels: None,
            nets: None,
            not_nets: vec![]
        }]
    );
    assert!(p.ingress[0].l7);
    // clusterwide/wildcard-from-endpoints.yaml: `{}` in a clusterwide policy is every pod
    // of every namespace (utils.go adds `k8s:io.kubernetes.pod.namespace` Exists).
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: "wildcard-from-endpoints"
spec:
  endpointSelector:
    matchLabels:
      k8s:io.kubernetes.pod.namespace: kube-system
      k8s-app: kube-dns
  ingress:
  - fromEndpoints:
    - {}
    toPorts:
    - ports:
      - port: "53"
        protocol: UDP
"#);
    assert_eq!(
        p.subject,
        Subject::Pods(PodMatch {
            namespaces: named("kube-system"),
            labels: eq("k8s-app", "kube-dns"),
            service_accounts: None
        })
    );
    assert_eq!(
        p.ingress[0].peers,
        vec![pods(NamespaceMatch::Any, LabelExpr::All)]
    );
    assert_eq!(p.namespace, None);
}

// examples/policies/l3/host/host-policy.yaml: a host policy.
#[test]
fn host_policy() {
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
description: "Allow ports for kube-dns, kube-api, Cilium, and SSH, as well as queries to Google's DNS on UDP/53 only"
metadata:
  name: "allow-google-dns-on-udp-53-only"
spec:
  nodeSelector:
    matchLabels:
      {}
  ingress:
  - toPorts:
    - ports:
      - port: "6443"
        protocol: TCP
      - port: "22"
        protocol: TCP
  egress:
  - toPorts:
    - ports:
      - port: "4240"
        protocol: TCP
      - port: "8080"
        protocol: TCP
  - toCIDR:
    - "8.8.0.0/16"
    toPorts:
    - ports:
      - port: "53"
        protocol: UDP
"#);
    assert_eq!(p.subject, Subject::Nodes(LabelExpr::All));
    assert_eq!(
        p.ingress,
        vec![allow(vec![TieredPeer::All], vec![tcp(6443), tcp(22)])]
    );
    assert_eq!(p.egress.len(), 2);
    assert!(p.isolates_ingress && p.isolates_egress);
}

// `spec` keeps the name, `specs[i]` is NAME#i; each rule has its own subject.
#[test]
fn specs_become_separate_policies() {
    let r = load(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: multi}
spec:
  endpointSelector: {matchLabels: {app: a}}
  ingress: [{}]
specs:
- endpointSelector: {matchLabels: {app: b}}
  egress: [{}]
- endpointSelector: {matchLabels: {app: c}}
  ingressDeny: [{fromEntities: [world]}]
"#,
    );
    let names: Vec<&str> = r.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["multi", "multi#0", "multi#1"]);
    assert!(r.policies[0].isolates_ingress && !r.policies[0].isolates_egress);
    assert!(!r.policies[1].isolates_ingress && r.policies[1].isolates_egress);
    assert!(r.policies[2].isolates_ingress);
    assert_eq!(r.policies[2].order, Some(f64::MIN));
    // specs alone
    let r = load(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: s}\nspecs:\n- endpointSelector: {}\n  ingress: [{}]\n",
    );
    assert_eq!(r.policies.len(), 1);
    assert_eq!(r.policies[0].name, "s#0");
}

#[test]
fn annotations_are_kept() {
    let p = one(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, annotations: {kubesurface.io/ignore: 'KS201: ok'}}\nspec:\n  endpointSelector: {}\n  ingress: [{}]\n",
    );
    assert_eq!(
        p.annotations
            .get("kubesurface.io/ignore")
            .map(String::as_str),
        Some("KS201: ok")
    );
}

// Constructs kubesurface cannot resolve: kept, mapped conservatively, and noted.
#[test]
fn unsupported_constructs_are_conservative_and_noted() {
    let r = load(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: u, namespace: default}
spec:
  endpointSelector: {}
  egress:
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
  - toServices: [{k8sService: {serviceName: db, namespace: data}}]
  - toRequires: [{matchLabels: {env: prod}}]
    toEndpoints: [{matchLabels: {app: x}}]
  - toGroups: [{aws: {securityGroupsIds: [sg-1]}}]
  - icmps: [{fields: [{type: 8}]}]
  egressDeny:
  - toServices: [{k8sService: {serviceName: db}}]
"#,
    );
    let (d, a) = (&r.policies[0], &r.policies[1]);
    // The deny peer is dropped (never more denial than Cilium's).
    assert!(d.egress.is_empty());
    assert_eq!(a.egress.len(), 4, "{:#?}", a.egress);
    assert_eq!(a.egress[0].peers, vec![TieredPeer::Entity(Entity::World)]);
    assert_eq!(a.egress[0].ports, vec![tcp(443)]);
    assert_eq!(
        a.egress[1].peers,
        vec![
            pods(named("data"), LabelExpr::All),
            TieredPeer::Networks {
                nets: None,
                except: vec![],
                matches_pods: false
            }
        ]
    );
    assert_eq!(
        a.egress[2].peers,
        vec![pods(named("default"), eq("app", "x"))]
    );
    assert_eq!(
        a.egress[3].peers,
        vec![TieredPeer::Networks {
            nets: None,
            except: vec![],
            matches_pods: false
        }]
    );
    let w = r.warnings.join("\n");
    for needle in [
        "p.yaml:1: CiliumNetworkPolicy default/u: spec.egress[0].toFQDNs:",
        "spec.egress[1].toServices:",
        "spec.egress[2].toRequires:",
        "spec.egress[3].toGroups:",
        "spec.egress[4].icmps:",
        "spec.egressDeny[0].toServices:",
    ] {
        assert!(w.contains(needle), "missing {needle:?} in\n{w}");
    }
}

#[test]
fn reserved_selectors_in_peers() {
    let p = one(r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: r}
spec:
  endpointSelector: {}
  ingress:
  - fromEndpoints:
    - matchLabels: {"reserved:host": ""}
    - matchExpressions: [{key: "reserved:world", operator: Exists}]
"#);
    assert_eq!(
        p.ingress[0].peers,
        vec![
            TieredPeer::Entity(Entity::Host),
            TieredPeer::Entity(Entity::World)
        ]
    );
}

/// Cilium's validation, and the CRD schema's.
#[test]
fn invalid_policies_are_rejected_with_the_field() {
    let rule = |spec: &str| {
        error(&format!(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: x}}\nspec:\n{spec}"
        ))
    };
    let cases: &[(&str, &str)] = &[
        (
            "  ingress: [{}]\n",
            "spec: one of endpointSelector or nodeSelector is required",
        ),
        (
            "  endpointSelector: {}\n  nodeSelector: {}\n  ingress: [{}]\n",
            "mutually exclusive",
        ),
        (
            "  nodeSelector: {}\n  ingress: [{}]\n",
            "spec.nodeSelector: node selectors can only be used in CiliumClusterwideNetworkPolicies",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{fromEntities: [world], fromCIDR: [1.2.3.4/32]}]\n",
            "spec.ingress[0]: combining fromCIDR and fromEntities",
        ),
        (
            "  endpointSelector: {}\n  egress: [{toCIDR: [1.2.3.4]}]\n",
            "spec.egress[0].toCIDR[0]: \"1.2.3.4\" is not a valid CIDR",
        ),
        (
            "  endpointSelector: {}\n  egress: [{toCIDRSet: [{cidr: 10.0.0.0/16, except: [10.1.0.0/24]}]}]\n",
            "spec.egress[0].toCIDRSet[0].except[0]: 10.1.0.0/24 is not within cidr 10.0.0.0/16",
        ),
        (
            "  endpointSelector: {}\n  egress: [{toCIDRSet: [{except: [10.1.0.0/24]}]}]\n",
            "exactly one of cidr, cidrGroupRef or cidrGroupSelector",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{fromEntities: [everyone]}]\n",
            "spec.ingress[0].fromEntities[0]: unsupported entity \"everyone\"",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: 80}]}]}]\n",
            "spec.ingress[0].toPorts[0].ports[0].port: expected a string, found 80",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: tcp}]}]}]\n",
            "spec.ingress[0].toPorts[0].ports[0].protocol: unsupported protocol \"tcp\"",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"70000\"}]}]}]\n",
            "not a valid port",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"not_a_name\"}]}]}]\n",
            "neither a port number nor a port name",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{protocol: TCP}]}]}]\n",
            "port: must be specified",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{icmps: [{fields: [{type: 8}]}], toPorts: [{ports: [{port: \"80\"}]}]}]\n",
            "icmps block may only be present without toPorts",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"53\", protocol: UDP}], rules: {dns: [{matchName: x}]}}]}]\n",
            "DNS rules are not allowed on ingress",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"80\"}], rules: {http: [{}]}}]}]\n",
            "L7 rules apply to TCP only",
        ),
        (
            "  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"0\", protocol: TCP}], rules: {http: [{}]}}]}]\n",
            "L7 rules can not be used when a port is 0",
        ),
        (
            "  endpointSelector: {matchExpressions: [{key: app, operator: in, values: [a]}]}\n  ingress: [{}]\n",
            "spec.endpointSelector.matchExpressions[0].operator",
        ),
    ];
    for (spec, want) in cases {
        let got = rule(spec);
        assert!(
            got.contains(want),
            "for\n{spec}\nwant {want:?}\ngot  {got:?}"
        );
    }
    let e = error("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\n");
    assert!(e.contains("one of spec or specs is required"), "{e}");
    let e = error(
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: x}\nspec:\n  nodeSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{}]}}]}]\n",
    );
    assert!(e.contains("not supported in host policies"), "{e}");
    let e = error(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspec: {endpointSelector: {}, egress: [{toEndpoints: [{matchLabels: {\"reserved:host\": \"\", app: x}}]}]}\n",
    );
    assert!(e.contains("reserved"), "{e}");
}

#[test]
fn other_kinds_of_the_group_are_unknown() {
    let b = body("apiVersion: cilium.io/v2\nkind: CiliumEnvoyConfig\nmetadata: {name: x}\n");
    match super::classify("CiliumEnvoyConfig", "cilium.io/v2", &b, "default", source()) {
        Ok(crate::objects::Parsed::Unknown(k)) => assert_eq!(k, "cilium.io/v2/CiliumEnvoyConfig"),
        other => panic!("unexpected {other:?}"),
    }
}

// examples/policies/host/: lock-down-ingress.yaml ships a placeholder port that Cilium
// cannot parse ("replace the port: values"); allow-extended-protocols.yaml allows VRRP,
// which has no ports: it adds no TCP/UDP/SCTP port.
#[test]
fn host_policy_examples() {
    let e = error(
        r#"
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: "lock-down-ingress-worker-node"
spec:
  nodeSelector:
    matchLabels:
      type: ingress-worker
  ingress:
  - toPorts:
    - ports:
      - port: "22"
        protocol: TCP
      - port: "REMOVE_ME_AFTER_DOUBLE_CHECKING_PORTS"
        protocol: TCP
"#,
    );
    assert!(
        e.contains("spec.ingress[0].toPorts[0].ports[1].port: \"REMOVE_ME_AFTER_DOUBLE_CHECKING_PORTS\" is neither a port number nor a port name"),
        "{e}"
    );
    let p = one(r#"
apiVersion: "cilium.io/v2"
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: "allow-extended-egress-worker-node"
spec:
  description: "Allow specific traffic on egress of worker nodes"
  nodeSelector:
    matchLabels:
      type: ingress-worker
  egress:
  - toPorts:
    - ports:
      - port: "6443"
        protocol: TCP
      - port: "8472"
        protocol: UDP
      - protocol: VRRP
  - toPorts:
    - ports:
      - protocol: VRRP
"#);
    assert_eq!(p.subject, Subject::Nodes(eq("type", "ingress-worker")));
    assert_eq!(
        p.egress.len(),
        1,
        "a VRRP-only entry allows no modelled port"
    );
    assert_eq!(
        p.egress[0].ports,
        vec![
            tcp(6443),
            PolicyPort {
                protocol: Protocol::Udp,
                port: PortSpec::Range(8472, 8472)
            }
        ]
    );
    assert!(p.isolates_egress);
}
