//! `exposure` output: the `kubesurface.exposure/v1` JSON contract, a table, CSV, Markdown.

use std::io::{self, Write};

use kubesurface_analyses::Exposure;

/// The schema identifier of the exposure JSON.
pub const EXPOSURE_SCHEMA: &str = "kubesurface.exposure/v1";

/// One record as JSON, keys in contract order.
fn record(e: &Exposure) -> String {
    let s = |v: &str| serde_json::Value::String(v.to_string()).to_string();
    format!(
        "{{\"via\":{},\"entry\":{},\"target\":{},\"port\":{},\"protocol\":{},\"admitted\":{},\"source\":{},\"object\":{}}}",
        s(e.via.as_str()),
        s(&e.entry),
        s(&e.target),
        e.port,
        s(e.protocol.as_str()),
        e.admitted,
        s(&e.source),
        s(&e.object)
    )
}

/// `{"schema":"kubesurface.exposure/v1","settings":{…},"exposures":[…]}`, one record per
/// line.
pub fn json(
    out: &mut dyn Write,
    exposures: &[Exposure],
    settings: &kubesurface_engine::Settings,
) -> io::Result<()> {
    write!(
        out,
        "{{\"schema\":\"{EXPOSURE_SCHEMA}\",\"settings\":{},\"exposures\":[",
        crate::settings_json(settings)
    )?;
    for (i, e) in exposures.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(out, "\n{}", record(e))?;
    }
    out.write_all(b"\n]}\n")
}

/// Grouped by entry point, for people.
pub fn table(out: &mut dyn Write, exposures: &[Exposure]) -> io::Result<()> {
    let mut last: Option<(&str, &str)> = None;
    for e in exposures {
        if last != Some((&e.object, &e.entry)) {
            writeln!(out, "{} {}  ({})", e.via, e.entry, e.object)?;
            last = Some((&e.object, &e.entry));
        }
        let verdict = if e.admitted { "admitted" } else { "BLOCKED " };
        writeln!(
            out,
            "  -> {}:{}/{}  {verdict}  from {}",
            e.target, e.port, e.protocol, e.source
        )?;
    }
    let admitted = exposures.iter().filter(|e| e.admitted).count();
    writeln!(
        out,
        "\n{} exposures ({} admitted by NetworkPolicy, {} blocked).",
        exposures.len(),
        admitted,
        exposures.len() - admitted
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV with the JSON contract's columns.
pub fn csv(out: &mut dyn Write, exposures: &[Exposure]) -> io::Result<()> {
    writeln!(out, "via,entry,target,port,protocol,admitted,source,object")?;
    for e in exposures {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            e.via,
            csv_field(&e.entry),
            csv_field(&e.target),
            e.port,
            e.protocol,
            e.admitted,
            csv_field(&e.source),
            csv_field(&e.object)
        )?;
    }
    Ok(())
}

/// A Markdown table.
pub fn markdown(out: &mut dyn Write, exposures: &[Exposure]) -> io::Result<()> {
    writeln!(out, "### Exposure\n")?;
    writeln!(
        out,
        "| Via | Entry | Target | Port | Admitted | Source | Object |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for e in exposures {
        writeln!(
            out,
            "| {} | `{}` | `{}` | {}/{} | {} | {} | `{}` |",
            e.via,
            e.entry.replace('|', "\\|"),
            e.target,
            e.port,
            e.protocol,
            if e.admitted { "yes" } else { "**no**" },
            e.source.replace('|', "\\|"),
            e.object
        )?;
    }
    Ok(())
}
