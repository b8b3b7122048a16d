//! Helpers shared by the engine's reference tests (`naive_reference.rs`,
//! `tiered_reference.rs`): the engine's pod-level matrix, `ext:` names as intervals, and a
//! few small generators.

#![allow(dead_code)] // each test crate uses its own subset

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use kubesurface_engine::connectivity::{Granularity, for_each_connection};
use kubesurface_engine::{Engine, PortSet, Settings};
use kubesurface_model::{Cluster, ContainerPort, Protocol};
use proptest::prelude::*;
use proptest::sample::select;

/// Every pod-granularity connection the engine reports, by (source, destination) name.
pub fn engine_matrix(cluster: &Cluster, settings: Settings) -> HashMap<(String, String), PortSet> {
    let engine = Engine::new(cluster, settings);
    let mut out = HashMap::new();
    for_each_connection(&engine, Granularity::Pod, |s, d, allowed| {
        let prev = out.insert((s.to_string(), d.to_string()), allowed.clone());
        assert!(prev.is_none(), "pair {s} -> {d} emitted twice");
    });
    out
}

/// Parses `ext:CIDR` or `ext:A-B` into an inclusive interval (as u128 plus a v6 flag).
pub fn parse_ext(name: &str) -> Option<(bool, u128, u128)> {
    let rest = name.strip_prefix("ext:")?;
    if let Ok(net) = rest.parse::<IpNet>() {
        let (lo, hi) = (net.network(), net.broadcast());
        return Some((lo.is_ipv6(), ip_key(lo), ip_key(hi)));
    }
    let (a, b) = rest.split_once('-')?;
    let a: IpAddr = a.parse().ok()?;
    let b: IpAddr = b.parse().ok()?;
    assert_eq!(a.is_ipv6(), b.is_ipv6(), "mixed-family range {name}");
    Some((a.is_ipv6(), ip_key(a), ip_key(b)))
}

pub fn ip_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

pub fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        3 => Just(Protocol::Tcp),
        2 => Just(Protocol::Udp),
        1 => Just(Protocol::Sctp),
    ]
}

pub fn pod_ip(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, i / 8, i % 8))
}

pub fn pod_ip6(i: u8) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i as u16))
}

/// A container port: a name from `names` (80% of the time), a number from `numbers`.
pub fn container_port_from(
    names: &'static [&'static str],
    numbers: &'static [u16],
) -> impl Strategy<Value = ContainerPort> {
    (
        prop::option::weighted(0.8, select(names.to_vec())),
        select(numbers.to_vec()),
        protocol(),
    )
        .prop_map(|(name, port, protocol)| ContainerPort {
            name: name.map(str::to_string),
            port,
            protocol,
            host_port: None,
            host_ip: None,
        })
}
