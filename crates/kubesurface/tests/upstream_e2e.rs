//! Replays the upstream Kubernetes e2e NetworkPolicy truth tables
//! (kubernetes/kubernetes `test/e2e/network/netpol/network_policy.go`) against
//! `kubesurface connectivity DIR -o json --granularity pod`.
//!
//! Data lives in `tests/upstream_e2e/`: `cluster.yaml` is the upstream model
//! (namespaces x, y, z with pods a, b, c) and every `cases/*.yaml` file is one
//! upstream test (or one reachability step of it).  See
//! `tests/upstream_e2e/README.md` for the case format and the mapping to the
//! upstream test titles.
//!
//! For every case the test writes the cluster (with the case's label changes,
//! extra objects and policies) as one JSON `List` into a temporary directory,
//! runs the CLI and compares every probe of every grid.  All mismatches of all
//! cases are collected and reported together.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};

mod support;
use support::port_allowed;

/// Guards against a lost or emptied case directory passing silently.
const MIN_CASES: usize = 50;

/// Row/column order of a grid when a case has no `pods:` list.
const DEFAULT_PODS: [&str; 9] = [
    "x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c",
];

const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upstream_e2e")
}

#[test]
fn upstream_netpol_e2e_truth_tables() {
    let dir = data_dir();
    let cluster = load_cluster(&dir.join("cluster.yaml"));
    let case_files = list_case_files(&dir.join("cases"));
    assert!(
        case_files.len() >= MIN_CASES,
        "expected at least {MIN_CASES} case files in {}, found {}",
        dir.join("cases").display(),
        case_files.len()
    );

    let mut reports = Vec::new();
    let mut mismatch_count = 0;
    for path in &case_files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        match run_case(path, &cluster) {
            Ok(outcome) if outcome.mismatches.is_empty() => {}
            Ok(outcome) => {
                mismatch_count += outcome.mismatches.len();
                reports.push(outcome.report(&file));
            }
            Err(err) => reports.push(format!("{file}: ERROR: {err}")),
        }
    }

    if !reports.is_empty() {
        panic!(
            "{} of {} upstream e2e cases failed ({} probe mismatches):\n\n{}",
            reports.len(),
            case_files.len(),
            mismatch_count,
            reports.join("\n\n")
        );
    }
}

// ---------------------------------------------------------------- case files

struct Case {
    name: String,
    pods: Vec<String>,
    namespace_labels: Map<String, Value>,
    pod_labels: Map<String, Value>,
    extra_objects: Vec<Value>,
    policies: Vec<Value>,
    probes: Vec<Probe>,
}

struct Probe {
    protocol: String,
    port: u64,
    /// `grid[from][to]`, true = connection expected to be allowed.
    grid: Vec<Vec<bool>>,
}

impl Probe {
    fn label(&self) -> String {
        format!("{}/{}", self.protocol, self.port)
    }
}

fn load_cluster(path: &Path) -> Vec<Value> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    docs.into_iter().filter(|d| d.is_object()).collect()
}

fn list_case_files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

fn parse_case(text: &str) -> Result<Case, String> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .ok_or("missing `name`")?
        .to_owned();
    let pods = match doc.get("pods") {
        None | Some(Value::Null) => DEFAULT_PODS.iter().map(|p| p.to_string()).collect(),
        Some(v) => v
            .as_array()
            .ok_or("`pods` must be a list")?
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_owned)
                    .ok_or("`pods` entries must be strings")
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let map_field = |key: &str| -> Result<Map<String, Value>, String> {
        match doc.get(key) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(format!("`{key}` must be a mapping")),
        }
    };
    let list_field = |key: &str| -> Result<Vec<Value>, String> {
        match doc.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(format!("`{key}` must be a list")),
        }
    };

    let mut probes = Vec::new();
    for (i, raw) in list_field("probes")?.iter().enumerate() {
        probes.push(parse_probe(raw, pods.len()).map_err(|e| format!("probes[{i}]: {e}"))?);
    }
    if probes.is_empty() {
        return Err("case has no probes".into());
    }

    Ok(Case {
        name,
        pods,
        namespace_labels: map_field("namespaceLabels")?,
        pod_labels: map_field("podLabels")?,
        extra_objects: list_field("extraObjects")?,
        policies: list_field("policies")?,
        probes,
    })
}

fn parse_probe(raw: &Value, n: usize) -> Result<Probe, String> {
    let protocol = raw
        .get("protocol")
        .and_then(Value::as_str)
        .ok_or("missing `protocol`")?
        .to_owned();
    if !PROTOCOLS.contains(&protocol.as_str()) {
        return Err(format!("unknown protocol {protocol:?}"));
    }
    let port = raw
        .get("port")
        .and_then(Value::as_u64)
        .ok_or("missing numeric `port`")?;
    let text = raw
        .get("grid")
        .and_then(Value::as_str)
        .ok_or("missing `grid`")?;
    let grid = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            line.split_whitespace()
                .map(|cell| match cell {
                    "." => Ok(true),
                    "X" => Ok(false),
                    other => Err(format!("grid cell {other:?} is neither '.' nor 'X'")),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    if grid.len() != n || grid.iter().any(|row| row.len() != n) {
        return Err(format!("grid must be {n}x{n} (one row/column per pod)"));
    }
    Ok(Probe {
        protocol,
        port,
        grid,
    })
}

// ------------------------------------------------------- building the input

/// The base cluster with the case's label replacements, extra objects and
/// policies, as one `v1/List`.
fn build_manifests(cluster: &[Value], case: &Case) -> Result<Value, String> {
    let mut items = cluster.to_vec();
    for (ns, labels) in &case.namespace_labels {
        let target = items
            .iter_mut()
            .find(|o| kind(o) == "Namespace" && meta(o, "name") == Some(ns.as_str()))
            .ok_or_else(|| format!("namespaceLabels: no Namespace {ns:?} in cluster.yaml"))?;
        target["metadata"]["labels"] = labels.clone();
    }
    for (key, labels) in &case.pod_labels {
        let (ns, name) = key
            .split_once('/')
            .ok_or_else(|| format!("podLabels key {key:?} is not NS/NAME"))?;
        let target = items
            .iter_mut()
            .find(|o| {
                kind(o) == "Pod"
                    && meta(o, "namespace") == Some(ns)
                    && meta(o, "name") == Some(name)
            })
            .ok_or_else(|| format!("podLabels: no Pod {key:?} in cluster.yaml"))?;
        target["metadata"]["labels"] = labels.clone();
    }
    items.extend(case.extra_objects.iter().cloned());
    items.extend(case.policies.iter().cloned());
    Ok(json!({ "apiVersion": "v1", "kind": "List", "items": items }))
}

fn kind(obj: &Value) -> &str {
    obj.get("kind").and_then(Value::as_str).unwrap_or("")
}

fn meta<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

// ----------------------------------------------------------- running a case

struct Mismatch {
    probe: usize,
    from: usize,
    to: usize,
    expected: bool,
}

struct Outcome {
    case: Case,
    /// Observed allow/deny per probe, same shape as the expected grid.
    observed: Vec<Vec<Vec<bool>>>,
    mismatches: Vec<Mismatch>,
    workdir: PathBuf,
}

fn run_case(path: &Path, cluster: &[Value]) -> Result<Outcome, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let case = parse_case(&text)?;
    let manifests = build_manifests(cluster, &case)?;

    let stem = path.file_stem().unwrap().to_string_lossy();
    let workdir = std::env::temp_dir().join(format!(
        "kubesurface-upstream-e2e-{}-{stem}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&workdir);
    fs::create_dir_all(&workdir)
        .map_err(|e| format!("cannot create {}: {e}", workdir.display()))?;
    let input = serde_json::to_string_pretty(&manifests).expect("serialise manifests");
    fs::write(workdir.join("manifests.json"), input)
        .map_err(|e| format!("cannot write manifests: {e}"))?;

    let output = run_cli(&workdir)?;
    let connections = index_connections(&output)?;

    let mut observed = Vec::new();
    let mut mismatches = Vec::new();
    for (p, probe) in case.probes.iter().enumerate() {
        let mut got_grid = Vec::new();
        for (i, from) in case.pods.iter().enumerate() {
            let mut row = Vec::new();
            for (j, to) in case.pods.iter().enumerate() {
                let got = match connections.get(&(from.as_str(), to.as_str())) {
                    Some(allowed) => allowed
                        .iter()
                        .map(|a| port_allowed(a, &probe.protocol, probe.port))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| format!("connection {from} -> {to}: {e}"))?
                        .into_iter()
                        .any(|b| b),
                    None => false,
                };
                row.push(got);
                // Upstream ignores loopback (pod -> itself), so do we.
                if i != j && got != probe.grid[i][j] {
                    mismatches.push(Mismatch {
                        probe: p,
                        from: i,
                        to: j,
                        expected: probe.grid[i][j],
                    });
                }
            }
            got_grid.push(row);
        }
        observed.push(got_grid);
    }

    if mismatches.is_empty() {
        let _ = fs::remove_dir_all(&workdir);
    }
    Ok(Outcome {
        case,
        observed,
        mismatches,
        workdir,
    })
}

fn run_cli(workdir: &Path) -> Result<Value, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .arg("connectivity")
        .arg(workdir)
        .args(["-o", "json", "--granularity", "pod"])
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
    let value: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    if value.get("schema").and_then(Value::as_str) != Some("kubesurface.connectivity/v1") {
        return Err(format!("unexpected schema: {:?}", value.get("schema")));
    }
    if value.get("granularity").and_then(Value::as_str) != Some("pod") {
        return Err(format!(
            "unexpected granularity: {:?}",
            value.get("granularity")
        ));
    }
    Ok(value)
}

/// `(src, dst) -> [allowed objects]`.  External peers (`ext:...`) end up in
/// the map too but are never looked up.
fn index_connections(output: &Value) -> Result<HashMap<(&str, &str), Vec<&Value>>, String> {
    let list = output
        .get("connections")
        .and_then(Value::as_array)
        .ok_or("output has no `connections` array")?;
    let mut map: HashMap<(&str, &str), Vec<&Value>> = HashMap::new();
    for (i, conn) in list.iter().enumerate() {
        let src = conn.get("src").and_then(Value::as_str);
        let dst = conn.get("dst").and_then(Value::as_str);
        let allowed = conn.get("allowed").filter(|a| a.is_object());
        match (src, dst, allowed) {
            (Some(src), Some(dst), Some(allowed)) => {
                map.entry((src, dst)).or_default().push(allowed)
            }
            _ => return Err(format!("connections[{i}] lacks src/dst/allowed: {conn}")),
        }
    }
    Ok(map)
}

// ------------------------------------------------------------------ report

impl Outcome {
    fn report(&self, file: &str) -> String {
        let case = &self.case;
        let mut out = format!(
            "{file}: {:?} -- {} mismatches (input kept in {})",
            case.name,
            self.mismatches.len(),
            self.workdir.display()
        );
        let word = |b: bool| if b { "allowed" } else { "denied" };
        for m in &self.mismatches {
            let _ = write!(
                out,
                "\n  {:<9} {} -> {}: expected {}, got {}",
                case.probes[m.probe].label(),
                case.pods[m.from],
                case.pods[m.to],
                word(m.expected),
                word(!m.expected)
            );
        }
        // Expected vs observed grids for every probe that failed.
        let mut failed: Vec<usize> = self.mismatches.iter().map(|m| m.probe).collect();
        failed.dedup();
        for p in failed {
            let probe = &case.probes[p];
            let _ = write!(
                out,
                "\n  {} expected | observed (rows = from, cols = to, '-' = ignored loopback):",
                probe.label()
            );
            for (i, pod) in case.pods.iter().enumerate() {
                let render = |row: &[bool]| {
                    let cells = row.iter().enumerate().map(|(j, &b)| match (i == j, b) {
                        (true, _) => "-",
                        (false, true) => ".",
                        (false, false) => "X",
                    });
                    cells.collect::<Vec<_>>().join(" ")
                };
                let _ = write!(
                    out,
                    "\n    {pod:<8} {} | {}",
                    render(&probe.grid[i]),
                    render(&self.observed[p][i])
                );
            }
        }
        out
    }
}
