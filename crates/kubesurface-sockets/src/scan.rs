//! Walking a proc filesystem: namespaces, socket tables, owners.
//!
//! Every read may fail because the process exited in between (`ENOENT`, `ESRCH`) or
//! because the reader may not look (`EACCES`, `EPERM`). Neither is fatal: an exited
//! process is skipped (another process of the same namespace is tried), a refused read
//! becomes a note. Only a `DIR` that cannot be listed, or lists no process, is an error.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cgroup::{CgroupOwner, parse_cgroup_file};
use crate::iface::{Interfaces, parse_if_inet6, parse_route};
use crate::report::{Owner, Protocol, Report, Scope, Socket};
use crate::tables::{TCP_LISTEN, UDP_UNCONNECTED, parse_table};

/// How many PIDs a note lists before "and N more".
const NOTE_PIDS: usize = 10;

/// Why a read failed.
enum Fail {
    /// The process is gone.
    Gone,
    /// Permission denied.
    Denied,
    /// The process is there but the file is not (no IPv6, a zombie, a partial fixture).
    Missing,
    /// Anything else.
    Other(String),
}

struct Proc {
    root: PathBuf,
}

impl Proc {
    fn path(&self, pid: u32, rel: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(rel)
    }

    fn classify(&self, pid: u32, e: &io::Error) -> Fail {
        match e.kind() {
            io::ErrorKind::PermissionDenied => Fail::Denied,
            io::ErrorKind::NotFound => {
                if self.root.join(pid.to_string()).symlink_metadata().is_ok() {
                    Fail::Missing
                } else {
                    Fail::Gone
                }
            }
            _ if e.raw_os_error() == Some(3) => Fail::Gone, // ESRCH
            _ => Fail::Other(e.to_string()),
        }
    }

    fn pids(&self) -> Result<Vec<u32>, String> {
        let dir = fs::read_dir(&self.root)
            .map_err(|e| format!("{}: cannot list: {e}", self.root.display()))?;
        let mut pids: Vec<u32> = dir
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        if pids.is_empty() {
            return Err(format!(
                "{}: no process directories (is it a proc filesystem?)",
                self.root.display()
            ));
        }
        Ok(pids)
    }

    fn comm(&self, pid: u32) -> Option<String> {
        let s = fs::read_to_string(self.path(pid, "comm")).ok()?;
        let s = s.trim_end_matches('\n');
        (!s.is_empty()).then(|| s.to_string())
    }

    /// The `net:[N]` link, parsed.
    fn netns(&self, pid: u32) -> Result<u64, Fail> {
        let target = fs::read_link(self.path(pid, "ns/net")).map_err(|e| self.classify(pid, &e))?;
        let target = target.to_string_lossy();
        target
            .strip_prefix("net:[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Fail::Other(format!("unexpected ns/net link {target:?}")))
    }

    /// The inode of `/proc/<pid>/net/tcp`: the kernel registers a separate proc entry per
    /// network namespace, so equal inodes mean the same namespace. Needs no privilege.
    fn fingerprint(&self, pid: u32) -> Result<u64, Fail> {
        fs::metadata(self.path(pid, "net/tcp"))
            .map(|m| m.ino())
            .map_err(|e| self.classify(pid, &e))
    }

    fn read(&self, pid: u32, rel: &str) -> Result<Option<String>, Fail> {
        match fs::read_to_string(self.path(pid, rel)) {
            Ok(s) => Ok(Some(s)),
            Err(e) => match self.classify(pid, &e) {
                Fail::Missing => Ok(None),
                f => Err(f),
            },
        }
    }
}

/// A network namespace and the processes in it.
struct Group {
    /// `net:[N]` or `pid:<lowest pid>`.
    label: String,
    pids: Vec<u32>,
}

/// What one namespace's tables say.
#[derive(Default)]
struct Tables {
    listeners: Vec<(Protocol, IpAddr, u16, u64)>,
    interfaces: Interfaces,
    bad_lines: usize,
}

fn read_tables(p: &Proc, pid: u32) -> Result<Tables, Fail> {
    let mut t = Tables::default();
    for (file, proto, state) in [
        ("net/tcp", Protocol::Tcp, TCP_LISTEN),
        ("net/tcp6", Protocol::Tcp, TCP_LISTEN),
        ("net/udp", Protocol::Udp, UDP_UNCONNECTED),
        ("net/udp6", Protocol::Udp, UDP_UNCONNECTED),
    ] {
        let Some(text) = p.read(pid, file)? else {
            continue;
        };
        let (rows, bad) = parse_table(&text);
        t.bad_lines += bad;
        t.listeners.extend(
            rows.into_iter()
                .filter(|r| r.state == state && r.port != 0)
                .map(|r| (proto, r.address, r.port, r.inode)),
        );
    }
    // Interfaces are a refinement: a failure here loses interface names, not sockets.
    if let Ok(Some(text)) = p.read(pid, "net/route") {
        t.interfaces.routes = parse_route(&text);
    }
    if let Ok(Some(text)) = p.read(pid, "net/if_inet6") {
        t.interfaces.inet6 = parse_if_inet6(&text);
    }
    Ok(t)
}

/// Notes under construction.
struct Notes<'a> {
    p: &'a Proc,
    out: Vec<String>,
}

impl Notes<'_> {
    fn pid_list(&self, pids: &[u32]) -> String {
        let mut parts: Vec<String> = pids
            .iter()
            .take(NOTE_PIDS)
            .map(|&pid| match self.p.comm(pid) {
                Some(c) => format!("{pid} ({c})"),
                None => pid.to_string(),
            })
            .collect();
        if pids.len() > NOTE_PIDS {
            parts.push(format!("and {} more", pids.len() - NOTE_PIDS));
        }
        parts.join(", ")
    }
}

/// Scans the proc filesystem at `proc_root` (normally `/proc`; a node's `/proc` mounted
/// elsewhere; or a fixture tree) and reports every listening TCP socket and bound UDP
/// socket of every network namespace that has a process.
pub fn scan(proc_root: &Path, node: &str) -> Result<Report, String> {
    let p = Proc {
        root: proc_root.to_path_buf(),
    };
    let pids = p.pids()?;
    let mut notes = Notes {
        p: &p,
        out: Vec::new(),
    };
    let mut gone: BTreeSet<u32> = BTreeSet::new();

    // 1. Namespaces, deduplicated by inode.
    let mut by_inode: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    let mut ns_denied = Vec::new();
    let mut ns_missing = Vec::new();
    for &pid in &pids {
        match p.netns(pid) {
            Ok(n) => by_inode.entry(n).or_default().push(pid),
            Err(Fail::Gone) => {
                gone.insert(pid);
            }
            Err(Fail::Denied) => ns_denied.push(pid),
            Err(Fail::Missing | Fail::Other(_)) => ns_missing.push(pid),
        }
    }
    let mut groups: Vec<Group> = by_inode
        .into_iter()
        .map(|(n, pids)| Group {
            label: format!("net:[{n}]"),
            pids,
        })
        .collect();

    // 2. Processes whose link could not be read: placed by the fingerprint of their
    //    /proc/<pid>/net entries.
    if !ns_denied.is_empty() || !ns_missing.is_empty() {
        let mut by_fingerprint: HashMap<u64, usize> = HashMap::new();
        for (i, g) in groups.iter().enumerate() {
            if let Some(fp) = g.pids.iter().find_map(|&pid| p.fingerprint(pid).ok()) {
                by_fingerprint.insert(fp, i);
            }
        }
        let mut unknown: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        let mut unseen = Vec::new();
        let mut rest: Vec<u32> = ns_denied.iter().chain(&ns_missing).copied().collect();
        rest.sort_unstable();
        for pid in rest {
            match p.fingerprint(pid) {
                Ok(fp) => match by_fingerprint.get(&fp) {
                    Some(&i) => groups[i].pids.push(pid),
                    None => unknown.entry(fp).or_default().push(pid),
                },
                Err(Fail::Gone) => {
                    gone.insert(pid);
                }
                Err(Fail::Missing) => {} // a zombie or a kernel without that file: no sockets
                Err(Fail::Denied | Fail::Other(_)) => unseen.push(pid),
            }
        }
        let mut unknown: Vec<Vec<u32>> = unknown.into_values().collect();
        unknown.sort();
        for pids in unknown {
            notes.out.push(format!(
                "network namespace pid:{} (processes {}): its ns/net link could not be read, so it is named by its lowest process",
                pids[0],
                notes.pid_list(&pids)
            ));
            groups.push(Group {
                label: format!("pid:{}", pids[0]),
                pids,
            });
        }
        for g in &mut groups {
            g.pids.sort_unstable();
        }
        if !ns_denied.is_empty() {
            notes.out.push(format!(
                "could not read /proc/<pid>/ns/net of {} (permission denied: it needs CAP_SYS_PTRACE, and no security module refusing it), placed by their /proc/<pid>/net instead: {}",
                processes(ns_denied.len()),
                notes.pid_list(&ns_denied)
            ));
        }
        if !unseen.is_empty() {
            notes.out.push(format!(
                "could not see the network of {} at all: {}",
                processes(unseen.len()),
                notes.pid_list(&unseen)
            ));
        }
    }

    // 3. The host namespace is PID 1's.
    let host = groups.iter().position(|g| g.pids.binary_search(&1).is_ok());
    if host.is_none() {
        notes.out.push(format!(
            "the host network namespace is unknown: PID 1 is not readable under {} (run with the host's PID namespace)",
            proc_root.display()
        ));
    }

    // 4. Socket tables, read once per namespace (through its first process that answers).
    let mut tables: Vec<Tables> = Vec::with_capacity(groups.len());
    for g in &groups {
        let mut got = None;
        let mut why = Vec::new();
        for &pid in &g.pids {
            match read_tables(&p, pid) {
                Ok(t) => {
                    got = Some(t);
                    break;
                }
                Err(Fail::Gone) => {
                    gone.insert(pid);
                }
                Err(Fail::Denied) => why.push("permission denied".to_string()),
                Err(Fail::Missing) => {}
                Err(Fail::Other(e)) => why.push(e),
            }
        }
        let t = got.unwrap_or_else(|| {
            why.sort();
            why.dedup();
            notes.out.push(format!(
                "network namespace {}: could not read its socket tables{}",
                g.label,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join("; "))
                }
            ));
            Tables::default()
        });
        if t.bad_lines > 0 {
            notes.out.push(format!(
                "network namespace {}: {} socket table lines did not parse",
                g.label, t.bad_lines
            ));
        }
        tables.push(t);
    }

    // 5. Owners: socket inode → processes, through /proc/<pid>/fd.
    let wanted: BTreeSet<u64> = tables
        .iter()
        .flat_map(|t| t.listeners.iter().map(|l| l.3))
        .filter(|&i| i != 0)
        .collect();
    let mut holders: HashMap<u64, BTreeSet<u32>> = HashMap::new();
    let mut fd_denied = Vec::new();
    if !wanted.is_empty() {
        let alive: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|pid| !gone.contains(pid))
            .collect();
        for pid in alive {
            let dir = match fs::read_dir(p.path(pid, "fd")) {
                Ok(d) => d,
                Err(e) => {
                    match p.classify(pid, &e) {
                        Fail::Gone => {
                            gone.insert(pid);
                        }
                        Fail::Missing => {}
                        Fail::Denied | Fail::Other(_) => fd_denied.push(pid),
                    }
                    continue;
                }
            };
            let mut denied = false;
            for entry in dir.flatten() {
                match fs::read_link(entry.path()) {
                    Ok(target) => match socket_inode(&target.to_string_lossy()) {
                        Some(inode) if wanted.contains(&inode) => {
                            holders.entry(inode).or_default().insert(pid);
                        }
                        _ => {}
                    },
                    Err(e) if e.kind() == io::ErrorKind::PermissionDenied => denied = true,
                    Err(_) => {} // closed in between
                }
            }
            if denied {
                fd_denied.push(pid);
            }
        }
    }
    if !fd_denied.is_empty() {
        notes.out.push(format!(
            "could not read the open files of {} (permission denied: /proc/<pid>/fd needs CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH for other users' processes, and no security module refusing it), so their sockets have no owner: {}",
            processes(fd_denied.len()),
            notes.pid_list(&fd_denied)
        ));
    }

    // 6. Who the holders are.
    let mut info: HashMap<u32, (Option<String>, CgroupOwner)> = HashMap::new();
    for &pid in holders.values().flatten() {
        info.entry(pid).or_insert_with(|| {
            let cgroup = fs::read_to_string(p.path(pid, "cgroup"))
                .map(|t| parse_cgroup_file(&t))
                .unwrap_or_default();
            (p.comm(pid), cgroup)
        });
    }

    // 7. One entry per namespace, protocol, address and port.
    let mut merged: BTreeMap<(usize, Protocol, IpAddr, u16), Vec<u64>> = BTreeMap::new();
    for (i, t) in tables.iter().enumerate() {
        for &(proto, addr, port, inode) in &t.listeners {
            merged
                .entry((i, proto, addr, port))
                .or_default()
                .push(inode);
        }
    }
    let mut sockets = Vec::with_capacity(merged.len());
    let mut unowned = 0;
    for ((i, protocol, address, port), inodes) in merged {
        let pids: Vec<u32> = inodes
            .iter()
            .filter_map(|i| holders.get(i))
            .flatten()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut commands: Vec<String> = pids
            .iter()
            .filter_map(|pid| info.get(pid).and_then(|(c, _)| c.clone()))
            .collect();
        commands.sort();
        commands.dedup();
        // The owner that says the most, lowest PID first.
        let cgroup = pids
            .iter()
            .filter_map(|pid| info.get(pid).map(|(_, o)| o))
            .max_by_key(|o| (o.pod_uid.is_some(), o.container_id.is_some()))
            .cloned()
            .unwrap_or_default();
        let owner = if !pids.is_empty() {
            if cgroup.pod_uid.is_some() {
                Owner::Pod
            } else if cgroup.container_id.is_some() {
                Owner::Container
            } else {
                Owner::Host
            }
        } else if inodes.contains(&0) {
            Owner::Kernel
        } else {
            unowned += 1;
            Owner::Unknown
        };
        let scope = Scope::of(address);
        let interface = match scope {
            Scope::Wildcard => None,
            _ => tables[i].interfaces.lookup(address),
        };
        sockets.push(Socket {
            netns: groups[i].label.clone(),
            host_netns: Some(i) == host,
            protocol,
            address,
            port,
            scope,
            pids,
            commands,
            container_id: cgroup.container_id,
            pod_uid: cgroup.pod_uid,
            interface,
            owner,
        });
    }
    if unowned > 0 {
        notes.out.push(format!(
            "{}: no process holding {} could be seen (owner \"unknown\")",
            if unowned == 1 {
                "1 socket".to_string()
            } else {
                format!("{unowned} sockets")
            },
            if unowned == 1 { "it" } else { "them" }
        ));
    }
    if !gone.is_empty() {
        notes
            .out
            .push(format!("{} exited during the scan", processes(gone.len())));
    }
    let notes = notes.out;
    Ok(Report::new(node.to_string(), sockets, notes))
}

fn processes(n: usize) -> String {
    if n == 1 {
        "1 process".to_string()
    } else {
        format!("{n} processes")
    }
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// This machine's host name (`/proc/sys/kernel/hostname` of the caller's UTS namespace,
/// else `/etc/hostname`).
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|f| fs::read_to_string(f).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("pipe:[12345]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
    }
}
