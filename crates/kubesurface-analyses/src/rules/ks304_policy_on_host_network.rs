//! KS304: policy selecting hostNetwork pods (no effect). PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS304",
    name: "policy-selects-host-network",
    severity: Severity::Medium,
    summary: "policy selecting hostNetwork pods (no effect).",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
