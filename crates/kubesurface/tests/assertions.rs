//! `kubesurface test`: the checked-in OpenStack assertions, failures with their trails,
//! JUnit XML, JSON, multi-pod semantics and bad assertion files, through the CLI.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .current_dir(repo())
        .args(args)
        .output()
        .expect("kubesurface runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ASSERTIONS: &str = "examples/openstack-assertions.yaml";
const EXAMPLE: &str = "examples/openstack";

/// A scratch file, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "kubesurface-test-assertions-{}-{name}",
            std::process::id()
        ));
        std::fs::write(&p, text).unwrap();
        TempFile(p)
    }

    fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The number of items in the checked-in file.
fn assertion_count() -> usize {
    let text = std::fs::read_to_string(repo().join(ASSERTIONS)).unwrap();
    let items: Vec<serde_json::Value> = serde_saphyr::from_str(&text).unwrap();
    items.len()
}

#[test]
fn openstack_assertions_all_hold() {
    let out = run(&["test", ASSERTIONS, EXAMPLE]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    let n = assertion_count();
    assert!(n >= 30, "a realistic file: {n} assertions");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("PASS  ")).count(),
        n,
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");
    assert!(
        text.contains(&format!("{n} assertion(s): {n} passed, 0 failed.")),
        "{text}"
    );
}

/// Every checked-in assertion can fail: with each `expect` flipped, every one fails.
#[test]
fn every_openstack_assertion_fails_when_flipped() {
    let text = std::fs::read_to_string(repo().join(ASSERTIONS)).unwrap();
    let flipped = text
        .replace("expect: allow", "expect: TMP")
        .replace("expect: deny", "expect: allow")
        .replace("expect: TMP", "expect: deny");
    let file = TempFile::new("flipped.yaml", &flipped);
    let out = run(&["test", &file.path(), EXAMPLE]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let n = assertion_count();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("FAIL  ")).count(),
        n,
        "{text}"
    );
    assert!(text.contains(&format!("{n} assertion(s): 0 passed, {n} failed.")));
}

const FAILING: &str = r#"# two failures between two passes
- name: keystone reaches the database
  from: openstack/keystone-api[Deployment]
  to: svc:openstack/mariadb:3306
  expect: allow
- name: the outside must not reach keystone
  from: ext:0.0.0.0/0
  to: svc:openstack/keystone-api:5000
  expect: deny
- {from: "openstack/keystone-api[Deployment]", to: "openstack/application=mariadb:4567", expect: allow}
- {from: "ext:198.51.100.7", to: "svc:openstack/keystone-api:5000", expect: deny}
"#;

#[test]
fn failures_show_the_trail_and_exit_1() {
    let file = TempFile::new("failing.yaml", FAILING);
    let out = run(&["test", &file.path(), EXAMPLE]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let path = file.path();
    assert!(
        text.contains(&format!("PASS  keystone reaches the database  ({path}:2)")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "FAIL  the outside must not reach keystone  ({path}:6)"
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "FAIL  openstack/keystone-api[Deployment] -> openstack/application=mariadb:4567: allow  ({path}:10)"
    )), "{text}");
    assert!(
        text.contains(&format!(
            "PASS  ext:198.51.100.7 -> svc:openstack/keystone-api:5000: deny  ({path}:11)"
        )),
        "{text}"
    );
    // The deny failure: which part of 0.0.0.0/0 gets in, and the rule that admits it.
    assert!(
        text.contains("expected deny, but 2 of 2 pairs are allowed"),
        "{text}"
    );
    assert!(
        text.contains("ext:10.10.0.16/28 (in ext:0.0.0.0/0) -> openstack/keystone-api-"),
        "{text}"
    );
    assert!(text.contains("TCP 5000: ALLOWED (policies)"), "{text}");
    assert!(text.contains("policy openstack/keystone-netpol"), "{text}");
    assert!(
        text.contains("10.10.0.16 is in ipBlock 10.10.0.16/28"),
        "{text}"
    );
    // The allow failure: both keystone pods reach no mariadb pod on 4567; the trail shows
    // the Galera rule admitting only mariadb peers.
    assert!(
        text.contains("expected allow, but 2 of 2 source(s) reach none of the 3 destination(s)"),
        "{text}"
    );
    assert!(text.contains("TCP 4567: DENIED (policies)"), "{text}");
    assert!(text.contains("policy openstack/mariadb-netpol"), "{text}");
    assert!(
        text.contains("4 assertion(s): 2 passed, 2 failed."),
        "{text}"
    );
}

/// `deny`: one allowed pair fails it. `allow`: every source must reach some destination,
/// and a Service is fine when one backend answers.
#[test]
fn several_pods_per_peer() {
    let file = TempFile::new(
        "semantics.yaml",
        r#"
- {name: 'novnc reaches the Service (one backend, on its own node, answers)', from: "openstack/nova-novncproxy[Deployment]", to: "svc:openstack/mariadb:3306", expect: allow}
- {name: 'novnc reaches no mariadb pod', from: "openstack/nova-novncproxy[Deployment]", to: "openstack/application=mariadb:3306", expect: deny}
- {name: 'every nova pod reaches memcached', from: "openstack/application=nova", to: "svc:openstack/memcached:11211", expect: allow}
- {name: 'some address of 0.0.0.0/0 reaches keystone', from: "ext:0.0.0.0/0", to: "svc:openstack/keystone-api:5000", expect: allow}
- {name: 'galera peers among themselves', from: "openstack/application=mariadb", to: "openstack/application=mariadb:4567", expect: allow}
"#,
    );
    let out = run(&["test", &file.path(), EXAMPLE, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema"], "kubesurface.test/v1");
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(3), Some(2))
    );
    let a = doc["assertions"].as_array().unwrap();
    let result = |i: usize| a[i]["result"].as_str().unwrap();
    assert_eq!(
        (result(0), result(1), result(2), result(3), result(4)),
        ("pass", "fail", "fail", "pass", "pass")
    );
    // The one offending pair: node-local traffic on ctl-1.
    let off = a[1]["offending"].as_array().unwrap();
    assert_eq!(off.len(), 1, "{off:?}");
    assert_eq!(off[0]["dst"], "openstack/mariadb-server-0");
    assert_eq!(off[0]["allowed"]["TCP"], serde_json::json!([[1, 65535]]));
    assert_eq!(off[0]["explanation"]["allowed"], true);
    assert!(
        off[0]["explanation"]["decided_by"]
            .as_str()
            .unwrap()
            .starts_with("node-origin"),
        "{off:?}"
    );
    // Only nova-api-osapi (`component: os-api`) is a memcached peer: the other nova
    // sources fail, each listed against the one memcached destination.
    let off = a[2]["offending"].as_array().unwrap();
    assert!(!off.is_empty());
    assert!(
        off.iter()
            .all(|o| o["src"] != "openstack/nova-api-osapi[Deployment]"),
        "{off:?}"
    );
    assert!(
        off.iter().any(|o| o["src"]
            .as_str()
            .unwrap()
            .starts_with("openstack/nova-compute-default-")),
        "{off:?}"
    );
    assert!(
        a[2]["summary"]
            .as_str()
            .unwrap()
            .contains("source(s) reach none of the 1 destination(s)"),
        "{}",
        a[2]["summary"]
    );
    assert_eq!(a[4]["pairs"], 6, "3 mariadb pods, self pairs excluded");
}

/// An element: name, attributes, text.
type Element = (String, Vec<(String, String)>, String);

/// A minimal XML checker: balanced tags, quoted attributes, only the five entities and
/// character references, no raw `<` or `&` in text or attribute values.
fn check_xml(xml: &str) -> Vec<Element> {
    let check_text = |t: &str| {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after.find(';').expect("entity ends with ;");
            let ent = &after[..end];
            assert!(
                ["amp", "lt", "gt", "quot", "apos"].contains(&ent)
                    || (ent.starts_with('#') && ent[1..].chars().all(|c| c.is_ascii_digit())),
                "bad entity &{ent};"
            );
            rest = &after[end + 1..];
        }
        assert!(!t.contains('<'), "raw < in {t:?}");
    };
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut elements = Vec::new();
    let mut rest = body;
    let mut roots = 0;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        check_text(text);
        if let Some(last) = elements.last_mut().filter(|_| !stack.is_empty()) {
            let (_, _, t): &mut Element = last;
            t.push_str(text);
        }
        let end = rest[start..].find('>').expect("tag ends") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "balanced tags");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs_text) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut attrs = Vec::new();
        loop {
            attrs_text = attrs_text.trim_start();
            if attrs_text.is_empty() {
                break;
            }
            let (key, after) = attrs_text.split_once("=\"").expect("quoted attribute");
            let close = after.find('"').expect("attribute closes");
            let value = &after[..close];
            check_text(value);
            attrs.push((key.to_string(), value.to_string()));
            attrs_text = &after[close + 1..];
        }
        if stack.is_empty() {
            roots += 1;
        }
        elements.push((name.to_string(), attrs, String::new()));
        if !self_closing {
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(roots, 1, "one root element");
    assert!(rest.trim().is_empty());
    elements
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn junit_is_well_formed_with_one_testcase_per_assertion() {
    let text = FAILING.replace(
        "- name: the outside must not reach keystone",
        "- name: 'the <outside> & \"friends\" must not reach keystone'",
    );
    let file = TempFile::new("junit.yaml", &text);
    let out = run(&["test", &file.path(), EXAMPLE, "-o", "junit"]);
    let xml = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{xml}\n{}", stderr(&out));
    let elements = check_xml(&xml);
    let names: Vec<&str> = elements.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names[0], "testsuites");
    assert_eq!(names.iter().filter(|n| **n == "testsuite").count(), 1);
    let suite = &elements[1];
    assert_eq!(suite.0, "testsuite");
    assert_eq!(attr(&suite.1, "tests"), Some("4"));
    assert_eq!(attr(&suite.1, "failures"), Some("2"));
    let cases: Vec<_> = elements
        .iter()
        .filter(|(n, _, _)| n == "testcase")
        .collect();
    assert_eq!(cases.len(), 4);
    let failures: Vec<_> = elements.iter().filter(|(n, _, _)| n == "failure").collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(
        attr(&cases[1].1, "name"),
        Some("the &lt;outside&gt; &amp; &quot;friends&quot; must not reach keystone")
    );
    assert_eq!(attr(&cases[1].1, "line"), Some("6"));
    let message = attr(&failures[0].1, "message").unwrap();
    assert!(
        message.starts_with("expected deny, but 2 of 2 pairs are allowed; "),
        "{message}"
    );
    // The trail is the failure's text.
    assert!(
        failures[0].2.contains("policy openstack/keystone-netpol"),
        "{xml}"
    );
    assert!(failures[0].2.contains("ALLOWED (policies)"), "{xml}");
    assert!(failures[1].2.contains("DENIED (policies)"), "{xml}");

    // All passing: no failure element, and exit 0.
    let out = run(&["test", ASSERTIONS, EXAMPLE, "-o", "junit"]);
    assert_eq!(out.status.code(), Some(0));
    let elements = check_xml(&stdout(&out));
    assert!(!elements.iter().any(|(n, _, _)| n == "failure"));
    assert_eq!(
        elements.iter().filter(|(n, _, _)| n == "testcase").count(),
        assertion_count()
    );
}

fn bad(name: &str, text: &str) -> (String, String) {
    let file = TempFile::new(name, text);
    let out = run(&["test", &file.path(), EXAMPLE]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).is_empty());
    (file.path(), stderr(&out))
}

#[test]
fn bad_assertion_files_exit_2_with_file_and_line() {
    let ok = "- {from: \"openstack/keystone-api[Deployment]\", to: \"svc:openstack/mariadb:3306\", expect: allow}\n";
    let (p, e) = bad(
        "expect.yaml",
        &format!(
            "{ok}\n- from: openstack/keystone-api[Deployment]\n  to: svc:openstack/mariadb:3306\n  expect: maybe\n"
        ),
    );
    assert!(
        e.contains(&format!(
            "{p}:5: expect: \"maybe\" is not `allow` or `deny`"
        )),
        "{e}"
    );
    let (p, e) = bad(
        "unknown.yaml",
        &format!("{ok}- {{from: a/b, to: c/d, expected: deny}}\n"),
    );
    assert!(e.contains(&format!("{p}:2:")), "{e}");
    let (p, e) = bad(
        "syntax.yaml",
        &format!("{ok}{ok}- {{from: a/b, to: [c/d, expect: deny}}\n"),
    );
    assert!(e.contains(&format!("{p}:3:")), "{e}");
    let (p, e) = bad("mapping.yaml", "from: a/b\nto: c/d\nexpect: deny\n");
    assert!(e.contains(&format!("{p}:1:")), "{e}");
    let (p, e) = bad("empty.yaml", "# nothing\n");
    assert!(e.contains(&format!("{p}:1: no assertions")), "{e}");
    let (p, e) = bad(
        "port.yaml",
        "- {from: \"openstack/keystone-api:5000\", to: c/d, expect: deny}\n",
    );
    assert!(
        e.contains(&format!("{p}:1: from:")) && e.contains("takes no port"),
        "{e}"
    );
    // Peers that resolve to nothing: every one is reported, with its line.
    let (p, e) = bad(
        "resolve.yaml",
        &format!(
            "{ok}- from: openstack/app=nova-compute\n  to: svc:openstack/mariadb:3306\n  expect: deny\n- from: openstack/keystone-api[Deployment]\n  to: svc:openstack/mariadb:9999\n  expect: deny\n- {{from: node:nowhere, to: openstack/mariadb-server-0, expect: deny}}\n"
        ),
    );
    assert!(
        e.contains(&format!(
            "{p}:2: from: \"openstack/app=nova-compute\" matches no pod or workload"
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{p}:6: to: \"svc:openstack/mariadb\": the Service has no port 9999/TCP"
        )),
        "{e}"
    );
    assert!(e.contains(&format!("{p}:8: from:")), "{e}");
    // Nothing in the cluster decides traffic between two addresses.
    let (p, e) = bad(
        "outside.yaml",
        "- {from: \"node:cmp-1\", to: \"ext:198.51.100.7\", expect: deny}\n",
    );
    assert!(
        e.contains(&format!("{p}:1: to:")) && e.contains("neither side is a pod"),
        "{e}"
    );
    // A missing file.
    let out = run(&["test", "does/not/exist.yaml", EXAMPLE]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does/not/exist.yaml: cannot read"));
}

#[test]
fn assertions_file_from_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .current_dir(repo())
        .args(["test", "-", EXAMPLE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"- {from: \"node:cmp-1\", to: \"openstack/application=mariadb\", expect: deny}\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out)
            .contains("PASS  node:cmp-1 -> openstack/application=mariadb: deny  (<stdin>:1)")
    );
}
