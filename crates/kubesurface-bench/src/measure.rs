//! Running a child process and measuring its wall time and peak RSS.
//!
//! With GNU time at `/usr/bin/time` each child runs under `time -f "%e %M" -o FILE`, which
//! reports that child's own peak RSS. Without it the wall time is taken here and the peak
//! RSS comes from `getrusage(RUSAGE_CHILDREN)`, which is the largest peak of every child
//! waited for so far: exact for the first child and for any child that grows past the
//! earlier ones, and marked as an upper bound otherwise.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child run gave.
#[derive(Clone, Debug)]
pub struct ChildRun {
    /// Exit status success.
    pub success: bool,
    /// Exit code, or None when killed by a signal.
    pub code: Option<i32>,
    /// Wall time.
    pub wall: Duration,
    /// User + system CPU time of the child (GNU time only): less sensitive than wall time
    /// to other work on the machine.
    pub cpu: Option<Duration>,
    /// Peak resident set size, KiB.
    pub max_rss_kib: Option<u64>,
    /// True when `max_rss_kib` is only an upper bound (getrusage fallback).
    pub rss_upper_bound: bool,
    /// The child's stderr.
    pub stderr: String,
    /// Stopped by the timeout.
    pub timed_out: bool,
}

const GNU_TIME: &str = "/usr/bin/time";

fn gnu_time_available() -> bool {
    Path::new(GNU_TIME).exists()
        && Command::new(GNU_TIME)
            .args(["-f", "%M", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

fn children_max_rss_kib() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru.ru_maxrss as u64
    }
}

const TIMEOUT: &str = "/usr/bin/timeout";

/// Runs `program args…` with stdout to `stdout_to` (or /dev/null) and measures it; with
/// `timeout` (and coreutils' `timeout` present) the child is stopped after that long.
pub fn run_measured(
    program: &Path,
    args: &[&str],
    stdout_to: Option<&Path>,
    timeout: Option<Duration>,
) -> std::io::Result<ChildRun> {
    let stdout = match stdout_to {
        Some(p) => Stdio::from(std::fs::File::create(p)?),
        None => Stdio::null(),
    };
    let mut argv: Vec<String> = Vec::new();
    let limited = timeout.is_some() && Path::new(TIMEOUT).exists();
    if let (true, Some(t)) = (limited, timeout) {
        argv.push(TIMEOUT.to_string());
        argv.push(format!("{}", t.as_secs().max(1)));
    }
    argv.push(program.to_string_lossy().into_owned());
    argv.extend(args.iter().map(|s| s.to_string()));
    let program = std::path::PathBuf::from(argv.remove(0));
    let program = program.as_path();
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut run = run_inner(program, &args, stdout)?;
    run.timed_out = limited && run.code == Some(124);
    Ok(run)
}

fn run_inner(program: &Path, args: &[&str], stdout: Stdio) -> std::io::Result<ChildRun> {
    if gnu_time_available() {
        let report = tempfile_path("time");
        let mut cmd = Command::new(GNU_TIME);
        cmd.arg("-f")
            .arg("%e %M %U %S")
            .arg("-o")
            .arg(&report)
            .arg(program)
            .args(args)
            .stdout(stdout)
            .stderr(Stdio::piped());
        let start = Instant::now();
        let out = cmd.output()?;
        let wall = start.elapsed();
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let _ = std::fs::remove_file(&report);
        // GNU time writes "Command exited with non-zero status N" before the figures.
        let last = text.lines().last().unwrap_or("");
        let mut it = last.split_whitespace();
        let _elapsed = it.next();
        let rss = it.next().and_then(|s| s.parse::<u64>().ok());
        let user = it.next().and_then(|s| s.parse::<f64>().ok());
        let sys = it.next().and_then(|s| s.parse::<f64>().ok());
        let cpu = match (user, sys) {
            (Some(u), Some(s)) => Some(Duration::from_secs_f64(u + s)),
            _ => None,
        };
        let code = text
            .lines()
            .find_map(|l| l.strip_prefix("Command exited with non-zero status "))
            .and_then(|s| s.trim().parse::<i32>().ok())
            .or(out.status.code());
        let killed = text.contains("Command terminated by signal");
        Ok(ChildRun {
            success: out.status.success(),
            code: if killed { None } else { code },
            wall,
            cpu,
            max_rss_kib: rss,
            rss_upper_bound: false,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            timed_out: false,
        })
    } else {
        let start = Instant::now();
        let out = Command::new(program)
            .args(args)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .output()?;
        let wall = start.elapsed();
        Ok(ChildRun {
            success: out.status.success(),
            code: out.status.code(),
            wall,
            cpu: None,
            max_rss_kib: Some(children_max_rss_kib()),
            rss_upper_bound: true,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            timed_out: false,
        })
    }
}

fn tempfile_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "kubesurface-bench-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Parses a Rust `Debug` duration: `12.3ms`, `1.2s`, `850µs`, `10ns`.
pub fn parse_debug_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = if let Some(n) = s.strip_suffix("ns") {
        (n, 1e-9)
    } else if let Some(n) = s.strip_suffix("µs").or_else(|| s.strip_suffix("us")) {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    num.parse::<f64>()
        .ok()
        .map(|v| Duration::from_secs_f64(v * unit))
}

/// The `kubesurface: stats:` line, as key → value.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub fields: Vec<(String, String)>,
}

impl Stats {
    /// Finds and parses the stats line in a child's stderr.
    pub fn parse(stderr: &str) -> Option<Stats> {
        let line = stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("kubesurface: stats:"))?;
        let fields = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Stats { fields })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn count(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    pub fn duration(&self, key: &str) -> Option<Duration> {
        self.get(key).and_then(parse_debug_duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_debug_duration("1.5s"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_debug_duration("12.5ms"),
            Some(Duration::from_micros(12500))
        );
        assert_eq!(
            parse_debug_duration("850µs"),
            Some(Duration::from_micros(850))
        );
        assert_eq!(parse_debug_duration("10ns"), Some(Duration::from_nanos(10)));
        assert_eq!(parse_debug_duration("x"), None);
    }

    #[test]
    fn stats_line() {
        let s = Stats::parse("kubesurface: note: x\nkubesurface: stats: endpoints=10 classes=3 load=1.2ms total=2s\n").unwrap();
        assert_eq!(s.count("classes"), Some(3));
        assert_eq!(s.duration("total"), Some(Duration::from_secs(2)));
        assert_eq!(s.duration("load"), Some(Duration::from_micros(1200)));
    }
}
