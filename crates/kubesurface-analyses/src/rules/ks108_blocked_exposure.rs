//! KS108: exposure that policies block (broken). PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS108",
    name: "exposure-blocked-by-policy",
    severity: Severity::Low,
    summary: "exposure that policies block (broken).",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
