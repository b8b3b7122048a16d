//! KS307: legacy net.beta.kubernetes.io/network-policy annotation. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS307",
    name: "legacy-isolation-annotation",
    severity: Severity::Medium,
    summary: "legacy net.beta.kubernetes.io/network-policy annotation.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
