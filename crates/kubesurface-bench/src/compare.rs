//! kubesurface vs IBM network-config-analyzer (NCA) on the same generated cluster.
//!
//! What NCA computes, read from its source (network-config-analyzer 2.1.0):
//! - ipBlock peers are address ranges only: they never match pods, whatever their IPs
//!   (pod IPs are not even read). That is kubesurface's `--ipblock-matches-pods false`.
//! - hostNetwork is not read: a hostNetwork pod is an ordinary pod to NCA, selected by
//!   policies like any other. kubesurface never lets policies select it (as Kubernetes
//!   does), and adds the node-origin rule. Pairs with a hostNetwork pod are left out.
//! - At most two pods per (namespace, owner, labels) are kept ("isomorphic" pods); the
//!   others do not exist in its answer. Only pods NCA keeps are compared.
//! - `-o txt_no_fw_rules --output_endpoints pods` lists every allowed `src => dst : conns`
//!   pair, pods as `ns/name` and external peers as address ranges, no self pairs.
//! - Connections cover every IP protocol ("All connections"); kubesurface covers TCP,
//!   UDP and SCTP, so NCA's sets are projected onto those three.
//!
//! The comparison: every ordered pair of compared pods (allowed or not), and for every
//! compared pod each elementary IPv4 interval of either tool's external ranges, in both
//! directions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use crate::measure::{self, ChildRun};
use crate::run::{default_kubesurface, ensure_generated, find_nca};

/// `compare-nca` options.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Pods in the generated cluster.
    #[arg(long, default_value_t = 600)]
    pub pods: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where generated inputs and outputs are kept.
    #[arg(long, default_value = "target/kubesurface-bench")]
    pub work_dir: PathBuf,
    /// The kubesurface binary.
    #[arg(long)]
    pub kubesurface: Option<PathBuf>,
    /// The `nca` executable (default: `nca` on PATH).
    #[arg(long)]
    pub nca: Option<PathBuf>,
    /// kubesurface's setting; NCA's own semantics is `false`.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    pub ipblock_matches_pods: bool,
    /// Differences printed.
    #[arg(long, default_value_t = 20)]
    pub show: usize,
}

const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

/// Allowed ports per protocol (TCP, UDP, SCTP), sorted disjoint inclusive ranges in 1..=65535.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ports([Vec<(u32, u32)>; 3]);

fn normalize(mut v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    v.retain(|r| r.1 >= 1 && r.0 <= 65535);
    for r in v.iter_mut() {
        r.0 = r.0.max(1);
        r.1 = r.1.min(65535);
    }
    v.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

impl Ports {
    fn full() -> Self {
        Ports([vec![(1, 65535)], vec![(1, 65535)], vec![(1, 65535)]])
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(Vec::is_empty)
    }
    fn union(&mut self, o: &Ports) {
        for p in 0..3 {
            let mut v = self.0[p].clone();
            v.extend_from_slice(&o.0[p]);
            self.0[p] = normalize(v);
        }
    }
    fn complement(&self) -> Ports {
        let mut out = Ports::default();
        for p in 0..3 {
            let mut next = 1u32;
            for &(lo, hi) in &self.0[p] {
                if lo > next {
                    out.0[p].push((next, lo - 1));
                }
                next = hi + 1;
            }
            if next <= 65535 {
                out.0[p].push((next, 65535));
            }
        }
        out
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "none");
        }
        let mut first = true;
        for (p, ranges) in self.0.iter().enumerate() {
            if ranges.is_empty() {
                continue;
            }
            if !first {
                write!(f, " ")?;
            }
            first = false;
            let list: Vec<String> = ranges
                .iter()
                .map(|&(lo, hi)| {
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    }
                })
                .collect();
            write!(f, "{}:{}", PROTOCOLS[p], list.join(","))?;
        }
        Ok(())
    }
}

/// kubesurface's `allowed` object.
fn ports_from_kubesurface(v: &Value) -> Result<Ports, String> {
    let mut out = Ports::default();
    let obj = v.as_object().ok_or("allowed is not an object")?;
    for (k, ranges) in obj {
        let p = PROTOCOLS
            .iter()
            .position(|x| x == k)
            .ok_or_else(|| format!("unknown protocol {k}"))?;
        for r in ranges.as_array().ok_or("ranges")? {
            let lo = r[0].as_u64().ok_or("lo")? as u32;
            let hi = r[1].as_u64().ok_or("hi")? as u32;
            out.0[p].push((lo, hi));
        }
        out.0[p] = normalize(std::mem::take(&mut out.0[p]));
    }
    Ok(out)
}

/// Which of TCP/UDP/SCTP an NCA protocol list names (`TCP, UDP`, `all but TCP`, `6`, `1-5`).
fn nca_protocols(s: &str) -> Result<[bool; 3], String> {
    let s = s.trim();
    let (negate, list) = match s.strip_prefix("all but ") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if s == "*" {
        return Ok([true; 3]);
    }
    let mut named = [false; 3];
    for item in list.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let numbers = |n: u32| match n {
            6 => Some(0),
            17 => Some(1),
            132 => Some(2),
            _ => None,
        };
        if let Some(i) = PROTOCOLS.iter().position(|p| p.eq_ignore_ascii_case(item)) {
            named[i] = true;
        } else if let Some((a, b)) = item.split_once('-') {
            let (a, b): (u32, u32) = (
                a.trim().parse().map_err(|_| format!("protocol {item}"))?,
                b.trim().parse().map_err(|_| format!("protocol {item}"))?,
            );
            for n in [6, 17, 132] {
                if (a..=b).contains(&n) {
                    named[numbers(n).expect("known")] = true;
                }
            }
        } else if let Some(i) = item.parse::<u32>().ok().and_then(numbers) {
            named[i] = true;
        }
        // Other names (ICMP, …) are outside what kubesurface models.
    }
    Ok(if negate { named.map(|b| !b) } else { named })
}

/// One NCA cube body: `protocols:TCP, UDP,dst_ports:53,8000-8100`.
fn nca_cube(body: &str) -> Result<Ports, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for token in body.split(',') {
        match token.split_once(':') {
            Some((k, v))
                if !k.trim().is_empty()
                    && k.trim().chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
            {
                fields.push((k.trim().to_string(), v.to_string()))
            }
            _ => match fields.last_mut() {
                Some(last) => {
                    last.1.push(',');
                    last.1.push_str(token);
                }
                None => return Err(format!("cannot read NCA connections `{body}`")),
            },
        }
    }
    let mut protocols = [true; 3];
    let mut ports = vec![(1u32, 65535u32)];
    for (k, v) in fields {
        match k.as_str() {
            "protocols" => protocols = nca_protocols(&v)?,
            "dst_ports" => {
                ports = Vec::new();
                for item in v.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                    let (a, b) = item.split_once('-').unwrap_or((item, item));
                    let a: u32 = a.trim().parse().map_err(|_| format!("port {item}"))?;
                    let b: u32 = b.trim().parse().map_err(|_| format!("port {item}"))?;
                    ports.push((a, b));
                }
            }
            other => {
                return Err(format!(
                    "NCA connections with `{other}` are not comparable: `{body}`"
                ));
            }
        }
    }
    let mut out = Ports::default();
    for (slot, on) in out.0.iter_mut().zip(protocols) {
        if on {
            *slot = normalize(ports.clone());
        }
    }
    Ok(out)
}

/// An NCA connection string: `All connections`, `All but …`, `{…},{…}`, `No connections`.
pub fn nca_connections(s: &str) -> Result<Ports, String> {
    let s = s.trim();
    if s == "All connections" {
        return Ok(Ports::full());
    }
    if s == "No connections" {
        return Ok(Ports::default());
    }
    if let Some(rest) = s.strip_prefix("All but ") {
        return Ok(nca_connections(rest)?.complement());
    }
    if !s.starts_with('{') && !s.is_empty() && s.chars().next().is_some_and(|c| c.is_ascii_digit())
    {
        // Bare port list (only dst_ports constrained, every protocol).
        return nca_cube(&format!("dst_ports:{s}"));
    }
    let inner = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .ok_or_else(|| format!("cannot read NCA connections `{s}`"))?;
    let mut out = Ports::default();
    for cube in inner.split("},{") {
        out.union(&nca_cube(cube)?);
    }
    Ok(out)
}

/// An endpoint in either tool's output.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Peer {
    Pod(String),
    /// IPv4 ranges, inclusive.
    Ext(Vec<(u32, u32)>),
}

fn parse_v4_ranges(s: &str) -> Option<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('-') {
            let a: Ipv4Addr = a.parse().ok()?;
            let b: Ipv4Addr = b.parse().ok()?;
            out.push((u32::from(a), u32::from(b)));
        } else if let Some((a, len)) = part.split_once('/') {
            let a: Ipv4Addr = a.parse().ok()?;
            let len: u32 = len.parse().ok()?;
            let size: u64 = 1u64 << (32 - len);
            let lo = u32::from(a) as u64;
            out.push((lo as u32, (lo + size - 1) as u32));
        } else {
            let a: Ipv4Addr = part.parse().ok()?;
            out.push((u32::from(a), u32::from(a)));
        }
    }
    Some(out)
}

fn peer_of(name: &str) -> Option<Peer> {
    let name = name.trim();
    if let Some(ext) = name.strip_prefix("ext:") {
        // IPv6 atoms are out of the comparison.
        return parse_v4_ranges(ext).map(Peer::Ext);
    }
    if let Some(r) = parse_v4_ranges(name) {
        return Some(Peer::Ext(r));
    }
    if name.contains(':') {
        return None; // IPv6 ranges
    }
    Some(Peer::Pod(name.to_string()))
}

/// Per pod: (IPv4 range, ports) towards or from external addresses.
type ExternalSides = HashMap<String, Vec<((u32, u32), Ports)>>;

/// Allowed pairs of one tool.
#[derive(Default)]
pub struct Answer {
    pods: HashMap<(String, String), Ports>,
    /// pod → (range, ports) for pod → external.
    egress_ext: ExternalSides,
    /// pod → (range, ports) for external → pod.
    ingress_ext: ExternalSides,
}

impl Answer {
    fn add(&mut self, src: Peer, dst: Peer, ports: Ports) {
        match (src, dst) {
            (Peer::Pod(s), Peer::Pod(d)) => self.pods.entry((s, d)).or_default().union(&ports),
            (Peer::Pod(s), Peer::Ext(r)) => {
                let e = self.egress_ext.entry(s).or_default();
                e.extend(r.into_iter().map(|x| (x, ports.clone())));
            }
            (Peer::Ext(r), Peer::Pod(d)) => {
                let e = self.ingress_ext.entry(d).or_default();
                e.extend(r.into_iter().map(|x| (x, ports.clone())));
            }
            (Peer::Ext(_), Peer::Ext(_)) => {}
        }
    }

    /// kubesurface's `kubesurface.connectivity/v1` JSON.
    pub fn from_kubesurface(json: &[u8]) -> Result<Answer, String> {
        let v: Value =
            serde_json::from_slice(json).map_err(|e| format!("kubesurface output: {e}"))?;
        let mut a = Answer::default();
        for c in v["connections"].as_array().ok_or("no connections array")? {
            let src = c["src"].as_str().ok_or("src")?;
            let dst = c["dst"].as_str().ok_or("dst")?;
            let (Some(s), Some(d)) = (peer_of(src), peer_of(dst)) else {
                continue;
            };
            a.add(s, d, ports_from_kubesurface(&c["allowed"])?);
        }
        Ok(a)
    }

    /// NCA's `-o txt_no_fw_rules --output_endpoints pods` text.
    pub fn from_nca(text: &str) -> Result<Answer, String> {
        let mut a = Answer::default();
        for line in text.lines() {
            let Some((src, rest)) = line.split_once(" => ") else {
                continue;
            };
            let Some((dst, conns)) = rest.split_once(" : ") else {
                continue;
            };
            let (Some(s), Some(d)) = (peer_of(src), peer_of(dst)) else {
                continue;
            };
            a.add(s, d, nca_connections(conns)?);
        }
        Ok(a)
    }
}

/// The verdict of `ranges` over each elementary interval cut by `cuts`.
fn piecewise(ranges: &[((u32, u32), Ports)], cuts: &[u64]) -> Vec<Ports> {
    cuts.windows(2)
        .map(|w| {
            let (lo, hi) = (w[0], w[1] - 1);
            let mut p = Ports::default();
            for ((a, b), ports) in ranges {
                if (*a as u64) <= lo && hi <= *b as u64 {
                    p.union(ports);
                }
            }
            p
        })
        .collect()
}

fn cuts_of(a: &[((u32, u32), Ports)], b: &[((u32, u32), Ports)]) -> Vec<u64> {
    let mut c: BTreeSet<u64> = BTreeSet::new();
    c.insert(0);
    c.insert(1 << 32);
    for ((lo, hi), _) in a.iter().chain(b) {
        c.insert(*lo as u64);
        c.insert(*hi as u64 + 1);
    }
    c.into_iter().collect()
}

/// The pods NCA keeps: the first two of each (namespace, owner, labels), as its PodsFinder
/// does; hostNetwork pods are reported apart.
pub struct NcaUniverse {
    pub kept: Vec<String>,
    pub host_network: BTreeSet<String>,
    pub total_pods: usize,
}

pub fn nca_universe(pods_json: &Path) -> Result<NcaUniverse, String> {
    let bytes = std::fs::read(pods_json).map_err(|e| format!("{}: {e}", pods_json.display()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut kept = Vec::new();
    let mut host_network = BTreeSet::new();
    let items = v["items"].as_array().ok_or("no items")?;
    for p in items {
        let meta = &p["metadata"];
        let ns = meta["namespace"].as_str().unwrap_or("default");
        let name = meta["name"].as_str().unwrap_or("");
        let owner = &meta["ownerReferences"][0];
        let labels: BTreeMap<String, String> = meta["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let key = format!(
            "{ns}|{}|{}|{labels:?}",
            owner["kind"].as_str().unwrap_or(""),
            owner["name"].as_str().unwrap_or(name)
        );
        let n = seen.entry(key).or_default();
        if *n >= 2 {
            continue;
        }
        *n += 1;
        let full = format!("{ns}/{name}");
        if p["spec"]["hostNetwork"].as_bool() == Some(true) {
            host_network.insert(full.clone());
        }
        kept.push(full);
    }
    Ok(NcaUniverse {
        kept,
        host_network,
        total_pods: items.len(),
    })
}

/// One difference.
pub struct Difference {
    pub what: String,
    pub kubesurface: Ports,
    pub nca: Ports,
}

/// The outcome.
pub struct Comparison {
    pub pods_total: usize,
    pub pods_compared: usize,
    pub host_network_excluded: usize,
    pub pod_pairs: usize,
    pub pod_pairs_allowed_nca: usize,
    pub pod_pairs_allowed_kubesurface: usize,
    pub pod_pairs_differ: usize,
    pub external_intervals: usize,
    pub external_differ: usize,
    pub differences: Vec<Difference>,
}

pub fn compare(ks: &Answer, nca: &Answer, universe: &NcaUniverse, show: usize) -> Comparison {
    let pods: Vec<&String> = universe
        .kept
        .iter()
        .filter(|p| !universe.host_network.contains(*p))
        .collect();
    let mut c = Comparison {
        pods_total: universe.total_pods,
        pods_compared: pods.len(),
        host_network_excluded: universe.host_network.len(),
        pod_pairs: 0,
        pod_pairs_allowed_nca: 0,
        pod_pairs_allowed_kubesurface: 0,
        pod_pairs_differ: 0,
        external_intervals: 0,
        external_differ: 0,
        differences: Vec::new(),
    };
    let empty = Ports::default();
    for s in &pods {
        for d in &pods {
            if s == d {
                continue;
            }
            let key = ((*s).clone(), (*d).clone());
            let a = ks.pods.get(&key).unwrap_or(&empty);
            let b = nca.pods.get(&key).unwrap_or(&empty);
            c.pod_pairs += 1;
            c.pod_pairs_allowed_kubesurface += usize::from(!a.is_empty());
            c.pod_pairs_allowed_nca += usize::from(!b.is_empty());
            if a != b {
                c.pod_pairs_differ += 1;
                if c.differences.len() < show {
                    c.differences.push(Difference {
                        what: format!("{s} => {d}"),
                        kubesurface: a.clone(),
                        nca: b.clone(),
                    });
                }
            }
        }
    }
    let none: Vec<((u32, u32), Ports)> = Vec::new();
    for p in &pods {
        for (dir, ksm, ncam) in [
            ("egress", &ks.egress_ext, &nca.egress_ext),
            ("ingress", &ks.ingress_ext, &nca.ingress_ext),
        ] {
            let a = ksm.get(*p).unwrap_or(&none);
            let b = ncam.get(*p).unwrap_or(&none);
            let cuts = cuts_of(a, b);
            let va = piecewise(a, &cuts);
            let vb = piecewise(b, &cuts);
            for (i, (x, y)) in va.iter().zip(&vb).enumerate() {
                c.external_intervals += 1;
                if x != y {
                    c.external_differ += 1;
                    if c.differences.len() < show {
                        let lo = Ipv4Addr::from(cuts[i] as u32);
                        let hi = Ipv4Addr::from((cuts[i + 1] - 1) as u32);
                        let what = if dir == "egress" {
                            format!("{p} => {lo}-{hi}")
                        } else {
                            format!("{lo}-{hi} => {p}")
                        };
                        c.differences.push(Difference {
                            what,
                            kubesurface: x.clone(),
                            nca: y.clone(),
                        });
                    }
                }
            }
        }
    }
    c
}

impl Comparison {
    pub fn matched(&self) -> bool {
        self.pod_pairs_differ == 0 && self.external_differ == 0
    }

    pub fn report(&self) -> String {
        let mut s = format!(
            "pods: {} in the cluster, {} compared (NCA keeps at most 2 per workload and labels; {} hostNetwork left out)\n\
             pod pairs: {} compared, allowed {} by kubesurface and {} by NCA, {} differ\n\
             pod/external IPv4 intervals: {} compared, {} differ\n",
            self.pods_total,
            self.pods_compared,
            self.host_network_excluded,
            self.pod_pairs,
            self.pod_pairs_allowed_kubesurface,
            self.pod_pairs_allowed_nca,
            self.pod_pairs_differ,
            self.external_intervals,
            self.external_differ
        );
        for d in &self.differences {
            s.push_str(&format!(
                "  differ: {}: kubesurface {} | NCA {}\n",
                d.what, d.kubesurface, d.nca
            ));
        }
        s.push_str(if self.matched() {
            "result: same answer on every compared pair\n"
        } else {
            "result: answers differ\n"
        });
        s
    }
}

/// Runs both tools on the `pods`-pod cluster and compares; returns the comparison and the
/// two child runs.
#[allow(clippy::too_many_arguments)]
pub fn compare_size(
    pods: usize,
    seed: u64,
    work_dir: &Path,
    kubesurface: &Path,
    nca: &Path,
    ipblock_matches_pods: bool,
    show: usize,
    timeout: Option<Duration>,
) -> Result<(Comparison, ChildRun, ChildRun), String> {
    let input = ensure_generated(work_dir, pods, seed, true)?;
    let nca_dir = input.nca_dir.clone().expect("nca dir");
    let ks_out = work_dir.join(format!("compare-n{pods}-s{seed}-kubesurface.json"));
    let ipb = if ipblock_matches_pods {
        "true"
    } else {
        "false"
    };
    let file = input.file.to_string_lossy().into_owned();
    let ks_run = measure::run_measured(
        kubesurface,
        &[
            "connectivity",
            &file,
            "--granularity",
            "pod",
            "-o",
            "json",
            "--ipblock-matches-pods",
            ipb,
        ],
        Some(&ks_out),
        None,
    )
    .map_err(|e| format!("{}: {e}", kubesurface.display()))?;
    if !ks_run.success {
        return Err(format!("kubesurface failed: {}", ks_run.stderr.trim()));
    }
    let nca_out = work_dir.join(format!("compare-n{pods}-s{seed}-nca.txt"));
    let nca_run = run_nca(nca, &nca_dir, "pods", &nca_out, timeout)?;
    let ks = Answer::from_kubesurface(&std::fs::read(&ks_out).map_err(|e| e.to_string())?)?;
    let nca_text = std::fs::read_to_string(&nca_out).map_err(|e| e.to_string())?;
    let nca_answer = Answer::from_nca(&nca_text)?;
    let universe = nca_universe(&nca_dir.join("pods.json"))?;
    Ok((compare(&ks, &nca_answer, &universe, show), ks_run, nca_run))
}

/// Runs `nca --connectivity policies.json --pod_list pods.json --ns_list namespaces.json
/// -o txt_no_fw_rules --output_endpoints ENDPOINTS -f OUT`.
pub fn run_nca(
    nca: &Path,
    dir: &Path,
    endpoints: &str,
    out: &Path,
    timeout: Option<Duration>,
) -> Result<ChildRun, String> {
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    let (pol, pods, ns, outs) = (
        s(dir.join("policies.json")),
        s(dir.join("pods.json")),
        s(dir.join("namespaces.json")),
        s(out.to_path_buf()),
    );
    let args = [
        "--connectivity",
        pol.as_str(),
        "--pod_list",
        pods.as_str(),
        "--ns_list",
        ns.as_str(),
        "-o",
        "txt_no_fw_rules",
        "--output_endpoints",
        endpoints,
        "-f",
        outs.as_str(),
    ];
    // NCA appends to an existing -f file.
    let _ = std::fs::remove_file(out);
    let run = measure::run_measured(nca, &args, None, timeout)
        .map_err(|e| format!("{}: {e}", nca.display()))?;
    if run.timed_out {
        return Ok(run);
    }
    if !run.success {
        let tail: Vec<&str> = run.stderr.lines().rev().take(5).collect();
        return Err(format!("nca failed ({:?}): {}", run.code, tail.join(" | ")));
    }
    Ok(run)
}

pub fn compare_cmd(a: CompareArgs) -> Result<ExitCode, String> {
    let kubesurface = a.kubesurface.clone().unwrap_or_else(default_kubesurface);
    let nca = find_nca(a.nca.as_deref())?;
    let (c, ks_run, nca_run) = compare_size(
        a.pods,
        a.seed,
        &a.work_dir,
        &kubesurface,
        &nca,
        a.ipblock_matches_pods,
        a.show,
        None,
    )?;
    println!(
        "cluster: {} pods, seed {}; kubesurface --granularity pod --ipblock-matches-pods {} ({:.2}s), NCA txt_no_fw_rules pods ({:.2}s)",
        a.pods,
        a.seed,
        a.ipblock_matches_pods,
        ks_run.wall.as_secs_f64(),
        nca_run.wall.as_secs_f64()
    );
    print!("{}", c.report());
    Ok(if c.matched() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nca_strings() {
        assert_eq!(nca_connections("All connections").unwrap(), Ports::full());
        let p = nca_connections("{protocols:TCP, UDP,dst_ports:53}").unwrap();
        assert_eq!(p.to_string(), "TCP:53 UDP:53");
        let p =
            nca_connections("{protocols:TCP,dst_ports:80,8443-8450},{protocols:UDP,dst_ports:53}")
                .unwrap();
        assert_eq!(p.to_string(), "TCP:80,8443-8450 UDP:53");
        let p = nca_connections("All but {protocols:TCP,dst_ports:1-79}").unwrap();
        assert_eq!(p.to_string(), "TCP:80-65535 UDP:1-65535 SCTP:1-65535");
        let p = nca_connections("{protocols:all but UDP}").unwrap();
        assert_eq!(p.to_string(), "TCP:1-65535 SCTP:1-65535");
        let p = nca_connections("{dst_ports:443}").unwrap();
        assert_eq!(p.to_string(), "TCP:443 UDP:443 SCTP:443");
    }

    #[test]
    fn peers() {
        assert_eq!(peer_of("ns/pod"), Some(Peer::Pod("ns/pod".into())));
        assert_eq!(
            peer_of("ext:10.0.0.0/24"),
            Some(Peer::Ext(vec![(0x0a00_0000, 0x0a00_00ff)]))
        );
        assert_eq!(
            peer_of("0.0.0.0-9.255.255.255"),
            Some(Peer::Ext(vec![(0, 0x09ff_ffff)]))
        );
        assert_eq!(peer_of("ext:::/0"), None);
    }

    #[test]
    fn external_intervals() {
        let mut ks = Answer::default();
        let mut nca = Answer::default();
        ks.add(
            Peer::Pod("a/x".into()),
            Peer::Ext(vec![(0, u32::MAX)]),
            Ports::full(),
        );
        nca.add(
            Peer::Pod("a/x".into()),
            Peer::Ext(vec![(0, 99)]),
            Ports::full(),
        );
        nca.add(
            Peer::Pod("a/x".into()),
            Peer::Ext(vec![(100, u32::MAX)]),
            Ports::full(),
        );
        let u = NcaUniverse {
            kept: vec!["a/x".into()],
            host_network: BTreeSet::new(),
            total_pods: 1,
        };
        let c = compare(&ks, &nca, &u, 5);
        assert!(c.matched(), "{}", c.report());
    }
}
