//! KS306: Service selecting no pod or targeting an undeclared port. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS306",
    name: "service-without-backends",
    severity: Severity::Low,
    summary: "Service selecting no pod or targeting an undeclared port.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
