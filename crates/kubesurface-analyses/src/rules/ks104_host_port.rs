//! KS104: hostPort. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS104",
    name: "host-port",
    severity: Severity::Medium,
    summary: "hostPort.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
