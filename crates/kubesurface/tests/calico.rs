//! Calico's documented examples, replayed through
//! `kubesurface connectivity DIR -o json --granularity pod --cni calico`.
//!
//! Every `tests/calico/*.yaml` file is one documented example (its `docs:` cite the pages
//! the manifests and the expected outcomes come from), in steps: each step adds objects to
//! the ones before and states probes, `from`, `to`, `port`, `protocol` and whether the
//! connection is `allowed`. See `tests/calico/README.md` for the format. A probe with
//! `known: REASON` documents a known kubesurface defect: it must fail (so the fix is noticed).
//!
//! All mismatches of all cases are collected and reported together.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};

/// Guards against a lost or emptied case directory passing silently.
const MIN_CASES: usize = 6;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/calico")
}

#[test]
fn calico_documented_examples() {
    let dir = data_dir();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= MIN_CASES,
        "expected at least {MIN_CASES} cases in {}, found {}",
        dir.display(),
        files.len()
    );
    let mut failures = Vec::new();
    let mut probes = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        match run_case(path) {
            Ok((n, mismatches)) => {
                probes += n;
                failures.extend(mismatches.into_iter().map(|m| format!("{file}: {m}")));
            }
            Err(e) => failures.push(format!("{file}: ERROR: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {probes} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn list<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("`{key}` must be a list")),
    }
}

fn map<'a>(v: &'a Value, key: &str) -> Result<Option<&'a Map<String, Value>>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("`{key}` must be a mapping")),
    }
}

/// The objects a step adds: `namespaces` (name → labels), `pods` (`ns/name` → labels, or
/// `{labels, ip, ports, serviceAccount}`) and `objects` (verbatim).
fn objects(v: &Value) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    if let Some(ns) = map(v, "namespaces")? {
        for (name, labels) in ns {
            let labels = if labels.is_null() {
                json!({})
            } else {
                labels.clone()
            };
            out.push(json!({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": name, "labels": labels}}));
        }
    }
    if let Some(pods) = map(v, "pods")? {
        for (key, spec) in pods {
            let (ns, name) = key
                .split_once('/')
                .ok_or_else(|| format!("pod key {key:?} is not NS/NAME"))?;
            let (labels, ip, ports, sa) = if spec.get("labels").is_some() {
                (
                    spec["labels"].clone(),
                    spec.get("ip").cloned(),
                    spec.get("ports").cloned(),
                    spec.get("serviceAccount").cloned(),
                )
            } else {
                (spec.clone(), None, None, None)
            };
            let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "spec": {"containers": [{"name": "c", "image": "i",
                                         "ports": ports.unwrap_or(json!([]))}]}});
            if let Some(sa) = sa {
                pod["spec"]["serviceAccountName"] = sa;
            }
            if let Some(ip) = ip {
                pod["status"] = json!({"podIP": ip, "podIPs": [{"ip": ip}]});
            }
            out.push(pod);
        }
    }
    out.extend(list(v, "objects")?.iter().cloned());
    Ok(out)
}

/// Runs every step of a case; returns the number of probes and the mismatches.
fn run_case(path: &Path) -> Result<(usize, Vec<String>), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let case: Value = serde_saphyr::from_str(&text).map_err(|e| format!("invalid YAML: {e}"))?;
    if list(&case, "docs")?.is_empty() {
        return Err("a case must cite its `docs`".into());
    }
    let mut items = objects(&case)?;
    let steps = list(&case, "steps")?;
    if steps.is_empty() {
        return Err("a case needs `steps`".into());
    }
    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    let mut count = 0;
    let mut mismatches = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let title = step.get("name").and_then(Value::as_str).unwrap_or("");
        items.extend(objects(step).map_err(|e| format!("steps[{i}]: {e}"))?);
        let workdir = std::env::temp_dir().join(format!(
            "kubesurface-calico-{}-{stem}-{i}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&workdir);
        fs::create_dir_all(&workdir).map_err(|e| e.to_string())?;
        let input = json!({"apiVersion": "v1", "kind": "List", "items": items});
        fs::write(
            workdir.join("manifests.json"),
            serde_json::to_string_pretty(&input).unwrap(),
        )
        .map_err(|e| e.to_string())?;
        let output = run_cli(&workdir).map_err(|e| format!("steps[{i}] {title:?}: {e}"))?;
        let connections = index(&output)?;
        let mut failed = false;
        for (j, probe) in list(step, "probes")?.iter().enumerate() {
            count += 1;
            let field = |k: &str| {
                probe
                    .get(k)
                    .ok_or_else(|| format!("steps[{i}].probes[{j}]: missing `{k}`"))
            };
            let from = field("from")?.as_str().ok_or("`from` must be a string")?;
            let to = field("to")?.as_str().ok_or("`to` must be a string")?;
            let port = field("port")?.as_u64().ok_or("`port` must be a number")?;
            let protocol = probe
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP");
            let want = field("allowed")?
                .as_bool()
                .ok_or("`allowed` must be a bool")?;
            let got = connections
                .get(&(from.to_string(), to.to_string()))
                .is_some_and(|a| port_allowed(a, protocol, port));
            // A known kubesurface defect: the probe must still fail, so that the fix is
            // noticed and the marker removed.
            if let Some(known) = probe.get("known").and_then(Value::as_str) {
                if got == want {
                    failed = true;
                    mismatches.push(format!(
                        "step {i} {title:?}: {from} -> {to} {protocol}/{port} now gives the documented outcome; remove `known: {known}`"
                    ));
                }
                continue;
            }
            if got != want {
                failed = true;
                mismatches.push(format!(
                    "step {i} {title:?}: {from} -> {to} {protocol}/{port}: expected {}, got {} (input kept in {})",
                    if want { "allowed" } else { "denied" },
                    if got { "allowed" } else { "denied" },
                    workdir.display()
                ));
            }
        }
        if !failed {
            let _ = fs::remove_dir_all(&workdir);
        }
    }
    Ok((count, mismatches))
}

fn run_cli(workdir: &Path) -> Result<Value, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .arg("connectivity")
        .arg(workdir)
        .args(["-o", "json", "--granularity", "pod", "--cni", "calico"])
        .output()
        .map_err(|e| format!("cannot run kubesurface: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "kubesurface exited with {} (input kept in {})\nstderr:\n{}",
            output.status,
            workdir.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("stdout is not JSON: {e}"))
}

fn index(output: &Value) -> Result<HashMap<(String, String), Value>, String> {
    let mut out = HashMap::new();
    for c in output
        .get("connections")
        .and_then(Value::as_array)
        .ok_or("output has no `connections`")?
    {
        let src = c["src"].as_str().ok_or("connection without src")?;
        let dst = c["dst"].as_str().ok_or("connection without dst")?;
        out.insert((src.to_string(), dst.to_string()), c["allowed"].clone());
    }
    Ok(out)
}

fn port_allowed(allowed: &Value, protocol: &str, port: u64) -> bool {
    allowed
        .get(protocol)
        .and_then(Value::as_array)
        .is_some_and(|ranges| {
            ranges.iter().any(|r| {
                let lo = r.get(0).and_then(Value::as_u64).unwrap_or(1);
                let hi = r.get(1).and_then(Value::as_u64).unwrap_or(0);
                lo <= port && port <= hi
            })
        })
}
