//! KS107: Ingress/Gateway route to a sensitive workload. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS107",
    name: "route-to-sensitive",
    severity: Severity::High,
    summary: "Ingress/Gateway route to a sensitive workload.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
