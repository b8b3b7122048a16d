//! `audit` output: the `kubesurface.audit/v1` JSON contract, a table, Markdown and SARIF.

use std::io::{self, Write};

use kubesurface_analyses::Finding;
use kubesurface_analyses::rules::RULES;
use serde_json::json;

/// The schema identifier of the audit JSON.
pub const AUDIT_SCHEMA: &str = "kubesurface.audit/v1";

/// `{"schema":"kubesurface.audit/v1","settings":{…},"findings":[…]}`, one finding per line,
/// keys in contract order (`settings` and `suppression` are optional extensions).
pub fn json(
    out: &mut dyn Write,
    findings: &[Finding],
    settings: &kubesurface_engine::Settings,
) -> io::Result<()> {
    let s = |v: &str| serde_json::Value::String(v.to_string()).to_string();
    write!(
        out,
        "{{\"schema\":\"{AUDIT_SCHEMA}\",\"settings\":{},\"findings\":[",
        crate::settings_json(settings)
    )?;
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let objects: Vec<String> = f.objects.iter().map(|o| s(o)).collect();
        let locations: Vec<String> = f
            .locations
            .iter()
            .map(|l| format!("{{\"file\":{},\"line\":{}}}", s(&l.file), l.line))
            .collect();
        write!(
            out,
            "\n{{\"rule\":{},\"name\":{},\"severity\":{},\"objects\":[{}],\"message\":{},\"locations\":[{}],\"suppressed\":{}",
            s(f.rule),
            s(f.name),
            s(f.severity.as_str()),
            objects.join(","),
            s(&f.message),
            locations.join(","),
            f.suppressed
        )?;
        if let Some(why) = &f.suppression {
            write!(out, ",\"suppression\":{}", s(why))?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"\n]}\n")
}

/// Ranked findings, for people; suppressed ones listed last.
pub fn table(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for f in findings.iter().filter(|f| !f.suppressed) {
        let at = f
            .locations
            .first()
            .map(|l| format!("{}:{}", l.file, l.line))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<8} {} {}  {}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            f.name,
            at
        )?;
        writeln!(out, "         {}", f.message)?;
    }
    let suppressed: Vec<&Finding> = findings.iter().filter(|f| f.suppressed).collect();
    if !suppressed.is_empty() {
        writeln!(out, "\nSuppressed:")?;
        for f in &suppressed {
            writeln!(
                out,
                "  {} {} {}: {}",
                f.rule,
                f.objects.join(", "),
                f.name,
                f.suppression.as_deref().unwrap_or("")
            )?;
        }
    }
    let count = |sev: &str| {
        findings
            .iter()
            .filter(|f| !f.suppressed && f.severity.as_str() == sev)
            .count()
    };
    writeln!(
        out,
        "\n{} findings: {} critical, {} high, {} medium, {} low ({} suppressed).",
        findings.len() - suppressed.len(),
        count("critical"),
        count("high"),
        count("medium"),
        count("low"),
        suppressed.len()
    )
}

/// Markdown for a pull-request comment.
pub fn markdown(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    writeln!(out, "### kubesurface audit\n")?;
    if findings.iter().all(|f| f.suppressed) {
        writeln!(out, "No findings.")?;
    } else {
        writeln!(out, "| Severity | Rule | Objects | Finding | Location |")?;
        writeln!(out, "|---|---|---|---|---|")?;
        for f in findings.iter().filter(|f| !f.suppressed) {
            let at = f
                .locations
                .first()
                .map(|l| format!("`{}:{}`", l.file, l.line))
                .unwrap_or_default();
            writeln!(
                out,
                "| {} | [{}](docs/rules/{}.md) {} | {} | {} | {} |",
                f.severity,
                f.rule,
                f.rule,
                f.name,
                f.objects
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(" "),
                f.message.replace('|', "\\|"),
                at
            )?;
        }
    }
    let suppressed = findings.iter().filter(|f| f.suppressed).count();
    if suppressed > 0 {
        writeln!(out, "\n{suppressed} suppressed finding(s).")?;
    }
    Ok(())
}

fn sarif_level(severity: kubesurface_analyses::Severity) -> &'static str {
    use kubesurface_analyses::Severity::*;
    match severity {
        Critical | High => "error",
        Medium => "warning",
        Low => "note",
    }
}

/// `file` as an RFC 3986 URI reference (SARIF `artifactLocation.uri`): a relative path stays
/// relative (without leading `./`), an absolute one becomes a `file://` URI, and every byte
/// outside the unreserved and sub-delimiter sets (space, `#`, `%`, `:`, `<`, non-ASCII, …)
/// is percent-encoded.
fn artifact_uri(file: &str) -> String {
    let mut path = file;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    let mut uri = String::with_capacity(path.len() + 7);
    if path.starts_with('/') {
        uri.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// At most `max` characters of `text` (GitHub code scanning's limit on rule descriptions; the
/// whole text stays in `help.markdown`): whole sentences when a cut at a sentence end keeps
/// more than half, else a cut marked with `…`.
fn clip_description(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max - 1).collect();
    let b = head.as_bytes();
    // A `.` before a space or newline, not after a digit (`2.` of a numbered list).
    let sentence_end = (1..b.len().saturating_sub(1))
        .rev()
        .find(|&i| b[i] == b'.' && matches!(b[i + 1], b' ' | b'\n') && !b[i - 1].is_ascii_digit());
    match sentence_end {
        Some(i) if i > head.len() / 2 => head[..=i].to_string(),
        _ => format!("{}…", head.trim_end()),
    }
}

/// SARIF 2.1.0: one run, every rule with its help, every finding with file:line regions;
/// suppressed findings carry a `suppressions` entry.
pub fn sarif(
    out: &mut dyn Write,
    findings: &[Finding],
    version: &str,
    settings: &kubesurface_engine::Settings,
) -> io::Result<()> {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": clip_description(r.rationale.trim(), 1024)},
                "help": {"text": r.remediation.trim(), "markdown": r.markdown()},
                "helpUri": format!("https://github.com/kubesurface/kubesurface/blob/main/docs/rules/{}.md", r.code),
                "defaultConfiguration": {"level": sarif_level(r.severity)},
                "properties": {"security-severity": match r.severity {
                    kubesurface_analyses::Severity::Critical => "9.5",
                    kubesurface_analyses::Severity::High => "8.0",
                    kubesurface_analyses::Severity::Medium => "5.5",
                    kubesurface_analyses::Severity::Low => "3.0",
                }, "tags": ["security", "kubernetes"]}
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let locations: Vec<serde_json::Value> = f
                .locations
                .iter()
                .map(|l| {
                    json!({"physicalLocation": {
                        "artifactLocation": {"uri": artifact_uri(&l.file)},
                        "region": {"startLine": l.line.max(1)}
                    }})
                })
                .collect();
            let mut r = json!({
                "ruleId": f.rule,
                "ruleIndex": RULES.iter().position(|r| r.code == f.rule).unwrap_or(0),
                "level": sarif_level(f.severity),
                "message": {"text": f.message},
                "locations": locations,
                "properties": {"objects": f.objects, "severity": f.severity.as_str()}
            });
            if f.suppressed {
                r["suppressions"] = json!([{
                    "kind": if f.suppression.as_deref().is_some_and(|s| s.starts_with("config")) { "external" } else { "inSource" },
                    "justification": f.suppression.clone().unwrap_or_default()
                }]);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kubesurface",
                "version": version,
                "informationUri": "https://github.com/kubesurface/kubesurface",
                "rules": rules
            }},
            "results": results,
            "properties": {
                "cni": settings.cni.as_str(),
                "ipblock_matches_pods": settings.ipblock_matches_pods
            }
        }]
    });
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
