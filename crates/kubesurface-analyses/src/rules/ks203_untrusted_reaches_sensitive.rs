//! KS203: untrusted reaches sensitive. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS203",
    name: "untrusted-reaches-sensitive",
    severity: Severity::Critical,
    summary: "untrusted reaches sensitive.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
