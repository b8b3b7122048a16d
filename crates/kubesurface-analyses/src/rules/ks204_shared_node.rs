//! KS204: sensitive pod may share a node with a hostNetwork or untrusted pod. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS204",
    name: "sensitive-shares-node",
    severity: Severity::High,
    summary: "sensitive pod may share a node with a hostNetwork or untrusted pod.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
