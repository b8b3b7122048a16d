//! `kubesurface diff`: the Sock Shop label fix, self-diffs, the JSON contract, Markdown,
//! `--fail-on-new`, through the CLI.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

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

fn diff_json(args: &[&str]) -> Value {
    let mut full = vec!["diff"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    let out = run(&full);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("diff -o json is JSON")
}

/// A scratch directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "kubesurface-test-diff-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self, sub: &str) -> String {
        self.0.join(sub).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// OLD = Sock Shop as shipped; NEW = the same with cart-access's `name: cart` fixed to
/// `name: carts`. Each side is one directory with the app and its policies.
fn sock_shop_sides(tmp: &TempDir) -> (String, String) {
    let corpus = repo().join("tests/corpus/sock-shop");
    for side in ["old", "new"] {
        let dir = tmp.path().join(side);
        copy_dir(&corpus.join("manifests-policy"), &dir);
        std::fs::copy(
            corpus.join("complete-demo.yaml"),
            dir.join("complete-demo.yaml"),
        )
        .unwrap();
    }
    let policy = tmp.path().join("new/netpol-cart-access.yaml");
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(
        text.contains("      name: cart\n"),
        "the corpus still has the mistake"
    );
    std::fs::write(
        &policy,
        text.replace("      name: cart\n", "      name: carts\n"),
    )
    .unwrap();
    (tmp.arg("old"), tmp.arg("new"))
}

fn pairs(list: &Value) -> Vec<(String, String, Value)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["src"].as_str().unwrap().to_string(),
                c["dst"].as_str().unwrap().to_string(),
                c["allowed"].clone(),
            )
        })
        .collect()
}

#[test]
fn sock_shop_label_fix_gives_front_end_and_orders_tcp_80_to_carts() {
    let tmp = TempDir::new("sockshop");
    let (old, new) = sock_shop_sides(&tmp);
    let d = diff_json(&[&old, &new]);
    assert_eq!(d["granularity"], "workload");
    // carts is isolated by cortex-access's empty podSelector; with the fix, cart-access
    // selects it and admits front-end and orders on TCP 80. Nothing else changes.
    assert_eq!(
        pairs(&d["connectivity"]["added"]),
        vec![
            (
                "sock-shop/front-end[Deployment]".to_string(),
                "sock-shop/carts[Deployment]".to_string(),
                json!({"TCP": [[80, 80]]})
            ),
            (
                "sock-shop/orders[Deployment]".to_string(),
                "sock-shop/carts[Deployment]".to_string(),
                json!({"TCP": [[80, 80]]})
            ),
        ]
    );
    assert_eq!(d["connectivity"]["removed"], json!([]));
    assert_eq!(d["connectivity"]["changed"], json!([]));
    // carts has no entry point from outside: exposure does not move.
    assert_eq!(d["exposure"], json!({"added": [], "removed": []}));
    assert!(d["findings"]["new"].is_array());
    assert!(d["findings"]["fixed"].is_array());

    // The other way round, the same pairs are lost.
    let back = diff_json(&[&new, &old]);
    assert_eq!(
        pairs(&back["connectivity"]["removed"]),
        pairs(&d["connectivity"]["added"])
    );
    assert_eq!(back["connectivity"]["added"], json!([]));

    // At pod granularity the pods are the carts pod and the two client pods' names.
    let pods = diff_json(&[&old, &new, "--granularity", "pod"]);
    let added = pairs(&pods["connectivity"]["added"]);
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(
        added
            .iter()
            .all(|(_, dst, a)| dst.starts_with("sock-shop/carts")
                && !dst.starts_with("sock-shop/carts-db")
                && *a == json!({"TCP": [[80, 80]]}))
    );

    // The table and the Markdown say the same.
    let table = run(&["diff", &old, &new]);
    let text = stdout(&table);
    assert!(
        text.contains("+ sock-shop/front-end[Deployment] -> sock-shop/carts[Deployment]"),
        "{text}"
    );
    assert!(
        text.contains("2 connection(s) added, 0 removed, 0 changed"),
        "{text}"
    );
    let md = stdout(&run(&["diff", &old, &new, "-o", "md"]));
    assert!(md.starts_with("### kubesurface diff\n"), "{md}");
    assert!(
        md.contains(
            "| added | `sock-shop/orders[Deployment]` | `sock-shop/carts[Deployment]` | | TCP 80 |"
        ),
        "{md}"
    );
    assert!(md.contains("#### Connectivity: 2 change(s)"), "{md}");
}

fn assert_empty(d: &Value) {
    assert_eq!(
        d["connectivity"],
        json!({"added": [], "removed": [], "changed": []})
    );
    assert_eq!(d["exposure"], json!({"added": [], "removed": []}));
    assert_eq!(d["findings"], json!({"new": [], "fixed": []}));
}

#[test]
fn diff_of_an_input_with_itself_is_empty() {
    for input in ["examples/openstack", "tests/corpus/sock-shop"] {
        for granularity in ["pod", "workload", "namespace"] {
            let d = diff_json(&[input, input, "--granularity", granularity]);
            assert_eq!(d["granularity"], granularity);
            assert_empty(&d);
        }
        let out = run(&["diff", input, input, "--fail-on-new", "low"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).starts_with("No changes"), "{}", stdout(&out));
        let md = stdout(&run(&["diff", input, input, "-o", "md"]));
        assert!(md.contains("No change in reachability"), "{md}");
    }
    // A copy elsewhere: every location differs, nothing else does. Findings are compared
    // without their locations, so the diff stays empty.
    let tmp = TempDir::new("copy");
    copy_dir(
        &repo().join("examples/openstack"),
        &tmp.path().join("openstack"),
    );
    assert_empty(&diff_json(&["examples/openstack", &tmp.arg("openstack")]));
}

/// A JSON value that keeps the order of object keys (to check the contract's key order).
#[derive(Debug)]
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Ordered>()? {
                    out.push((k, v));
                }
                Ok(Ordered::Object(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = s.next_element::<Ordered>()? {
                    out.push(v);
                }
                Ok(Ordered::Array(out))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

impl Ordered {
    fn keys(&self) -> Vec<&str> {
        match self {
            Ordered::Object(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            _ => panic!("not an object: {self:?}"),
        }
    }

    fn get(&self, key: &str) -> &Ordered {
        match self {
            Ordered::Object(m) => &m.iter().find(|(k, _)| k == key).unwrap().1,
            _ => panic!("not an object"),
        }
    }

    fn items(&self) -> &[Ordered] {
        match self {
            Ordered::Array(a) => a,
            _ => panic!("not an array"),
        }
    }
}

const OLD: &str = "crates/kubesurface/tests/data/diff/old";
const NEW: &str = "crates/kubesurface/tests/data/diff/new";

fn contract_records(args: &[&str], key: &str) -> Vec<Value> {
    let out = run(args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    v[key].as_array().unwrap().clone()
}

#[test]
fn json_contract_shape_and_content() {
    let out = run(&["diff", OLD, NEW, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            r#"{"schema":"kubesurface.diff/v1","granularity":"workload","settings":{"cni":"generic","ipblock_matches_pods":true},"connectivity":{"added":["#
        ),
        "{text}"
    );
    let doc: Ordered = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc.keys(),
        [
            "schema",
            "granularity",
            "settings",
            "connectivity",
            "exposure",
            "findings"
        ]
    );
    let conn = doc.get("connectivity");
    assert_eq!(conn.keys(), ["added", "removed", "changed"]);
    assert_eq!(doc.get("exposure").keys(), ["added", "removed"]);
    assert_eq!(doc.get("findings").keys(), ["new", "fixed"]);
    for part in ["added", "removed"] {
        for c in conn.get(part).items() {
            assert_eq!(c.keys(), ["src", "dst", "allowed"]);
        }
        for e in doc.get("exposure").get(part).items() {
            assert_eq!(
                e.keys(),
                [
                    "via", "entry", "target", "port", "protocol", "admitted", "source", "object"
                ]
            );
        }
    }
    for c in conn.get("changed").items() {
        assert_eq!(c.keys(), ["src", "dst", "before", "after"]);
    }
    for part in ["new", "fixed"] {
        for f in doc.get("findings").get(part).items() {
            let keys = f.keys();
            assert_eq!(
                keys[..7],
                [
                    "rule",
                    "name",
                    "severity",
                    "objects",
                    "message",
                    "locations",
                    "suppressed"
                ]
            );
            assert!(keys.len() == 7 || keys[7..] == ["suppression"], "{keys:?}");
        }
    }

    let d: Value = serde_json::from_str(&text).unwrap();
    // The fixture: api admits 9000-9001 instead of 9000.
    assert_eq!(
        d["connectivity"]["changed"],
        json!([{"src": "shop/web[Deployment]", "dst": "shop/api[Deployment]",
                "before": {"TCP": [[9000, 9000]]}, "after": {"TCP": [[9000, 9001]]}}])
    );
    // legacy is gone: every pair with it is removed; nothing is added.
    assert_eq!(d["connectivity"]["added"], json!([]));
    let removed = pairs(&d["connectivity"]["removed"]);
    assert!(removed.contains(&(
        "shop/web[Deployment]".into(),
        "shop/legacy[Deployment]".into(),
        json!({"TCP": [[1, 65535]], "UDP": [[1, 65535]], "SCTP": [[1, 65535]]})
    )));
    // Sorted by (src, dst).
    let keys: Vec<(String, String)> = removed
        .iter()
        .map(|(s, t, _)| (s.clone(), t.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);

    // Exposure records are exactly the exposure contract's records of each side, and the
    // NodePort of web is new.
    let new_exposures = contract_records(&["exposure", NEW, "-o", "json"], "exposures");
    let old_exposures = contract_records(&["exposure", OLD, "-o", "json"], "exposures");
    let added = d["exposure"]["added"].as_array().unwrap();
    let removed = d["exposure"]["removed"].as_array().unwrap();
    assert!(
        added
            .iter()
            .all(|e| new_exposures.contains(e) && !old_exposures.contains(e))
    );
    assert!(
        removed
            .iter()
            .all(|e| old_exposures.contains(e) && !new_exposures.contains(e))
    );
    assert!(added.iter().any(|e| e["via"] == "NodePort"
        && e["entry"] == "node:*:30080"
        && e["target"] == "shop/web[Deployment]"
        && e["admitted"] == true));
    // admin's LoadBalancer exposure flips from admitted to blocked: removed and added.
    let lb = |list: &[Value], admitted: bool| {
        list.iter()
            .filter(|e| {
                e["via"] == "LoadBalancer"
                    && e["entry"] == "203.0.113.20:443"
                    && e["admitted"] == admitted
            })
            .count()
    };
    assert_eq!((lb(removed, true), lb(added, false)), (1, 1));
    assert_eq!((lb(removed, false), lb(added, true)), (0, 0));

    // Findings are the audit contract's records of each side; web's NodePort is a new KS101.
    let new_findings = contract_records(&["audit", NEW, "-o", "json"], "findings");
    let old_findings = contract_records(&["audit", OLD, "-o", "json"], "findings");
    let fresh = d["findings"]["new"].as_array().unwrap();
    let fixed = d["findings"]["fixed"].as_array().unwrap();
    assert!(fresh.iter().all(|f| new_findings.contains(f)), "{fresh:?}");
    assert!(fixed.iter().all(|f| old_findings.contains(f)), "{fixed:?}");
    assert!(
        fresh
            .iter()
            .any(|f| f["rule"] == "KS101" && f["objects"] == json!(["shop/Service/web"]))
    );
    assert!(
        !fixed
            .iter()
            .any(|f| f["objects"] == json!(["shop/Service/web"]))
    );

    // Deterministic.
    assert_eq!(stdout(&run(&["diff", OLD, NEW, "-o", "json"])), text);
}

#[test]
fn markdown_folds_long_lists_and_table_marks_changes() {
    let md = stdout(&run(&["diff", OLD, NEW, "-o", "md"]));
    // 10 removed + 1 changed connections: folded.
    assert!(
        md.contains("<details>\n<summary>Connectivity: 11 change(s)</summary>\n"),
        "{md}"
    );
    assert!(md.contains("</details>"), "{md}");
    assert!(
        md.contains("| changed | `shop/web[Deployment]` | `shop/api[Deployment]` | TCP 9000 | TCP 9000-9001 |"),
        "{md}"
    );
    assert!(md.contains("[KS101](docs/rules/KS101.md)"), "{md}");
    assert!(
        md.contains("**0** added, **10** removed, **1** changed"),
        "{md}"
    );

    let table = stdout(&run(&["diff", OLD, NEW]));
    assert!(
        table.contains("~ shop/web[Deployment] -> shop/api[Deployment]"),
        "{table}"
    );
    assert!(table.contains("TCP 9000  =>  TCP 9000-9001"), "{table}");
    assert!(
        table.contains("- shop/web[Deployment] -> shop/legacy[Deployment]"),
        "{table}"
    );
    assert!(
        table.contains("  + NodePort node:*:30080 -> shop/web[Deployment]:8080/TCP admitted"),
        "{table}"
    );
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "low" => 0,
        "medium" => 1,
        "high" => 2,
        "critical" => 3,
        other => panic!("severity {other}"),
    }
}

#[test]
fn fail_on_new_counts_new_unsuppressed_findings_at_or_above_the_severity() {
    let tmp = TempDir::new("failonnew");
    let config = tmp.path().join("kubesurface.yaml");
    std::fs::write(
        &config,
        "ignore:\n  - rule: KS101\n    object: shop/Service/web\n    reason: the shop is public\n",
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    for with_config in [false, true] {
        let mut base = vec!["diff", OLD, NEW];
        if with_config {
            base.extend_from_slice(&["--config", &config]);
        }
        let mut json_args = base.clone();
        json_args.extend_from_slice(&["-o", "json"]);
        let d: Value = serde_json::from_str(&stdout(&run(&json_args))).unwrap();
        let web_ks101 = d["findings"]["new"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "KS101" && f["objects"] == json!(["shop/Service/web"]))
            .expect("web's NodePort is a new KS101")
            .clone();
        assert_eq!(web_ks101["suppressed"], with_config);
        for (flag, rank) in [("low", 0), ("medium", 1), ("high", 2), ("critical", 3)] {
            let expected = d["findings"]["new"].as_array().unwrap().iter().any(|f| {
                f["suppressed"] == false && severity_rank(f["severity"].as_str().unwrap()) >= rank
            });
            let mut args = base.clone();
            args.extend_from_slice(&["--fail-on-new", flag]);
            let out = run(&args);
            assert_eq!(
                out.status.code(),
                Some(if expected { 1 } else { 0 }),
                "--fail-on-new {flag} (config: {with_config}): {}",
                stderr(&out)
            );
        }
        // Without the config, the new KS101 (medium) alone fails `--fail-on-new medium`.
        if !with_config {
            let out = run(&["diff", OLD, NEW, "--fail-on-new", "medium"]);
            assert_eq!(out.status.code(), Some(1));
        }
    }
    // Fixed findings never fail the build: NEW against itself.
    let out = run(&["diff", NEW, NEW, "--fail-on-new", "low"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["diff", "-", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot both be `-`"),
        "{}",
        stderr(&out)
    );
    let out = run(&["diff", OLD, "does/not/exist"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("NEW input"), "{}", stderr(&out));
    let out = run(&["diff", OLD]);
    assert_eq!(out.status.code(), Some(2));
}
