//! Findings: what an audit rule reports.

use std::fmt;

use serde::Serialize;

/// Severity, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Low,
    /// Should be fixed.
    Medium,
    /// Exposes something that should not be exposed.
    High,
    /// Exposes something sensitive to untrusted parties.
    Critical,
}

impl Severity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses `low|medium|high|critical`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file and line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// File path as given.
    pub file: String,
    /// 1-based line.
    pub line: u32,
}

impl From<&kubesurface_model::Source> for Location {
    fn from(s: &kubesurface_model::Source) -> Self {
        Location {
            file: s.file.to_string(),
            line: s.line,
        }
    }
}

/// One finding of one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule code, e.g. `KS101`.
    pub rule: &'static str,
    /// Rule name.
    pub name: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Objects involved, `NS/Kind/NAME` (`Kind/NAME` for cluster-scoped objects).
    pub objects: Vec<String>,
    /// What is reachable from where.
    pub message: String,
    /// Where the objects were read.
    pub locations: Vec<Location>,
    /// Suppressed by the config or an annotation.
    pub suppressed: bool,
    /// Why it is suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<String>,
}
