//! The `kubesurface.sockets/v1` report: types, JSON writer and reader.

use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The schema identifier of the sockets JSON.
pub const SCHEMA: &str = "kubesurface.sockets/v1";

/// A node's listening sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The node the report was taken on.
    pub node: String,
    /// Sorted: host namespace first, then by namespace, protocol, port, address.
    pub sockets: Vec<Socket>,
    /// What could not be seen, in words (sorted, deterministic for the same machine state).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One listening TCP socket or bound UDP socket: all sockets of one namespace with the
/// same protocol, address and port are one entry (`SO_REUSEPORT` groups, pre-forked workers).
///
/// Field order is the JSON contract's; `interface` and `owner` are extensions after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Socket {
    /// `net:[<inode>]`, as `/proc/<pid>/ns/net` reads; `pid:<PID>` when no process's
    /// namespace link could be read (the namespace is then named by its lowest process).
    pub netns: String,
    /// Whether this is the host's network namespace (PID 1's).
    pub host_netns: bool,
    /// `TCP` or `UDP`.
    pub protocol: Protocol,
    /// The bound address (`0.0.0.0`, `::`, `127.0.0.1`, `10.0.0.5`, `::ffff:10.0.0.5`).
    pub address: IpAddr,
    /// The bound port.
    pub port: u16,
    /// `wildcard`, `loopback` or `specific`.
    pub scope: Scope,
    /// Processes holding the socket open, ascending.
    pub pids: Vec<u32>,
    /// Their command names (`/proc/<pid>/comm`), sorted, without repeats.
    pub commands: Vec<String>,
    /// Container ID of the owning processes, `null` for host processes.
    #[serde(default)]
    pub container_id: Option<String>,
    /// Pod UID of the owning processes, `null` for host processes.
    #[serde(default)]
    pub pod_uid: Option<String>,
    /// The interface the address belongs to in that namespace: `lo` for loopback, `null`
    /// for wildcard binds and when it cannot be told.
    #[serde(default)]
    pub interface: Option<String>,
    /// Who holds the socket.
    #[serde(default)]
    pub owner: Owner,
}

/// Transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a bind can be reached from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `0.0.0.0` or `::`: every interface of the namespace (for the host namespace, every
    /// interface of the node).
    Wildcard,
    /// `127.0.0.0/8`, `::1` (and their IPv4-mapped forms): this namespace only.
    Loopback,
    /// One address; `interface` says where it lives.
    Specific,
}

impl Scope {
    /// The scope of a bind address.
    pub fn of(address: IpAddr) -> Scope {
        match address {
            IpAddr::V4(a) if a.is_unspecified() => Scope::Wildcard,
            IpAddr::V4(a) if a.is_loopback() => Scope::Loopback,
            IpAddr::V4(_) => Scope::Specific,
            IpAddr::V6(a) if a.is_unspecified() => Scope::Wildcard,
            IpAddr::V6(a) if a.is_loopback() => Scope::Loopback,
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Scope::of(IpAddr::V4(v4)),
                None => Scope::Specific,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Wildcard => "wildcard",
            Scope::Loopback => "loopback",
            Scope::Specific => "specific",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who holds a socket.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    /// A process in a Kubernetes pod (`pod_uid` set).
    Pod,
    /// A process in a container that is not a pod's (`container_id` set, `pod_uid` null).
    Container,
    /// A process of the host itself (no container in its cgroups).
    Host,
    /// The kernel (socket inode 0: VXLAN, Geneve, WireGuard, nfsd, …).
    Kernel,
    /// No process holding it could be seen (permissions, or it exited mid-scan).
    #[default]
    Unknown,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Pod => "pod",
            Owner::Container => "container",
            Owner::Host => "host",
            Owner::Kernel => "kernel",
            Owner::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Socket {
    /// The sort key of the report: host namespace first, then namespace (numerically),
    /// protocol, port, address.
    fn sort_key(&self) -> (bool, u8, u64, &str, Protocol, u16, IpAddr) {
        let (kind, n) = netns_order(&self.netns);
        (
            !self.host_netns,
            kind,
            n,
            &self.netns,
            self.protocol,
            self.port,
            self.address,
        )
    }

    /// `address:port`, with brackets for IPv6.
    pub fn endpoint(&self) -> String {
        match self.address {
            IpAddr::V4(a) => format!("{a}:{}", self.port),
            IpAddr::V6(a) => format!("[{a}]:{}", self.port),
        }
    }
}

fn netns_order(netns: &str) -> (u8, u64) {
    if let Some(n) = netns
        .strip_prefix("net:[")
        .and_then(|s| s.strip_suffix(']'))
        .and_then(|s| s.parse().ok())
    {
        return (0, n);
    }
    if let Some(n) = netns.strip_prefix("pid:").and_then(|s| s.parse().ok()) {
        return (1, n);
    }
    (2, 0)
}

impl Report {
    /// A report with the sockets put in contract order.
    pub fn new(node: String, mut sockets: Vec<Socket>, mut notes: Vec<String>) -> Report {
        sockets.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        notes.sort();
        notes.dedup();
        Report {
            schema: SCHEMA.to_string(),
            node,
            sockets,
            notes,
        }
    }

    /// Writes the JSON contract, one socket per line, keys in contract order.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let s = |v: &str| serde_json::Value::String(v.to_string()).to_string();
        write!(
            out,
            "{{\"schema\":{},\"node\":{},\"sockets\":[",
            s(&self.schema),
            s(&self.node)
        )?;
        for (i, socket) in self.sockets.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(b"\n")?;
            serde_json::to_writer(&mut *out, socket).map_err(io::Error::other)?;
        }
        if !self.sockets.is_empty() {
            out.write_all(b"\n")?;
        }
        out.write_all(b"],\"notes\":[")?;
        for (i, note) in self.notes.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write!(out, "\n{}", s(note))?;
        }
        if !self.notes.is_empty() {
            out.write_all(b"\n")?;
        }
        out.write_all(b"]}\n")
    }

    /// The JSON contract as a string.
    pub fn to_json(&self) -> String {
        let mut v = Vec::new();
        self.write_json(&mut v)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(v).expect("serde_json writes UTF-8")
    }
}

/// Reads a `kubesurface.sockets/v1` report back (for joining it with a cluster).
///
/// Unknown fields are ignored (later v1 reports may add some); `container_id`, `pod_uid`,
/// `interface` may be absent or null; `owner` defaults to `unknown`, `notes` to empty. A
/// socket whose `scope` contradicts its address is an error, as is any other schema.
pub fn parse_report(json: &str) -> Result<Report, String> {
    #[derive(Deserialize)]
    struct Head {
        schema: Option<String>,
    }
    let head: Head =
        serde_json::from_str(json).map_err(|e| format!("not a sockets report: {e}"))?;
    match head.schema.as_deref() {
        Some(SCHEMA) => {}
        Some(other) => {
            return Err(format!(
                "unsupported schema {other:?} (this version reads {SCHEMA:?})"
            ));
        }
        None => {
            return Err(format!(
                "not a sockets report: no \"schema\" (expected {SCHEMA:?})"
            ));
        }
    }
    let report: Report =
        serde_json::from_str(json).map_err(|e| format!("invalid sockets report: {e}"))?;
    for (i, s) in report.sockets.iter().enumerate() {
        if Scope::of(s.address) != s.scope {
            return Err(format!(
                "invalid sockets report: sockets[{i}]: scope {} does not match address {}",
                s.scope, s.address
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(netns: &str, host: bool, proto: Protocol, addr: &str, port: u16) -> Socket {
        let address: IpAddr = addr.parse().unwrap();
        Socket {
            netns: netns.into(),
            host_netns: host,
            protocol: proto,
            address,
            port,
            scope: Scope::of(address),
            pids: vec![123],
            commands: vec!["nova-novncproxy".into()],
            container_id: None,
            pod_uid: None,
            interface: None,
            owner: Owner::Host,
        }
    }

    #[test]
    fn scopes() {
        for (a, s) in [
            ("0.0.0.0", Scope::Wildcard),
            ("::", Scope::Wildcard),
            ("127.0.0.1", Scope::Loopback),
            ("127.0.0.53", Scope::Loopback),
            ("::1", Scope::Loopback),
            ("::ffff:127.0.0.1", Scope::Loopback),
            ("::ffff:0.0.0.0", Scope::Wildcard),
            ("10.10.0.11", Scope::Specific),
            ("fe80::1", Scope::Specific),
            ("::ffff:10.0.0.1", Scope::Specific),
        ] {
            assert_eq!(Scope::of(a.parse().unwrap()), s, "{a}");
        }
    }

    #[test]
    fn contract_order_and_round_trip() {
        let r = Report::new(
            "ctl-1".into(),
            vec![
                socket("net:[4026532300]", false, Protocol::Tcp, "0.0.0.0", 3306),
                socket("net:[4026531840]", true, Protocol::Udp, "::", 53),
                socket("net:[4026531840]", true, Protocol::Tcp, "0.0.0.0", 6080),
                socket("pid:77", false, Protocol::Tcp, "0.0.0.0", 1),
            ],
            vec!["b".into(), "a".into(), "a".into()],
        );
        let json = r.to_json();
        let first = json.lines().nth(1).unwrap();
        assert_eq!(
            first,
            "{\"netns\":\"net:[4026531840]\",\"host_netns\":true,\"protocol\":\"TCP\",\"address\":\"0.0.0.0\",\"port\":6080,\"scope\":\"wildcard\",\"pids\":[123],\"commands\":[\"nova-novncproxy\"],\"container_id\":null,\"pod_uid\":null,\"interface\":null,\"owner\":\"host\"},"
        );
        assert!(json.starts_with(
            "{\"schema\":\"kubesurface.sockets/v1\",\"node\":\"ctl-1\",\"sockets\":[\n"
        ));
        assert!(json.ends_with("\"notes\":[\n\"a\",\n\"b\"\n]}\n"));
        let order: Vec<(String, u16)> = r
            .sockets
            .iter()
            .map(|s| (s.netns.clone(), s.port))
            .collect();
        assert_eq!(
            order,
            [
                ("net:[4026531840]".to_string(), 6080),
                ("net:[4026531840]".to_string(), 53),
                ("net:[4026532300]".to_string(), 3306),
                ("pid:77".to_string(), 1)
            ]
        );
        assert_eq!(parse_report(&json).unwrap(), r);
        let empty = Report::new("n".into(), vec![], vec![]);
        assert_eq!(
            empty.to_json(),
            "{\"schema\":\"kubesurface.sockets/v1\",\"node\":\"n\",\"sockets\":[],\"notes\":[]}\n"
        );
        assert_eq!(parse_report(&empty.to_json()).unwrap(), empty);
    }

    #[test]
    fn reads_the_minimal_contract_form() {
        let json = r#"{"schema":"kubesurface.sockets/v1","node":"NAME","sockets":[{"netns":"net:[4026531840]","host_netns":true,
 "protocol":"TCP","address":"0.0.0.0","port":6080,"scope":"wildcard","pids":[123],"commands":["nova-novncproxy"],
 "container_id":"abc","pod_uid":"def","future_field":1}]}"#;
        let r = parse_report(json).unwrap();
        assert_eq!(r.node, "NAME");
        assert_eq!(r.sockets[0].port, 6080);
        assert_eq!(r.sockets[0].container_id.as_deref(), Some("abc"));
        assert_eq!(r.sockets[0].owner, Owner::Unknown);
        assert_eq!(r.sockets[0].interface, None);
        assert!(r.notes.is_empty());
    }

    #[test]
    fn rejects_what_is_not_a_v1_report() {
        assert!(
            parse_report("[]")
                .unwrap_err()
                .contains("not a sockets report")
        );
        assert!(parse_report("{}").unwrap_err().contains("no \"schema\""));
        assert!(
            parse_report(r#"{"schema":"kubesurface.sockets/v2","node":"n","sockets":[]}"#)
                .unwrap_err()
                .contains("unsupported schema")
        );
        assert!(
            parse_report(
                r#"{"schema":"kubesurface.sockets/v1","node":"n","sockets":[{"netns":"x"}]}"#
            )
            .unwrap_err()
            .contains("invalid sockets report")
        );
        let bad_scope = r#"{"schema":"kubesurface.sockets/v1","node":"n","sockets":[{"netns":"net:[1]","host_netns":true,"protocol":"TCP","address":"10.0.0.1","port":1,"scope":"wildcard","pids":[],"commands":[]}]}"#;
        assert!(
            parse_report(bad_scope)
                .unwrap_err()
                .contains("does not match")
        );
        let bad_proto = r#"{"schema":"kubesurface.sockets/v1","node":"n","sockets":[{"netns":"net:[1]","host_netns":true,"protocol":"SCTP","address":"10.0.0.1","port":1,"scope":"specific","pids":[],"commands":[]}]}"#;
        assert!(parse_report(bad_proto).is_err());
    }
}
