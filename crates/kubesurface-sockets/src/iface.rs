//! Which interface of a network namespace an address belongs to, from that namespace's
//! `/proc/<pid>/net/if_inet6` (IPv6) and `/proc/<pid>/net/route` (IPv4).
//!
//! IPv6 is exact: `if_inet6` lists every address with its interface. IPv4 has no such
//! file (the kernel shows IPv4 addresses only through netlink or ioctls, which act on the
//! *caller's* namespace and would need `setns`, i.e. CAP_SYS_ADMIN). `fib_trie` lists the
//! local addresses but not their devices. So for IPv4 the interface is the one of the
//! most specific directly connected route (no gateway) in the namespace's main table that
//! contains the address — the prefix route the kernel adds with every address. When no
//! connected route contains it (a /32 pod address as Calico assigns, routed through a
//! link-local gateway) and every non-loopback route of the namespace leaves through one
//! interface, that interface is the answer (a pod's `eth0`). Otherwise it is unknown.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::tables::parse_hex_address;

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// One row of `/proc/<pid>/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub iface: String,
    pub destination: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub flags: u32,
    pub mask: Ipv4Addr,
}

/// One row of `/proc/<pid>/net/if_inet6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inet6 {
    pub address: Ipv6Addr,
    pub prefix_len: u8,
    pub iface: String,
}

/// Parses `/proc/<pid>/net/route`:
/// `Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT`.
pub fn parse_route(text: &str) -> Vec<Route> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || f[0] == "Iface" {
                return None;
            }
            let v4 = |s: &str| match parse_hex_address(s) {
                Some(IpAddr::V4(a)) => Some(a),
                _ => None,
            };
            Some(Route {
                iface: f[0].to_string(),
                destination: v4(f[1])?,
                gateway: v4(f[2])?,
                flags: u32::from_str_radix(f[3], 16).ok()?,
                mask: v4(f[7])?,
            })
        })
        .collect()
}

/// Parses `/proc/<pid>/net/if_inet6`:
/// `fe800000000000000000000000000001 02 40 20 80 eth0` (address in network order, ifindex,
/// prefix length, scope, flags, device; numbers in hex).
pub fn parse_if_inet6(text: &str) -> Vec<Inet6> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 || f[0].len() != 32 {
                return None;
            }
            let mut bytes = [0u8; 16];
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = u8::from_str_radix(f[0].get(i * 2..i * 2 + 2)?, 16).ok()?;
            }
            Some(Inet6 {
                address: Ipv6Addr::from(bytes),
                prefix_len: u8::from_str_radix(f[2], 16).ok()?,
                iface: f[5].to_string(),
            })
        })
        .collect()
}

/// The interfaces and routes of one network namespace.
#[derive(Debug, Clone, Default)]
pub struct Interfaces {
    pub routes: Vec<Route>,
    pub inet6: Vec<Inet6>,
}

impl Interfaces {
    /// The interface `address` belongs to, when it can be told (see the module docs).
    pub fn lookup(&self, address: IpAddr) -> Option<String> {
        match address {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.lookup_v4(v4),
                None => self.lookup_v6(a),
            },
        }
    }

    fn lookup_v4(&self, a: Ipv4Addr) -> Option<String> {
        if a.is_loopback() {
            return Some("lo".to_string());
        }
        let addr = u32::from(a);
        let connected = self
            .routes
            .iter()
            .filter(|r| r.flags & RTF_UP != 0 && r.flags & RTF_GATEWAY == 0)
            .filter(|r| r.gateway.is_unspecified())
            .filter(|r| addr & u32::from(r.mask) == u32::from(r.destination) & u32::from(r.mask))
            // The most specific prefix; among equals, the first name (deterministic).
            .max_by(|x, y| {
                u32::from(x.mask)
                    .count_ones()
                    .cmp(&u32::from(y.mask).count_ones())
                    .then_with(|| y.iface.cmp(&x.iface))
            });
        if let Some(r) = connected {
            return Some(r.iface.clone());
        }
        single(self.routes.iter().map(|r| r.iface.as_str()))
    }

    fn lookup_v6(&self, a: Ipv6Addr) -> Option<String> {
        if a.is_loopback() {
            return Some("lo".to_string());
        }
        let mut exact: Vec<&str> = self
            .inet6
            .iter()
            .filter(|i| i.address == a)
            .map(|i| i.iface.as_str())
            .collect();
        exact.sort_unstable();
        if let Some(first) = exact.first() {
            return Some(first.to_string());
        }
        // Not an address of the namespace (a non-local bind): the interface whose prefix
        // contains it, if any.
        let bits = u128::from(a);
        self.inet6
            .iter()
            .filter(|i| i.iface != "lo" && i.prefix_len > 0 && i.prefix_len <= 128)
            .filter(|i| {
                let shift = 128 - u32::from(i.prefix_len);
                bits.checked_shr(shift) == u128::from(i.address).checked_shr(shift)
            })
            .max_by(|x, y| {
                x.prefix_len
                    .cmp(&y.prefix_len)
                    .then_with(|| y.iface.cmp(&x.iface))
            })
            .map(|i| i.iface.clone())
    }
}

/// The one non-loopback interface among `names`, if there is exactly one.
fn single<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut found: Option<&str> = None;
    for n in names.filter(|n| *n != "lo") {
        match found {
            None => found = Some(n),
            Some(f) if f == n => {}
            Some(_) => return None,
        }
    }
    found.map(str::to_string)
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010A0A0A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
eth0\t000A0A0A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
br-mgmt\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
br-mgmt\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    #[test]
    fn v4_connected_route() {
        let i = Interfaces {
            routes: parse_route(ROUTE),
            inet6: vec![],
        };
        assert_eq!(i.routes.len(), 4);
        assert_eq!(
            i.lookup("10.10.10.11".parse().unwrap()).as_deref(),
            Some("eth0")
        );
        assert_eq!(
            i.lookup("192.168.1.5".parse().unwrap()).as_deref(),
            Some("br-mgmt")
        );
        assert_eq!(
            i.lookup("127.0.0.53".parse().unwrap()).as_deref(),
            Some("lo")
        );
        assert_eq!(
            i.lookup("::ffff:10.10.10.11".parse().unwrap()).as_deref(),
            Some("eth0")
        );
        // Only reachable through the default route, and two interfaces: unknown.
        assert_eq!(i.lookup("172.16.0.1".parse().unwrap()), None);
    }

    #[test]
    fn v4_pod_with_slash_32() {
        // Calico: 10.244.1.7/32 on eth0, routes only via 169.254.1.1.
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0101FEA9\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0101FEA9\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n";
        let i = Interfaces {
            routes: parse_route(text),
            inet6: vec![],
        };
        assert_eq!(
            i.lookup("10.244.1.7".parse().unwrap()).as_deref(),
            Some("eth0")
        );
    }

    #[test]
    fn v6_exact_and_prefix() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
fd006b73000000000000000000000001 05 40 00 80 veth-a\n\
fe80000000000000d8c1fffffe2b3c4d 05 40 20 80 veth-a\n";
        let i = Interfaces {
            routes: vec![],
            inet6: parse_if_inet6(text),
        };
        assert_eq!(i.inet6.len(), 3);
        assert_eq!(
            i.lookup("fd00:6b73::1".parse().unwrap()).as_deref(),
            Some("veth-a")
        );
        assert_eq!(
            i.lookup("fd00:6b73::99".parse().unwrap()).as_deref(),
            Some("veth-a")
        );
        assert_eq!(i.lookup("::1".parse().unwrap()).as_deref(), Some("lo"));
        assert_eq!(i.lookup("2001:db8::1".parse().unwrap()), None);
    }
}
