//! Calico's pseudo-labels in selectors, resolved where kubesurface can resolve them.
//!
//! Calico gives every workload endpoint (pod) labels it does not carry in Kubernetes:
//! `projectcalico.org/namespace`, `projectcalico.org/orchestrator` (`k8s`),
//! `projectcalico.org/serviceaccount`, and its namespace's labels as `pcns.KEY` and its
//! ServiceAccount's labels as `pcsa.KEY` (libcalico-go `backend/k8s/conversion`; the rule
//! and policy selectors are built from them in `syncersv1/updateprocessors`). Namespaces
//! carry `projectcalico.org/name`. Host endpoints carry none of these.
//!
//! kubesurface matches pod selectors against the pod's own labels, namespace selectors
//! against the namespace's labels (which always include `kubernetes.io/metadata.name`).
//! So here a selector is *specialized*: pseudo-labels whose value is known are replaced by
//! constants, and the namespace and ServiceAccount parts of a top-level conjunction are moved
//! to the namespace and ServiceAccount matches. What cannot be moved is an error that says so.

use kubesurface_model::{LabelExpr, METADATA_NAME_LABEL};

/// `projectcalico.org/namespace` on a workload endpoint.
pub const NAMESPACE: &str = "projectcalico.org/namespace";
/// `projectcalico.org/orchestrator` on a workload endpoint (`k8s` for pods).
pub const ORCHESTRATOR: &str = "projectcalico.org/orchestrator";
/// `projectcalico.org/serviceaccount` on a workload endpoint.
pub const SERVICE_ACCOUNT: &str = "projectcalico.org/serviceaccount";
/// `projectcalico.org/name` on a namespace (and on a ServiceAccount).
pub const NAME: &str = "projectcalico.org/name";
/// Prefix of namespace labels on a workload endpoint.
pub const NS_PREFIX: &str = "pcns.";
/// Prefix of ServiceAccount labels on a workload endpoint.
pub const SA_PREFIX: &str = "pcsa.";

/// What is known about one label of the endpoints a selector is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known<'a> {
    /// The label is certainly absent.
    Absent,
    /// The label certainly has this value.
    Value(&'a str),
    /// It depends on the endpoint.
    Unknown,
}

/// A selector after specialization: a constant, or what remains to be matched.
#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    /// Matches every endpoint (`true`) or none (`false`).
    Const(bool),
    /// Depends on the endpoint.
    Expr(LabelExpr),
}

impl Spec {
    /// As an expression (`Const(true)` = `all()`, `Const(false)` = the empty OR).
    pub fn into_expr(self) -> LabelExpr {
        match self {
            Spec::Const(true) => LabelExpr::All,
            Spec::Const(false) => LabelExpr::Or(Vec::new()),
            Spec::Expr(e) => e,
        }
    }
}

/// Replaces labels whose presence and value `known` decides.
pub fn specialize<'a>(e: &LabelExpr, known: &dyn Fn(&str) -> Known<'a>) -> Spec {
    use LabelExpr as L;
    let leaf = |k: &str, present: &dyn Fn(&str) -> bool, absent: bool| match known(k) {
        Known::Absent => Spec::Const(absent),
        Known::Value(v) => Spec::Const(present(v)),
        Known::Unknown => Spec::Expr(e.clone()),
    };
    match e {
        L::All => Spec::Const(true),
        L::Global => Spec::Expr(L::Global),
        L::Has(k) => leaf(k, &|_| true, false),
        L::Eq(k, v) => leaf(k, &|x| x == v, false),
        L::Ne(k, v) => leaf(k, &|x| x != v, true),
        L::In(k, vs) => leaf(k, &|x| vs.iter().any(|v| v == x), false),
        L::NotIn(k, vs) => leaf(k, &|x| !vs.iter().any(|v| v == x), true),
        L::Contains(k, s) => leaf(k, &|x| x.contains(s.as_str()), false),
        L::StartsWith(k, s) => leaf(k, &|x| x.starts_with(s.as_str()), false),
        L::EndsWith(k, s) => leaf(k, &|x| x.ends_with(s.as_str()), false),
        L::And(xs) => {
            let mut out = Vec::new();
            for x in xs {
                match specialize(x, known) {
                    Spec::Const(false) => return Spec::Const(false),
                    Spec::Const(true) => {}
                    Spec::Expr(x) => out.push(x),
                }
            }
            match out.len() {
                0 => Spec::Const(true),
                1 => Spec::Expr(out.pop().unwrap_or(L::All)),
                _ => Spec::Expr(L::And(out)),
            }
        }
        L::Or(xs) => {
            let mut out = Vec::new();
            for x in xs {
                match specialize(x, known) {
                    Spec::Const(true) => return Spec::Const(true),
                    Spec::Const(false) => {}
                    Spec::Expr(x) => out.push(x),
                }
            }
            match out.len() {
                0 => Spec::Const(false),
                1 => Spec::Expr(out.pop().unwrap_or(L::All)),
                _ => Spec::Expr(L::Or(out)),
            }
        }
        L::Not(x) => match specialize(x, known) {
            Spec::Const(b) => Spec::Const(!b),
            Spec::Expr(x) => Spec::Expr(L::Not(Box::new(x))),
        },
    }
}

/// The keys an expression tests.
pub fn keys(e: &LabelExpr) -> Vec<&str> {
    use LabelExpr as L;
    let mut out = Vec::new();
    fn walk<'a>(e: &'a LabelExpr, out: &mut Vec<&'a str>) {
        match e {
            L::All | L::Global => {}
            L::Has(k)
            | L::Eq(k, _)
            | L::Ne(k, _)
            | L::In(k, _)
            | L::NotIn(k, _)
            | L::Contains(k, _)
            | L::StartsWith(k, _)
            | L::EndsWith(k, _) => out.push(k),
            L::And(xs) | L::Or(xs) => xs.iter().for_each(|x| walk(x, out)),
            L::Not(x) => walk(x, out),
        }
    }
    walk(e, &mut out);
    out
}

/// Is this a pseudo-label of the endpoint's namespace?
pub fn is_namespace_key(k: &str) -> bool {
    k == NAMESPACE || k.starts_with(NS_PREFIX)
}

/// Is this a pseudo-label of the endpoint's ServiceAccount?
pub fn is_service_account_key(k: &str) -> bool {
    k == SERVICE_ACCOUNT || k.starts_with(SA_PREFIX)
}

/// Is this a label only workload endpoints (pods) carry?
pub fn is_pod_only_key(k: &str) -> bool {
    k == ORCHESTRATOR || is_namespace_key(k) || is_service_account_key(k)
}

/// What a host endpoint knows: no pseudo-label is present.
pub fn host_known(k: &str) -> Known<'static> {
    if is_pod_only_key(k) {
        Known::Absent
    } else {
        Known::Unknown
    }
}

/// Renames keys with `f` (leaves the structure alone).
pub fn rename(e: &LabelExpr, f: &dyn Fn(&str) -> String) -> LabelExpr {
    use LabelExpr as L;
    match e {
        L::All => L::All,
        L::Global => L::Global,
        L::Has(k) => L::Has(f(k)),
        L::Eq(k, v) => L::Eq(f(k), v.clone()),
        L::Ne(k, v) => L::Ne(f(k), v.clone()),
        L::In(k, vs) => L::In(f(k), vs.clone()),
        L::NotIn(k, vs) => L::NotIn(f(k), vs.clone()),
        L::Contains(k, s) => L::Contains(f(k), s.clone()),
        L::StartsWith(k, s) => L::StartsWith(f(k), s.clone()),
        L::EndsWith(k, s) => L::EndsWith(f(k), s.clone()),
        L::And(xs) => L::And(xs.iter().map(|x| rename(x, f)).collect()),
        L::Or(xs) => L::Or(xs.iter().map(|x| rename(x, f)).collect()),
        L::Not(x) => L::Not(Box::new(rename(x, f))),
    }
}

/// A namespace selector's keys as kubesurface's namespaces carry them:
/// `projectcalico.org/name` is the namespace's name (`kubernetes.io/metadata.name`).
pub fn namespace_selector_keys(e: &LabelExpr) -> LabelExpr {
    rename(e, &|k| {
        if k == NAME {
            METADATA_NAME_LABEL.to_string()
        } else {
            k.to_string()
        }
    })
}

/// Evaluates a rule's `namespaceSelector` for a host endpoint (or any endpoint without a
/// namespace), as Felix does after Calico's rewriting: every key is a `pcns.` key, absent
/// on a host; `all()` becomes `has(projectcalico.org/namespace)` (false); `global()`
/// becomes `!has(projectcalico.org/namespace)` (true).
pub fn namespace_selector_matches_hosts(e: &LabelExpr) -> bool {
    use LabelExpr as L;
    match e {
        L::All => false,
        L::Global => true,
        L::Has(_)
        | L::Eq(..)
        | L::In(..)
        | L::Contains(..)
        | L::StartsWith(..)
        | L::EndsWith(..) => false,
        L::Ne(..) | L::NotIn(..) => true,
        L::And(xs) => xs.iter().all(namespace_selector_matches_hosts),
        L::Or(xs) => xs.iter().any(namespace_selector_matches_hosts),
        L::Not(x) => !namespace_selector_matches_hosts(x),
    }
}

/// The parts of a pod selector after pseudo-labels are moved out.
#[derive(Debug, Default)]
pub struct Split {
    /// Over the pod's own labels.
    pub pod: Vec<LabelExpr>,
    /// Over the namespace's labels (keys already renamed).
    pub namespace: Vec<LabelExpr>,
    /// `projectcalico.org/serviceaccount` names the pod's ServiceAccount must have (each
    /// list is one conjunct: the name must be in every list).
    pub sa_names: Vec<Vec<String>>,
    /// Over the ServiceAccount's labels (keys already renamed).
    pub sa_labels: Vec<LabelExpr>,
}

/// Splits a pod selector (already specialized for pods) into its top-level conjuncts and
/// sorts each into pod, namespace or ServiceAccount terms. `field` names the selector in
/// errors.
pub fn split(e: &LabelExpr, field: &str) -> Result<Split, String> {
    let conjuncts: Vec<&LabelExpr> = match e {
        LabelExpr::And(xs) => xs.iter().collect(),
        other => vec![other],
    };
    let mut out = Split::default();
    for c in conjuncts {
        let ks = keys(c);
        let ns = ks.iter().filter(|k| is_namespace_key(k)).count();
        let sa = ks.iter().filter(|k| is_service_account_key(k)).count();
        if ns == 0 && sa == 0 {
            out.pod.push(c.clone());
        } else if ns == ks.len() {
            out.namespace.push(rename(c, &|k| {
                if k == NAMESPACE {
                    METADATA_NAME_LABEL.to_string()
                } else {
                    namespace_key(k.strip_prefix(NS_PREFIX).unwrap_or(k))
                }
            }));
        } else if sa == ks.len() && !ks.contains(&SERVICE_ACCOUNT) {
            out.sa_labels.push(rename(c, &|k| {
                k.strip_prefix(SA_PREFIX).unwrap_or(k).to_string()
            }));
        } else if let (true, LabelExpr::Eq(_, v)) = (ks == [SERVICE_ACCOUNT], c) {
            out.sa_names.push(vec![v.clone()]);
        } else if let (true, LabelExpr::In(_, vs)) = (ks == [SERVICE_ACCOUNT], c) {
            out.sa_names.push(vs.clone());
        } else if !ks
            .iter()
            .any(|k| k.starts_with(NS_PREFIX) || k.starts_with(SA_PREFIX))
        {
            // Mixed with pod labels: the engine matches pod selectors against the pod's
            // labels plus projectcalico.org/namespace, /orchestrator and /serviceaccount.
            out.pod.push(c.clone());
        } else {
            return Err(format!(
                "{field}: kubesurface cannot evaluate Calico's pcns.* / pcsa.* pseudo-labels \
                 (namespace and ServiceAccount labels) except in top-level `&&` terms that test \
                 nothing else; use namespaceSelector or serviceAccountSelector instead"
            ));
        }
    }
    Ok(out)
}

/// A `pcns.` key as a namespace label key (`pcns.projectcalico.org/name` is the name).
fn namespace_key(k: &str) -> String {
    if k == NAME {
        METADATA_NAME_LABEL.to_string()
    } else {
        k.to_string()
    }
}

/// ANDs terms (none = `all()`).
pub fn and(mut terms: Vec<LabelExpr>) -> LabelExpr {
    terms.retain(|t| *t != LabelExpr::All);
    match terms.len() {
        0 => LabelExpr::All,
        1 => terms.pop().unwrap_or(LabelExpr::All),
        _ => LabelExpr::And(terms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialects::calico::selector::parse;

    fn p(s: &str) -> LabelExpr {
        parse(s).unwrap()
    }

    #[test]
    fn hosts_lack_every_pseudo_label() {
        let cases = [
            (
                "projectcalico.org/orchestrator == 'k8s'",
                Spec::Const(false),
            ),
            ("!has(projectcalico.org/namespace)", Spec::Const(true)),
            (
                "has(host) && projectcalico.org/namespace != 'x'",
                Spec::Expr(p("has(host)")),
            ),
            (
                "pcns.team == 'a' || role == 'gw'",
                Spec::Expr(p("role == 'gw'")),
            ),
            ("all()", Spec::Const(true)),
        ];
        for (sel, want) in cases {
            assert_eq!(specialize(&p(sel), &host_known), want, "{sel}");
        }
    }

    #[test]
    fn split_moves_namespace_and_service_account_terms() {
        let s = split(
            &p("app == 'web' && projectcalico.org/namespace == 'shop' && pcns.team == 'a' && projectcalico.org/serviceaccount in {'x','y'} && pcsa.role == 'r'"),
            "selector",
        )
        .unwrap();
        assert_eq!(s.pod, vec![p("app == 'web'")]);
        assert_eq!(
            s.namespace,
            vec![p("kubernetes.io/metadata.name == 'shop'"), p("team == 'a'")]
        );
        assert_eq!(s.sa_names, vec![vec!["x".to_string(), "y".to_string()]]);
        assert_eq!(s.sa_labels, vec![p("role == 'r'")]);
        // Namespace and ServiceAccount names mixed with pod labels stay with the pod
        // labels (the engine sees them there); namespace labels cannot.
        let mixed = p("app == 'web' || projectcalico.org/namespace == 'shop'");
        assert_eq!(
            split(&mixed, "spec.selector").unwrap().pod,
            vec![mixed.clone()]
        );
        let e = split(&p("app == 'web' || pcns.team == 'a'"), "spec.selector").unwrap_err();
        assert!(
            e.starts_with("spec.selector: kubesurface cannot evaluate"),
            "{e}"
        );
    }

    /// Calico rewrites a rule's namespaceSelector `all()` to
    /// `has(projectcalico.org/namespace)` and `global()` to its negation
    /// (updateprocessors/rules.go `getEndpointSelector`).
    #[test]
    fn namespace_selectors_on_hosts() {
        assert!(!namespace_selector_matches_hosts(&p("all()")));
        assert!(namespace_selector_matches_hosts(&p("global()")));
        assert!(!namespace_selector_matches_hosts(&p("team == 'a'")));
        assert!(namespace_selector_matches_hosts(&p("team != 'a'")));
        assert!(!namespace_selector_matches_hosts(&p("!global()")));
    }
}
