//! The inventory against real network namespaces.
//!
//! Creates two namespaces (`ks-test-<pid>-a`, `-b`) joined by a veth pair with IPv4 and
//! IPv6 addresses, starts listener processes (this test binary re-executed through a
//! symlink, so each has its own command name) in the host namespace and in both created
//! ones — TCP and UDP on 0.0.0.0, 127.0.0.1, the veth address, ::, ::1 and the veth IPv6
//! address, all on ephemeral ports — and checks that the scan finds each with the right
//! namespace, scope, interface, PID and command. Then it scans again as `nobody` and checks
//! the scan still succeeds and says what it could not see.
//!
//! Needs root and `ip` (iproute2). Without them the tests say they were skipped and why,
//! and pass; with `KUBESURFACE_REQUIRE_NETNS=1` they fail instead. Everything created is
//! removed by Drop guards, also when an assertion fails; namespaces left by a killed run
//! (`ks-test-<pid>-*` of a dead PID) are removed at the next run.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kubesurface_sockets::{Owner, Protocol, Report, Scope, Socket, parse_report, scan};

/// Set in a re-executed copy of this binary: the sockets to open, `tcp/ADDR,udp/ADDR,…`.
const LISTEN_ENV: &str = "KS_NETNS_TEST_LISTEN";
/// Set in a re-executed copy of this binary running as `nobody`: scan and print the JSON.
const SCAN_ENV: &str = "KS_NETNS_TEST_SCAN";

const VETH_A: &str = "ks-veth-a";
const VETH_B: &str = "ks-veth-b";
const V4_A: &str = "10.254.0.1";
const V4_B: &str = "10.254.0.2";
const V6_A: &str = "fd00:6b73::1";
const V6_B: &str = "fd00:6b73::2";

// ---------------------------------------------------------------------------------------
// The re-executed helpers (no-ops in a normal run).

/// Opens the sockets named in `KS_NETNS_TEST_LISTEN`, prints `KS-READY spec=port …`, and
/// holds them until its standard input closes.
#[test]
fn listener_helper() {
    let Ok(spec) = std::env::var(LISTEN_ENV) else {
        return;
    };
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    let mut ready = String::from("KS-READY");
    for item in spec.split(',') {
        let (proto, addr) = item.split_once('/').expect("proto/addr");
        let ip: IpAddr = addr.parse().expect("address");
        let bind = SocketAddr::new(ip, 0);
        let port = match proto {
            "tcp" => {
                let l = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {item}: {e}"));
                let port = l.local_addr().unwrap().port();
                tcp.push(l);
                port
            }
            "udp" => {
                let s = UdpSocket::bind(bind).unwrap_or_else(|e| panic!("bind {item}: {e}"));
                let port = s.local_addr().unwrap().port();
                udp.push(s);
                port
            }
            other => panic!("protocol {other}"),
        };
        ready.push_str(&format!(" {item}={port}"));
    }
    let mut out = std::io::stdout();
    writeln!(out, "{ready}").unwrap();
    out.flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop((tcp, udp));
}

/// Scans /proc (as whoever runs it) and prints the JSON between markers.
#[test]
fn scan_helper() {
    if std::env::var_os(SCAN_ENV).is_none() {
        return;
    }
    let report = scan(Path::new("/proc"), "unprivileged").expect("scan");
    let mut out = std::io::stdout();
    write!(out, "KS-JSON-BEGIN\n{}KS-JSON-END\n", report.to_json()).unwrap();
    out.flush().unwrap();
}

// ---------------------------------------------------------------------------------------
// Guards.

/// Runs a command; `Err` with its output when it fails.
fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip(args: &[&str]) {
    run("ip", args).unwrap_or_else(|e| panic!("{e}"));
}

/// The namespaces, veth pair and helper directory; removed on drop.
struct Lab {
    namespaces: Vec<String>,
    dir: PathBuf,
    ipv6: bool,
}

impl Lab {
    fn new() -> Lab {
        let pid = std::process::id();
        let a = format!("ks-test-{pid}-a");
        let b = format!("ks-test-{pid}-b");
        let dir = std::env::temp_dir().join(format!("ks-netns-test-{pid}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let ipv6 = Path::new("/proc/net/if_inet6").exists();
        // The guard exists before the first namespace does, so a failure below cleans up.
        let mut lab = Lab {
            namespaces: Vec::new(),
            dir,
            ipv6,
        };
        for ns in [&a, &b] {
            ip(&["netns", "add", ns]);
            lab.namespaces.push(ns.clone());
        }
        // Created inside the namespaces: the host namespace is never touched.
        ip(&[
            "-n", &a, "link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B, "netns", &b,
        ]);
        for (ns, dev, v4, v6) in [(&a, VETH_A, V4_A, V6_A), (&b, VETH_B, V4_B, V6_B)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev]);
            if ipv6 {
                ip(&[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    dev,
                    "nodad",
                ]);
            }
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        lab
    }

    fn ns(&self, i: usize) -> &str {
        &self.namespaces[i]
    }

    /// Starts this test binary as `name` (a symlink, so that `comm` is `name`) in `netns`
    /// (`None`: the host namespace), opening `specs`.
    fn listen(&self, netns: Option<&str>, name: &str, specs: &[&str]) -> Listener {
        let exe = std::env::current_exe().unwrap();
        let link = self.dir.join(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&exe, &link).unwrap();
        let mut cmd = match netns {
            // `ip netns exec` execs the command itself: the child's PID is the helper's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&link);
                c
            }
            None => Command::new(&link),
        };
        cmd.args([
            "--exact",
            "listener_helper",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(LISTEN_ENV, specs.join(","))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        let mut child = Guard(cmd.spawn().expect("spawn listener"));
        // The harness prints `test listener_helper ... ` before the line; read it on a
        // thread so that a helper that never gets ready fails the test instead of hanging.
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(at) = line.find("KS-READY") {
                    let _ = tx.send(line[at + "KS-READY".len()..].to_string());
                    return;
                }
            }
        });
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("listener {name} did not get ready: {e}"));
        let mut ports = BTreeMap::new();
        for kv in ready.split_whitespace() {
            let (k, v) = kv.split_once('=').unwrap();
            ports.insert(k.to_string(), v.parse::<u16>().unwrap());
        }
        assert_eq!(ports.len(), specs.len(), "listener {name} did not start");
        let netns = fs::read_link(format!("/proc/{}/ns/net", child.0.id()))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        Listener {
            name: name.to_string(),
            netns,
            ports,
            child,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("netns test: cleanup: {e}");
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Kills and reaps its child on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Listener {
    name: String,
    netns: String,
    /// `tcp/ADDR` → port.
    ports: BTreeMap<String, u16>,
    child: Guard,
}

impl Listener {
    fn pid(&self) -> u32 {
        self.child.0.id()
    }
}

// ---------------------------------------------------------------------------------------
// Preconditions.

/// Why these tests cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
    if euid.as_deref() != Some("0") {
        return Some("not running as root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    if let Err(e) = run("ip", &["-V"]) {
        return Some(format!("`ip` is not available ({e}); install iproute2"));
    }
    if let Err(e) = run("ip", &["netns", "list"]) {
        return Some(format!("`ip netns` does not work here: {e}"));
    }
    None
}

/// Skips (passing) or, with `KUBESURFACE_REQUIRE_NETNS=1`, fails.
fn skip_unless_available(test: &str) -> bool {
    match unavailable() {
        None => false,
        Some(why) => {
            if std::env::var("KUBESURFACE_REQUIRE_NETNS").as_deref() == Ok("1") {
                panic!("{test}: cannot run: {why} (KUBESURFACE_REQUIRE_NETNS=1)");
            }
            // Straight to the process's stderr: libtest captures only the print macros,
            // and a skip must be visible in a normal `cargo test` run.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            true
        }
    }
}

/// Removes `ks-test-<pid>-*` namespaces of processes that no longer exist.
fn remove_stale_namespaces() {
    let Ok(list) = run("ip", &["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix("ks-test-")
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Assertions.

fn find<'a>(r: &'a Report, l: &Listener, spec: &str) -> &'a Socket {
    let (proto, addr) = spec.split_once('/').unwrap();
    let protocol = if proto == "tcp" {
        Protocol::Tcp
    } else {
        Protocol::Udp
    };
    let address: IpAddr = addr.parse().unwrap();
    let port = l.ports[spec];
    let matching: Vec<&Socket> = r
        .sockets
        .iter()
        .filter(|s| s.protocol == protocol && s.address == address && s.port == port)
        .filter(|s| s.pids.contains(&l.pid()) || s.netns == l.netns || s.netns.starts_with("pid:"))
        .collect();
    match matching.as_slice() {
        [one] => one,
        [] => panic!("{} {spec}:{port} not found in\n{}", l.name, r.to_json()),
        many => panic!("{} {spec}:{port} found {} times", l.name, many.len()),
    }
}

fn check(r: &Report, l: &Listener, spec: &str, host: bool, scope: Scope, interface: Option<&str>) {
    let s = find(r, l, spec);
    let what = format!("{} {spec}:{}: {s:?}", l.name, l.ports[spec]);
    assert_eq!(s.netns, l.netns, "{what}");
    assert_eq!(s.host_netns, host, "{what}");
    assert_eq!(s.scope, scope, "{what}");
    assert_eq!(s.interface.as_deref(), interface, "{what}");
    assert_eq!(s.pids, [l.pid()], "{what}");
    assert_eq!(s.commands, std::slice::from_ref(&l.name), "{what}");
    assert_ne!(s.owner, Owner::Unknown, "{what}");
    assert_ne!(s.owner, Owner::Kernel, "{what}");
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn finds_listeners_in_host_and_created_namespaces() {
    if std::env::var_os(LISTEN_ENV).is_some()
        || std::env::var_os(SCAN_ENV).is_some()
        || skip_unless_available("finds_listeners_in_host_and_created_namespaces")
    {
        return;
    }
    remove_stale_namespaces();
    let lab = Lab::new();
    let v6 = lab.ipv6;
    if !v6 {
        eprintln!("netns test: IPv6 is disabled on this machine; IPv6 listeners not checked");
    }
    let with_v6 = |v4: &[&'static str], v6s: &[&'static str]| -> Vec<&'static str> {
        let mut all = v4.to_vec();
        if v6 {
            all.extend_from_slice(v6s);
        }
        all
    };

    // Host namespace: loopback and wildcard only, ephemeral ports, closed at the end.
    let host = lab.listen(
        None,
        "ks-l-host",
        &with_v6(
            &[
                "tcp/127.0.0.1",
                "tcp/0.0.0.0",
                "udp/127.0.0.1",
                "udp/0.0.0.0",
            ],
            &["tcp/::1", "tcp/::", "udp/::"],
        ),
    );
    let a = lab.listen(
        Some(lab.ns(0)),
        "ks-l-nsa",
        &with_v6(
            &[
                "tcp/0.0.0.0",
                "tcp/127.0.0.1",
                "tcp/10.254.0.1",
                "udp/10.254.0.1",
                "udp/0.0.0.0",
            ],
            &["tcp/::", "tcp/fd00:6b73::1", "udp/::", "udp/::1"],
        ),
    );
    let b = lab.listen(
        Some(lab.ns(1)),
        "ks-l-nsb",
        &with_v6(&["tcp/10.254.0.2", "udp/127.0.0.1"], &["udp/fd00:6b73::2"]),
    );
    assert_ne!(a.netns, host.netns);
    assert_ne!(a.netns, b.netns);

    let r = scan(Path::new("/proc"), "netns-test").expect("scan");

    use Scope::{Loopback as L, Specific as S, Wildcard as W};
    check(&r, &host, "tcp/127.0.0.1", true, L, Some("lo"));
    check(&r, &host, "tcp/0.0.0.0", true, W, None);
    check(&r, &host, "udp/127.0.0.1", true, L, Some("lo"));
    check(&r, &host, "udp/0.0.0.0", true, W, None);
    check(&r, &a, "tcp/0.0.0.0", false, W, None);
    check(&r, &a, "tcp/127.0.0.1", false, L, Some("lo"));
    check(&r, &a, "tcp/10.254.0.1", false, S, Some(VETH_A));
    check(&r, &a, "udp/10.254.0.1", false, S, Some(VETH_A));
    check(&r, &a, "udp/0.0.0.0", false, W, None);
    check(&r, &b, "tcp/10.254.0.2", false, S, Some(VETH_B));
    check(&r, &b, "udp/127.0.0.1", false, L, Some("lo"));
    if v6 {
        check(&r, &host, "tcp/::1", true, L, Some("lo"));
        check(&r, &host, "tcp/::", true, W, None);
        check(&r, &host, "udp/::", true, W, None);
        check(&r, &a, "tcp/::", false, W, None);
        check(&r, &a, "tcp/fd00:6b73::1", false, S, Some(VETH_A));
        check(&r, &a, "udp/::", false, W, None);
        check(&r, &a, "udp/::1", false, L, Some("lo"));
        check(&r, &b, "udp/fd00:6b73::2", false, S, Some(VETH_B));
    }
    // Each namespace appears under one name; the created ones are not the host's.
    for s in &r.sockets {
        if s.netns == a.netns || s.netns == b.netns {
            assert!(!s.host_netns, "{s:?}");
        }
    }
    assert_eq!(parse_report(&r.to_json()).unwrap(), r);

    // The same machine seen by `nobody`: no failure, the listeners still found (socket
    // tables need no privilege), their owners unknown, and notes that say why.
    let Some(unprivileged) = scan_as_nobody() else {
        return;
    };
    let s = find(&unprivileged, &host, "tcp/0.0.0.0");
    assert_eq!((s.scope, s.host_netns), (W, true), "{s:?}");
    assert_eq!((s.owner, s.pids.len()), (Owner::Unknown, 0), "{s:?}");
    let s = find(&unprivileged, &a, "tcp/10.254.0.1");
    assert!(!s.host_netns, "{s:?}");
    assert_eq!(s.interface.as_deref(), Some(VETH_A), "{s:?}");
    let notes = unprivileged.notes.join("\n");
    assert!(
        notes.contains("could not read the open files of"),
        "{notes}"
    );
    assert!(
        notes.contains("could not read /proc/<pid>/ns/net of"),
        "{notes}"
    );
}

/// Re-executes this binary as `nobody` to scan; `None` (with a message) when it cannot.
fn scan_as_nobody() -> Option<Report> {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(&exe)
        .args([
            "--exact",
            "scan_helper",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(SCAN_ENV, "1")
        .uid(65534)
        .gid(65534)
        .current_dir("/")
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("Permission denied") && !err.contains("KS-JSON") {
                eprintln!(
                    "netns test: the test binary is not executable by nobody; unprivileged scan not checked"
                );
                return None;
            }
            panic!(
                "unprivileged scan failed: {}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stdout)
            );
        }
        Err(e) => {
            eprintln!("netns test: cannot run as nobody ({e}); unprivileged scan not checked");
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout
        .split_once("KS-JSON-BEGIN\n")
        .and_then(|(_, rest)| rest.split_once("KS-JSON-END"))
        .map(|(json, _)| json)
        .expect("scan helper output");
    Some(parse_report(json).expect("unprivileged report"))
}
