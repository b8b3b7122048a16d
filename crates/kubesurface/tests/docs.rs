//! The rule pages in docs/rules are generated from the rules' own source
//! (`kubesurface rules --write-docs docs/rules`); they must not drift.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn rule_pages_match_the_rule_source() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("ks-docs-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .args(["rules", "--write-docs", dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stale = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        count += 1;
        let generated = std::fs::read_to_string(&path).unwrap();
        let committed =
            std::fs::read_to_string(repo.join("docs/rules").join(&name)).unwrap_or_default();
        if generated != committed {
            stale.push(name);
        }
    }
    assert!(count >= 20, "expected a page per rule");
    assert!(
        stale.is_empty(),
        "docs/rules is stale for {stale:?}: run `cargo run -p kubesurface -- rules --write-docs docs/rules`"
    );
}

#[test]
fn every_rule_is_documented_and_none_is_a_placeholder() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .arg("rules")
        .output()
        .unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    for line in list.lines() {
        let code = line.split_whitespace().next().unwrap();
        let page = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
            .args(["rules", code])
            .output()
            .unwrap();
        let text = String::from_utf8(page.stdout).unwrap();
        assert!(
            !text.contains("TODO") && !text.contains("PLACEHOLDER"),
            "{code} is not documented"
        );
        for section in ["## Why it matters", "## Example", "## Remediation"] {
            assert!(text.contains(section), "{code} lacks {section}");
        }
    }
}
