//! `run`: generate each size (cached), run kubesurface (and NCA) on it, print a table.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::compare;
use crate::measure::{self, ChildRun, Stats};
use crate::synth::{self, GENERATOR_VERSION, GenOptions};

/// `run` options.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Cluster sizes (pods) to benchmark kubesurface on.
    #[arg(long, value_delimiter = ',', default_values_t = [1000usize, 10000, 100000])]
    pub sizes: Vec<usize>,
    /// Sizes on which IBM network-config-analyzer also runs (and is compared with).
    #[arg(long, value_delimiter = ',')]
    pub nca_sizes: Vec<usize>,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where generated inputs (cached by generator version, size and seed) and outputs go.
    #[arg(long, default_value = "target/kubesurface-bench")]
    pub work_dir: PathBuf,
    /// The kubesurface binary (default: target/release/kubesurface).
    #[arg(long)]
    pub kubesurface: Option<PathBuf>,
    /// The `nca` executable (default: `nca` on PATH).
    #[arg(long)]
    pub nca: Option<PathBuf>,
    /// kubesurface `--granularity` for the timed run.
    #[arg(long, default_value = "workload")]
    pub granularity: String,
    /// Runs of kubesurface connectivity and of audit per size; the fastest of each is
    /// reported.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Also check that kubesurface and NCA give the same answer on the NCA sizes.
    #[arg(long)]
    pub compare: bool,
    /// The NCA executable used for `--compare` (default: the timed one), e.g.
    /// `bench/nca-exists-fix.py`.
    #[arg(long)]
    pub compare_nca: Option<PathBuf>,
    /// Seconds after which an NCA run is stopped.
    #[arg(long, default_value_t = 1800)]
    pub nca_timeout: u64,
    /// Keep kubesurface's output in the work dir instead of discarding it.
    #[arg(long)]
    pub keep_output: bool,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// The kubesurface binary next to this one (`target/release/kubesurface`), else on PATH.
pub fn default_kubesurface() -> PathBuf {
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|me| me.parent().map(Path::to_path_buf))
    {
        let sibling = dir.join("kubesurface");
        if sibling.exists() {
            return sibling;
        }
    }
    let local = PathBuf::from("target/release/kubesurface");
    if local.exists() {
        return local;
    }
    PathBuf::from("kubesurface")
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `--nca`, else `nca` on PATH.
pub fn find_nca(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    on_path("nca").ok_or_else(|| {
        "no `nca` on PATH: `pip install network-config-analyzer` (in a venv), or pass --nca PATH"
            .to_string()
    })
}

/// A generated input.
pub struct Generated {
    pub file: PathBuf,
    pub nca_dir: Option<PathBuf>,
    pub bytes: u64,
}

/// The cluster file for (pods, seed), generated unless already cached; with `nca`, its NCA
/// inputs too.
pub fn ensure_generated(
    work_dir: &Path,
    pods: usize,
    seed: u64,
    nca: bool,
) -> Result<Generated, String> {
    std::fs::create_dir_all(work_dir).map_err(|e| format!("{}: {e}", work_dir.display()))?;
    let stem = format!("cluster-g{GENERATOR_VERSION}-n{pods}-s{seed}");
    let file = work_dir.join(format!("{stem}.json"));
    let nca_dir = work_dir.join(format!("{stem}-nca"));
    let nca_ready = ["namespaces.json", "pods.json", "policies.json"]
        .iter()
        .all(|f| nca_dir.join(f).exists());
    if !file.exists() || (nca && !nca_ready) {
        let start = Instant::now();
        let tmp = work_dir.join(format!("{stem}.json.tmp"));
        let f = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        let opts = GenOptions {
            pods,
            seed,
            pretty: false,
        };
        let summary = synth::generate(&opts, &mut out, nca.then_some(nca_dir.as_path()))
            .map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        drop(out);
        std::fs::rename(&tmp, &file).map_err(|e| e.to_string())?;
        eprintln!(
            "kubesurface-bench: generated {} in {:.1}s: {}",
            file.display(),
            start.elapsed().as_secs_f64(),
            summary.describe()
        );
    }
    let bytes = std::fs::metadata(&file).map_err(|e| e.to_string())?.len();
    Ok(Generated {
        file,
        nca_dir: nca.then_some(nca_dir),
        bytes,
    })
}

/// In-process parse baselines: bytes → tokens (`IgnoredAny`) and bytes → `serde_json::Value`.
struct ParseBaseline {
    read: Duration,
    tokenize: Duration,
    dom: Duration,
}

fn parse_baseline(file: &Path) -> Result<ParseBaseline, String> {
    let start = Instant::now();
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let read = start.elapsed();
    let start = Instant::now();
    let _: serde::de::IgnoredAny = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let tokenize = start.elapsed();
    let start = Instant::now();
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let dom = start.elapsed();
    drop(v);
    Ok(ParseBaseline {
        read,
        tokenize,
        dom,
    })
}

/// Whether the kubesurface binary has an `audit` command yet.
fn has_subcommand(kubesurface: &Path, name: &str) -> bool {
    Command::new(kubesurface)
        .arg("--help")
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name))
        })
        .unwrap_or(false)
}

/// One size's figures.
#[derive(Default)]
struct Row {
    pods: usize,
    bytes: u64,
    parse: Option<ParseBaseline>,
    ks: Option<ChildRun>,
    stats: Option<Stats>,
    ks_error: Option<String>,
    audit: Option<ChildRun>,
    nca: Option<ChildRun>,
    nca_error: Option<String>,
    compare: Option<String>,
    /// The fastest `floor` process (map, check and skip the input on all cores).
    floor: Option<Duration>,
    /// The fastest `floor --unchecked` process (the items found, nothing validated).
    floor_unchecked: Option<Duration>,
    /// 1-minute load average just before kubesurface ran (others' work skews timings).
    loadavg: Option<f64>,
}

fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 0.1 {
        format!("{:.1} ms", s * 1000.0)
    } else if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

fn mib(kib: Option<u64>) -> String {
    match kib {
        Some(k) => format!("{:.0} MiB", k as f64 / 1024.0),
        None => "-".to_string(),
    }
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    } else if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}

/// The machine, for the report.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    format!(
        "{cpus} CPUs ({model}), {:.1} GiB RAM",
        mem_kib as f64 / (1u64 << 20) as f64
    )
}

pub fn run(a: RunArgs) -> Result<ExitCode, String> {
    let kubesurface = a.kubesurface.clone().unwrap_or_else(default_kubesurface);
    if !kubesurface.exists() && on_path(&kubesurface.to_string_lossy()).is_none() {
        return Err(format!(
            "{} not found: build it with `cargo build --release -p kubesurface` or pass --kubesurface",
            kubesurface.display()
        ));
    }
    let nca = if a.nca_sizes.is_empty() {
        None
    } else {
        Some(find_nca(a.nca.as_deref())?)
    };
    let audit = has_subcommand(&kubesurface, "audit");
    let mut sizes: Vec<usize> = a.sizes.iter().chain(&a.nca_sizes).copied().collect();
    sizes.sort_unstable();
    sizes.dedup();
    eprintln!("kubesurface-bench: machine: {}", machine());
    eprintln!("kubesurface-bench: kubesurface: {}", kubesurface.display());

    let mut rows: Vec<Row> = Vec::new();
    for &pods in &sizes {
        let with_nca = a.nca_sizes.contains(&pods);
        let input = ensure_generated(&a.work_dir, pods, a.seed, with_nca)?;
        let file = input.file.to_string_lossy().into_owned();
        let mut row = Row {
            pods,
            bytes: input.bytes,
            ..Default::default()
        };
        eprintln!("kubesurface-bench: {pods} pods: parse baseline");
        row.parse = Some(parse_baseline(&input.file)?);

        row.floor = time_floor(&input.file, a.repeat.max(1), false);
        row.floor_unchecked = time_floor(&input.file, a.repeat.max(1), true);
        row.loadavg = loadavg();
        let out_path = a
            .work_dir
            .join(format!("out-n{pods}-s{}-{}.json", a.seed, a.granularity));
        for i in 0..a.repeat.max(1) {
            let run = timed_run(
                &kubesurface,
                pods,
                i,
                &[
                    "connectivity",
                    &file,
                    "--granularity",
                    &a.granularity,
                    "-o",
                    "json",
                    "--stats",
                ],
                a.keep_output.then_some(out_path.as_path()),
            )?;
            if !run.success {
                row.ks_error = Some(match run.code {
                    Some(c) => format!("exit {c}: {}", run.stderr.lines().last().unwrap_or("")),
                    None => "killed (out of memory?)".to_string(),
                });
                row.ks = Some(run);
                break;
            }
            let better = row.ks.as_ref().is_none_or(|r| run.wall < r.wall);
            if better {
                row.stats = Stats::parse(&run.stderr);
                row.ks = Some(run);
            }
        }
        if audit {
            // Timed as connectivity is: the fastest of `repeat` runs.
            for i in 0..a.repeat.max(1) {
                let run =
                    timed_run(&kubesurface, pods, i, &["audit", &file, "-o", "json"], None).ok();
                let better = match (&row.audit, &run) {
                    (None, _) => true,
                    (Some(old), Some(new)) => new.wall < old.wall,
                    (Some(_), None) => false,
                };
                if better {
                    row.audit = run;
                }
            }
        }
        if let (true, Some(nca)) = (with_nca, nca.as_ref()) {
            let dir = input.nca_dir.clone().expect("nca dir");
            let out = a
                .work_dir
                .join(format!("nca-n{pods}-s{}-deployments.txt", a.seed));
            eprintln!("kubesurface-bench: {pods} pods: nca");
            match compare::run_nca(
                nca,
                &dir,
                "deployments",
                &out,
                Some(Duration::from_secs(a.nca_timeout)),
            ) {
                Ok(r) if r.timed_out => {
                    row.nca_error = Some(format!("stopped after {} s", a.nca_timeout));
                    row.nca = Some(r);
                }
                Ok(r) => row.nca = Some(r),
                Err(e) => row.nca_error = Some(e),
            }
            if a.compare {
                eprintln!("kubesurface-bench: {pods} pods: comparing answers at pod level");
                row.compare = Some(
                    match compare::compare_size(
                        pods,
                        a.seed,
                        &a.work_dir,
                        &kubesurface,
                        a.compare_nca.as_deref().unwrap_or(nca),
                        false,
                        10,
                        Some(Duration::from_secs(a.nca_timeout)),
                    ) {
                        Ok((c, _, _)) => {
                            eprint!("{}", c.report());
                            if c.matched() {
                                format!(
                                    "same ({} pod pairs, {} ext intervals)",
                                    c.pod_pairs, c.external_intervals
                                )
                            } else {
                                format!(
                                    "{} of {} pod pairs and {} of {} ext intervals differ",
                                    c.pod_pairs_differ,
                                    c.pod_pairs,
                                    c.external_differ,
                                    c.external_intervals
                                )
                            }
                        }
                        Err(e) => format!("error: {e}"),
                    },
                );
            }
        }
        print_row_progress(&row);
        rows.push(row);
    }
    let table = render(
        &rows,
        audit,
        !a.nca_sizes.is_empty(),
        a.compare,
        &a.granularity,
    );
    println!("{}", machine());
    println!("{table}");
    if let Some(path) = &a.json {
        let v = json!({
            "machine": machine(),
            "seed": a.seed,
            "granularity": a.granularity,
            "generator_version": GENERATOR_VERSION,
            "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&v).expect("json") + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_row_progress(r: &Row) {
    if let Some(ks) = &r.ks {
        eprintln!(
            "kubesurface-bench: {} pods: kubesurface {:.2}s {}; {}",
            r.pods,
            ks.wall.as_secs_f64(),
            mib(ks.max_rss_kib),
            r.stats
                .as_ref()
                .map(|s| s
                    .fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "))
                .unwrap_or_default()
        );
    }
    if let Some(n) = &r.nca {
        eprintln!(
            "kubesurface-bench: {} pods: nca {:.2}s {}",
            r.pods,
            n.wall.as_secs_f64(),
            mib(n.max_rss_kib)
        );
    }
}

fn dur_json(d: Option<Duration>) -> serde_json::Value {
    d.map(|d| json!(d.as_secs_f64()))
        .unwrap_or(serde_json::Value::Null)
}

fn row_json(r: &Row) -> serde_json::Value {
    let st = r.stats.as_ref();
    json!({
        "pods": r.pods,
        "input_bytes": r.bytes,
        "parse_read_s": dur_json(r.parse.as_ref().map(|p| p.read)),
        "parse_tokenize_s": dur_json(r.parse.as_ref().map(|p| p.tokenize)),
        "parse_value_s": dur_json(r.parse.as_ref().map(|p| p.dom)),
        "floor_wall_s": dur_json(r.floor),
        "floor_unchecked_wall_s": dur_json(r.floor_unchecked),
        "kubesurface_wall_s": dur_json(r.ks.as_ref().map(|k| k.wall)),
        "kubesurface_max_rss_kib": r.ks.as_ref().and_then(|k| k.max_rss_kib),
        "kubesurface_cpu_s": dur_json(r.ks.as_ref().and_then(|k| k.cpu)),
        "kubesurface_error": r.ks_error,
        "stats": st.map(|s| s.fields.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()),
        "audit_wall_s": dur_json(r.audit.as_ref().map(|k| k.wall)),
        "audit_max_rss_kib": r.audit.as_ref().and_then(|k| k.max_rss_kib),
        "audit_exit": r.audit.as_ref().and_then(|k| k.code),
        "nca_wall_s": dur_json(r.nca.as_ref().map(|k| k.wall)),
        "nca_max_rss_kib": r.nca.as_ref().and_then(|k| k.max_rss_kib),
        "nca_cpu_s": dur_json(r.nca.as_ref().and_then(|k| k.cpu)),
        "nca_error": r.nca_error,
        "compare": r.compare,
        "loadavg_1m": r.loadavg,
    })
}

fn render(rows: &[Row], audit: bool, nca: bool, compare: bool, granularity: &str) -> String {
    let mut head = vec![
        "pods".to_string(),
        "input".to_string(),
        "JSON tokenize / Value".to_string(),
        "floor (unchecked)".to_string(),
        "load".to_string(),
        "compile".to_string(),
        "matrix+output".to_string(),
        "total".to_string(),
        "wall".to_string(),
        "CPU".to_string(),
        "peak RSS".to_string(),
        "classes".to_string(),
        format!("allowed {granularity} pairs"),
        "audit (wall / RSS)".to_string(),
        "load avg".to_string(),
    ];
    if nca {
        head.push("NCA wall".to_string());
        head.push("NCA CPU".to_string());
        head.push("NCA RSS".to_string());
        head.push("NCA / kubesurface (wall / CPU)".to_string());
        head.push("NCA / floor (unchecked)".to_string());
    }
    if compare {
        head.push("same answer (pod level)".to_string());
    }
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", head.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let st = r.stats.as_ref();
        let d = |k: &str| st.and_then(|s| s.duration(k));
        let engine = match (d("total"), d("load"), d("compile")) {
            (Some(t), Some(l), Some(c)) => Some(t.saturating_sub(l + c)),
            _ => None,
        };
        let opt = |x: Option<Duration>| x.map(secs).unwrap_or_else(|| "-".to_string());
        let mut cells = vec![
            r.pods.to_string(),
            human_bytes(r.bytes),
            r.parse
                .as_ref()
                .map(|p| format!("{} / {}", secs(p.tokenize), secs(p.dom)))
                .unwrap_or_default(),
            format!("{} ({})", opt(r.floor), opt(r.floor_unchecked)),
            opt(d("load")),
            opt(d("compile")),
            opt(engine),
            opt(d("total")),
            match (&r.ks, &r.ks_error) {
                (_, Some(e)) => format!("failed: {e}"),
                (Some(k), None) => secs(k.wall),
                _ => "-".to_string(),
            },
            r.ks.as_ref()
                .and_then(|k| k.cpu)
                .map(secs)
                .unwrap_or_else(|| "-".to_string()),
            r.ks.as_ref()
                .map(|k| mib(k.max_rss_kib))
                .unwrap_or_default(),
            st.and_then(|s| s.count("classes"))
                .map(|c| c.to_string())
                .unwrap_or_default(),
            st.and_then(|s| s.count("allowed_pairs"))
                .map(|c| c.to_string())
                .unwrap_or_default(),
            match (&r.audit, audit) {
                // Exit 1 means findings at or above --fail-on, not a failure to run.
                (Some(a), _) if matches!(a.code, Some(0 | 1)) => {
                    format!("{} / {}", secs(a.wall), mib(a.max_rss_kib))
                }
                (Some(_), _) => "failed".to_string(),
                (None, true) => "-".to_string(),
                (None, false) => "n/a (no `audit` yet)".to_string(),
            },
            r.loadavg.map(|l| format!("{l:.1}")).unwrap_or_default(),
        ];
        if nca {
            match (&r.nca, &r.nca_error) {
                (_, Some(e)) => {
                    cells.push(e.clone());
                    cells.push("-".into());
                    cells.push("-".into());
                    cells.push("-".into());
                    cells.push("-".into());
                }
                (Some(n), None) => {
                    cells.push(secs(n.wall));
                    cells.push(n.cpu.map(secs).unwrap_or_else(|| "-".into()));
                    cells.push(mib(n.max_rss_kib));
                    cells.push(match &r.ks {
                        Some(k) if r.ks_error.is_none() => {
                            let wall = n.wall.as_secs_f64() / k.wall.as_secs_f64().max(1e-6);
                            match (n.cpu, k.cpu) {
                                (Some(a), Some(b)) if b.as_secs_f64() > 0.0 => format!(
                                    "{wall:.0}× / {:.0}×",
                                    a.as_secs_f64() / b.as_secs_f64()
                                ),
                                _ => format!("{wall:.0}×"),
                            }
                        }
                        _ => "-".into(),
                    });
                    let ratio = |f: Option<Duration>| match f {
                        Some(f) => {
                            format!("{:.0}×", n.wall.as_secs_f64() / f.as_secs_f64().max(1e-6))
                        }
                        None => "-".into(),
                    };
                    cells.push(format!("{} ({})", ratio(r.floor), ratio(r.floor_unchecked)));
                }
                (None, None) => {
                    cells.push(String::new());
                    cells.push(String::new());
                    cells.push(String::new());
                    cells.push(String::new());
                    cells.push(String::new());
                }
            }
        }
        if compare {
            cells.push(r.compare.clone().unwrap_or_default());
        }
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s
}

/// One timed kubesurface run (`args`, the subcommand first), announced on stderr as run
/// `i + 1` of its kind.
fn timed_run(
    kubesurface: &Path,
    pods: usize,
    i: usize,
    args: &[&str],
    stdout_to: Option<&Path>,
) -> Result<ChildRun, String> {
    eprintln!(
        "kubesurface-bench: {pods} pods: kubesurface {} (run {})",
        args[0],
        i + 1
    );
    measure::run_measured(kubesurface, args, stdout_to, None)
        .map_err(|e| format!("{}: {e}", kubesurface.display()))
}

/// The fastest of `repeat` runs of `kubesurface-bench floor [--unchecked] FILE` as a process
/// of its own (`None` when it cannot run: the figure is context, not a result).
fn time_floor(file: &Path, repeat: usize, unchecked: bool) -> Option<Duration> {
    let me = std::env::current_exe().ok()?;
    let file = file.to_string_lossy();
    let args: &[&str] = if unchecked {
        &["floor", "--unchecked", &file]
    } else {
        &["floor", &file]
    };
    (0..repeat)
        .filter_map(|_| measure::run_measured(&me, args, None, None).ok())
        .filter(|r| r.success)
        .map(|r| r.wall)
        .min()
}
