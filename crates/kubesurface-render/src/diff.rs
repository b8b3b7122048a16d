//! `diff` output: the `kubesurface.diff/v1` JSON contract, a table for people, and
//! Markdown for a pull-request comment.

use std::io::{self, Write};

use kubesurface_analyses::diff::Diff;
use kubesurface_analyses::{Exposure, Finding, Location};
use kubesurface_engine::PortSet;
use kubesurface_model::Protocol;
use serde::Serialize;
use serde::ser::SerializeMap;

/// The schema identifier of the diff JSON.
pub const DIFF_SCHEMA: &str = "kubesurface.diff/v1";

/// A port set in the connectivity contract's form: `{"TCP":[[lo,hi],…],…}`.
struct Ports<'a>(&'a PortSet);

impl Serialize for Ports<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for p in Protocol::ALL {
            let ranges = self.0.protocol(p).ranges();
            if !ranges.is_empty() {
                let pairs: Vec<[u16; 2]> = ranges.iter().map(|&(lo, hi)| [lo, hi]).collect();
                map.serialize_entry(p.as_str(), &pairs)?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
struct ConnectionRecord<'a> {
    src: &'a str,
    dst: &'a str,
    allowed: Ports<'a>,
}

#[derive(Serialize)]
struct ChangeRecord<'a> {
    src: &'a str,
    dst: &'a str,
    before: Ports<'a>,
    after: Ports<'a>,
}

/// An exposure record, keys in the exposure contract's order.
#[derive(Serialize)]
struct ExposureRecord<'a> {
    via: &'a str,
    entry: &'a str,
    target: &'a str,
    port: u16,
    protocol: &'a str,
    admitted: bool,
    source: &'a str,
    object: &'a str,
}

impl<'a> From<&'a Exposure> for ExposureRecord<'a> {
    fn from(e: &'a Exposure) -> Self {
        ExposureRecord {
            via: e.via.as_str(),
            entry: &e.entry,
            target: &e.target,
            port: e.port,
            protocol: e.protocol.as_str(),
            admitted: e.admitted,
            source: &e.source,
            object: &e.object,
        }
    }
}

/// A finding, keys in the audit contract's order (`suppression` only when suppressed).
#[derive(Serialize)]
struct FindingRecord<'a> {
    rule: &'a str,
    name: &'a str,
    severity: &'a str,
    objects: &'a [String],
    message: &'a str,
    locations: &'a [Location],
    suppressed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppression: Option<&'a str>,
}

impl<'a> From<&'a Finding> for FindingRecord<'a> {
    fn from(f: &'a Finding) -> Self {
        FindingRecord {
            rule: f.rule,
            name: f.name,
            severity: f.severity.as_str(),
            objects: &f.objects,
            message: &f.message,
            locations: &f.locations,
            suppressed: f.suppressed,
            suppression: f.suppression.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct ConnectivityPart<'a> {
    added: Vec<ConnectionRecord<'a>>,
    removed: Vec<ConnectionRecord<'a>>,
    changed: Vec<ChangeRecord<'a>>,
}

#[derive(Serialize)]
struct ExposurePart<'a> {
    added: Vec<ExposureRecord<'a>>,
    removed: Vec<ExposureRecord<'a>>,
}

#[derive(Serialize)]
struct FindingsPart<'a> {
    new: Vec<FindingRecord<'a>>,
    fixed: Vec<FindingRecord<'a>>,
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'a str,
    granularity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<SettingsPart>,
    connectivity: ConnectivityPart<'a>,
    exposure: ExposurePart<'a>,
    findings: FindingsPart<'a>,
}

/// The settings both sides were evaluated under.
#[derive(Serialize)]
struct SettingsPart {
    cni: &'static str,
    ipblock_matches_pods: bool,
}

/// The `kubesurface.diff/v1` document (without `settings`).
pub fn json(out: &mut dyn Write, d: &Diff) -> io::Result<()> {
    json_with_settings(out, d, None)
}

/// The `kubesurface.diff/v1` document, stating the settings both sides used.
pub fn json_with_settings(
    out: &mut dyn Write,
    d: &Diff,
    settings: Option<&kubesurface_engine::Settings>,
) -> io::Result<()> {
    let doc = Document {
        schema: DIFF_SCHEMA,
        granularity: d.granularity.as_str(),
        settings: settings.map(|s| SettingsPart {
            cni: s.cni.as_str(),
            ipblock_matches_pods: s.ipblock_matches_pods,
        }),
        connectivity: ConnectivityPart {
            added: d
                .added
                .iter()
                .map(|c| ConnectionRecord {
                    src: &c.src,
                    dst: &c.dst,
                    allowed: Ports(&c.allowed),
                })
                .collect(),
            removed: d
                .removed
                .iter()
                .map(|c| ConnectionRecord {
                    src: &c.src,
                    dst: &c.dst,
                    allowed: Ports(&c.allowed),
                })
                .collect(),
            changed: d
                .changed
                .iter()
                .map(|c| ChangeRecord {
                    src: &c.src,
                    dst: &c.dst,
                    before: Ports(&c.before),
                    after: Ports(&c.after),
                })
                .collect(),
        },
        exposure: ExposurePart {
            added: d.exposure_added.iter().map(ExposureRecord::from).collect(),
            removed: d
                .exposure_removed
                .iter()
                .map(ExposureRecord::from)
                .collect(),
        },
        findings: FindingsPart {
            new: d.findings_new.iter().map(FindingRecord::from).collect(),
            fixed: d.findings_fixed.iter().map(FindingRecord::from).collect(),
        },
    };
    serde_json::to_writer(&mut *out, &doc).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

fn exposure_line(e: &Exposure) -> String {
    format!(
        "{} {} -> {}:{}/{} {} from {}  ({})",
        e.via,
        e.entry,
        e.target,
        e.port,
        e.protocol,
        if e.admitted { "admitted" } else { "BLOCKED" },
        e.source,
        e.object
    )
}

fn finding_lines(out: &mut dyn Write, tag: &str, f: &Finding) -> io::Result<()> {
    let at = f
        .locations
        .first()
        .map(|l| format!("  {}:{}", l.file, l.line))
        .unwrap_or_default();
    let suppressed = if f.suppressed { " (suppressed)" } else { "" };
    writeln!(
        out,
        "  {tag:<6}{:<9}{} {}{suppressed}{at}",
        f.severity.as_str().to_uppercase(),
        f.rule,
        f.name
    )?;
    writeln!(out, "{:8}{}", "", f.message)
}

fn summary(d: &Diff) -> String {
    format!(
        "{} connection(s) added, {} removed, {} changed; {} exposure(s) added, {} removed; {} finding(s) new, {} fixed.",
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.exposure_added.len(),
        d.exposure_removed.len(),
        d.findings_new.len(),
        d.findings_fixed.len()
    )
}

/// For people: `+` added, `-` removed, `~` changed.
pub fn table(out: &mut dyn Write, d: &Diff) -> io::Result<()> {
    if d.is_empty() {
        return writeln!(
            out,
            "No changes: connectivity ({} granularity), exposure and findings are the same.",
            d.granularity.as_str()
        );
    }
    if !(d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty()) {
        writeln!(
            out,
            "Connectivity ({} granularity):",
            d.granularity.as_str()
        )?;
        let width = d
            .added
            .iter()
            .chain(&d.removed)
            .map(|c| c.src.len() + c.dst.len())
            .chain(d.changed.iter().map(|c| c.src.len() + c.dst.len()))
            .max()
            .unwrap_or(0)
            + 4;
        let pair = |s: &str, t: &str| format!("{s} -> {t}");
        for c in &d.added {
            writeln!(out, "  + {:<width$}  {}", pair(&c.src, &c.dst), c.allowed)?;
        }
        for c in &d.removed {
            writeln!(out, "  - {:<width$}  {}", pair(&c.src, &c.dst), c.allowed)?;
        }
        for c in &d.changed {
            writeln!(
                out,
                "  ~ {:<width$}  {}  =>  {}",
                pair(&c.src, &c.dst),
                c.before,
                c.after
            )?;
        }
        writeln!(out)?;
    }
    if !(d.exposure_added.is_empty() && d.exposure_removed.is_empty()) {
        writeln!(out, "Exposure:")?;
        for e in &d.exposure_added {
            writeln!(out, "  + {}", exposure_line(e))?;
        }
        for e in &d.exposure_removed {
            writeln!(out, "  - {}", exposure_line(e))?;
        }
        writeln!(out)?;
    }
    if !(d.findings_new.is_empty() && d.findings_fixed.is_empty()) {
        writeln!(out, "Findings:")?;
        for f in &d.findings_new {
            finding_lines(out, "new", f)?;
        }
        for f in &d.findings_fixed {
            finding_lines(out, "fixed", f)?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{}", summary(d))
}

/// Tables longer than this are folded into `<details>`.
const FOLD_ROWS: usize = 10;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn code(s: &str) -> String {
    format!("`{}`", cell(s).replace('`', "'"))
}

/// Writes a table under a summary line, folded when long.
fn section(out: &mut dyn Write, title: &str, header: &str, rows: &[String]) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns = header.matches('|').count().saturating_sub(1);
    let rule = format!("|{}", "---|".repeat(columns));
    if rows.len() > FOLD_ROWS {
        writeln!(out, "<details>\n<summary>{title}</summary>\n")?;
    } else {
        writeln!(out, "#### {title}\n")?;
    }
    writeln!(out, "{header}\n{rule}")?;
    for r in rows {
        writeln!(out, "{r}")?;
    }
    if rows.len() > FOLD_ROWS {
        writeln!(out, "\n</details>")?;
    }
    writeln!(out)
}

fn count(n: usize, word: &str) -> String {
    format!("**{n}** {word}")
}

/// Markdown for a pull-request comment: headline counts, then one table per part, long
/// ones folded into `<details>`.
pub fn markdown(out: &mut dyn Write, d: &Diff) -> io::Result<()> {
    writeln!(out, "### kubesurface diff\n")?;
    if d.is_empty() {
        return writeln!(
            out,
            "No change in reachability ({} granularity), exposure or findings.",
            d.granularity.as_str()
        );
    }
    let serious = d
        .findings_new
        .iter()
        .filter(|f| !f.suppressed && f.severity >= kubesurface_analyses::Severity::High)
        .count();
    writeln!(
        out,
        "{}Connectivity ({} granularity): {}, {}, {} · Exposure: {}, {} · Findings: {}, {}\n",
        if serious > 0 { "⚠️ " } else { "" },
        d.granularity.as_str(),
        count(d.added.len(), "added"),
        count(d.removed.len(), "removed"),
        count(d.changed.len(), "changed"),
        count(d.exposure_added.len(), "added"),
        count(d.exposure_removed.len(), "removed"),
        count(d.findings_new.len(), "new"),
        count(d.findings_fixed.len(), "fixed"),
    )?;

    let mut rows = Vec::new();
    for c in &d.added {
        rows.push(format!(
            "| added | {} | {} | | {} |",
            code(&c.src),
            code(&c.dst),
            cell(&c.allowed.to_string())
        ));
    }
    for c in &d.removed {
        rows.push(format!(
            "| removed | {} | {} | {} | |",
            code(&c.src),
            code(&c.dst),
            cell(&c.allowed.to_string())
        ));
    }
    for c in &d.changed {
        rows.push(format!(
            "| changed | {} | {} | {} | {} |",
            code(&c.src),
            code(&c.dst),
            cell(&c.before.to_string()),
            cell(&c.after.to_string())
        ));
    }
    section(
        out,
        &format!("Connectivity: {} change(s)", rows.len()),
        "| | Source | Destination | Before | After |",
        &rows,
    )?;

    let exposure_row = |tag: &str, e: &Exposure| {
        format!(
            "| {tag} | {} | {} | {} | {}/{} | {} | {} | {} |",
            e.via,
            code(&e.entry),
            code(&e.target),
            e.port,
            e.protocol,
            if e.admitted { "yes" } else { "**no**" },
            cell(&e.source),
            code(&e.object)
        )
    };
    let rows: Vec<String> = d
        .exposure_added
        .iter()
        .map(|e| exposure_row("added", e))
        .chain(
            d.exposure_removed
                .iter()
                .map(|e| exposure_row("removed", e)),
        )
        .collect();
    section(
        out,
        &format!("Exposure: {} change(s)", rows.len()),
        "| | Via | Entry | Target | Port | Admitted | Source | Object |",
        &rows,
    )?;

    let finding_row = |tag: &str, f: &Finding| {
        let objects: Vec<String> = f.objects.iter().map(|o| code(o)).collect();
        format!(
            "| {tag} | {}{} | [{}](docs/rules/{}.md) {} | {} | {} |",
            f.severity,
            if f.suppressed { " (suppressed)" } else { "" },
            f.rule,
            f.rule,
            f.name,
            objects.join(" "),
            cell(&f.message)
        )
    };
    let rows: Vec<String> = d
        .findings_new
        .iter()
        .map(|f| finding_row("**new**", f))
        .chain(d.findings_fixed.iter().map(|f| finding_row("fixed", f)))
        .collect();
    section(
        out,
        &format!(
            "Findings: {} new, {} fixed",
            d.findings_new.len(),
            d.findings_fixed.len()
        ),
        "| | Severity | Rule | Objects | Finding |",
        &rows,
    )
}
