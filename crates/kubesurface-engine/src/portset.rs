//! Port sets: per protocol, sorted disjoint inclusive ranges over 1..=65535.

use std::fmt;

use kubesurface_model::Protocol;

/// The highest port.
pub const MAX_PORT: u16 = 65535;

/// Sorted, merged, inclusive port ranges of one protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RangeSet(Vec<(u16, u16)>);

impl RangeSet {
    /// Every port 1..=65535.
    pub fn full() -> Self {
        RangeSet(vec![(1, MAX_PORT)])
    }

    /// The ranges, sorted and merged.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }

    /// True when no port is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when every port is in the set.
    pub fn is_full(&self) -> bool {
        self.0 == [(1, MAX_PORT)]
    }

    /// True when `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < port);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= port)
    }

    /// Adds `lo..=hi` (port 0 is never included).
    pub fn insert(&mut self, lo: u16, hi: u16) {
        let lo = lo.max(1);
        if lo > hi {
            return;
        }
        self.0.push((lo, hi));
        self.normalize();
    }

    fn normalize(&mut self) {
        self.0.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(self.0.len());
        for &(lo, hi) in &self.0 {
            match merged.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        self.0 = merged;
    }

    /// Adds every port of `other`.
    pub fn union_with(&mut self, other: &RangeSet) {
        if other.is_empty() || self.is_full() {
            return;
        }
        if self.is_empty() {
            self.0.clone_from(&other.0);
            return;
        }
        self.0.extend_from_slice(&other.0);
        self.normalize();
    }

    /// The ports in both sets.
    pub fn intersect(&self, other: &RangeSet) -> RangeSet {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.0.len() && j < other.0.len() {
            let (a_lo, a_hi) = self.0[i];
            let (b_lo, b_hi) = other.0[j];
            let lo = a_lo.max(b_lo);
            let hi = a_hi.min(b_hi);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a_hi < b_hi {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet(out)
    }

    /// The ports of `self` not in `other`.
    pub fn difference(&self, other: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(lo, hi) in &self.0 {
            let mut start = u32::from(lo);
            let end = u32::from(hi);
            while j < other.0.len() && u32::from(other.0[j].1) < start {
                j += 1;
            }
            let mut k = j;
            while start <= end {
                match other.0.get(k) {
                    Some(&(b_lo, b_hi)) if u32::from(b_lo) <= end => {
                        if u32::from(b_lo) > start {
                            out.push((start as u16, b_lo - 1));
                        }
                        start = start.max(u32::from(b_hi) + 1);
                        k += 1;
                    }
                    _ => {
                        out.push((start as u16, end as u16));
                        break;
                    }
                }
            }
        }
        RangeSet(out)
    }
}

/// Allowed ports for TCP, UDP and SCTP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSet([RangeSet; 3]);

impl PortSet {
    /// Nothing allowed.
    pub fn empty() -> Self {
        PortSet::default()
    }

    /// Every port of every protocol.
    pub fn full() -> Self {
        PortSet([RangeSet::full(), RangeSet::full(), RangeSet::full()])
    }

    /// Every port of one protocol.
    pub fn full_protocol(protocol: Protocol) -> Self {
        let mut s = PortSet::empty();
        s.0[protocol.index()] = RangeSet::full();
        s
    }

    /// True when nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(RangeSet::is_empty)
    }

    /// True when everything is allowed.
    pub fn is_full(&self) -> bool {
        self.0.iter().all(RangeSet::is_full)
    }

    /// The ranges of one protocol.
    pub fn protocol(&self, protocol: Protocol) -> &RangeSet {
        &self.0[protocol.index()]
    }

    /// True when `port/protocol` is allowed.
    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.0[protocol.index()].contains(port)
    }

    /// Adds `lo..=hi` of `protocol`.
    pub fn insert(&mut self, protocol: Protocol, lo: u16, hi: u16) {
        self.0[protocol.index()].insert(lo, hi);
    }

    /// Adds everything in `other`.
    pub fn union_with(&mut self, other: &PortSet) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            mine.union_with(theirs);
        }
    }

    /// What both allow.
    pub fn intersect(&self, other: &PortSet) -> PortSet {
        PortSet([
            self.0[0].intersect(&other.0[0]),
            self.0[1].intersect(&other.0[1]),
            self.0[2].intersect(&other.0[2]),
        ])
    }

    /// What `self` allows and `other` does not.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        PortSet([
            self.0[0].difference(&other.0[0]),
            self.0[1].difference(&other.0[1]),
            self.0[2].difference(&other.0[2]),
        ])
    }
}

impl fmt::Display for PortSet {
    /// `All` for everything, else e.g. `TCP 80,8000-8080 UDP 53`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_full() {
            return f.write_str("All");
        }
        let mut first = true;
        for p in Protocol::ALL {
            let r = self.protocol(p);
            if r.is_empty() {
                continue;
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{p} ")?;
            if r.is_full() {
                f.write_str("all")?;
                continue;
            }
            for (i, (lo, hi)) in r.ranges().iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if lo == hi {
                    write!(f, "{lo}")?;
                } else {
                    write!(f, "{lo}-{hi}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_merges_overlapping_and_adjacent_ranges() {
        let mut r = RangeSet::default();
        r.insert(80, 80);
        r.insert(81, 90);
        r.insert(100, 200);
        r.insert(150, 300);
        assert_eq!(r.ranges(), &[(80, 90), (100, 300)]);
        assert!(r.contains(85) && r.contains(300) && !r.contains(95) && !r.contains(79));
    }

    #[test]
    fn port_zero_is_never_included() {
        let mut r = RangeSet::default();
        r.insert(0, 0);
        assert!(r.is_empty());
        r.insert(0, 65535);
        assert!(r.is_full());
    }

    #[test]
    fn difference_agrees_with_port_by_port() {
        let sets = [
            vec![],
            vec![(1, 65535)],
            vec![(1, 10), (20, 30), (65530, 65535)],
            vec![(5, 25)],
            vec![(10, 20), (30, 30)],
            vec![(1, 1), (65535, 65535)],
        ];
        for a in &sets {
            for b in &sets {
                let (mut x, mut y) = (RangeSet::default(), RangeSet::default());
                a.iter().for_each(|&(lo, hi)| x.insert(lo, hi));
                b.iter().for_each(|&(lo, hi)| y.insert(lo, hi));
                let d = x.difference(&y);
                for port in 1..=MAX_PORT {
                    assert_eq!(
                        d.contains(port),
                        x.contains(port) && !y.contains(port),
                        "{a:?} - {b:?} at {port}"
                    );
                }
                let mut merged = d.clone();
                merged.normalize();
                assert_eq!(merged, d, "sorted and merged");
            }
        }
    }

    #[test]
    fn intersection_of_ranges() {
        let mut a = RangeSet::default();
        a.insert(1, 100);
        a.insert(200, 300);
        let mut b = RangeSet::default();
        b.insert(50, 250);
        assert_eq!(a.intersect(&b).ranges(), &[(50, 100), (200, 250)]);
    }

    #[test]
    fn display_is_compact() {
        let mut s = PortSet::empty();
        s.insert(Protocol::Tcp, 80, 80);
        s.insert(Protocol::Tcp, 8000, 8080);
        s.insert(Protocol::Udp, 53, 53);
        assert_eq!(s.to_string(), "TCP 80,8000-8080 UDP 53");
        assert_eq!(PortSet::full().to_string(), "All");
    }
}
