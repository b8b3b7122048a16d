//! Replays the conformance suite of kubernetes-sigs/network-policy-api (AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy and ClusterNetworkPolicy) against
//! `kubesurface connectivity DIR --granularity pod -o json`.
//!
//! Data lives in `tests/admin_conformance/`: `cluster-v1alpha1.yaml` and
//! `cluster-v1alpha2.yaml` are the suite's base cluster (the "Harry Potter" houses), and every
//! `cases/<version>/<ShortName>.yaml` is one upstream `ConformanceTest`: its steps (the
//! `t.Run` subtests, in order, with the policies as each one leaves them) and their probes
//! (each upstream `PokeServer` call). See `tests/admin_conformance/README.md` for the format
//! and the mapping to the upstream files.
//!
//! For every step the test writes the cluster, the step's namespace labels and its objects as
//! one JSON `List` into a temporary directory, runs the CLI and checks every probe: allowed
//! iff the output has a connection from the probe's source pod to its target pod whose
//! ports for the protocol contain the port. All mismatches of all cases are reported
//! together.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

mod support;
use support::port_allowed;

/// Guards against a lost or emptied case directory passing silently: the suite has 24
/// `ConformanceTest`s per API version, 289 (v1alpha1) and 301 (v1alpha2) probes.
const MIN_CASES: usize = 48;
const MIN_PROBES: usize = 590;

const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/admin_conformance")
}

// ------------------------------------------------------------------------------- case files

struct Case {
    file: String,
    name: String,
    cluster: String,
    steps: Vec<Step>,
}

struct Step {
    title: String,
    /// Namespace name → the labels that replace its own, for this step only.
    namespace_labels: BTreeMap<String, Value>,
    /// The objects in force (inherited from the previous step when the step has none).
    objects: Vec<Value>,
    probes: Vec<Probe>,
}

struct Probe {
    from: String,
    to: String,
    protocol: String,
    port: u64,
    allow: bool,
}

fn list_case_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()));
        for e in entries {
            let path = e.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string `{key}`"))
}

fn parse_case(file: String, text: &str) -> Result<Case, String> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let name = str_field(&doc, "name")?.to_string();
    let cluster = str_field(&doc, "cluster")?.to_string();
    let raw_steps = doc
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("missing list `steps`")?;
    let mut steps = Vec::new();
    let mut objects: Option<Vec<Value>> = None;
    for (i, s) in raw_steps.iter().enumerate() {
        let at = |e: String| format!("steps[{i}]: {e}");
        let title = str_field(s, "title").map_err(at)?.to_string();
        if let Some(o) = s.get("objects") {
            let list = o
                .as_array()
                .ok_or_else(|| at("`objects` must be a list".into()))?;
            objects = Some(list.clone());
        }
        let objects = objects
            .clone()
            .ok_or_else(|| at("the first step must have `objects`".into()))?;
        let namespace_labels = match s.get("namespaceLabels") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(m)) => m.clone().into_iter().collect(),
            Some(_) => return Err(at("`namespaceLabels` must be a mapping".into())),
        };
        let raw_probes = s
            .get("probes")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| at("missing non-empty list `probes`".into()))?;
        let mut probes = Vec::new();
        for (j, p) in raw_probes.iter().enumerate() {
            probes.push(parse_probe(p).map_err(|e| at(format!("probes[{j}]: {e}")))?);
        }
        steps.push(Step {
            title,
            namespace_labels,
            objects,
            probes,
        });
    }
    if steps.is_empty() {
        return Err("case has no steps".into());
    }
    Ok(Case {
        file,
        name,
        cluster,
        steps,
    })
}

fn parse_probe(p: &Value) -> Result<Probe, String> {
    let protocol = str_field(p, "protocol")?.to_string();
    if !PROTOCOLS.contains(&protocol.as_str()) {
        return Err(format!("unknown protocol {protocol:?}"));
    }
    let port = p
        .get("port")
        .and_then(Value::as_u64)
        .filter(|p| (1..=65535).contains(p))
        .ok_or("missing port (1-65535)")?;
    let allow = match str_field(p, "expect")? {
        "allow" => true,
        "deny" => false,
        other => return Err(format!("expect {other:?} is neither allow nor deny")),
    };
    Ok(Probe {
        from: str_field(p, "from")?.to_string(),
        to: str_field(p, "to")?.to_string(),
        protocol,
        port,
        allow,
    })
}

// ------------------------------------------------------------------------------ the cluster

struct Cluster {
    docs: Vec<Value>,
    /// Pod name → `namespace/name` (pod names are unique across the base cluster).
    pods: HashMap<String, String>,
}

fn load_cluster(path: &Path) -> Result<Cluster, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs: Vec<Value> = docs.into_iter().filter(Value::is_object).collect();
    let mut pods = HashMap::new();
    for d in docs.iter().filter(|d| kind(d) == "Pod") {
        let (Some(ns), Some(name)) = (meta(d, "namespace"), meta(d, "name")) else {
            return Err(format!(
                "{}: a Pod without namespace or name",
                path.display()
            ));
        };
        if pods
            .insert(name.to_string(), format!("{ns}/{name}"))
            .is_some()
        {
            return Err(format!("{}: pod name {name} is not unique", path.display()));
        }
    }
    Ok(Cluster { docs, pods })
}

fn kind(obj: &Value) -> &str {
    obj.get("kind").and_then(Value::as_str).unwrap_or("")
}

fn meta<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// The base cluster with the step's namespace labels and objects, as one `v1/List`.
fn manifests(cluster: &Cluster, step: &Step) -> Result<Value, String> {
    let mut items = cluster.docs.clone();
    for (ns, labels) in &step.namespace_labels {
        let target = items
            .iter_mut()
            .find(|o| kind(o) == "Namespace" && meta(o, "name") == Some(ns.as_str()))
            .ok_or_else(|| format!("namespaceLabels: no Namespace {ns:?} in the cluster"))?;
        target["metadata"]["labels"] = labels.clone();
    }
    items.extend(step.objects.iter().cloned());
    Ok(json!({ "apiVersion": "v1", "kind": "List", "items": items }))
}

// ------------------------------------------------------------------------------ running

/// The outcome of one step: mismatching probes, or an error.
enum Outcome {
    Passed,
    Mismatches {
        lines: Vec<String>,
        workdir: PathBuf,
    },
    Error(String),
}

fn run_step(case: &Case, index: usize, cluster: &Cluster) -> Outcome {
    let step = &case.steps[index];
    let resolve = |pod: &str| {
        cluster
            .pods
            .get(pod)
            .cloned()
            .ok_or_else(|| format!("probe names pod {pod:?}, which is not in {}", case.cluster))
    };
    let list = match manifests(cluster, step) {
        Ok(l) => l,
        Err(e) => return Outcome::Error(e),
    };
    let stem = case.file.replace(['/', '.'], "-");
    let workdir = std::env::temp_dir().join(format!(
        "kubesurface-admin-conformance-{}-{stem}-{index}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&workdir);
    if let Err(e) = fs::create_dir_all(&workdir) {
        return Outcome::Error(format!("cannot create {}: {e}", workdir.display()));
    }
    let text = serde_json::to_string_pretty(&list).expect("serialise manifests");
    if let Err(e) = fs::write(workdir.join("manifests.json"), text) {
        return Outcome::Error(format!("cannot write manifests: {e}"));
    }
    let output = match run_cli(&workdir) {
        Ok(o) => o,
        Err(e) => return Outcome::Error(e),
    };
    let connections = match index_connections(&output) {
        Ok(c) => c,
        Err(e) => return Outcome::Error(e),
    };
    let mut lines = Vec::new();
    for p in &step.probes {
        let (from, to) = match (resolve(&p.from), resolve(&p.to)) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => return Outcome::Error(e),
        };
        let got = match connections.get(&(from.clone(), to.clone())) {
            Some(allowed) => match port_allowed(allowed, &p.protocol, p.port) {
                Ok(b) => b,
                Err(e) => return Outcome::Error(format!("connection {from} -> {to}: {e}")),
            },
            None => false,
        };
        if got != p.allow {
            let word = |b: bool| if b { "allowed" } else { "denied" };
            lines.push(format!(
                "{} -> {} {}/{}: expected {}, got {}",
                p.from,
                p.to,
                p.protocol,
                p.port,
                word(p.allow),
                word(got)
            ));
        }
    }
    if lines.is_empty() {
        let _ = fs::remove_dir_all(&workdir);
        Outcome::Passed
    } else {
        Outcome::Mismatches { lines, workdir }
    }
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
    let value: Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("stdout is not JSON ({e})"))?;
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

/// `(src, dst) -> allowed` (one record per pair).
fn index_connections(output: &Value) -> Result<HashMap<(String, String), Value>, String> {
    let list = output
        .get("connections")
        .and_then(Value::as_array)
        .ok_or("output has no `connections` array")?;
    let mut map = HashMap::new();
    for (i, c) in list.iter().enumerate() {
        let src = c.get("src").and_then(Value::as_str);
        let dst = c.get("dst").and_then(Value::as_str);
        let allowed = c.get("allowed").filter(|a| a.is_object());
        match (src, dst, allowed) {
            (Some(s), Some(d), Some(a)) => {
                if map
                    .insert((s.to_string(), d.to_string()), a.clone())
                    .is_some()
                {
                    return Err(format!("connections[{i}]: pair {s} -> {d} listed twice"));
                }
            }
            _ => return Err(format!("connections[{i}] lacks src/dst/allowed: {c}")),
        }
    }
    Ok(map)
}

#[test]
fn network_policy_api_conformance() {
    let dir = data_dir();
    let files = list_case_files(&dir.join("cases"));
    assert!(
        files.len() >= MIN_CASES,
        "expected at least {MIN_CASES} case files under {}, found {}",
        dir.join("cases").display(),
        files.len()
    );
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(dir.join("cases"))
            .unwrap_or(path)
            .display()
            .to_string();
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        match parse_case(rel.clone(), &text) {
            Ok(c) => cases.push(c),
            Err(e) => errors.push(format!("{rel}: {e}")),
        }
    }
    assert!(errors.is_empty(), "bad case files:\n{}", errors.join("\n"));
    let probes: usize = cases
        .iter()
        .flat_map(|c| &c.steps)
        .map(|s| s.probes.len())
        .sum();
    assert!(
        probes >= MIN_PROBES,
        "expected at least {MIN_PROBES} probes, found {probes}"
    );

    let mut clusters: BTreeMap<String, Cluster> = BTreeMap::new();
    for c in &cases {
        if !clusters.contains_key(&c.cluster) {
            let cluster =
                load_cluster(&dir.join(&c.cluster)).unwrap_or_else(|e| panic!("{}: {e}", c.file));
            clusters.insert(c.cluster.clone(), cluster);
        }
    }

    // Every step runs on its own; all of them in parallel.
    let jobs: Vec<(usize, usize)> = cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| (0..c.steps.len()).map(move |s| (i, s)))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get().min(16));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(i, step)) = jobs.get(k) else { break };
                    let case = &cases[i];
                    let outcome = run_step(case, step, &clusters[&case.cluster]);
                    results.lock().unwrap()[k] = Some(outcome);
                }
            });
        }
    });

    let mut report = String::new();
    let (mut failed_steps, mut mismatches) = (0, 0);
    for (&(i, s), outcome) in jobs.iter().zip(results.into_inner().unwrap()) {
        let case = &cases[i];
        let step = &case.steps[s];
        let head = format!(
            "{} ({}) step {}: {:?}",
            case.file,
            case.name,
            s + 1,
            step.title
        );
        match outcome.expect("every job ran") {
            Outcome::Passed => {}
            Outcome::Error(e) => {
                failed_steps += 1;
                let _ = write!(report, "\n{head}\n  ERROR: {e}");
            }
            Outcome::Mismatches { lines, workdir } => {
                failed_steps += 1;
                mismatches += lines.len();
                let _ = write!(report, "\n{head} (input kept in {})", workdir.display());
                for l in lines {
                    let _ = write!(report, "\n  {l}");
                }
            }
        }
    }
    if failed_steps > 0 {
        panic!(
            "{failed_steps} of {} steps failed ({mismatches} probe mismatches):{report}",
            jobs.len()
        );
    }
    println!(
        "network-policy-api conformance: {} cases, {} steps, {probes} probes, all as upstream expects",
        cases.len(),
        jobs.len()
    );
}
