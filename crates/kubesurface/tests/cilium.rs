//! Replays the documented outcomes of Cilium's policy examples (docs.cilium.io, the
//! examples of github.com/cilium/cilium) against
//! `kubesurface connectivity DIR --granularity pod -o json --cni cilium`.
//!
//! Data lives in `tests/cilium/`: `clusters/*.yaml` are the workloads of the examples and
//! every `cases/*.yaml` is one documented example (or one step of a guide) with the
//! outcomes the documentation states, each case citing its source. See
//! `tests/cilium/README.md` for the format.
//!
//! For every case the test writes the cluster and the case's objects as one JSON `List`
//! into a temporary directory, runs the CLI once, and checks every expectation; an
//! expectation with `l7:` also runs `explain` for that connection and checks whether it
//! reports the deciding rule as L7-filtered. All mismatches of all cases are reported
//! together.
//!
//! A case with `pending: REASON` is known to fail for that reason (a missing piece outside
//! the Cilium reader): it must still fail, and the test fails once it passes, so the
//! marker is removed as soon as the piece lands.

use std::collections::HashMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// Guards against a lost or emptied case directory passing silently.
const MIN_CASES: usize = 25;

/// What `explain` says of a rule with L7 filters (crates/kubesurface-engine).
const L7_NOTE: &str = "L7 rules filter further";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cilium")
}

#[test]
fn cilium_documented_examples() {
    let dir = data_dir();
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("cases"))
        .expect("tests/cilium/cases")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= MIN_CASES,
        "expected at least {MIN_CASES} cases, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut probes = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let pending = pending(path);
        let failure = match run_case(&dir, path) {
            Ok((n, mismatches)) => {
                probes += n;
                (!mismatches.is_empty()).then(|| format!("{file}:\n  {}", mismatches.join("\n  ")))
            }
            Err(e) => Some(format!("{file}: ERROR: {e}")),
        };
        match (pending, failure) {
            (None, Some(f)) => failures.push(f),
            (Some(reason), None) => failures.push(format!(
                "{file}: passes now; remove its `pending: {reason}`"
            )),
            (Some(reason), Some(_)) => eprintln!("{file}: pending ({reason})"),
            (None, None) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} Cilium cases failed ({probes} expectations in all):\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// The `pending:` reason of a case, if any.
fn pending(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let case: Value = serde_saphyr::from_str(&text).ok()?;
    case.get("pending")?.as_str().map(str::to_string)
}

/// One expected outcome.
struct Expect {
    from: String,
    to: String,
    port: u16,
    protocol: String,
    allowed: bool,
    l7: Option<bool>,
    why: String,
}

impl Expect {
    fn label(&self) -> String {
        format!(
            "{} -> {} {}/{}",
            self.from, self.to, self.port, self.protocol
        )
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string `{key}`"))
}

fn parse_expect(v: &Value) -> Result<Expect, String> {
    let protocol = v
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP")
        .to_string();
    if !["TCP", "UDP", "SCTP"].contains(&protocol.as_str()) {
        return Err(format!("unknown protocol {protocol:?}"));
    }
    let port = v
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or("missing or bad `port`")?;
    Ok(Expect {
        from: str_field(v, "from")?.to_string(),
        to: str_field(v, "to")?.to_string(),
        port,
        protocol,
        allowed: v
            .get("allowed")
            .and_then(Value::as_bool)
            .ok_or("missing boolean `allowed`")?,
        l7: v.get("l7").and_then(Value::as_bool),
        why: v
            .get("why")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

fn load_yaml_docs(path: &Path) -> Result<Vec<Value>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(docs.into_iter().filter(Value::is_object).collect())
}

/// Runs one case: the number of expectations and the mismatches.
fn run_case(dir: &Path, path: &Path) -> Result<(usize, Vec<String>), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let case: Value = serde_saphyr::from_str(&text).map_err(|e| format!("invalid YAML: {e}"))?;
    str_field(&case, "name")?;
    let docs = case
        .get("docs")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("every case cites its source in `docs`")?;
    if docs
        .iter()
        .any(|d| !d.as_str().is_some_and(|s| s.starts_with("https://")))
    {
        return Err("`docs` entries are URLs".into());
    }
    let cluster = str_field(&case, "cluster")?;
    let mut items = load_yaml_docs(&dir.join("clusters").join(format!("{cluster}.yaml")))?;
    if let Some(objects) = case.get("objects") {
        items.extend(
            objects
                .as_array()
                .ok_or("`objects` must be a list")?
                .iter()
                .cloned(),
        );
    }
    let expects = case
        .get("expect")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
        .ok_or("missing `expect` list")?
        .iter()
        .enumerate()
        .map(|(i, e)| parse_expect(e).map_err(|m| format!("expect[{i}]: {m}")))
        .collect::<Result<Vec<_>, _>>()?;

    let stem = path.file_stem().unwrap().to_string_lossy();
    let workdir =
        std::env::temp_dir().join(format!("kubesurface-cilium-{}-{stem}", std::process::id()));
    let _ = fs::remove_dir_all(&workdir);
    fs::create_dir_all(&workdir).map_err(|e| format!("{}: {e}", workdir.display()))?;
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    fs::write(
        workdir.join("manifests.json"),
        serde_json::to_string_pretty(&list).unwrap(),
    )
    .map_err(|e| format!("cannot write manifests: {e}"))?;

    let output = run(
        &workdir,
        &[
            "connectivity",
            "--granularity",
            "pod",
            "-o",
            "json",
            "--cni",
            "cilium",
        ],
    )?;
    let output: Value =
        serde_json::from_str(&output).map_err(|e| format!("connectivity JSON: {e}"))?;
    let connections = index(&output)?;

    let mut mismatches = Vec::new();
    for e in &expects {
        let got = allowed(&connections, e)?;
        if got != e.allowed {
            mismatches.push(format!(
                "{}: expected {}, got {}{}",
                e.label(),
                verdict(e.allowed),
                verdict(got),
                if e.why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.why)
                }
            ));
        }
        if let Some(l7) = e.l7 {
            let text = run(
                &workdir,
                &[
                    "explain",
                    "--cni",
                    "cilium",
                    "-o",
                    "json",
                    "--from",
                    &e.from,
                    "--to",
                    &format!("{}:{}/{}", e.to, e.port, e.protocol),
                ],
            )?;
            if text.contains(L7_NOTE) != l7 {
                mismatches.push(format!(
                    "{}: expected the explanation {}to report L7 filtering:\n{text}",
                    e.label(),
                    if l7 { "" } else { "not " }
                ));
            }
        }
    }
    if mismatches.is_empty() {
        let _ = fs::remove_dir_all(&workdir);
    } else {
        mismatches.push(format!("(input kept in {})", workdir.display()));
    }
    Ok((expects.len(), mismatches))
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allowed" } else { "denied" }
}

/// Runs the CLI on `workdir`: its stdout.
fn run(workdir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .args(args)
        .arg(workdir)
        .output()
        .map_err(|e| format!("cannot run kubesurface: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kubesurface {} exited with {} (input in {}):\n{}",
            args.join(" "),
            out.status,
            workdir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `(src, dst) -> allowed port sets`.
fn index(output: &Value) -> Result<HashMap<(String, String), Vec<Value>>, String> {
    if output.get("schema").and_then(Value::as_str) != Some("kubesurface.connectivity/v1") {
        return Err(format!("unexpected schema {:?}", output.get("schema")));
    }
    let mut map: HashMap<(String, String), Vec<Value>> = HashMap::new();
    for c in output
        .get("connections")
        .and_then(Value::as_array)
        .ok_or("no `connections`")?
    {
        let src = str_field(c, "src")?.to_string();
        let dst = str_field(c, "dst")?.to_string();
        let allowed = c
            .get("allowed")
            .cloned()
            .ok_or("connection without `allowed`")?;
        map.entry((src, dst)).or_default().push(allowed);
    }
    Ok(map)
}

/// Whether the output names `peer`: the same pod, or for `ext:IP` the external range
/// holding the address (`ext:CIDR` or `ext:FIRST-LAST`).
fn names(output_name: &str, peer: &str) -> bool {
    let Some(ip) = peer.strip_prefix("ext:") else {
        return output_name == peer;
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let Some(range) = output_name.strip_prefix("ext:") else {
        return false;
    };
    let key = |a: IpAddr| -> (u8, u128) {
        match a {
            IpAddr::V4(v) => (4, u128::from(u32::from(v))),
            IpAddr::V6(v) => (6, u128::from(v)),
        }
    };
    let (lo, hi) = if let Some((first, last)) = range.split_once('-') {
        match (first.parse::<IpAddr>(), last.parse::<IpAddr>()) {
            (Ok(a), Ok(b)) => (key(a), key(b)),
            _ => return false,
        }
    } else if let Some((addr, len)) = range.split_once('/') {
        let (Ok(addr), Ok(len)) = (addr.parse::<IpAddr>(), len.parse::<u32>()) else {
            return false;
        };
        let (fam, base) = key(addr);
        let bits = if fam == 4 { 32 } else { 128 };
        let host = bits - len.min(bits);
        let span = if host >= 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        };
        ((fam, base), (fam, base | span))
    } else {
        return false;
    };
    let k = key(ip);
    k.0 == lo.0 && lo.1 <= k.1 && k.1 <= hi.1
}

/// The verdict of one expectation in the connectivity output.
fn allowed(
    connections: &HashMap<(String, String), Vec<Value>>,
    e: &Expect,
) -> Result<bool, String> {
    let mut found = false;
    for ((src, dst), sets) in connections {
        if !names(src, &e.from) || !names(dst, &e.to) {
            continue;
        }
        for set in sets {
            let Some(ranges) = set.get(&e.protocol) else {
                continue;
            };
            for r in ranges.as_array().ok_or("port ranges are not a list")? {
                let (lo, hi) = match r.as_array().map(Vec::as_slice) {
                    Some([lo, hi]) => (
                        lo.as_u64().ok_or("bad port")?,
                        hi.as_u64().ok_or("bad port")?,
                    ),
                    _ => return Err(format!("bad port range {r}")),
                };
                found |= lo <= u64::from(e.port) && u64::from(e.port) <= hi;
            }
        }
    }
    Ok(found)
}
