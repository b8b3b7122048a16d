//! Parsers of the kernel's socket tables: `/proc/<pid>/net/{tcp,tcp6,udp,udp6}`.
//!
//! The format (`net/ipv4/tcp_ipv4.c`, `net/ipv6/tcp_ipv6.c`, `net/ipv4/udp.c`):
//!
//! ```text
//!   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//!    0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 …
//! ```
//!
//! Addresses are the raw network-order words printed with `%08X` as native-endian `u32`s
//! (so `0100007F` is 127.0.0.1 on a little-endian machine); the port is in host order.
//! Lines that do not parse are counted, never fatal: one odd line must not hide a table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TCP `LISTEN` (`TCP_LISTEN` = 10).
pub const TCP_LISTEN: u8 = 0x0A;
/// An unconnected UDP socket is in `TCP_CLOSE` (7); a connected one (a client) in 1.
pub const UDP_UNCONNECTED: u8 = 0x07;

/// One row of a socket table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Local address.
    pub address: IpAddr,
    /// Local port.
    pub port: u16,
    /// `st`, the kernel's socket state.
    pub state: u8,
    /// The socket's inode; 0 for sockets the kernel itself owns (VXLAN, WireGuard, nfsd…).
    pub inode: u64,
}

/// Parses a whole table; returns the rows and the number of lines that did not parse.
pub fn parse_table(text: &str) -> (Vec<Entry>, usize) {
    let mut rows = Vec::new();
    let mut bad = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("sl") {
            continue;
        }
        match parse_line(line) {
            Some(e) => rows.push(e),
            None => bad += 1,
        }
    }
    (rows, bad)
}

fn parse_line(line: &str) -> Option<Entry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 || !f[0].ends_with(':') {
        return None;
    }
    let (address, port) = parse_address_port(f[1])?;
    let state = u8::from_str_radix(f[3], 16).ok()?;
    let inode = f[9].parse().ok()?;
    Some(Entry {
        address,
        port,
        state,
        inode,
    })
}

/// `0100007F:1F90` or the 32-digit IPv6 form.
pub fn parse_address_port(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some((parse_hex_address(addr)?, port))
}

/// A raw address as `/proc/net/{tcp,udp,route}` print it: 8 or 32 hex digits, each group of
/// 8 a native-endian `u32` holding network-order bytes.
pub fn parse_hex_address(s: &str) -> Option<IpAddr> {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match s.len() {
        8 => {
            let w = u32::from_str_radix(s, 16).ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes())))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(&s[i * 8..i * 8 + 8], 16).ok()?;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    #[test]
    fn tcp_rows() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
   1: 0B0A0A0A:17C0 0C0A0A0A:D431 01 00000000:00000000 02:000A7D8F 00000000  1000        0 12399 2 0000000000000000 20 4 30 10 -1\n\
   garbage\n";
        let (rows, bad) = parse_table(text);
        assert_eq!(bad, 1);
        assert_eq!(
            rows[0],
            Entry {
                address: "127.0.0.1".parse().unwrap(),
                port: 8080,
                state: TCP_LISTEN,
                inode: 12345
            }
        );
        assert_eq!(rows[1].address, "10.10.10.11".parse::<IpAddr>().unwrap());
        assert_eq!(rows[1].port, 6080);
        assert_eq!(rows[1].state, 1);
    }

    #[test]
    fn ipv6_rows() {
        let text = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0\n\
   1: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0\n\
   2: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2003 1 0000000000000000 100 0 0 10 0\n\
   3: 6B0000FD000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2004 1 0000000000000000 100 0 0 10 0\n";
        let (rows, bad) = parse_table(text);
        assert_eq!(bad, 0);
        let addrs: Vec<String> = rows.iter().map(|r| r.address.to_string()).collect();
        assert_eq!(addrs, ["::", "::1", "::ffff:127.0.0.1", "fd00:6b::1"]);
        assert_eq!(rows[3].port, 443);
    }
}
