//! Running a child process and measuring its wall time, CPU time and peak RSS.
//!
//! The program is started by a small launcher (this binary's hidden `__measure` command),
//! which spawns it, reaps it with `wait4` and writes a report: the wall time from just
//! before the spawn to the reaping, and the resource usage `wait4` hands back — the
//! program's CPU time and peak RSS (and those of any children it waited for, such as the
//! program under `timeout`). The launcher's own start is outside the wall time (GNU time's
//! `%e` includes it: ≈2 ms on the benchmark machine), and the peak RSS is the program's:
//! Linux counts the RSS of the process that `exec`s into the program's peak, so the
//! launcher has to be small — the benchmark itself holds the inputs it parsed.

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
    /// Wall time, from before the spawn to the reaping.
    pub wall: Duration,
    /// User + system CPU time of the child: less sensitive than wall time to other work on
    /// the machine.
    pub cpu: Option<Duration>,
    /// Peak resident set size, KiB.
    pub max_rss_kib: Option<u64>,
    /// The child's stderr.
    pub stderr: String,
    /// Stopped by the timeout.
    pub timed_out: bool,
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
    let report = tempfile_path("measure");
    let out = Command::new(std::env::current_exe()?)
        .arg(LAUNCHER)
        .arg(&report)
        .arg(program)
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()?;
    let text = std::fs::read_to_string(&report);
    let _ = std::fs::remove_file(&report);
    let figures = text.ok().and_then(|t| Report::parse(&t)).ok_or_else(|| {
        std::io::Error::other(format!(
            "{}: not measured: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })?;
    Ok(ChildRun {
        success: figures.code == Some(0),
        code: figures.code,
        wall: figures.wall,
        cpu: Some(figures.cpu),
        max_rss_kib: Some(figures.max_rss_kib),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        timed_out: false,
    })
}

/// The hidden command that runs one measured program: `__measure REPORT PROGRAM ARGS…`.
pub const LAUNCHER: &str = "__measure";

/// What the launcher writes: `wall_ns cpu_ns max_rss_kib exit_code` (`-` when killed).
#[derive(Debug, PartialEq)]
struct Report {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    code: Option<i32>,
}

impl Report {
    fn render(&self) -> String {
        let code = self.code.map_or("-".to_string(), |c| c.to_string());
        format!(
            "{} {} {} {code}\n",
            self.wall.as_nanos(),
            self.cpu.as_nanos(),
            self.max_rss_kib
        )
    }

    fn parse(text: &str) -> Option<Report> {
        let mut it = text.split_whitespace();
        let mut nanos =
            || -> Option<Duration> { Some(Duration::from_nanos(it.next()?.parse().ok()?)) };
        let wall = nanos()?;
        let cpu = nanos()?;
        let max_rss_kib = it.next()?.parse().ok()?;
        let code = match it.next()? {
            "-" => None,
            c => Some(c.parse().ok()?),
        };
        Some(Report {
            wall,
            cpu,
            max_rss_kib,
            code,
        })
    }
}

/// The launcher: runs `program args…` with this process's stdout and stderr, and writes its
/// [`Report`] to `report`.
pub fn launch(report: &Path, program: &Path, args: &[String]) -> Result<(), String> {
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let pid = libc::pid_t::try_from(child.id()).map_err(|e| e.to_string())?;
    let (status, usage) = reap(pid).map_err(|e| e.to_string())?;
    let wall = start.elapsed();
    let time =
        |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    let figures = Report {
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss as u64,
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
    };
    std::fs::write(report, figures.render()).map_err(|e| format!("{}: {e}", report.display()))
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

/// Waits for child `pid`: its wait status and resource usage.
fn reap(pid: libc::pid_t) -> std::io::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 writes only into the status and rusage we pass; the rusage is plain
    // data, valid zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: as above; `pid` is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
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
    fn reports_round_trip() {
        let r = Report {
            wall: Duration::from_nanos(12_345_678),
            cpu: Duration::from_micros(20_001),
            max_rss_kib: 47_000,
            code: Some(1),
        };
        assert_eq!(Report::parse(&r.render()), Some(r));
        let killed = Report::parse("5 6 7 -\n").expect("valid");
        assert_eq!(killed.code, None);
        assert_eq!(Report::parse("5 6"), None);
    }

    #[test]
    fn the_launcher_measures_a_child() {
        let report = tempfile_path("test");
        let script = "head -c 50000000 /dev/zero | tail -c 1 >/dev/null; exit 3".to_string();
        launch(&report, Path::new("/bin/sh"), &["-c".to_string(), script]).expect("sh runs");
        let r = Report::parse(&std::fs::read_to_string(&report).expect("written")).expect("valid");
        let _ = std::fs::remove_file(&report);
        assert_eq!(r.code, Some(3));
        assert!(r.max_rss_kib > 0 && r.wall > Duration::ZERO, "{r:?}");
    }

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
