//! KS103: Service externalIPs (CVE-2020-8554). PLACEHOLDER: to be implemented.

use super::{AuditContext, Rule};
use crate::findings::{Finding, Severity};

/// The rule.
pub const RULE: Rule = Rule {
    code: "KS103",
    name: "service-external-ips",
    severity: Severity::High,
    summary: "Service externalIPs (CVE-2020-8554).",
    rationale: "TODO",
    example: "TODO",
    remediation: "TODO",
    check,
};

fn check(_ctx: &AuditContext<'_>, _out: &mut Vec<Finding>) {}
