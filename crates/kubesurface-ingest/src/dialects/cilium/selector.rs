//! Cilium endpoint selectors: a `metav1.LabelSelector` over a pod's *identity labels*,
//! whose keys may carry a source prefix (`k8s:`, `any:`, `reserved:`, ...), and in which a
//! few keys are not pod labels at all:
//!
//! | key (after `k8s:`/`any:`)              | means                                  |
//! |----------------------------------------|----------------------------------------|
//! | `io.kubernetes.pod.namespace`          | the pod's namespace name               |
//! | `io.cilium.k8s.namespace.labels.KEY`   | label `KEY` of the pod's namespace     |
//! | `io.cilium.k8s.policy.serviceaccount`  | the pod's ServiceAccount name          |
//! | `io.cilium.k8s.policy.cluster`         | the ClusterMesh cluster name           |
//!
//! Sources: docs.cilium.io "Kubernetes: Namespaces" and "Kubernetes: ServiceAccounts"
//! (<https://docs.cilium.io/en/stable/security/policy/kubernetes/>), and
//! `pkg/k8s/apis/cilium.io/utils/utils.go` (`getEndpointSelector`, `ParseToCiliumRule`):
//! an unprefixed key is read with the `any:` source; a namespaced policy's
//! `endpointSelector` always gets `k8s:io.kubernetes.pod.namespace: <policy namespace>`
//! (overwriting a `matchLabels` entry of that exact key); a peer selector without a
//! namespace key is limited to the policy's namespace (CiliumNetworkPolicy, unless it
//! selects namespace labels) or to pods of any namespace (clusterwide); a peer selector
//! with a `reserved:` key is left as written.

use kubesurface_model::{
    Entity, LabelExpr, METADATA_NAME_LABEL, NamespaceMatch, PodMatch, ServiceAccountMatch,
};

use super::wire;
use crate::convert;

/// The namespace label key of a pod's identity.
const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The prefix of namespace labels copied into a pod's identity.
const NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";
/// The ServiceAccount label of a pod's identity.
const SERVICE_ACCOUNT: &str = "io.cilium.k8s.policy.serviceaccount";
/// The ClusterMesh cluster-name label of a pod's identity.
const CLUSTER: &str = "io.cilium.k8s.policy.cluster";

/// What a selector key refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    /// A pod label.
    Pod(String),
    /// The namespace name.
    NamespaceName,
    /// A label of the namespace.
    NamespaceLabel(String),
    /// The ServiceAccount name.
    ServiceAccount,
    /// The cluster name.
    Cluster,
    /// A `reserved:` identity label (`host`, `world`, ...).
    Reserved(String),
    /// A label of another source (`container:`, `cidr:`, ...): pods never carry it.
    Foreign,
}

/// An operator with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Eq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

impl Op {
    /// True for the operators that need the label to be present.
    fn positive(&self) -> bool {
        matches!(self, Op::Eq(_) | Op::In(_) | Op::Exists)
    }

    /// The predicate over a label set for label `key`.
    fn expr(&self, key: &str) -> LabelExpr {
        match self {
            Op::Eq(v) => LabelExpr::Eq(key.to_string(), v.clone()),
            Op::In(vs) => LabelExpr::In(key.to_string(), vs.clone()),
            Op::NotIn(vs) => LabelExpr::NotIn(key.to_string(), vs.clone()),
            Op::Exists => LabelExpr::Has(key.to_string()),
            Op::DoesNotExist => LabelExpr::Not(Box::new(LabelExpr::Has(key.to_string()))),
        }
    }
}

/// One requirement, with the key as written (for messages) and as understood.
#[derive(Clone, Debug)]
struct Req {
    raw_key: String,
    key: Key,
    op: Op,
}

/// A selector, validated and split by what its keys refer to.
#[derive(Clone, Debug)]
pub struct Parsed {
    reqs: Vec<Req>,
}

/// Splits `k8s:app` into its source and key; an unprefixed key has the `any` source.
/// Kubernetes label keys never contain `:`, so the first `:` ends the source.
fn classify_key(raw: &str) -> Key {
    let (source, key) = raw.split_once(':').unwrap_or(("any", raw));
    match source {
        "k8s" | "any" => {
            if key == POD_NAMESPACE {
                Key::NamespaceName
            } else if let Some(label) = key.strip_prefix(NAMESPACE_LABELS) {
                Key::NamespaceLabel(label.to_string())
            } else if key == SERVICE_ACCOUNT {
                Key::ServiceAccount
            } else if key == CLUSTER {
                Key::Cluster
            } else {
                Key::Pod(key.to_string())
            }
        }
        "reserved" => Key::Reserved(key.to_string()),
        _ => Key::Foreign,
    }
}

/// Validates a selector as Cilium's `EndpointSelector.Sanitize` and the CRD schema do:
/// operators `In`, `NotIn`, `Exists`, `DoesNotExist`; values required for `In`/`NotIn`
/// and forbidden otherwise; values are label values.
pub fn parse(s: &wire::Selector, field: &str) -> Result<Parsed, String> {
    if s.match_cel_expression.is_some() {
        return Err(format!(
            "{field}.matchCELExpression: CEL selectors are not supported by kubesurface"
        ));
    }
    let mut reqs = Vec::new();
    for (k, v) in &s.match_labels {
        if k.is_empty() {
            return Err(format!("{field}.matchLabels: empty label key"));
        }
        convert::label_value(v, &format!("{field}.matchLabels[{k}]"))?;
        reqs.push(Req {
            raw_key: k.clone(),
            key: classify_key(k),
            op: Op::Eq(v.clone()),
        });
    }
    for (i, e) in s.match_expressions.iter().enumerate() {
        let at = format!("{field}.matchExpressions[{i}]");
        if e.key.is_empty() {
            return Err(format!("{at}.key: must not be empty"));
        }
        for v in &e.values {
            convert::label_value(v, &format!("{at}.values"))?;
        }
        let mut values = e.values.clone();
        values.sort();
        values.dedup();
        let op = match e.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "{at}.values: must be non-empty for operator {}",
                    e.operator
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "{at}.values: must be empty for operator {}",
                    e.operator
                ));
            }
            "In" => Op::In(values),
            "NotIn" => Op::NotIn(values),
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            other => {
                return Err(format!(
                    "{at}.operator: {other:?} is not a valid operator (In, NotIn, Exists, DoesNotExist)"
                ));
            }
        };
        reqs.push(Req {
            raw_key: e.key.clone(),
            key: classify_key(&e.key),
            op,
        });
    }
    Ok(Parsed { reqs })
}

/// The predicate of a list of terms; the empty list is `All`.
fn and(mut terms: Vec<LabelExpr>) -> LabelExpr {
    match terms.len() {
        0 => LabelExpr::All,
        1 => terms.pop().unwrap_or(LabelExpr::All),
        _ => LabelExpr::And(terms),
    }
}

/// The predicate that matches nothing.
fn nothing() -> LabelExpr {
    LabelExpr::Or(Vec::new())
}

/// Where a selector's pods may live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The subject of a CiliumNetworkPolicy: always this namespace.
    SubjectIn(&'a str),
    /// A peer of a CiliumNetworkPolicy: this namespace unless the selector names a
    /// namespace or namespace labels.
    PeerOf(&'a str),
    /// The subject or a peer of a clusterwide policy: any namespace.
    Cluster,
}

impl Parsed {
    /// True when a key is a `reserved:` label.
    fn has_reserved(&self) -> bool {
        self.reqs.iter().any(|r| matches!(r.key, Key::Reserved(_)))
    }

    /// The entity a peer selector names when it consists only of `reserved:LABEL`
    /// requirements that need the label (`matchLabels: {"reserved:host": ""}`), all on one
    /// label. `Some(None)` for `reserved:none`, which selects nothing.
    pub fn reserved_entity(&self, field: &str) -> Result<Option<Option<Entity>>, String> {
        if !self.has_reserved() {
            return Ok(None);
        }
        let mut name: Option<&str> = None;
        for r in &self.reqs {
            match (&r.key, r.op.positive()) {
                (Key::Reserved(n), true) if name.is_none_or(|m| m == n) => name = Some(n),
                _ => {
                    return Err(format!(
                        "{field}: a selector with `reserved:` labels is supported only when it requires one reserved label and nothing else (found {:?})",
                        r.raw_key
                    ));
                }
            }
        }
        let name = name.unwrap_or_default();
        entity(name)
            .map(Some)
            .map_err(|e| format!("{field}: reserved label {name:?}: {e}"))
    }

    /// The pods this selector matches, with the namespace rules of `scope`.
    pub fn pods(&self, scope: Scope<'_>, field: &str) -> Result<PodMatch, String> {
        let mut pod_terms = Vec::new();
        let mut ns_terms = Vec::new();
        let mut never = false;
        let mut sa_names: Option<Vec<String>> = None;
        for r in &self.reqs {
            match &r.key {
                Key::Pod(k) => pod_terms.push(r.op.expr(k)),
                Key::NamespaceName => {
                    // The subject's own namespace match replaces a `matchLabels` entry of
                    // exactly `k8s:io.kubernetes.pod.namespace` (AddMatch overwrites it).
                    let overwritten = matches!(scope, Scope::SubjectIn(_))
                        && r.raw_key == format!("k8s:{POD_NAMESPACE}")
                        && matches!(r.op, Op::Eq(_));
                    if !overwritten {
                        ns_terms.push(r.op.expr(METADATA_NAME_LABEL));
                    }
                }
                Key::NamespaceLabel(k) => ns_terms.push(r.op.expr(k)),
                Key::ServiceAccount => match &r.op {
                    Op::Eq(v) => intersect(&mut sa_names, vec![v.clone()]),
                    Op::In(vs) => intersect(&mut sa_names, vs.clone()),
                    // Every pod runs as some ServiceAccount (`default` when unset).
                    Op::Exists => {}
                    Op::DoesNotExist => never = true,
                    Op::NotIn(_) => {
                        return Err(format!(
                            "{field}: operator NotIn on {:?} is not supported by kubesurface",
                            r.raw_key
                        ));
                    }
                },
                // The input is one cluster: kubesurface assumes every cluster-name
                // requirement names it (only DoesNotExist fails: the label is always set).
                Key::Cluster => never |= matches!(r.op, Op::DoesNotExist),
                // Pods carry no reserved or foreign-source labels.
                Key::Reserved(_) | Key::Foreign => never |= r.op.positive(),
            }
        }
        if sa_names.as_ref().is_some_and(Vec::is_empty) {
            never = true;
        }
        let has_ns_name = self.reqs.iter().any(|r| r.key == Key::NamespaceName);
        let has_ns_labels = self
            .reqs
            .iter()
            .any(|r| matches!(r.key, Key::NamespaceLabel(_)));
        let namespaces = match scope {
            Scope::SubjectIn(ns) => {
                if ns_terms.is_empty() {
                    NamespaceMatch::Named(ns.to_string())
                } else {
                    ns_terms.insert(0, LabelExpr::Eq(METADATA_NAME_LABEL.into(), ns.into()));
                    NamespaceMatch::Selector(and(ns_terms))
                }
            }
            Scope::PeerOf(ns) if !has_ns_name && !has_ns_labels && !self.has_reserved() => {
                NamespaceMatch::Named(ns.to_string())
            }
            Scope::PeerOf(_) | Scope::Cluster => match ns_terms.as_slice() {
                [] => NamespaceMatch::Any,
                [LabelExpr::Eq(k, v)] if k == METADATA_NAME_LABEL => {
                    NamespaceMatch::Named(v.clone())
                }
                _ => NamespaceMatch::Selector(and(ns_terms)),
            },
        };
        let labels = if never { nothing() } else { and(pod_terms) };
        Ok(PodMatch {
            namespaces,
            labels,
            service_accounts: sa_names.map(|names| ServiceAccountMatch {
                names,
                selector: None,
            }),
        })
    }

    /// The predicate over node labels (`nodeSelector`, `fromNodes`, `toNodes`): keys lose
    /// their `k8s:`/`any:` source.
    pub fn nodes(&self, field: &str) -> Result<LabelExpr, String> {
        let mut terms = Vec::new();
        for r in &self.reqs {
            let (source, key) = r.raw_key.split_once(':').unwrap_or(("any", &r.raw_key));
            match source {
                "k8s" | "any" => terms.push(r.op.expr(key)),
                _ => {
                    return Err(format!(
                        "{field}: label {:?} of source {source:?} cannot select nodes in kubesurface",
                        r.raw_key
                    ));
                }
            }
        }
        Ok(and(terms))
    }

    /// True when the selector requires exactly `reserved:host` (a clusterwide policy's
    /// subject so written selects the host endpoint).
    pub fn is_reserved_host(&self) -> bool {
        !self.reqs.is_empty()
            && self
                .reqs
                .iter()
                .all(|r| r.key == Key::Reserved("host".into()) && r.op.positive())
    }
}

/// Keeps the names in both lists (`None` = no constraint yet).
fn intersect(acc: &mut Option<Vec<String>>, mut names: Vec<String>) {
    names.sort();
    names.dedup();
    *acc = Some(match acc.take() {
        None => names,
        Some(old) => old.into_iter().filter(|n| names.contains(n)).collect(),
    });
}

/// The entity of a name (docs.cilium.io "Layer 3 policies: Entities based",
/// `pkg/policy/api/entity.go`); `None` for `none`, which selects nothing. `world-ipv4` and
/// `world-ipv6` (the two halves of `world` in dual-stack clusters) are read as `world`:
/// the model has no per-family world, and a family-wide CIDR would also match node
/// addresses, which `world` never does.
pub fn entity(name: &str) -> Result<Option<Entity>, String> {
    Ok(Some(match name {
        "all" => Entity::All,
        "world" | "world-ipv4" | "world-ipv6" => Entity::World,
        "cluster" => Entity::Cluster,
        "host" => Entity::Host,
        "remote-node" => Entity::RemoteNode,
        "kube-apiserver" => Entity::KubeApiserver,
        "health" | "init" | "unmanaged" | "ingress" => Entity::Internal,
        "none" => return Ok(None),
        other => {
            return Err(format!(
                "unsupported entity {other:?} (all, world, world-ipv4, world-ipv6, cluster, host, remote-node, kube-apiserver, health, init, unmanaged, ingress, none)"
            ));
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(labels: &[(&str, &str)], exprs: &[(&str, &str, &[&str])]) -> Parsed {
        let s = wire::Selector {
            match_labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            match_expressions: exprs
                .iter()
                .map(|(k, op, vs)| wire::Requirement {
                    key: k.to_string(),
                    operator: op.to_string(),
                    values: vs.iter().map(|v| v.to_string()).collect(),
                })
                .collect(),
            match_cel_expression: None,
        };
        parse(&s, "sel").unwrap()
    }

    fn eq(k: &str, v: &str) -> LabelExpr {
        LabelExpr::Eq(k.into(), v.into())
    }

    // docs.cilium.io "Kubernetes: Namespaces": a CiliumNetworkPolicy's endpointSelector
    // applies in the policy's namespace only.
    #[test]
    fn subject_of_a_namespaced_policy_is_its_namespace() {
        let p = sel(&[("app", "web")], &[])
            .pods(Scope::SubjectIn("prod"), "s")
            .unwrap();
        assert_eq!(p.namespaces, NamespaceMatch::Named("prod".into()));
        assert_eq!(p.labels, eq("app", "web"));
        // An explicit k8s: namespace entry is overwritten (ParseToCiliumRule, AddMatch).
        let p = sel(&[("k8s:io.kubernetes.pod.namespace", "other")], &[])
            .pods(Scope::SubjectIn("prod"), "s")
            .unwrap();
        assert_eq!(p.namespaces, NamespaceMatch::Named("prod".into()));
        assert_eq!(p.labels, LabelExpr::All);
        // ... but an unprefixed one (source `any`) is a second requirement: both must hold.
        let p = sel(&[("io.kubernetes.pod.namespace", "other")], &[])
            .pods(Scope::SubjectIn("prod"), "s")
            .unwrap();
        assert_eq!(
            p.namespaces,
            NamespaceMatch::Selector(LabelExpr::And(vec![
                eq(METADATA_NAME_LABEL, "prod"),
                eq(METADATA_NAME_LABEL, "other")
            ]))
        );
    }

    // utils.go getEndpointSelector: a peer without a namespace key stays in the policy's
    // namespace; with one (any source) it does not; namespace labels lift the limit too.
    #[test]
    fn peers_of_a_namespaced_policy() {
        let p = sel(&[("k8s:role", "frontend")], &[])
            .pods(Scope::PeerOf("prod"), "p")
            .unwrap();
        assert_eq!(p.namespaces, NamespaceMatch::Named("prod".into()));
        assert_eq!(p.labels, eq("role", "frontend"));
        for key in [
            "k8s:io.kubernetes.pod.namespace",
            "any:io.kubernetes.pod.namespace",
            "io.kubernetes.pod.namespace",
        ] {
            let p = sel(&[(key, "kube-system"), ("k8s-app", "kube-dns")], &[])
                .pods(Scope::PeerOf("prod"), "p")
                .unwrap();
            assert_eq!(
                p.namespaces,
                NamespaceMatch::Named("kube-system".into()),
                "{key}"
            );
            assert_eq!(p.labels, eq("k8s-app", "kube-dns"));
        }
        let p = sel(&[("io.cilium.k8s.namespace.labels.team", "a")], &[])
            .pods(Scope::PeerOf("prod"), "p")
            .unwrap();
        assert_eq!(p.namespaces, NamespaceMatch::Selector(eq("team", "a")));
        assert_eq!(p.labels, LabelExpr::All);
        // `{}` in a namespaced policy: every pod of its namespace (docs "Egress Allow All
        // Endpoints").
        let p = sel(&[], &[]).pods(Scope::PeerOf("prod"), "p").unwrap();
        assert_eq!(p.namespaces, NamespaceMatch::Named("prod".into()));
        assert_eq!(p.labels, LabelExpr::All);
    }

    // docs "match-expressions/or-statement": matchExpressions on the namespace key.
    #[test]
    fn namespace_expressions_become_namespace_name_predicates() {
        let p = sel(
            &[],
            &[(
                "k8s:io.kubernetes.pod.namespace",
                "In",
                &["production", "staging"],
            )],
        )
        .pods(Scope::Cluster, "p")
        .unwrap();
        assert_eq!(
            p.namespaces,
            NamespaceMatch::Selector(LabelExpr::In(
                METADATA_NAME_LABEL.into(),
                vec!["production".into(), "staging".into()]
            ))
        );
    }

    #[test]
    fn clusterwide_empty_selector_is_every_pod() {
        let p = sel(&[], &[]).pods(Scope::Cluster, "p").unwrap();
        assert_eq!(p.namespaces, NamespaceMatch::Any);
        assert_eq!(p.labels, LabelExpr::All);
        assert_eq!(p.service_accounts, None);
    }

    // docs.cilium.io "Kubernetes: ServiceAccounts".
    #[test]
    fn service_account_label() {
        let p = sel(&[("io.cilium.k8s.policy.serviceaccount", "leia")], &[])
            .pods(Scope::PeerOf("default"), "p")
            .unwrap();
        assert_eq!(
            p.service_accounts,
            Some(ServiceAccountMatch {
                names: vec!["leia".into()],
                selector: None
            })
        );
        assert_eq!(p.labels, LabelExpr::All);
        let p = sel(
            &[("io.cilium.k8s.policy.serviceaccount", "leia")],
            &[("io.cilium.k8s.policy.serviceaccount", "In", &["luke"])],
        )
        .pods(Scope::PeerOf("default"), "p")
        .unwrap();
        assert_eq!(
            p.labels,
            LabelExpr::Or(vec![]),
            "disjoint names match nothing"
        );
    }

    #[test]
    fn reserved_and_foreign_labels_never_match_pods() {
        let p = sel(&[("container:app", "x")], &[])
            .pods(Scope::Cluster, "p")
            .unwrap();
        assert_eq!(p.labels, LabelExpr::Or(vec![]));
        let p = sel(&[], &[("reserved:host", "DoesNotExist", &[])])
            .pods(Scope::Cluster, "p")
            .unwrap();
        assert_eq!(p.labels, LabelExpr::All);
    }

    #[test]
    fn reserved_entities() {
        let s = sel(&[("reserved:host", "")], &[]);
        assert_eq!(s.reserved_entity("p").unwrap(), Some(Some(Entity::Host)));
        assert!(s.is_reserved_host());
        assert_eq!(
            sel(&[("app", "x")], &[]).reserved_entity("p").unwrap(),
            None
        );
        let err = sel(&[("reserved:host", ""), ("app", "x")], &[])
            .reserved_entity("p")
            .unwrap_err();
        assert!(err.contains("reserved"), "{err}");
    }

    #[test]
    fn invalid_selectors() {
        let bad = |labels: &[(&str, &str)], exprs: &[(&str, &str, &[&str])]| {
            let s = wire::Selector {
                match_labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                match_expressions: exprs
                    .iter()
                    .map(|(k, op, vs)| wire::Requirement {
                        key: k.to_string(),
                        operator: op.to_string(),
                        values: vs.iter().map(|v| v.to_string()).collect(),
                    })
                    .collect(),
                match_cel_expression: None,
            };
            parse(&s, "x").unwrap_err()
        };
        // The CRD's enum is case-sensitive.
        assert!(bad(&[], &[("a", "in", &["b"])]).contains("not a valid operator"));
        assert!(bad(&[], &[("a", "In", &[])]).contains("non-empty"));
        assert!(bad(&[], &[("a", "Exists", &["b"])]).contains("must be empty"));
        assert!(bad(&[("a", "not valid")], &[]).contains("label value"));
        assert!(bad(&[], &[("", "Exists", &[])]).contains("key"));
    }

    #[test]
    fn node_selectors_drop_the_source() {
        let e = sel(&[("k8s:node-role.kubernetes.io/control-plane", "")], &[])
            .nodes("n")
            .unwrap();
        assert_eq!(e, eq("node-role.kubernetes.io/control-plane", ""));
    }
}
