//! KS105: hostNetwork pod serving on node interfaces. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS105",
    name: "host-network-serving",
    severity: Severity::High,
    summary: "hostNetwork pod serving on node interfaces.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
