//! KS205: ingress allowed from 0.0.0.0/0 or ::/0. PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS205",
    name: "ingress-from-anywhere",
    severity: Severity::Medium,
    summary: "ingress allowed from 0.0.0.0/0 or ::/0.",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
