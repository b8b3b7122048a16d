//! Which nodes an endpoint may run on, and whether two endpoints may share a node.

use kubesurface_model::{Cluster, Endpoint, Node, NodeRequirement, Taint, Toleration};

fn requirement_matches(r: &NodeRequirement, node: &Node) -> bool {
    let value = if r.field {
        (r.key == "metadata.name").then(|| node.name.clone())
    } else {
        node.labels.get(&r.key).cloned()
    };
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| r.values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !r.values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(limit)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                r.values.first().and_then(|l| l.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > limit
            } else {
                v < limit
            }
        }
        _ => false,
    }
}

fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect_ok = t.effect.as_deref().is_none_or(|e| e == taint.effect);
    let key_ok = match (&t.key, t.operator.as_str()) {
        (None, "Exists") => true,
        (Some(k), "Exists") => k == &taint.key,
        (Some(k), _) => k == &taint.key && t.value == taint.value,
        (None, _) => false,
    };
    effect_ok && key_ok
}

/// True when the scheduler may place `e` on `node`: node selector, required node
/// affinity, and NoSchedule/NoExecute taints all allow it. A Pod with `spec.nodeName`
/// runs exactly there.
pub fn may_run_on(e: &Endpoint, node: &Node) -> bool {
    if let Some(n) = &e.node {
        return n == &node.name;
    }
    let s = &e.scheduling;
    s.node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
        && (s.required_terms.is_empty()
            || s.required_terms
                .iter()
                .any(|term| term.iter().all(|r| requirement_matches(r, node))))
        && node
            .taints
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .all(|taint| s.tolerations.iter().any(|t| tolerates(t, taint)))
}

/// The nodes `e` may run on. Without Node objects in the input, the answer is unknown
/// (`None`).
pub fn nodes_of<'c>(cluster: &'c Cluster, e: &Endpoint) -> Option<Vec<&'c Node>> {
    if cluster.nodes.is_empty() {
        return None;
    }
    Some(
        cluster
            .nodes
            .values()
            .filter(|n| may_run_on(e, n))
            .collect(),
    )
}

/// Nodes both endpoints may run on. `None` when that is unknown (no Nodes in the input and
/// not both pinned by `nodeName`).
pub fn shared_nodes(cluster: &Cluster, a: &Endpoint, b: &Endpoint) -> Option<Vec<String>> {
    // A pinned pod runs on its node whether or not the Node object is in the input.
    match (&a.node, &b.node) {
        (Some(x), Some(y)) => return Some(if x == y { vec![x.clone()] } else { Vec::new() }),
        (Some(pinned), None) | (None, Some(pinned)) => {
            let other = if a.node.is_some() { b } else { a };
            return match cluster.nodes.get(pinned) {
                Some(node) if !may_run_on(other, node) => Some(Vec::new()),
                Some(_) => Some(vec![pinned.clone()]),
                None if cluster.nodes.is_empty() => None,
                None => Some(vec![pinned.clone()]),
            };
        }
        (None, None) => {}
    }
    if cluster.nodes.is_empty() {
        return None;
    }
    Some(
        cluster
            .nodes
            .values()
            .filter(|n| may_run_on(a, n) && may_run_on(b, n))
            .map(|n| n.name.clone())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesurface_model::{Labels, Scheduling};

    fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        Node {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Labels>(),
            addresses: vec![],
            taints: taints
                .iter()
                .map(|(k, e)| Taint {
                    key: k.to_string(),
                    value: String::new(),
                    effect: e.to_string(),
                })
                .collect(),
            source: Default::default(),
        }
    }

    #[test]
    fn node_selector_affinity_and_taints() {
        let ctl = node("ctl", &[("role", "ctl")], &[("dedicated", "NoSchedule")]);
        let cmp = node("cmp", &[("role", "cmp")], &[]);
        let mut e = Endpoint::default();
        assert!(!may_run_on(&e, &ctl), "untolerated NoSchedule taint");
        assert!(may_run_on(&e, &cmp));
        e.scheduling = Scheduling {
            tolerations: vec![Toleration {
                key: Some("dedicated".into()),
                operator: "Exists".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(may_run_on(&e, &ctl));
        e.scheduling
            .node_selector
            .insert("role".into(), "cmp".into());
        assert!(!may_run_on(&e, &ctl) && may_run_on(&e, &cmp));
        e.scheduling.node_selector.clear();
        e.scheduling.required_terms = vec![vec![NodeRequirement {
            key: "role".into(),
            operator: "NotIn".into(),
            values: vec!["cmp".into()],
            field: false,
        }]];
        assert!(may_run_on(&e, &ctl) && !may_run_on(&e, &cmp));
        e.node = Some("cmp".into());
        assert!(
            may_run_on(&e, &cmp) && !may_run_on(&e, &ctl),
            "nodeName wins"
        );
    }

    #[test]
    fn pods_pinned_to_a_node_missing_from_the_input_still_share_it() {
        let mut cluster = Cluster::default();
        cluster
            .nodes
            .insert("other".into(), node("other", &[], &[]));
        let pinned = |n: &str| Endpoint {
            node: Some(n.into()),
            ..Default::default()
        };
        assert_eq!(
            shared_nodes(&cluster, &pinned("gone"), &pinned("gone")),
            Some(vec!["gone".to_string()])
        );
        assert_eq!(
            shared_nodes(&cluster, &pinned("gone"), &pinned("other")),
            Some(vec![])
        );
        assert_eq!(
            shared_nodes(&Cluster::default(), &pinned("a"), &Endpoint::default()),
            None
        );
    }

    #[test]
    fn prefer_no_schedule_does_not_keep_pods_away() {
        let n = node("n", &[], &[("soft", "PreferNoSchedule")]);
        assert!(may_run_on(&Endpoint::default(), &n));
    }
}
