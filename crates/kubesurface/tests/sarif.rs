//! `kubesurface audit -o sarif` is valid SARIF 2.1.0 and acceptable to GitHub code scanning.
//!
//! Every output is checked two ways, and all problems are reported together:
//!
//! 1. against the official OASIS SARIF 2.1.0 JSON schema (`tests/data/sarif-schema-2.1.0.json`,
//!    see `tests/data/README.md`), with `format` asserted. The schema is draft-04, which has no
//!    `uri-reference` format, so that one format (which the schema uses for
//!    `artifactLocation.uri`) is checked with the validator's draft-07 implementation;
//! 2. against what GitHub's "SARIF support for code scanning" page requires of an upload:
//!    `tool.driver.name`, `rules[].id` (unique), `shortDescription`/`fullDescription`/`help`
//!    texts (non-empty, descriptions at most 1024 characters, names at most 255),
//!    `properties.security-severity` as a string number in (0, 10] on rules tagged `security`,
//!    `results[].ruleId` naming a driver rule (and `ruleIndex` pointing at it),
//!    `message.text`, at least one `physicalLocation` with a repository-relative
//!    `artifactLocation.uri` (no `./`, no leading `/`, no `..`, no `\`) of a file that exists,
//!    `region.startLine` within that file, and the per-run limits (20 runs, 25,000 results,
//!    25,000 rules, 1,000 locations per result, 20 tags per rule).
//!
//! The set of findings changes as rules are added, so nothing here depends on exact counts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use serde_json::{Value, json};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const SCHEMA: &str = include_str!("data/sarif-schema-2.1.0.json");

/// GitHub code scanning's documented limits ("SARIF support for code scanning": supported
/// properties and "Validating your SARIF file").
const MAX_RUNS: usize = 20;
const MAX_RESULTS_PER_RUN: usize = 25_000;
const MAX_RULES_PER_RUN: usize = 25_000;
const MAX_LOCATIONS_PER_RESULT: usize = 1_000;
const MAX_TAGS_PER_RULE: usize = 20;
const MAX_RULE_NAME_CHARS: usize = 255;
const MAX_DESCRIPTION_CHARS: usize = 1024;

/// RFC 3986 URI-reference, as JSON Schema draft-07 defines the `uri-reference` format.
static URI_REFERENCE: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&json!({"type": "string", "format": "uri-reference"}))
        .expect("uri-reference schema compiles")
});

/// The official schema, compiled once, asserting formats.
static SARIF_SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-04/schema#",
        "tests/data/sarif-schema-2.1.0.json is not the OASIS (draft-04) schema"
    );
    let id = schema["id"]
        .as_str()
        .or(schema["$id"].as_str())
        .unwrap_or("");
    assert!(
        id.ends_with("/sarif-schema-2.1.0.json"),
        "schema id {id:?} is not the SARIF 2.1.0 schema"
    );
    assert!(
        schema["properties"]["runs"].is_object() && schema["definitions"]["result"].is_object(),
        "schema lacks properties.runs / definitions.result"
    );
    jsonschema::options()
        .should_validate_formats(true)
        .with_format("uri-reference", |s: &str| {
            URI_REFERENCE.is_valid(&Value::String(s.to_string()))
        })
        .build(&schema)
        .expect("the SARIF schema compiles with local $refs only")
});

/// Runs `kubesurface ARGS` in `dir` and parses its stdout as JSON.
fn run(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run kubesurface");
    assert!(
        out.status.success(),
        "kubesurface {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "kubesurface {} printed no JSON ({e}):\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn repo() -> PathBuf {
    PathBuf::from(REPO)
}

/// A scratch directory unique to this test process and `name`, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kubesurface-sarif-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Decodes `%XX` escapes (a URI path back to a file path).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn clip(s: &str) -> String {
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

fn nonempty_text(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

/// What a location's `artifactLocation.uri` names on disk, for a run whose working directory
/// was `root`; `Err` says why GitHub could not map it to a repository file.
fn local_file(uri: &str, root: &Path) -> Result<PathBuf, String> {
    if let Some(path) = uri.strip_prefix("file://") {
        // An absolute URI: GitHub relativizes it against the checkout path.
        let path = percent_decode(path).ok_or("bad percent-encoding")?;
        if !path.starts_with('/') {
            return Err("file: URI without an absolute path".into());
        }
        return Ok(PathBuf::from(path));
    }
    if uri.contains(':') && uri.split('/').next().is_some_and(|seg| seg.contains(':')) {
        return Err("has a scheme other than file:".into());
    }
    if uri.starts_with("./") {
        return Err("starts with `./`".into());
    }
    if uri.starts_with('/') {
        return Err(
            "is an absolute path without `file://`: GitHub reads it as relative to the repository root"
                .into(),
        );
    }
    if uri.contains('\\') {
        return Err("contains `\\`".into());
    }
    if uri.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err("has `.` or `..` segments".into());
    }
    let path = percent_decode(uri).ok_or("bad percent-encoding")?;
    Ok(root.join(path))
}

/// Every problem with `doc` as SARIF for GitHub code scanning; `root` is the directory the
/// audit ran in (relative URIs resolve against it), `on_disk` whether locations must name
/// existing files (false for stdin input).
fn problems(doc: &Value, root: &Path, on_disk: bool) -> Vec<String> {
    let mut p: Vec<String> = SARIF_SCHEMA
        .iter_errors(doc)
        .map(|e| {
            format!(
                "schema: at {:?} ({}): {}",
                e.instance_path().as_str(),
                e.schema_path().as_str(),
                clip(&e.to_string())
            )
        })
        .collect();

    if !nonempty_text(&doc["$schema"]) {
        p.push("github: `$schema` is required".into());
    }
    if doc["version"] != "2.1.0" {
        p.push("github: `version` must be \"2.1.0\"".into());
    }
    let Some(runs) = doc["runs"].as_array() else {
        p.push("github: `runs` must be an array".into());
        return p;
    };
    if runs.is_empty() || runs.len() > MAX_RUNS {
        p.push(format!("github: {} runs (1..={MAX_RUNS})", runs.len()));
    }
    let mut lines_of: std::collections::HashMap<PathBuf, Option<usize>> = Default::default();
    for (ri, run) in runs.iter().enumerate() {
        let at = format!("/runs/{ri}");
        let driver = &run["tool"]["driver"];
        if !nonempty_text(&driver["name"]) {
            p.push(format!("github: {at}/tool/driver/name is required"));
        }
        let rules = driver["rules"].as_array().cloned().unwrap_or_default();
        if rules.is_empty() {
            p.push(format!("github: {at}/tool/driver/rules is empty"));
        }
        if rules.len() > MAX_RULES_PER_RUN {
            p.push(format!(
                "github: {at}: {} rules > {MAX_RULES_PER_RUN}",
                rules.len()
            ));
        }
        let mut ids: Vec<&str> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("{at}/tool/driver/rules/{i}");
            let Some(id) = rule["id"].as_str().filter(|s| !s.trim().is_empty()) else {
                p.push(format!("github: {at}/id is required"));
                continue;
            };
            if ids.contains(&id) {
                p.push(format!("github: {at}/id {id:?} is not unique"));
            }
            ids.push(id);
            if let Some(name) = rule["name"].as_str()
                && name.chars().count() > MAX_RULE_NAME_CHARS
            {
                p.push(format!(
                    "github: {at}/name ({id}) has {} characters > {MAX_RULE_NAME_CHARS}",
                    name.chars().count()
                ));
            }
            for field in ["shortDescription", "fullDescription"] {
                match rule[field]["text"].as_str() {
                    Some(t) if !t.trim().is_empty() => {
                        let n = t.chars().count();
                        if n > MAX_DESCRIPTION_CHARS {
                            p.push(format!(
                                "github: {at}/{field}/text ({id}) has {n} characters > {MAX_DESCRIPTION_CHARS}"
                            ));
                        }
                    }
                    _ => p.push(format!("github: {at}/{field}/text ({id}) is required")),
                }
            }
            if !nonempty_text(&rule["help"]["text"]) {
                p.push(format!("github: {at}/help/text ({id}) is required"));
            }
            if let Some(level) = rule["defaultConfiguration"]["level"].as_str()
                && !["note", "warning", "error"].contains(&level)
            {
                p.push(format!(
                    "github: {at}/defaultConfiguration/level ({id}) is {level:?}, not note, warning or error"
                ));
            }
            let props = &rule["properties"];
            let tags: Vec<&str> = props["tags"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if tags.len() > MAX_TAGS_PER_RULE {
                p.push(format!(
                    "github: {at} ({id}) has {} tags > {MAX_TAGS_PER_RULE}",
                    tags.len()
                ));
            }
            match &props["security-severity"] {
                Value::Null => {}
                Value::String(s) => match s.parse::<f64>() {
                    Ok(x) if x > 0.0 && x <= 10.0 => {
                        if !tags.contains(&"security") {
                            p.push(format!(
                                "github: {at} ({id}) has a security-severity but no `security` tag"
                            ));
                        }
                    }
                    _ => p.push(format!(
                        "github: {at}/properties/security-severity ({id}) is {s:?}, not a number in (0, 10]"
                    )),
                },
                other => p.push(format!(
                    "github: {at}/properties/security-severity ({id}) must be a string, is {other}"
                )),
            }
        }

        let Some(results) = run["results"].as_array() else {
            p.push(format!("github: {at}/results must be an array"));
            continue;
        };
        if results.len() > MAX_RESULTS_PER_RUN {
            p.push(format!(
                "github: {at}: {} results > {MAX_RESULTS_PER_RUN}",
                results.len()
            ));
        }
        for (i, result) in results.iter().enumerate() {
            let at = format!("{at}/results/{i}");
            match result["ruleId"].as_str() {
                None => p.push(format!("github: {at}/ruleId is required")),
                Some(id) => match ids.iter().position(|r| *r == id) {
                    None => p.push(format!(
                        "github: {at}/ruleId {id:?} is not among the driver's rules"
                    )),
                    Some(pos) => {
                        if let Some(ix) = result.get("ruleIndex")
                            && ix.as_u64() != Some(pos as u64)
                        {
                            p.push(format!(
                                "github: {at}/ruleIndex is {ix} but rule {id:?} is at index {pos}"
                            ));
                        }
                    }
                },
            }
            if !nonempty_text(&result["message"]["text"]) {
                p.push(format!("github: {at}/message/text is required"));
            }
            let locations = result["locations"].as_array().cloned().unwrap_or_default();
            if locations.is_empty() {
                p.push(format!(
                    "github: {at}/locations is empty (GitHub needs one to show the result)"
                ));
            }
            if locations.len() > MAX_LOCATIONS_PER_RESULT {
                p.push(format!(
                    "github: {at}: {} locations > {MAX_LOCATIONS_PER_RESULT}",
                    locations.len()
                ));
            }
            for (li, loc) in locations.iter().enumerate() {
                let at = format!("{at}/locations/{li}/physicalLocation");
                let phys = &loc["physicalLocation"];
                let Some(uri) = phys["artifactLocation"]["uri"].as_str() else {
                    p.push(format!("github: {at}/artifactLocation/uri is required"));
                    continue;
                };
                let start = phys["region"]["startLine"].as_u64();
                if start.is_none_or(|l| l < 1) {
                    p.push(format!(
                        "github: {at}/region/startLine must be >= 1, is {}",
                        phys["region"]["startLine"]
                    ));
                }
                match local_file(uri, root) {
                    Err(why) => p.push(format!("github: {at}/artifactLocation/uri {uri:?} {why}")),
                    Ok(file) if on_disk => {
                        let lines = *lines_of.entry(file.clone()).or_insert_with(|| {
                            std::fs::read_to_string(&file)
                                .ok()
                                .map(|s| s.lines().count())
                        });
                        match (lines, start) {
                            (None, _) => p.push(format!(
                                "github: {at}/artifactLocation/uri {uri:?} names no readable file ({})",
                                file.display()
                            )),
                            (Some(n), Some(l)) if l as usize > n => p.push(format!(
                                "github: {at}/region/startLine {l} is past the end of {uri:?} ({n} lines)"
                            )),
                            _ => {}
                        }
                    }
                    Ok(_) => {}
                }
            }
            if let Some(sups) = result.get("suppressions") {
                for (si, s) in sups.as_array().into_iter().flatten().enumerate() {
                    if !nonempty_text(&s["justification"]) {
                        p.push(format!(
                            "sarif: {at}/suppressions/{si}/justification is empty"
                        ));
                    }
                }
            }
        }
    }
    p
}

/// Panics with every problem of `doc`, labelled, in one message.
fn assert_valid(label: &str, doc: &Value, root: &Path, on_disk: bool) {
    let p = problems(doc, root, on_disk);
    assert!(
        p.is_empty(),
        "{label}: SARIF output has {} problem(s):\n  {}",
        p.len(),
        p.join("\n  ")
    );
}

fn results(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["results"]
        .as_array()
        .expect("runs[0].results is an array")
}

#[test]
fn openstack_sarif_is_valid() {
    let doc = run(&repo(), &["audit", "examples/openstack", "-o", "sarif"]);
    assert_valid("audit examples/openstack", &doc, &repo(), true);
    let results = results(&doc);
    assert!(
        !results.is_empty(),
        "openstack has findings, SARIF has no result"
    );
    assert!(
        results.iter().any(|r| r["ruleId"] == "KS101"),
        "openstack has NodePort Services, SARIF has no KS101 result"
    );
}

#[test]
fn sock_shop_sarif_is_valid() {
    let doc = run(&repo(), &["audit", "tests/corpus/sock-shop", "-o", "sarif"]);
    assert_valid("audit tests/corpus/sock-shop", &doc, &repo(), true);
}

#[test]
fn suppressed_findings_carry_suppressions() {
    let dir = scratch("suppress");
    let config = dir.join("kubesurface.yaml");
    std::fs::write(&config, "ignore:\n- {rule: KS101, reason: test}\n").expect("write config");
    let doc = run(
        &repo(),
        &[
            "audit",
            "examples/openstack",
            "--config",
            config.to_str().expect("utf-8 temp path"),
            "-o",
            "sarif",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_valid(
        "audit examples/openstack --config (ignore KS101)",
        &doc,
        &repo(),
        true,
    );
    let ks101: Vec<&Value> = results(&doc)
        .iter()
        .filter(|r| r["ruleId"] == "KS101")
        .collect();
    assert!(
        !ks101.is_empty(),
        "suppressed KS101 findings must still be reported"
    );
    for r in ks101 {
        let sups = r["suppressions"].as_array();
        assert!(
            sups.is_some_and(|s| s.iter().any(|s| s["kind"] == "external"
                && s["justification"]
                    .as_str()
                    .is_some_and(|j| j.contains("test")))),
            "KS101 result suppressed by the config file has no external suppression \
             with its reason: {r}"
        );
    }
    assert!(
        results(&doc)
            .iter()
            .filter(|r| r["ruleId"] != "KS101")
            .all(|r| r.get("suppressions").is_none()),
        "only KS101 was suppressed"
    );
}

/// A path with characters a URI must escape (space, `#`): the URI is percent-encoded and
/// still names the file.
#[test]
fn paths_needing_escapes_are_percent_encoded() {
    let dir = scratch("escapes");
    let sub = dir.join("my manifests");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(sub.join("svc #1.yaml"), NODEPORT_MANIFEST).expect("write manifest");
    let doc = run(&dir, &["audit", "my manifests", "-o", "sarif"]);
    let p = problems(&doc, &dir, true);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        results(&doc).iter().any(|r| r["ruleId"] == "KS101"),
        "the NodePort manifest gives a KS101 result"
    );
    assert!(
        p.is_empty(),
        "audit 'my manifests' (file 'svc #1.yaml'): SARIF output has {} problem(s):\n  {}",
        p.len(),
        p.join("\n  ")
    );
}

/// An absolute input path gives absolute `file://` URIs (which GitHub relativizes against the
/// checkout) or repository-relative ones, never a bare `/abs/path` (read as repo-relative).
#[test]
fn absolute_input_paths_give_file_uris() {
    let dir = scratch("absolute");
    std::fs::write(dir.join("svc.yaml"), NODEPORT_MANIFEST).expect("write manifest");
    let doc = run(
        &repo(),
        &[
            "audit",
            dir.to_str().expect("utf-8 temp path"),
            "-o",
            "sarif",
        ],
    );
    let p = problems(&doc, &repo(), true);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !results(&doc).is_empty(),
        "the NodePort manifest gives results"
    );
    assert!(
        p.is_empty(),
        "audit {}: SARIF output has {} problem(s):\n  {}",
        dir.display(),
        p.len(),
        p.join("\n  ")
    );
}

/// Manifests read from stdin have no file: the output is still schema-valid.
#[test]
fn stdin_input_is_valid() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .args(["audit", "-", "-o", "sarif"])
        .current_dir(repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run kubesurface");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(NODEPORT_MANIFEST.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "audit - failed");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let schema_problems: Vec<String> = problems(&doc, &repo(), false)
        .into_iter()
        .filter(|p| p.starts_with("schema:"))
        .collect();
    assert!(
        schema_problems.is_empty(),
        "audit - (stdin): SARIF output has {} schema problem(s):\n  {}",
        schema_problems.len(),
        schema_problems.join("\n  ")
    );
}

/// The checks are not vacuous: a broken document is caught by the schema and by the GitHub
/// rules.
#[test]
fn the_checks_catch_broken_sarif() {
    let mut doc = run(&repo(), &["audit", "examples/openstack", "-o", "sarif"]);
    let run0 = &mut doc["runs"][0];
    run0["tool"]["driver"]["rules"][0]["properties"]["security-severity"] = json!(5.5);
    let r = &mut run0["results"][0];
    r["ruleId"] = json!("KS999");
    r["level"] = json!("fatal");
    r["locations"][0]["physicalLocation"]["region"]["startLine"] = json!(0);
    r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = json!("./a b.yaml");
    let p = problems(&doc, &repo(), true);
    let has = |s: &str| p.iter().any(|x| x.contains(s));
    assert!(
        has("schema:") && has("\"fatal\""),
        "schema enum not checked: {p:#?}"
    );
    assert!(has("startLine"), "startLine not checked: {p:#?}");
    assert!(
        has("uri-reference"),
        "uri-reference format not checked: {p:#?}"
    );
    assert!(
        has("starts with `./`"),
        "relative URI rule not checked: {p:#?}"
    );
    assert!(has("KS999"), "ruleId not checked: {p:#?}");
    assert!(
        has("security-severity"),
        "security-severity type not checked: {p:#?}"
    );
}

const NODEPORT_MANIFEST: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  containers:
    - name: web
      image: nginx
      ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: NodePort
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 80
      nodePort: 30080
";
