//! KS302: policy peer matches nothing. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS302",
    name: "policy-peer-matches-nothing",
    severity: Severity::Low,
    summary: "policy peer matches nothing.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
