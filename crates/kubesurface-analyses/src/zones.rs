//! Trust zones: which endpoints are untrusted, which are sensitive.

use kubesurface_model::{Cluster, Endpoint, Labels};

use crate::config::ZoneSelector;

/// A parsed `ns/k=v,k2=v2` selector: namespace (`None` = any) and equality requirements
/// (`k` alone means "has label k", `k!=v` excludes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleSelector {
    /// Namespace, `None` for any.
    pub namespace: Option<String>,
    /// `(key, op, value)` with op `=`, `!=` or `exists`.
    pub terms: Vec<(String, String, String)>,
}

impl SimpleSelector {
    /// True when the endpoint's namespace and labels satisfy every term.
    pub fn matches(&self, namespace: &str, labels: &Labels) -> bool {
        self.namespace.as_deref().is_none_or(|n| n == namespace)
            && self.terms.iter().all(|(k, op, v)| match op.as_str() {
                "=" => labels.get(k) == Some(v),
                "!=" => labels.get(k) != Some(v),
                _ => labels.contains_key(k),
            })
    }
}

/// Parses `ns/k=v,k2!=v2,k3` (`*/…` or no `ns/` for any namespace).
pub fn parse_selector(s: &str) -> Result<SimpleSelector, String> {
    let (namespace, rest) = match s.split_once('/') {
        // A label key may itself contain '/', so only a first segment without '=' is a
        // namespace.
        Some((ns, rest)) if !ns.contains('=') && !ns.contains('.') => (
            if ns == "*" {
                None
            } else {
                Some(ns.to_string())
            },
            rest,
        ),
        _ => (None, s),
    };
    let mut terms = Vec::new();
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((k, v)) = part.split_once("!=") {
            terms.push((k.trim().to_string(), "!=".to_string(), v.trim().to_string()));
        } else if let Some((k, v)) = part.split_once('=') {
            terms.push((
                k.trim().to_string(),
                "=".to_string(),
                v.trim_start_matches('=').trim().to_string(),
            ));
        } else {
            terms.push((part.to_string(), "exists".to_string(), String::new()));
        }
    }
    if terms.is_empty() && namespace.is_none() {
        return Err(format!(
            "selector {s:?} selects nothing: write ns/key=value"
        ));
    }
    Ok(SimpleSelector { namespace, terms })
}

/// True when `e` is in the zone described by `members`.
pub fn in_zone(members: &[ZoneSelector], e: &Endpoint) -> bool {
    members.iter().any(|m| {
        if let Some(ns) = &m.namespace {
            return &e.namespace == ns;
        }
        if let Some(sel) = &m.selector {
            return parse_selector(sel).is_ok_and(|s| s.matches(&e.namespace, &e.labels));
        }
        if let Some(w) = &m.workload {
            return w == &e.workload_name()
                || w == &format!("{}/{}", e.namespace, e.workload.name)
                || w == &format!("{}/{}/{}", e.namespace, e.workload.kind, e.workload.name);
        }
        false
    })
}

/// Indices of the endpoints in a zone.
pub fn members(cluster: &Cluster, zone: &[ZoneSelector]) -> Vec<usize> {
    cluster
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| in_zone(zone, e))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selector_with_namespace_and_terms() {
        let s = parse_selector("openstack/application=nova,component!=api,tier").unwrap();
        assert_eq!(s.namespace.as_deref(), Some("openstack"));
        assert!(s.matches(
            "openstack",
            &labels(&[("application", "nova"), ("tier", "x")])
        ));
        assert!(!s.matches("ceph", &labels(&[("application", "nova"), ("tier", "x")])));
        assert!(!s.matches(
            "openstack",
            &labels(&[("application", "nova"), ("component", "api"), ("tier", "x")])
        ));
        assert!(!s.matches("openstack", &labels(&[("application", "nova")])));
    }

    #[test]
    fn selector_keys_may_contain_slashes() {
        let s = parse_selector("app.kubernetes.io/name=db").unwrap();
        assert_eq!(s.namespace, None);
        assert!(s.matches("any", &labels(&[("app.kubernetes.io/name", "db")])));
        let s = parse_selector("*/app=db").unwrap();
        assert_eq!(s.namespace, None);
    }
}
