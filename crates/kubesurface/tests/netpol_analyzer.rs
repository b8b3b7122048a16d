//! kubesurface against np-guard netpol-analyzer's test suite.
//!
//! The corpus (`tests/corpus/netpol-analyzer` in the repository, else
//! `../shared/corpus/netpol-analyzer` beside it) holds netpol-analyzer's
//! `tests/<dir>/` inputs and `test_outputs/connlist/<dir>_connlist_output.txt`, its expected
//! workload-level connectivity. For every directory this runs
//! `kubesurface connectivity <dir> --granularity workload -o json --ipblock-matches-pods false`
//! (netpol-analyzer never matches pod IPs with ipBlock) and checks:
//!
//! * valid inputs analyse (exit 0), bad inputs are rejected (exit 2) with `file:line`, nothing
//!   panics;
//! * where netpol-analyzer has a plain connlist output and the input uses nothing kubesurface
//!   skips that could change connectivity, both results agree, up to the differences written
//!   down in `netpol_analyzer/known_differences.yaml` (reasons: docs/netpol-analyzer-comparison.md).
//!   Admin policies that omit a required `pods` selector are rejected, and compared once more
//!   on a copy with `{}` filled in (netpol-analyzer's reading; `complete_admin_selectors`).
//!
//! Results are compared as sets of (source, destination, protocol, port) with external address
//! ranges split into the elementary intervals of both outputs, so the two tools may merge and
//! split ranges differently. netpol-analyzer's `{ingress-controller}` lines (from Ingress and
//! Route objects) are ignored: kubesurface's connectivity has no such peer.
//!
//! Without the corpus the tests fail, unless `KUBESURFACE_SKIP_CORPUS=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;

/// Where the corpus may be: vendored in the repository, else beside it (`../shared/corpus`).
const CORPUS_PLACES: [&str; 2] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/corpus/netpol-analyzer"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/netpol-analyzer"
    ),
];
const KNOWN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/netpol_analyzer/known_differences.yaml"
);
const BIN: &str = env!("CARGO_BIN_EXE_kubesurface");
const ARGS: [&str; 7] = [
    "connectivity",
    "--granularity",
    "workload",
    "-o",
    "json",
    "--ipblock-matches-pods",
    "false",
];

/// Kinds kubesurface may skip that cannot change NetworkPolicy connectivity. Ingress and Route
/// only add netpol-analyzer's `{ingress-controller}` lines, which are ignored. An input with any
/// other unmodelled kind (AdminNetworkPolicy, UserDefinedNetwork, ...) is not compared.
const HARMLESS_UNMODELLED: [&str; 11] = [
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "SecurityContextConstraints",
    "IngressClass",
    "Ingress",
    "Route",
];

// ---------------------------------------------------------------------------------------------
// known_differences.yaml

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Known {
    #[serde(default)]
    invalid: Vec<PathReason>,
    #[serde(default)]
    valid: Vec<PathReason>,
    #[serde(default)]
    defect_only_in_unmodelled_kind: Vec<Unmodelled>,
    #[serde(default)]
    compare_without: Vec<Without>,
    #[serde(default)]
    complete_admin_selectors: Vec<PathReason>,
    #[serde(default)]
    differences: Vec<Difference>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathReason {
    path: String,
    #[allow(dead_code)]
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unmodelled {
    pattern: String,
    kind: String,
}

impl Unmodelled {
    fn matches(&self, dir: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => dir.starts_with(prefix),
            None => dir == self.pattern,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Without {
    dir: String,
    files: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Difference {
    dirs: Vec<String>,
    reason: String,
    #[serde(default)]
    only_in_kubesurface: Vec<String>,
    #[serde(default)]
    only_in_netpol_analyzer: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Running the binary

struct Run {
    /// `None`: killed by a signal.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn panicked(&self) -> bool {
        self.code == Some(101) || self.stderr.contains("panicked at")
    }

    fn describe(&self) -> String {
        let code = self
            .code
            .map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"));
        let stderr = self.stderr.trim();
        if stderr.is_empty() {
            format!("{code}, nothing on stderr")
        } else {
            format!(
                "{code}, stderr:\n{}",
                indent(&truncate(stderr, 1200), "      ")
            )
        }
    }

    /// Kinds named in the "not modelled" note:
    /// `note: 3 object(s) of kinds not modelled were skipped: v1/ConfigMap (2), a.b/v1/Route (1)`.
    fn unmodelled_kinds(&self) -> BTreeSet<String> {
        let mut kinds = BTreeSet::new();
        for line in self.stderr.lines().filter(|l| l.contains("not modelled")) {
            let Some((_, list)) = line.rsplit_once("skipped:") else {
                continue;
            };
            for item in list.split(", ") {
                let item = item.trim();
                let item = item.split(" (").next().unwrap_or(item);
                if let Some(kind) = item.rsplit('/').next().filter(|k| !k.is_empty()) {
                    kinds.insert(kind.to_string());
                }
            }
        }
        kinds
    }
}

fn run(args: &[PathBuf]) -> Run {
    let out = Command::new(BIN)
        .args(ARGS)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `jobs` on all cores, results in input order.
fn run_all(jobs: &[Vec<PathBuf>]) -> Vec<Run> {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get().min(16));
    let results = Mutex::new((0..jobs.len()).map(|_| None).collect::<Vec<Option<Run>>>());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let r = run(job);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

/// Manifest files under `dir` (recursive), without the files named in `without`.
fn manifests(dir: &Path, without: &[String]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e))
                && !without.contains(&name)
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A copy of the manifests under `dir` in a fresh temporary directory, as JSON, where every
/// `pods` selector (subject or peer) of a `policy.networking.k8s.io` object lacking its
/// `podSelector` or `namespaceSelector` gets `{}`: netpol-analyzer's reading of such
/// objects, which the API server rejects (both selectors are required in `v1alpha1`).
fn completed_copy(dir: &Path, name: &str) -> PathBuf {
    fn complete(pods: &mut serde_json::Value) {
        if let Some(m) = pods.as_object_mut() {
            for key in ["namespaceSelector", "podSelector"] {
                m.entry(key).or_insert_with(|| serde_json::json!({}));
            }
        }
    }
    fn peers(list: Option<&mut serde_json::Value>) {
        for peer in list.and_then(|l| l.as_array_mut()).into_iter().flatten() {
            if let Some(pods) = peer.get_mut("pods") {
                complete(pods);
            }
        }
    }
    let out = std::env::temp_dir().join(format!(
        "kubesurface-npa-completed-{}-{}",
        std::process::id(),
        name.replace('/', "-")
    ));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    for (i, file) in manifests(dir, &[]).iter().enumerate() {
        let text = std::fs::read_to_string(file).unwrap();
        let mut docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for doc in &mut docs {
            let admin = doc
                .get("apiVersion")
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.starts_with("policy.networking.k8s.io/"));
            let Some(spec) = doc.get_mut("spec").filter(|_| admin) else {
                continue;
            };
            if let Some(pods) = spec.get_mut("subject").and_then(|s| s.get_mut("pods")) {
                complete(pods);
            }
            for (dir, field) in [("ingress", "from"), ("egress", "to")] {
                for rule in spec
                    .get_mut(dir)
                    .and_then(|r| r.as_array_mut())
                    .into_iter()
                    .flatten()
                {
                    peers(rule.get_mut(field));
                }
            }
        }
        let docs: Vec<serde_json::Value> = docs.into_iter().filter(|d| d.is_object()).collect();
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
        std::fs::write(
            out.join(format!("{i:03}.json")),
            serde_json::to_string_pretty(&list).unwrap(),
        )
        .unwrap();
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The shared state: the corpus, the known differences, and one run per input

struct Corpus {
    root: PathBuf,
    known: Known,
    /// Directories under tests/.
    dirs: Vec<String>,
    /// Directory (or sub-directory, e.g. `bad_netpols/subdir2`) → its run.
    runs: BTreeMap<String, Run>,
    /// Directory → run on its manifests without the files of `compare_without`.
    runs_without: BTreeMap<String, Run>,
    /// Directory → run on a copy with the admin policies' missing `pods` selectors filled in
    /// (`complete_admin_selectors`).
    runs_completed: BTreeMap<String, Run>,
}

static STATE: OnceLock<Option<Corpus>> = OnceLock::new();

/// The corpus with every run done, or `None` when skipping; panics when the corpus is missing.
fn corpus() -> Option<&'static Corpus> {
    STATE
        .get_or_init(|| {
            let Some(root) = CORPUS_PLACES
                .iter()
                .map(Path::new)
                .find(|p| p.join("tests").is_dir() && p.join("test_outputs/connlist").is_dir())
            else {
                let places = CORPUS_PLACES.join("\n  ");
                if std::env::var("KUBESURFACE_SKIP_CORPUS").as_deref() == Ok("1") {
                    // Straight to stderr, past the test harness's capture, so it is seen.
                    let _ = writeln!(
                        std::io::stderr(),
                        "SKIPPED netpol-analyzer tests (KUBESURFACE_SKIP_CORPUS=1): no corpus at\n  {places}"
                    );
                    return None;
                }
                panic!(
                    "netpol-analyzer corpus not found at\n  {places}\n\
                     (set KUBESURFACE_SKIP_CORPUS=1 to skip these tests)"
                );
            };
            let root = root.canonicalize().unwrap();
            let text = std::fs::read_to_string(KNOWN).unwrap();
            let known: Known = serde_saphyr::from_str(&text)
                .unwrap_or_else(|e| panic!("{KNOWN}: {e}"));

            let mut dirs: Vec<String> = std::fs::read_dir(root.join("tests"))
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            dirs.sort();

            let mut paths: Vec<String> = dirs.clone();
            for p in known.invalid.iter().chain(&known.valid) {
                if !paths.contains(&p.path) {
                    paths.push(p.path.clone());
                }
            }
            let mut jobs: Vec<Vec<PathBuf>> = paths
                .iter()
                .map(|p| vec![root.join("tests").join(p)])
                .collect();
            for w in &known.compare_without {
                jobs.push(manifests(&root.join("tests").join(&w.dir), &w.files));
            }
            for c in &known.complete_admin_selectors {
                jobs.push(vec![completed_copy(&root.join("tests").join(&c.path), &c.path)]);
            }
            let mut results = run_all(&jobs).into_iter();
            let runs = paths.iter().cloned().zip(results.by_ref()).collect();
            let runs_without = known
                .compare_without
                .iter()
                .map(|w| w.dir.clone())
                .zip(results.by_ref())
                .collect();
            let runs_completed = known
                .complete_admin_selectors
                .iter()
                .map(|c| c.path.clone())
                .zip(results)
                .collect();
            Some(Corpus {
                root,
                known,
                dirs,
                runs,
                runs_without,
                runs_completed,
            })
        })
        .as_ref()
}

fn report(title: &str, failures: &[String], summary: &str) {
    if failures.is_empty() {
        println!("{summary}");
    } else {
        panic!(
            "{title}: {} failure(s)\n\n{}\n\n{summary}\n",
            failures.len(),
            failures.join("\n\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Exit codes: valid inputs analyse, bad inputs are rejected with file:line, nothing panics

/// Is `path` one of the bad inputs (must exit 2)?
fn must_fail(known: &Known, path: &str) -> bool {
    let top = path.split('/').next().unwrap_or(path);
    (path.contains("bad_path")
        || known.invalid.iter().any(|i| i.path == path)
        || known
            .complete_admin_selectors
            .iter()
            .any(|c| c.path == path))
        && !known.valid.iter().any(|v| v.path == path)
        && !known
            .defect_only_in_unmodelled_kind
            .iter()
            .any(|u| u.matches(top))
}

/// A `file:line:` on stderr naming an existing file and a line inside it.
fn names_file_and_line(stderr: &str) -> Result<(), String> {
    for line in stderr.lines() {
        for ext in [".yaml:", ".yml:", ".json:"] {
            let mut from = 0;
            while let Some(at) = line[from..].find(ext).map(|i| i + from) {
                from = at + ext.len();
                let start = line[..at]
                    .rfind(|c: char| c.is_whitespace())
                    .map_or(0, |i| i + 1);
                let file = &line[start..at + ext.len() - 1];
                let digits: String = line[from..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if digits.is_empty() || !line[from + digits.len()..].starts_with(':') {
                    continue;
                }
                let n: usize = digits.parse().unwrap();
                let Ok(text) = std::fs::read_to_string(file) else {
                    return Err(format!("stderr names {file}, which cannot be read"));
                };
                let lines = text.lines().count().max(1);
                if n == 0 || n > lines {
                    return Err(format!(
                        "stderr names {file}:{n}, but the file has {lines} lines"
                    ));
                }
                return Ok(());
            }
        }
    }
    Err("stderr names no `file:line:`".to_string())
}

#[test]
fn inputs_analyse_or_fail_cleanly() {
    let Some(c) = corpus() else { return };
    let mut failures = Vec::new();
    let (mut ok_valid, mut ok_bad, mut ok_unmodelled, mut n_valid, mut n_bad, mut n_unmodelled) =
        (0, 0, 0, 0, 0, 0);

    for (path, r) in &c.runs {
        let top = path.split('/').next().unwrap_or(path);
        if r.panicked() {
            failures.push(format!("PANIC  {path}\n    {}", r.describe()));
            continue;
        }
        let unmodelled = c
            .known
            .defect_only_in_unmodelled_kind
            .iter()
            .find(|u| u.matches(top));
        if let Some(u) = unmodelled.filter(|_| path.contains("bad_path")) {
            n_unmodelled += 1;
            if r.code == Some(0) && r.unmodelled_kinds().contains(&u.kind) {
                ok_unmodelled += 1;
            } else {
                failures.push(format!(
                    "{path}: its defect lies in a {} (not modelled): expected exit 0 and a \
                     \"not modelled\" note naming {}; got {}",
                    u.kind,
                    u.kind,
                    r.describe()
                ));
            }
        } else if must_fail(&c.known, path) {
            n_bad += 1;
            match (r.code, names_file_and_line(&r.stderr)) {
                (Some(2), Ok(())) => ok_bad += 1,
                (Some(2), Err(why)) => failures.push(format!(
                    "{path}: rejected, but the message lacks a usable file:line ({why})\n    {}",
                    r.describe()
                )),
                _ => failures.push(format!(
                    "{path}: invalid input, expected exit 2 with file:line; got {}",
                    r.describe()
                )),
            }
        } else {
            n_valid += 1;
            if r.code == Some(0) {
                ok_valid += 1;
            } else {
                failures.push(format!(
                    "{path}: valid input, expected exit 0; got {}",
                    r.describe()
                ));
            }
        }
    }
    for u in &c.known.defect_only_in_unmodelled_kind {
        if !c.dirs.iter().any(|d| u.matches(d)) {
            failures.push(format!(
                "known_differences.yaml: pattern {} matches no directory",
                u.pattern
            ));
        }
    }
    for p in c
        .known
        .invalid
        .iter()
        .chain(&c.known.valid)
        .chain(&c.known.complete_admin_selectors)
    {
        if !c.root.join("tests").join(&p.path).is_dir() {
            failures.push(format!(
                "known_differences.yaml: {} is not a directory of the corpus",
                p.path
            ));
        }
    }
    let summary = format!(
        "netpol-analyzer corpus: {} inputs ({} directories): valid {ok_valid}/{n_valid} exit 0; \
         bad {ok_bad}/{n_bad} exit 2 with file:line; bad only in unmodelled kinds \
         {ok_unmodelled}/{n_unmodelled} exit 0",
        c.runs.len(),
        c.dirs.len()
    );
    report("inputs", &failures, &summary);
}

// ---------------------------------------------------------------------------------------------
// Connectivity compared with netpol-analyzer

const TCP: usize = 0;
const UDP: usize = 1;
const SCTP: usize = 2;
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

/// Sorted, disjoint, non-adjacent inclusive port ranges.
type Ports = Vec<(u32, u32)>;
/// Per protocol: TCP, UDP, SCTP.
type Conns = [Ports; 3];

fn normalize(mut v: Ports) -> Ports {
    v.sort_unstable();
    let mut out: Ports = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn union(a: &Ports, b: &Ports) -> Ports {
    normalize(a.iter().chain(b).copied().collect())
}

fn minus(a: &Ports, b: &Ports) -> Ports {
    let mut out = Vec::new();
    for &(lo, hi) in a {
        let mut cur = Some(lo);
        for &(blo, bhi) in b {
            let Some(c) = cur else { break };
            if bhi < c || blo > hi {
                continue;
            }
            if blo > c {
                out.push((c, blo - 1));
            }
            cur = (bhi < hi).then(|| bhi + 1);
        }
        if let Some(c) = cur {
            out.push((c, hi));
        }
    }
    normalize(out)
}

fn intersects(a: &Ports, b: &Ports) -> bool {
    a.iter()
        .any(|&(lo, hi)| b.iter().any(|&(blo, bhi)| blo <= hi && lo <= bhi))
}

fn all_conns() -> Conns {
    [vec![(1, 65535)], vec![(1, 65535)], vec![(1, 65535)]]
}

fn is_empty(c: &Conns) -> bool {
    c.iter().all(Vec::is_empty)
}

/// `All Connections` or `TCP 80,8000-8080,UDP 53`.
fn parse_conns(s: &str) -> Result<Conns, String> {
    let s = s.trim();
    if s == "All Connections" {
        return Ok(all_conns());
    }
    let mut conns: Conns = Default::default();
    let mut proto = None;
    for token in s.split(',') {
        let mut token = token.trim();
        if let Some((p, rest)) = token.split_once(' ') {
            proto = Some(match p {
                "TCP" => TCP,
                "UDP" => UDP,
                "SCTP" => SCTP,
                _ => return Err(format!("unknown protocol {p:?} in {s:?}")),
            });
            token = rest.trim();
        }
        let Some(p) = proto else {
            return Err(format!("no protocol before {token:?} in {s:?}"));
        };
        let port = |x: &str| {
            x.parse::<u32>()
                .map_err(|_| format!("bad port {x:?} in {s:?}"))
        };
        let range = match token.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(token)?, port(token)?),
        };
        conns[p].push(range);
    }
    Ok(conns.map(normalize))
}

fn format_conns(c: &Conns) -> String {
    if *c == all_conns() {
        return "All Connections".to_string();
    }
    let mut parts = Vec::new();
    for (p, ports) in c.iter().enumerate() {
        if ports.is_empty() {
            continue;
        }
        let list: Vec<String> = ports
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        parts.push(format!("{} {}", PROTOCOLS[p], list.join(",")));
    }
    parts.join(",")
}

/// An IPv4 (`v6 == false`) or IPv6 address range, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Range {
    v6: bool,
    lo: u128,
    hi: u128,
}

impl Range {
    fn contains(&self, o: &Range) -> bool {
        self.v6 == o.v6 && self.lo <= o.lo && o.hi <= self.hi
    }

    fn max(v6: bool) -> u128 {
        if v6 { u128::MAX } else { u32::MAX as u128 }
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ip = |x: u128| -> IpAddr {
            if self.v6 {
                IpAddr::V6(x.into())
            } else {
                IpAddr::V4((x as u32).into())
            }
        };
        write!(f, "{}-{}[External]", ip(self.lo), ip(self.hi))
    }
}

fn parse_ip(s: &str) -> Result<(bool, u128), String> {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Ok((false, u32::from(a) as u128)),
        Ok(IpAddr::V6(a)) => Ok((true, u128::from(a))),
        Err(_) => Err(format!("bad address {s:?}")),
    }
}

/// `a.b.c.d/n`, `a.b.c.d-e.f.g.h` (and IPv6 alike).
fn parse_range(s: &str) -> Result<Range, String> {
    if let Some((addr, len)) = s.split_once('/') {
        let (v6, a) = parse_ip(addr)?;
        let bits = if v6 { 128 } else { 32 };
        let len: u32 = len.parse().map_err(|_| format!("bad prefix {s:?}"))?;
        if len > bits {
            return Err(format!("bad prefix {s:?}"));
        }
        let host = if len == bits {
            0
        } else {
            Range::max(v6) >> len
        };
        Ok(Range {
            v6,
            lo: a & !host,
            hi: (a & !host) | host,
        })
    } else if let Some((a, b)) = s.split_once('-') {
        let (v6, lo) = parse_ip(a)?;
        let (v6b, hi) = parse_ip(b)?;
        if v6 != v6b || lo > hi {
            return Err(format!("bad range {s:?}"));
        }
        Ok(Range { v6, lo, hi })
    } else {
        let (v6, a) = parse_ip(s)?;
        Ok(Range { v6, lo: a, hi: a })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Peer {
    /// `ns/name[Kind]`
    Workload(String),
    External(Range),
    /// `*` in known_differences.yaml.
    Any,
}

impl Peer {
    /// netpol-analyzer's spelling: `ns/name[Kind]`, `a-b[External]`, and `*`.
    fn parse_theirs(s: &str) -> Result<Peer, String> {
        let s = s.trim();
        if s == "*" {
            Ok(Peer::Any)
        } else if let Some(r) = s.strip_suffix("[External]") {
            parse_range(r).map(Peer::External)
        } else {
            Ok(Peer::Workload(s.to_string()))
        }
    }

    /// kubesurface's spelling: `ns/name[Kind]`, `ext:CIDR`, `ext:a-b`.
    fn parse_ours(s: &str) -> Result<Peer, String> {
        match s.strip_prefix("ext:") {
            Some(r) => parse_range(r).map(Peer::External),
            None => Ok(Peer::Workload(s.to_string())),
        }
    }

    fn covers(&self, atom: &Peer) -> bool {
        match (self, atom) {
            (Peer::Any, _) => true,
            (Peer::External(r), Peer::External(a)) => r.contains(a),
            (a, b) => a == b,
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Workload(w) => f.write_str(w),
            Peer::External(r) => r.fmt(f),
            Peer::Any => f.write_str("*"),
        }
    }
}

#[derive(Clone)]
struct Line {
    src: Peer,
    dst: Peer,
    conns: Conns,
    text: String,
}

fn parse_line(line: &str) -> Result<Line, String> {
    let err = || format!("not `src => dst : conns`: {line:?}");
    let (lhs, conns) = line.split_once(" : ").ok_or_else(err)?;
    let (src, dst) = lhs.split_once("=>").ok_or_else(err)?;
    Ok(Line {
        src: Peer::parse_theirs(src)?,
        dst: Peer::parse_theirs(dst)?,
        conns: parse_conns(conns)?,
        text: line.to_string(),
    })
}

/// netpol-analyzer's expected output, without `{ingress-controller}` lines.
fn parse_expected(text: &str) -> Result<Vec<Line>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.contains("=>") && !l.contains("{ingress-controller}"))
        .map(parse_line)
        .collect()
}

#[derive(Deserialize)]
struct Output {
    schema: String,
    granularity: String,
    connections: Vec<OutputConnection>,
}

#[derive(Deserialize)]
struct OutputConnection {
    src: String,
    dst: String,
    allowed: BTreeMap<String, Vec<(u32, u32)>>,
}

fn parse_ours(json: &str) -> Result<Vec<Line>, String> {
    let out: Output = serde_json::from_str(json).map_err(|e| format!("bad JSON output: {e}"))?;
    if out.schema != "kubesurface.connectivity/v1" || out.granularity != "workload" {
        return Err(format!(
            "unexpected schema {:?} / granularity {:?}",
            out.schema, out.granularity
        ));
    }
    out.connections
        .into_iter()
        .map(|c| {
            let mut conns: Conns = Default::default();
            for (proto, ports) in c.allowed {
                let p = PROTOCOLS
                    .iter()
                    .position(|x| *x == proto)
                    .ok_or_else(|| format!("unknown protocol {proto:?}"))?;
                conns[p] = normalize(ports);
            }
            Ok(Line {
                text: format!("{} => {} : {}", c.src, c.dst, format_conns(&conns)),
                src: Peer::parse_ours(&c.src)?,
                dst: Peer::parse_ours(&c.dst)?,
                conns,
            })
        })
        .collect()
}

/// Connectivity with external ranges cut into elementary intervals.
type Atoms = BTreeMap<(Peer, Peer), Conns>;

/// The starts of the elementary intervals that all `ranges` are unions of, per IP family.
struct Cuts(BTreeMap<bool, BTreeSet<u128>>);

impl Cuts {
    fn new<'a>(ranges: impl Iterator<Item = &'a Peer>) -> Cuts {
        let mut cuts: BTreeMap<bool, BTreeSet<u128>> = BTreeMap::new();
        for p in ranges {
            if let Peer::External(r) = p {
                let set = cuts.entry(r.v6).or_default();
                set.insert(r.lo);
                if r.hi < Range::max(r.v6) {
                    set.insert(r.hi + 1);
                }
            }
        }
        Cuts(cuts)
    }

    /// `p` cut into elementary intervals (a workload stays whole).
    fn split(&self, p: &Peer) -> Vec<Peer> {
        let Peer::External(r) = p else {
            return vec![p.clone()];
        };
        // r.lo and r.hi + 1 are cuts, so the last interval ends at r.hi.
        let starts: Vec<u128> = self.0[&r.v6].range(r.lo..=r.hi).copied().collect();
        starts
            .iter()
            .enumerate()
            .map(|(i, &lo)| {
                let hi = starts.get(i + 1).map_or(r.hi, |next| next - 1);
                Peer::External(Range { v6: r.v6, lo, hi })
            })
            .collect()
    }
}

fn atomize(lines: &[Line], cuts: &Cuts) -> Atoms {
    let mut atoms = Atoms::new();
    for l in lines {
        for s in cuts.split(&l.src) {
            for d in cuts.split(&l.dst) {
                let e = atoms.entry((s.clone(), d)).or_default();
                for (acc, add) in e.iter_mut().zip(&l.conns) {
                    *acc = union(acc, add);
                }
            }
        }
    }
    atoms
}

/// What `a` allows beyond `b`.
fn subtract(a: &Atoms, b: &Atoms) -> Atoms {
    let none = Conns::default();
    let mut out = Atoms::new();
    for (k, c) in a {
        let other = b.get(k).unwrap_or(&none);
        let d: Conns = std::array::from_fn(|p| minus(&c[p], &other[p]));
        if !is_empty(&d) {
            out.insert(k.clone(), d);
        }
    }
    out
}

/// Removes from `diff` what the known `lines` cover; returns, per line, whether it covered any.
fn explain(diff: &mut Atoms, lines: &[&Line]) -> Vec<bool> {
    let mut used = vec![false; lines.len()];
    for ((s, d), conns) in diff.iter_mut() {
        for (i, l) in lines.iter().enumerate() {
            if l.src.covers(s) && l.dst.covers(d) {
                for (c, k) in conns.iter_mut().zip(&l.conns) {
                    if intersects(c, k) {
                        used[i] = true;
                        *c = minus(c, k);
                    }
                }
            }
        }
    }
    diff.retain(|_, c| !is_empty(c));
    used
}

/// Lines for people: adjacent external intervals with the same peer and ports merged again.
fn render(atoms: &Atoms) -> Vec<String> {
    let mut groups: BTreeMap<(String, String, String), Vec<Range>> = BTreeMap::new();
    let mut lines = Vec::new();
    for ((s, d), c) in atoms {
        let conns = format_conns(c);
        match (s, d) {
            (Peer::External(r), other) => groups
                .entry(("src".into(), other.to_string(), conns))
                .or_default()
                .push(*r),
            (other, Peer::External(r)) => groups
                .entry(("dst".into(), other.to_string(), conns))
                .or_default()
                .push(*r),
            _ => lines.push(format!("{s} => {d} : {conns}")),
        }
    }
    for ((side, other, conns), mut ranges) in groups {
        ranges.sort();
        let mut merged: Vec<Range> = Vec::new();
        for r in ranges {
            match merged.last_mut() {
                Some(m) if m.v6 == r.v6 && m.hi.checked_add(1) == Some(r.lo) => m.hi = r.hi,
                _ => merged.push(r),
            }
        }
        for r in merged {
            lines.push(if side == "src" {
                format!("{r} => {other} : {conns}")
            } else {
                format!("{other} => {r} : {conns}")
            });
        }
    }
    lines.sort();
    lines
}

struct Comparison {
    only_ours: Atoms,
    only_theirs: Atoms,
    /// Per known line (in the order given): did it cover anything?
    used_ours: Vec<bool>,
    used_theirs: Vec<bool>,
    exact: bool,
}

fn compare(
    theirs: &[Line],
    ours: &[Line],
    known_ours: &[&Line],
    known_theirs: &[&Line],
) -> Comparison {
    let peers = theirs
        .iter()
        .chain(ours)
        .chain(known_ours.iter().copied())
        .chain(known_theirs.iter().copied())
        .flat_map(|l| [&l.src, &l.dst]);
    let cuts = Cuts::new(peers);
    let t = atomize(theirs, &cuts);
    let o = atomize(ours, &cuts);
    let mut only_ours = subtract(&o, &t);
    let mut only_theirs = subtract(&t, &o);
    let exact = only_ours.is_empty() && only_theirs.is_empty();
    let used_ours = explain(&mut only_ours, known_ours);
    let used_theirs = explain(&mut only_theirs, known_theirs);
    Comparison {
        only_ours,
        only_theirs,
        used_ours,
        used_theirs,
        exact,
    }
}

fn listing(lines: &[String], marker: &str, max: usize) -> String {
    let mut s = String::new();
    for l in lines.iter().take(max) {
        let _ = writeln!(s, "      {marker} {l}");
    }
    if lines.len() > max {
        let _ = writeln!(s, "      ... and {} more", lines.len() - max);
    }
    s
}

#[test]
fn connectivity_matches_netpol_analyzer() {
    let Some(c) = corpus() else { return };
    let mut failures = Vec::new();
    let mut notes = Vec::new();

    // Known lines per directory, parsed once.
    let mut known: BTreeMap<&str, Vec<(bool, Line)>> = BTreeMap::new();
    for d in &c.known.differences {
        for (ours, list) in [
            (true, &d.only_in_kubesurface),
            (false, &d.only_in_netpol_analyzer),
        ] {
            for text in list {
                match parse_line(text) {
                    Ok(line) => {
                        for dir in &d.dirs {
                            known.entry(dir).or_default().push((ours, line.clone()));
                        }
                    }
                    Err(e) => failures.push(format!("known_differences.yaml: {e}")),
                }
            }
        }
    }

    let (mut compared, mut exact, mut explained) = (0, 0, 0);
    let mut compared_dirs = BTreeSet::new();
    for dir in &c.dirs {
        let expected = c
            .root
            .join("test_outputs/connlist")
            .join(format!("{dir}_connlist_output.txt"));
        if !expected.is_file() {
            continue;
        }
        let without = c.runs_without.get(dir);
        let completed = c.runs_completed.get(dir);
        let r = without.or(completed).unwrap_or(&c.runs[dir]);
        if r.code != Some(0) {
            if without.is_some() {
                failures.push(format!(
                    "{dir}: without the files of compare_without, expected exit 0; got {}",
                    r.describe()
                ));
            } else if completed.is_some() {
                failures.push(format!(
                    "{dir}: with the admin policies' selectors completed, expected exit 0; got {}",
                    r.describe()
                ));
            } else {
                notes.push(format!("{dir}: not compared, input rejected"));
            }
            continue;
        }
        let skipped: Vec<String> = r
            .unmodelled_kinds()
            .into_iter()
            .filter(|k| !HARMLESS_UNMODELLED.contains(&k.as_str()))
            .collect();
        if !skipped.is_empty() {
            notes.push(format!(
                "{dir}: not compared, uses {} (not modelled)",
                skipped.join(", ")
            ));
            continue;
        }
        let theirs = match parse_expected(&std::fs::read_to_string(&expected).unwrap()) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{}: {e}", expected.display()));
                continue;
            }
        };
        let ours = match parse_ours(&r.stdout) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{dir}: {e}"));
                continue;
            }
        };
        compared += 1;
        compared_dirs.insert(dir.as_str());

        let entries = known.get(dir.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let known_ours: Vec<&Line> = entries.iter().filter(|e| e.0).map(|e| &e.1).collect();
        let known_theirs: Vec<&Line> = entries.iter().filter(|e| !e.0).map(|e| &e.1).collect();
        let cmp = compare(&theirs, &ours, &known_ours, &known_theirs);
        if cmp.exact {
            exact += 1;
        }

        let mut problems = String::new();
        if !cmp.only_ours.is_empty() {
            let _ = writeln!(
                problems,
                "    allowed by kubesurface, not by netpol-analyzer:\n{}",
                listing(&render(&cmp.only_ours), "+", 25)
            );
        }
        if !cmp.only_theirs.is_empty() {
            let _ = writeln!(
                problems,
                "    allowed by netpol-analyzer, not by kubesurface:\n{}",
                listing(&render(&cmp.only_theirs), "-", 25)
            );
        }
        let stale: Vec<String> = known_ours
            .iter()
            .zip(&cmp.used_ours)
            .chain(known_theirs.iter().zip(&cmp.used_theirs))
            .filter(|(_, used)| !**used)
            .map(|(l, _)| l.text.clone())
            .collect();
        if !stale.is_empty() {
            let _ = writeln!(
                problems,
                "    known differences that no longer occur (remove them from known_differences.yaml):\n{}",
                listing(&stale, "?", 25)
            );
        }
        if problems.is_empty() {
            if !cmp.exact {
                explained += 1;
            }
        } else {
            failures.push(format!(
                "{dir}: differs from {}\n{}",
                expected.display(),
                problems.trim_end()
            ));
        }
    }

    for d in &c.known.differences {
        for dir in &d.dirs {
            if !compared_dirs.contains(dir.as_str()) {
                failures.push(format!(
                    "known_differences.yaml: {dir} ({}) is not among the compared directories",
                    d.reason
                ));
            }
        }
    }

    let summary = format!(
        "netpol-analyzer connlist comparison: {compared} directories compared, {exact} identical, \
         {explained} identical up to known differences\n  {}",
        notes.join("\n  ")
    );
    report("connectivity", &failures, &summary);
}

// ---------------------------------------------------------------------------------------------
// Bad admin policies are rejected for netpol-analyzer's reason

/// Each `anp_bad_path_test_*` / `banp_bad_path_test_*` directory, the error netpol-analyzer
/// expects (`pkg/netpol/connlist/connlist_test.go`, `alerts` constants), and what kubesurface's
/// message must contain for the same defect.
const ADMIN_BAD_PATHS: [(&str, &str, &str); 33] = [
    (
        "anp_bad_path_test_1",
        "PriorityErrExplain",
        "priority 50 is also the priority of",
    ),
    (
        "anp_bad_path_test_2",
        "PriorityValueErr",
        "spec.priority: 1001 is out of range",
    ),
    (
        "anp_bad_path_test_3",
        "ANPsWithSameNameErr",
        "AdminNetworkPolicy same-name: defined twice",
    ),
    (
        "anp_bad_path_test_4",
        "OneFieldSetSubjectErr",
        "spec.subject: missing required field",
    ),
    (
        "anp_bad_path_test_5",
        "OneFieldSetSubjectErr",
        "spec.subject: exactly one of namespaces and pods must be set, found both",
    ),
    (
        "anp_bad_path_test_6",
        "ANPEgressRulePeersErr",
        "spec.egress[0].to: must be defined and contain at least one peer",
    ),
    (
        "anp_bad_path_test_7",
        "OneFieldSetRulePeerErr",
        "spec.egress[0].to[0]: exactly one of",
    ),
    (
        "anp_bad_path_test_8",
        "ANPPortsError",
        "spec.egress[3].ports[0]: exactly one of portNumber, namedPort and portRange must be set",
    ),
    (
        "anp_bad_path_test_9",
        "UnknownRuleActionErr",
        "spec.egress[1].action: unrecognized action \"Accept\"",
    ),
    (
        "anp_bad_path_test_10",
        "ANPEgressRulePeersErr",
        "spec.egress[0].to: must be defined and contain at least one peer",
    ),
    (
        "anp_bad_path_test_12",
        "UnknownRuleActionErr",
        "spec.egress[0].action: missing required field",
    ),
    (
        "anp_bad_path_test_14",
        "ANPIngressRulePeersErr",
        "spec.ingress[0].from: must be defined and contain at least one peer",
    ),
    (
        "anp_bad_path_test_15",
        "ANPIngressRulePeersErr",
        "spec.ingress[0].from: must be defined and contain at least one peer",
    ),
    (
        "anp_bad_path_test_16",
        "OneFieldSetRulePeerErr",
        "spec.ingress[0].from[0]: exactly one of",
    ),
    (
        "anp_bad_path_test_17",
        "ANPPortsError",
        "spec.ingress[3].ports[0]: exactly one of portNumber, namedPort and portRange must be set",
    ),
    (
        "anp_bad_path_test_18",
        "UnknownRuleActionErr",
        "spec.ingress[0].action: unrecognized action \"Ok\"",
    ),
    (
        "anp_bad_path_test_19",
        "InvalidCIDRAddr",
        "networks[0]: \"zc00::/8\" is not a valid CIDR",
    ),
    (
        "anp_bad_path_test_20",
        "PriorityValueErr",
        "spec.priority: 1001 is out of range",
    ),
    (
        "banp_bad_path_test_1",
        "BANPAlreadyExists",
        "BaselineAdminNetworkPolicy default: defined twice",
    ),
    (
        "banp_bad_path_test_2",
        "BANPNameAssertion",
        "a BaselineAdminNetworkPolicy must be named \"default\"",
    ),
    (
        "banp_bad_path_test_3",
        "OneFieldSetSubjectErr",
        "spec.subject: missing required field",
    ),
    (
        "banp_bad_path_test_4",
        "OneFieldSetSubjectErr",
        "spec.subject: exactly one of namespaces and pods must be set, found both",
    ),
    (
        "banp_bad_path_test_5",
        "ANPEgressRulePeersErr",
        "spec.egress[0].to: must be defined and contain at least one peer",
    ),
    (
        "banp_bad_path_test_6",
        "ANPEgressRulePeersErr",
        "spec.egress[0].to: must be defined and contain at least one peer",
    ),
    (
        "banp_bad_path_test_7",
        "OneFieldSetRulePeerErr",
        "spec.egress[0].to[0]: exactly one of",
    ),
    (
        "banp_bad_path_test_8",
        "UnknownRuleActionErr",
        "spec.egress[0].action: unrecognized action \"Pass\"",
    ),
    (
        "banp_bad_path_test_9",
        "ANPPortsError",
        "spec.egress[0].ports[0]: exactly one of portNumber, namedPort and portRange must be set",
    ),
    (
        "banp_bad_path_test_10",
        "ANPIngressRulePeersErr",
        "spec.ingress[0].from: must be defined and contain at least one peer",
    ),
    (
        "banp_bad_path_test_11",
        "ANPIngressRulePeersErr",
        "spec.ingress[0].from: must be defined and contain at least one peer",
    ),
    (
        "banp_bad_path_test_12",
        "OneFieldSetRulePeerErr",
        "spec.ingress[0].from[0]: exactly one of",
    ),
    (
        "banp_bad_path_test_13",
        "ANPPortsError",
        "spec.ingress[2].ports[0]: exactly one of portNumber, namedPort and portRange must be set",
    ),
    (
        "banp_bad_path_test_14",
        "UnknownRuleActionErr",
        "spec.ingress[0].action: unrecognized action \"Pass\"",
    ),
    (
        "banp_bad_path_test_15",
        "InvalidCIDRAddr",
        "networks[0]: \"zc00::/8\" is not a valid CIDR",
    ),
];

/// Every admin bad-path directory is rejected for the defect netpol-analyzer names. Some of
/// them also omit a `pods` selector the API requires, and kubesurface reports that first;
/// with those selectors filled in (`{}`, as netpol-analyzer reads them) the intended defect
/// must be the error.
#[test]
fn admin_bad_paths_rejected_for_netpol_analyzers_reason() {
    let Some(c) = corpus() else { return };
    let mut failures = Vec::new();
    let listed: BTreeSet<&str> = ADMIN_BAD_PATHS.iter().map(|(d, _, _)| *d).collect();
    for dir in &c.dirs {
        let admin = dir.starts_with("anp_bad_path_test_") || dir.starts_with("banp_bad_path_test_");
        if admin && !listed.contains(dir.as_str()) {
            failures.push(format!("{dir}: not in ADMIN_BAD_PATHS"));
        }
    }
    for (dir, theirs, ours) in ADMIN_BAD_PATHS {
        let path = c.root.join("tests").join(dir);
        if !path.is_dir() {
            failures.push(format!("{dir}: not a directory of the corpus"));
            continue;
        }
        let r = run(&[completed_copy(&path, dir)]);
        if r.code != Some(2) || !r.stderr.contains(ours) {
            failures.push(format!(
                "{dir}: netpol-analyzer rejects it with {theirs}; expected exit 2 and {ours:?}, got {}",
                r.describe()
            ));
        }
    }
    report(
        "admin bad paths",
        &failures,
        &format!(
            "netpol-analyzer admin bad paths: {} rejected for netpol-analyzer's reason",
            ADMIN_BAD_PATHS.len()
        ),
    );
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &s[..end])
}

fn indent(s: &str, prefix: &str) -> String {
    s.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
