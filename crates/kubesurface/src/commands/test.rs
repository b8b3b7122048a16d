//! `kubesurface test ASSERTIONS.yaml [PATH…]`: every assertion evaluated, each failure with
//! the explain trail of the pairs that break it. Semantics (several pods per peer, ports,
//! `ext:` ranges) are in `kubesurface_analyses::assertions` and `docs/assertions.md`.

use std::io::{self, Write};
use std::process::ExitCode;

use kubesurface_analyses::assertions::{Assertion, MAX_TRAILS, Offense, Outcome, evaluate, parse};
use kubesurface_engine::Engine;
use kubesurface_render::allowed_json;

use super::common::{load, settings, write_stdout};
use super::explain::{explanation_json, explanation_text};
use crate::cli::{TestArgs, TestFormat};

/// Reads the assertions file (`-` is stdin).
fn read(path: &str) -> Result<(String, String), String> {
    if path == "-" {
        let mut text = String::new();
        io::Read::read_to_string(&mut io::stdin(), &mut text)
            .map_err(|e| format!("<stdin>: cannot read: {e}"))?;
        return Ok(("<stdin>".into(), text));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: cannot read: {e}"))?;
    Ok((path.to_string(), text))
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}\n"))
        .collect::<String>()
}

/// One offending pair as a line: what is allowed between them.
fn offense_line(o: &Offense) -> String {
    let allowed = if o.allowed.is_empty() {
        "nothing allowed".to_string()
    } else {
        format!("allowed {}", o.allowed)
    };
    format!("{} -> {}: {allowed}", o.src, o.dst)
}

/// The failure text of one assertion: the summary, every offending pair, the trails.
fn failure_text(outcome: &Outcome) -> String {
    let mut t = format!("{}\n", outcome.summary);
    for (i, o) in outcome.offenses.iter().enumerate() {
        t.push_str(&format!("{}\n", offense_line(o)));
        match &o.trail {
            Some(tr) => t.push_str(&indent(
                &explanation_text(
                    &o.src,
                    &o.dst,
                    tr.port,
                    tr.protocol.as_str(),
                    &tr.explanation,
                ),
                "  ",
            )),
            None if i < MAX_TRAILS => {
                t.push_str("  (no port to explain at: give one in `to`, PEER:PORT[/PROTO])\n");
            }
            None => {}
        }
    }
    let beyond = outcome.offenses.len().saturating_sub(MAX_TRAILS);
    if beyond > 0 {
        t.push_str(&format!(
            "({beyond} more pair(s) listed without a trail; `kubesurface explain` gives each)\n"
        ));
    }
    t
}

fn table(out: &mut dyn Write, file: &str, results: &[(Assertion, Outcome)]) -> io::Result<()> {
    for (a, o) in results {
        writeln!(
            out,
            "{}  {}  ({file}:{})",
            if o.passed { "PASS" } else { "FAIL" },
            a.title(),
            a.line
        )?;
        if !o.passed {
            if a.name.is_some() {
                writeln!(
                    out,
                    "      {} -> {}: expected {}",
                    a.from,
                    a.to,
                    a.expect.as_str()
                )?;
            }
            write!(out, "{}", indent(&failure_text(o), "      "))?;
            writeln!(out)?;
        }
    }
    let failed = results.iter().filter(|(_, o)| !o.passed).count();
    writeln!(
        out,
        "\n{} assertion(s): {} passed, {failed} failed.",
        results.len(),
        results.len() - failed
    )
}

fn json(out: &mut dyn Write, file: &str, results: &[(Assertion, Outcome)]) -> io::Result<()> {
    let list: Vec<serde_json::Value> = results
        .iter()
        .map(|(a, o)| {
            let offenses: Vec<serde_json::Value> = o
                .offenses
                .iter()
                .map(|off| {
                    serde_json::json!({
                        "src": off.src,
                        "dst": off.dst,
                        "allowed": serde_json::from_str::<serde_json::Value>(&allowed_json(&off.allowed)).unwrap_or_default(),
                        "explanation": off.trail.as_ref().map(|t| explanation_json(
                            &off.src,
                            &off.dst,
                            t.port,
                            t.protocol.as_str(),
                            &t.explanation,
                        )),
                    })
                })
                .collect();
            serde_json::json!({
                "name": a.title(),
                "line": a.line,
                "from": a.from,
                "to": a.to,
                "expect": a.expect.as_str(),
                "result": if o.passed { "pass" } else { "fail" },
                "summary": o.summary,
                "sources": o.sources,
                "destinations": o.destinations,
                "pairs": o.pairs,
                "offending": offenses,
            })
        })
        .collect();
    let failed = results.iter().filter(|(_, o)| !o.passed).count();
    let doc = serde_json::json!({
        "schema": "kubesurface.test/v1",
        "file": file,
        "passed": results.len() - failed,
        "failed": failed,
        "assertions": list,
    });
    writeln!(out, "{doc}")
}

/// Escapes text for XML 1.0 content and attributes; characters XML cannot carry are
/// replaced.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' | '\t' => o.push(c),
            '\r' => o.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Attribute values keep newlines as character references, so the message survives
/// attribute-value normalization.
fn xml_attr(s: &str) -> String {
    xml(s).replace('\n', "&#10;").replace('\t', "&#9;")
}

fn junit(out: &mut dyn Write, file: &str, results: &[(Assertion, Outcome)]) -> io::Result<()> {
    let failed = results.iter().filter(|(_, o)| !o.passed).count();
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"kubesurface\" tests=\"{}\" failures=\"{failed}\" errors=\"0\">",
        results.len()
    )?;
    writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\">",
        xml_attr(file),
        results.len()
    )?;
    for (a, o) in results {
        let open = format!(
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
            xml_attr(&a.title()),
            xml_attr(file),
            xml_attr(file),
            a.line
        );
        if o.passed {
            writeln!(out, "{open}/>")?;
            continue;
        }
        writeln!(out, "{open}>")?;
        let detail = format!(
            "{} -> {}: expected {}\n{}",
            a.from,
            a.to,
            a.expect.as_str(),
            failure_text(o)
        );
        let message = match o.offenses.first() {
            Some(first) => format!("{}; {}", o.summary, offense_line(first)),
            None => o.summary.clone(),
        };
        writeln!(
            out,
            "      <failure message=\"{}\" type=\"assertion\">{}</failure>",
            xml_attr(&message),
            xml(&detail)
        )?;
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

pub fn run(args: TestArgs) -> Result<ExitCode, String> {
    if args.assertions == "-" && args.input.paths.iter().any(|p| p == "-") {
        return Err("the assertions file and an input cannot both be `-` (stdin)".into());
    }
    let (file, text) = read(&args.assertions)?;
    let assertions = parse(&file, &text)?;
    let loaded = load(&args.input)?;
    let engine = Engine::new(
        &loaded.cluster,
        settings(&args.input, None, &loaded.cluster),
    );
    let mut results = Vec::with_capacity(assertions.len());
    let mut errors = Vec::new();
    for a in assertions {
        match evaluate(&engine, &a) {
            Ok(o) => results.push((a, o)),
            Err(e) => {
                let line = if e.starts_with("from:") {
                    a.from_line
                } else if e.starts_with("to:") {
                    a.to_line
                } else {
                    a.line
                };
                errors.push(format!("{file}:{line}: {e}"));
            }
        }
    }
    if !errors.is_empty() {
        // An assertion that cannot be checked must not pass silently.
        return Err(errors.join("\nkubesurface: error: "));
    }
    write_stdout(|out| match args.output {
        TestFormat::Table => table(out, &file, &results),
        TestFormat::Junit => junit(out, &file, &results),
        TestFormat::Json => json(out, &file, &results),
    })?;
    Ok(if results.iter().all(|(_, o)| o.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
