//! Helpers the rules share: object names, locations, lists, selector text, hints.

use std::collections::{BTreeMap, BTreeSet};

use kubesurface_engine::Engine;
use kubesurface_model::{
    Cluster, Endpoint, LabelSelector, Labels, NetworkPolicy, Operator, PolicyRule, PortSpec, Source,
};

/// Namespaces whose pods are the control plane's own: findings there are reported at a
/// lower severity, never skipped.
pub const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// Endpoint classes per namespace (class ids, ascending): what selectors need, once.
pub fn class_index<'e>(engine: &'e Engine<'_>) -> BTreeMap<&'e str, Vec<usize>> {
    let mut map: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in engine.classes.classes.iter().enumerate() {
        map.entry(c.namespace.as_str()).or_default().push(i);
    }
    map
}

/// Endpoint indices per namespace.
pub fn endpoint_index(cluster: &Cluster) -> BTreeMap<&str, Vec<usize>> {
    let mut map: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        map.entry(e.namespace.as_str()).or_default().push(i);
    }
    map
}

/// `NS/NetworkPolicy/NAME`.
pub fn policy_object(p: &NetworkPolicy) -> String {
    format!("{}/NetworkPolicy/{}", p.namespace, p.name)
}

/// `NS/Kind/NAME` of the endpoint's workload (`NS/Pod/NAME` for a bare pod).
pub fn workload_object(e: &Endpoint) -> String {
    format!("{}/{}/{}", e.namespace, e.workload.kind, e.workload.name)
}

/// Where the endpoint's workload was read (the Pod itself when the workload is absent).
pub fn workload_source(e: &Endpoint) -> &Source {
    e.workload_source.as_ref().unwrap_or(&e.source)
}

/// Workloads of some endpoints, each with where it was read (that of the last endpoint
/// listed for it), sorted by object name.
pub fn workloads(
    cluster: &Cluster,
    endpoints: impl IntoIterator<Item = usize>,
) -> BTreeMap<String, &Source> {
    let mut out = BTreeMap::new();
    // Endpoints come sorted by name, so a workload's pods mostly follow one another: a run
    // of one workload is named once, with the source of its last endpoint.
    let mut run: Option<(&Endpoint, &Source)> = None;
    for i in endpoints {
        let e = &cluster.endpoints[i];
        match &mut run {
            Some((first, source)) if same_workload(first, e) => *source = workload_source(e),
            _ => {
                if let Some((first, source)) = run {
                    out.insert(workload_object(first), source);
                }
                run = Some((e, workload_source(e)));
            }
        }
    }
    if let Some((first, source)) = run {
        out.insert(workload_object(first), source);
    }
    out
}

/// True when two endpoints' [`workload_object`]s are the same.
fn same_workload(a: &Endpoint, b: &Endpoint) -> bool {
    a.namespace == b.namespace && a.workload == b.workload
}

/// At most ten items joined by `, `, then `and N more`.
pub fn list<S: AsRef<str>>(items: &[S]) -> String {
    const CAP: usize = 10;
    let mut s = items
        .iter()
        .take(CAP)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > CAP {
        s.push_str(&format!(" and {} more", items.len() - CAP));
    }
    s
}

/// A label selector in `kubectl -l` syntax (`{}` for the empty selector).
pub fn selector_text(s: &LabelSelector) -> String {
    if s.is_empty() {
        return "{}".to_string();
    }
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for r in &s.match_expressions {
        parts.push(match r.operator {
            Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
            Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
            Operator::Exists => r.key.clone(),
            Operator::DoesNotExist => format!("!{}", r.key),
        });
    }
    parts.join(",")
}

/// The closest existing `key=value` for a `matchLabels` pair that matches none of
/// `candidates` (a typo such as `name=cart` for `name=carts`).
pub fn did_you_mean<'a>(
    selector: &LabelSelector,
    candidates: impl Iterator<Item = &'a Labels> + Clone,
) -> Option<String> {
    did_you_mean_pairs(&selector.match_labels, candidates)
}

/// [`did_you_mean`] for plain equality pairs (Service selectors).
pub fn did_you_mean_pairs<'a>(
    pairs: &[(String, String)],
    candidates: impl Iterator<Item = &'a Labels> + Clone,
) -> Option<String> {
    for (k, v) in pairs {
        let values: BTreeSet<&str> = candidates
            .clone()
            .filter_map(|l| l.get(k).map(String::as_str))
            .collect();
        if values.contains(v.as_str()) {
            continue;
        }
        let best = values
            .iter()
            .map(|c| (edit_distance(v, c), *c))
            .filter(|(d, c)| *d <= 2.max(v.len() / 3) || c.starts_with(v.as_str()))
            .min();
        if let Some((_, c)) = best {
            return Some(format!("{k}={c}"));
        }
    }
    None
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A rule's `ports` as text: `every port`, or `TCP 80, TCP 8000-8080, UDP (every port),
/// TCP port named http`.
pub fn ports_text(rule: &PolicyRule) -> String {
    if rule.ports.is_empty() {
        return "every port".to_string();
    }
    rule.ports
        .iter()
        .map(|p| match &p.port {
            PortSpec::All => format!("{} (every port)", p.protocol),
            PortSpec::Range(lo, hi) if lo == hi => format!("{} {lo}", p.protocol),
            PortSpec::Range(lo, hi) => format!("{} {lo}-{hi}", p.protocol),
            PortSpec::Named(n) => format!("{} port named {n}", p.protocol),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The short name of an endpoint in a message: the pod name, or `name[Kind]` for a
/// workload template without pods.
pub fn short_name(e: &Endpoint) -> String {
    if e.representative {
        format!("{}[{}]", e.workload.name, e.workload.kind)
    } else {
        e.name.clone()
    }
}

/// `a, b, c and 4 more`.
pub fn join_limited<I>(items: I, max: usize) -> String
where
    I: IntoIterator<Item = String>,
    I::IntoIter: ExactSizeIterator,
{
    let items = items.into_iter();
    let total = items.len();
    // Only the items shown are made (a lazy `map` past them is never run).
    let shown = items.take(max).collect::<Vec<_>>().join(", ");
    if total <= max {
        shown
    } else {
        format!("{shown} and {} more", total - max)
    }
}

/// Per namespace (pod-network endpoints only): every workload, and the endpoints whose class
/// `open` says no policy isolates for the direction in question.
pub fn unisolated_by_namespace<'c>(
    ctx: &super::AuditContext<'c>,
    open: impl Fn(usize) -> bool,
) -> BTreeMap<&'c str, (std::collections::BTreeSet<String>, Vec<usize>)> {
    let cluster = ctx.cluster();
    // Workloads by (kind, name) first, borrowed; named once each at the end.
    type Borrowed<'c> = (std::collections::BTreeSet<(&'c str, &'c str)>, Vec<usize>);
    let mut by_ns: BTreeMap<&str, Borrowed<'c>> = BTreeMap::new();
    let mut previous: Option<&Endpoint> = None;
    for (i, e) in cluster.endpoints.iter().enumerate() {
        if e.host_network {
            continue;
        }
        let entry = by_ns.entry(e.namespace.as_str()).or_default();
        if !previous.is_some_and(|p| same_workload(p, e)) {
            entry.0.insert((&e.workload.kind, &e.workload.name));
        }
        previous = Some(e);
        if open(ctx.engine.classes.class_of[i] as usize) {
            entry.1.push(i);
        }
    }
    by_ns
        .into_iter()
        .map(|(ns, (all, open))| {
            let all = all
                .into_iter()
                .map(|(kind, name)| format!("{ns}/{kind}/{name}"))
                .collect();
            (ns, (all, open))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn join_limited_shows_the_first_items_and_counts_the_rest_unmade() {
        let made = Cell::new(0);
        let items = (0..20).map(|i| {
            made.set(made.get() + 1);
            format!("p{i}")
        });
        assert_eq!(join_limited(items, 3), "p0, p1, p2 and 17 more");
        assert_eq!(made.get(), 3, "only the shown items are made");
        let few = ["a", "b"].map(String::from);
        assert_eq!(join_limited(few.clone(), 2), "a, b");
        assert_eq!(join_limited(few, 5), "a, b");
        assert_eq!(join_limited(Vec::<String>::new(), 5), "");
    }
}
