//! KS102: LoadBalancer open to the world (no source ranges, not internal). PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS102",
    name: "load-balancer-open-to-world",
    severity: Severity::High,
    summary: "LoadBalancer open to the world (no source ranges, not internal).",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
