//! KS106: process in the host network namespace bound to a wildcard address. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS106",
    name: "wildcard-bind-in-host-netns",
    severity: Severity::High,
    summary: "process in the host network namespace bound to a wildcard address.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
