//! The whole scan on a fake proc tree (`tests/fixtures/proc/`, written by
//! `tests/fixtures/make-proc.py`): a control-plane node of the OpenStack example.
//! The expected report is `tests/fixtures/expected.json`; `UPDATE_EXPECT=1` rewrites it.
//!
//! The tables hold addresses as a little-endian kernel prints them.
#![cfg(target_endian = "little")]

use std::path::{Path, PathBuf};

use kubesurface_sockets::{Owner, Protocol, Report, Scope, Socket, parse_report, scan};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn report() -> Report {
    scan(&fixtures().join("proc"), "ctl-1").expect("scan")
}

fn find<'a>(r: &'a Report, netns: &str, proto: Protocol, addr: &str, port: u16) -> &'a Socket {
    let address: std::net::IpAddr = addr.parse().unwrap();
    r.sockets
        .iter()
        .find(|s| s.netns == netns && s.protocol == proto && s.address == address && s.port == port)
        .unwrap_or_else(|| panic!("no {proto} {addr}:{port} in {netns}:\n{}", r.to_json()))
}

const HOST: &str = "net:[4026531840]";

#[test]
fn golden_report() {
    let json = report().to_json();
    let path = fixtures().join("expected.json");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &json).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(json, expected, "run with UPDATE_EXPECT=1 to accept");
}

#[test]
fn deterministic_and_round_trips() {
    let a = report();
    assert_eq!(a, report());
    assert_eq!(parse_report(&a.to_json()).unwrap(), a);
}

#[test]
fn host_pod_with_wildcard_bind() {
    let r = report();
    let s = find(&r, HOST, Protocol::Tcp, "0.0.0.0", 6080);
    assert!(s.host_netns);
    assert_eq!(s.scope, Scope::Wildcard);
    assert_eq!(s.pids, [1500, 1501]);
    assert_eq!(s.commands, ["nova-novncproxy"]);
    assert_eq!(s.owner, Owner::Pod);
    assert_eq!(
        s.pod_uid.as_deref(),
        Some("7a1c4e2f-3b5d-4f60-8e91-2c4d6f8a0b13")
    );
    assert_eq!(s.container_id.as_deref(), Some("a1".repeat(32).as_str()));
    assert_eq!(s.interface, None);
}

#[test]
fn scopes_and_interfaces() {
    let r = report();
    let etcd = find(&r, HOST, Protocol::Tcp, "10.10.0.11", 2379);
    assert_eq!(
        (etcd.scope, etcd.interface.as_deref()),
        (Scope::Specific, Some("eth0"))
    );
    assert_eq!(
        etcd.pod_uid.as_deref(),
        Some("d4a5e8f8f0f4e3b9b8c0a2d1e6f7a8b9")
    ); // static pod
    let etcd_lo = find(&r, HOST, Protocol::Tcp, "127.0.0.1", 2379);
    assert_eq!(
        (etcd_lo.scope, etcd_lo.interface.as_deref()),
        (Scope::Loopback, Some("lo"))
    );
    let kubelet6 = find(&r, HOST, Protocol::Tcp, "fd00:10::11", 8443);
    assert_eq!(
        (kubelet6.scope, kubelet6.interface.as_deref()),
        (Scope::Specific, Some("eth0"))
    );
    assert_eq!(kubelet6.owner, Owner::Host);
    let chrony6 = find(&r, HOST, Protocol::Udp, "::1", 323);
    assert_eq!(
        (chrony6.scope, chrony6.commands.as_slice()),
        (Scope::Loopback, &["chronyd".to_string()][..])
    );
    // A /32 pod address routed through a link-local gateway: the namespace's one interface.
    let coredns = find(&r, "net:[4026532400]", Protocol::Tcp, "10.244.1.7", 8080);
    assert_eq!(
        (coredns.scope, coredns.interface.as_deref()),
        (Scope::Specific, Some("eth0"))
    );
}

#[test]
fn owners() {
    let r = report();
    let sshd = find(&r, HOST, Protocol::Tcp, "0.0.0.0", 22);
    assert_eq!(
        (
            sshd.owner,
            sshd.container_id.as_deref(),
            sshd.pod_uid.as_deref()
        ),
        (Owner::Host, None, None)
    );
    assert_eq!(sshd.commands, ["sshd"]);
    let vxlan = find(&r, HOST, Protocol::Udp, "0.0.0.0", 4789);
    assert_eq!((vxlan.owner, vxlan.pids.len()), (Owner::Kernel, 0));
    let nobody = find(&r, HOST, Protocol::Tcp, "0.0.0.0", 9100);
    assert_eq!(nobody.owner, Owner::Unknown);
    let mysql = find(&r, "net:[4026532300]", Protocol::Tcp, "0.0.0.0", 3306);
    assert!(!mysql.host_netns);
    assert_eq!(mysql.commands, ["mysqld"]);
    assert_eq!(
        mysql.pod_uid.as_deref(),
        Some("0f5b3c2a-9d8e-4c1b-a7f6-3e2d1c0b9a88")
    );
    assert_eq!(
        mysql.container_id.as_deref(),
        Some("c4".repeat(32).as_str())
    );
    let docker = find(&r, "pid:2500", Protocol::Tcp, "0.0.0.0", 8000);
    assert_eq!(
        (docker.owner, docker.pod_uid.as_deref()),
        (Owner::Container, None)
    );
}

#[test]
fn only_listeners_and_unconnected_udp() {
    let r = report();
    let port = |p: u16| r.sockets.iter().any(|s| s.port == p);
    // An established TCP connection (port 22 from 10.10.0.11) and a connected UDP client
    // socket (41000) are not listeners.
    assert!(!port(41000));
    assert_eq!(r.sockets.iter().filter(|s| s.port == 22).count(), 2); // 0.0.0.0 and ::
}

#[test]
fn namespaces_deduplicated_and_unreadable_links_placed() {
    let r = report();
    let mut namespaces: Vec<&str> = r.sockets.iter().map(|s| s.netns.as_str()).collect();
    namespaces.dedup();
    assert_eq!(
        namespaces,
        [HOST, "net:[4026532300]", "net:[4026532400]", "pid:2500"]
    );
    assert!(r.sockets.iter().all(|s| s.host_netns == (s.netns == HOST)));
    // PID 2400 has no ns/net link, but its net/ is coredns's: same namespace.
    let metrics = find(&r, "net:[4026532400]", Protocol::Tcp, "fd00:244::7", 9153);
    assert_eq!(metrics.commands, ["coredns-metrics"]);
    assert_eq!(metrics.interface.as_deref(), Some("eth0"));
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("network namespace pid:2500")),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("1 socket table lines did not parse")),
        "{:?}",
        r.notes
    );
}

#[test]
fn not_a_proc_tree() {
    let err = scan(&fixtures().join("proc/1/net"), "x").unwrap_err();
    assert!(err.contains("no process directories"), "{err}");
    let err = scan(&fixtures().join("does-not-exist"), "x").unwrap_err();
    assert!(err.contains("cannot list"), "{err}");
}
