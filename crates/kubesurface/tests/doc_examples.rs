//! The examples in README.md and docs/formats.md show real output: every example block that
//! runs `kubesurface` on files of the repository, without a pipe and without elided lines
//! (`…`), is run and its output compared (trailing whitespace aside).

use std::path::Path;
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const BIN: &str = env!("CARGO_BIN_EXE_kubesurface");
const DOCS: [&str; 2] = ["README.md", "docs/formats.md"];

/// `(command line, expected output)` of each checkable block.
fn examples(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```\n$ kubesurface ") {
        let block = &rest[start + 4..];
        let Some(end) = block.find("```") else { break };
        let body = &block[..end];
        rest = &block[end + 3..];
        let (cmd, want) = body.split_once('\n').unwrap_or((body, ""));
        if cmd.contains('|') || want.contains('…') {
            continue;
        }
        out.push((cmd[2..].to_string(), want.to_string()));
    }
    out
}

/// Splits a shell command line with single and double quotes (enough for the docs).
fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in cmd.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, ' ') => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn documented_examples_show_real_output() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for doc in DOCS {
        let text = std::fs::read_to_string(Path::new(ROOT).join(doc)).unwrap();
        for (cmd, want) in examples(&text) {
            let args = words(&cmd);
            assert_eq!(args[0], "kubesurface", "{doc}: {cmd}");
            let out = Command::new(BIN)
                .args(&args[1..])
                .current_dir(ROOT)
                .output()
                .unwrap();
            let have = String::from_utf8_lossy(&out.stdout);
            if have.trim_end() != want.trim_end() {
                failures.push(format!(
                    "{doc}: `{cmd}`\n--- documented\n{want}--- actual\n{have}"
                ));
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(
        words("kubesurface reach x --from 'a/b[DaemonSet]' --to \"c d\""),
        [
            "kubesurface",
            "reach",
            "x",
            "--from",
            "a/b[DaemonSet]",
            "--to",
            "c d"
        ]
    );
}
