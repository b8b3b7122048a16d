//! Label selector matching, as `metav1.LabelSelector` defines it.

use kubesurface_model::{LabelSelector, Labels, Operator, Requirement};

/// True when `labels` satisfy every `matchLabels` entry and every `matchExpressions`
/// requirement. The empty selector matches every label set.
pub fn matches(selector: &LabelSelector, labels: &Labels) -> bool {
    selector
        .match_labels
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && selector
            .match_expressions
            .iter()
            .all(|r| requirement_matches(r, labels))
}

/// One requirement. `NotIn` and `DoesNotExist` are satisfied by an absent label.
pub fn requirement_matches(r: &Requirement, labels: &Labels) -> bool {
    let value = labels.get(&r.key);
    match r.operator {
        Operator::In => value.is_some_and(|v| r.values.contains(v)),
        Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
        Operator::Exists => value.is_some(),
        Operator::DoesNotExist => value.is_none(),
    }
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

    fn req(key: &str, operator: Operator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn expr(r: Requirement) -> LabelSelector {
        LabelSelector {
            match_labels: vec![],
            match_expressions: vec![r],
        }
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(matches(&LabelSelector::default(), &labels(&[])));
        assert!(matches(&LabelSelector::default(), &labels(&[("a", "b")])));
    }

    #[test]
    fn match_labels_is_an_and_of_equalities() {
        let s = LabelSelector {
            match_labels: vec![("app".into(), "db".into()), ("tier".into(), "be".into())],
            match_expressions: vec![],
        };
        assert!(matches(
            &s,
            &labels(&[("app", "db"), ("tier", "be"), ("x", "y")])
        ));
        assert!(!matches(&s, &labels(&[("app", "db")])));
        assert!(!matches(&s, &labels(&[("app", "db"), ("tier", "fe")])));
    }

    #[test]
    fn in_requires_presence_and_membership() {
        let s = expr(req("env", Operator::In, &["prod", "stage"]));
        assert!(matches(&s, &labels(&[("env", "prod")])));
        assert!(!matches(&s, &labels(&[("env", "dev")])));
        assert!(!matches(&s, &labels(&[])));
    }

    #[test]
    fn not_in_is_satisfied_by_absence() {
        let s = expr(req("env", Operator::NotIn, &["prod"]));
        assert!(matches(&s, &labels(&[])));
        assert!(matches(&s, &labels(&[("env", "dev")])));
        assert!(!matches(&s, &labels(&[("env", "prod")])));
    }

    #[test]
    fn exists_and_does_not_exist_ignore_values() {
        let exists = expr(req("env", Operator::Exists, &[]));
        let absent = expr(req("env", Operator::DoesNotExist, &[]));
        let with = labels(&[("env", "")]);
        assert!(matches(&exists, &with));
        assert!(!matches(&absent, &with));
        assert!(!matches(&exists, &labels(&[])));
        assert!(matches(&absent, &labels(&[])));
    }

    #[test]
    fn labels_and_expressions_are_anded() {
        let s = LabelSelector {
            match_labels: vec![("app".into(), "db".into())],
            match_expressions: vec![req("env", Operator::NotIn, &["prod"])],
        };
        assert!(matches(&s, &labels(&[("app", "db")])));
        assert!(!matches(&s, &labels(&[("app", "db"), ("env", "prod")])));
        assert!(!matches(&s, &labels(&[("env", "dev")])));
    }
}
