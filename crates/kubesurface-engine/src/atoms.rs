//! IP atoms: the address space cut at every ipBlock `cidr` and `except` boundary into
//! disjoint intervals. No policy can tell two addresses of one atom apart, so an atom is
//! one external peer, and a pod IP's atom is all an ipBlock needs to know about it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use kubesurface_model::IpBlock;

/// Index of an atom in [`IpAtoms`].
pub type AtomId = u32;

/// Address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    fn max(self) -> u128 {
        match self {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        }
    }
}

fn key(ip: IpAddr) -> (Family, u128) {
    match ip {
        IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (Family::V6, u128::from(a)),
    }
}

fn addr(family: Family, value: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX))),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

fn bounds(net: &IpNet) -> (Family, u128, u128) {
    let (f, lo) = key(net.network());
    let (_, hi) = key(net.broadcast());
    (f, lo, hi)
}

/// One atom: an inclusive address interval of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Atom {
    /// Family.
    pub family: Family,
    /// First address.
    pub lo: u128,
    /// Last address.
    pub hi: u128,
}

impl Atom {
    /// True when the atom shares an address with `lo..=hi` (same family).
    pub fn overlaps(&self, lo: IpAddr, hi: IpAddr) -> bool {
        let (f, lo) = key(lo);
        let (_, hi) = key(hi);
        f == self.family && self.lo <= hi && lo <= self.hi
    }

    /// The atom as a CIDR when it is exactly one (`10.0.0.0/8`), else as a range
    /// (`0.0.0.0-9.255.255.255`).
    pub fn name(&self) -> String {
        let size = self.hi - self.lo;
        let bits = match self.family {
            Family::V4 => 32,
            Family::V6 => 128,
        };
        let is_cidr = size == self.family.max() && self.lo == 0
            || ((size.wrapping_add(1)).is_power_of_two() && self.lo & size == 0);
        let lo = addr(self.family, self.lo);
        if is_cidr {
            let host_bits = if size == u128::MAX {
                128
            } else {
                (size + 1).trailing_zeros()
            };
            format!("{lo}/{}", bits - host_bits.min(bits))
        } else {
            format!("{lo}-{}", addr(self.family, self.hi))
        }
    }
}

/// The atoms of both families, IPv4 first, each family sorted by address.
#[derive(Clone, Debug)]
pub struct IpAtoms {
    atoms: Vec<Atom>,
    /// Index of the first IPv6 atom.
    v6_start: usize,
}

impl IpAtoms {
    /// Cuts both address spaces at every boundary of `blocks`.
    pub fn new<'a>(blocks: impl IntoIterator<Item = &'a IpBlock>) -> Self {
        let mut cuts: [BTreeSet<u128>; 2] = [BTreeSet::from([0]), BTreeSet::from([0])];
        for block in blocks {
            for net in std::iter::once(&block.cidr).chain(&block.except) {
                let (f, lo, hi) = bounds(net);
                let c = &mut cuts[f as usize];
                c.insert(lo);
                if hi < f.max() {
                    c.insert(hi + 1);
                }
            }
        }
        let mut atoms = Vec::new();
        let mut v6_start = 0;
        for (family, c) in [(Family::V4, &cuts[0]), (Family::V6, &cuts[1])] {
            if family == Family::V6 {
                v6_start = atoms.len();
            }
            let starts: Vec<u128> = c.iter().copied().collect();
            for (i, &lo) in starts.iter().enumerate() {
                let hi = starts.get(i + 1).map_or(family.max(), |next| next - 1);
                atoms.push(Atom { family, lo, hi });
            }
        }
        IpAtoms { atoms, v6_start }
    }

    /// Every atom.
    pub fn atoms(&self) -> &[Atom] {
        &self.atoms
    }

    /// Atom ids of one family.
    pub fn family_ids(&self, family: Family) -> std::ops::Range<AtomId> {
        let (a, b) = match family {
            Family::V4 => (0, self.v6_start),
            Family::V6 => (self.v6_start, self.atoms.len()),
        };
        a as AtomId..b as AtomId
    }

    /// The atom holding `ip`.
    pub fn atom_of(&self, ip: IpAddr) -> AtomId {
        let (family, v) = key(ip);
        let range = self.family_ids(family);
        let slice = &self.atoms[range.start as usize..range.end as usize];
        let i = slice.partition_point(|a| a.lo <= v) - 1;
        range.start + i as AtomId
    }

    /// The atoms making up `cidr` minus `except`.
    pub fn block_atoms(&self, block: &IpBlock) -> Vec<AtomId> {
        let (_, lo, hi) = bounds(&block.cidr);
        let first = self.atom_of(block.cidr.network());
        let excepts: Vec<(u128, u128)> = block
            .except
            .iter()
            .map(|n| {
                let (_, a, b) = bounds(n);
                (a, b)
            })
            .collect();
        let mut out = Vec::new();
        let mut id = first as usize;
        while let Some(atom) = self.atoms.get(id) {
            if atom.lo > hi || atom.family != self.atoms[first as usize].family {
                break;
            }
            debug_assert!(atom.lo >= lo && atom.hi <= hi);
            if !excepts.iter().any(|&(a, b)| atom.lo >= a && atom.hi <= b) {
                out.push(id as AtomId);
            }
            id += 1;
        }
        out
    }
}

/// The atoms of a block as a bitset over all atom ids.
pub fn block_atoms_set(atoms: &IpAtoms, block: &IpBlock) -> fixedbitset::FixedBitSet {
    let mut set = fixedbitset::FixedBitSet::with_capacity(atoms.atoms().len());
    for id in atoms.block_atoms(block) {
        set.insert(id as usize);
    }
    set
}

/// True when `ip` is in `cidr` and in none of `except`.
pub fn block_contains(block: &IpBlock, ip: IpAddr) -> bool {
    block.cidr.contains(&ip) && !block.except.iter().any(|e| e.contains(&ip))
}

/// True when a block covers its whole address family (`0.0.0.0/0`, `::/0`) with no
/// exception: the only blocks that certainly contain an address we do not know.
pub fn block_covers_family(block: &IpBlock) -> bool {
    block.cidr.prefix_len() == 0 && block.except.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn block(cidr: &str, except: &[&str]) -> IpBlock {
        IpBlock {
            cidr: IpNet::from_str(cidr).unwrap(),
            except: except.iter().map(|e| IpNet::from_str(e).unwrap()).collect(),
        }
    }

    #[test]
    fn no_blocks_gives_one_atom_per_family() {
        let atoms = IpAtoms::new([]);
        assert_eq!(atoms.atoms().len(), 2);
        assert_eq!(atoms.atoms()[0].name(), "0.0.0.0/0");
        assert_eq!(atoms.atoms()[1].name(), "::/0");
    }

    #[test]
    fn cidr_with_except_cuts_four_atoms() {
        let b = block("10.0.0.0/8", &["10.1.0.0/16"]);
        let atoms = IpAtoms::new([&b]);
        let names: Vec<String> = atoms.atoms()[..5].iter().map(Atom::name).collect();
        assert_eq!(
            names,
            [
                "0.0.0.0-9.255.255.255",
                "10.0.0.0/16",
                "10.1.0.0/16",
                "10.2.0.0-10.255.255.255",
                "11.0.0.0-255.255.255.255"
            ]
        );
        let inside: Vec<String> = atoms
            .block_atoms(&b)
            .iter()
            .map(|&i| atoms.atoms()[i as usize].name())
            .collect();
        assert_eq!(inside, ["10.0.0.0/16", "10.2.0.0-10.255.255.255"]);
    }

    #[test]
    fn atom_of_finds_the_interval() {
        let b = block("192.168.0.0/24", &[]);
        let atoms = IpAtoms::new([&b]);
        let ip = IpAddr::from_str("192.168.0.77").unwrap();
        assert_eq!(
            atoms.atoms()[atoms.atom_of(ip) as usize].name(),
            "192.168.0.0/24"
        );
        let v6 = IpAddr::from_str("fd00::1").unwrap();
        assert_eq!(atoms.atoms()[atoms.atom_of(v6) as usize].name(), "::/0");
    }

    #[test]
    fn block_contains_honours_except() {
        let b = block("10.0.0.0/8", &["10.1.0.0/16"]);
        assert!(block_contains(&b, IpAddr::from_str("10.2.3.4").unwrap()));
        assert!(!block_contains(&b, IpAddr::from_str("10.1.3.4").unwrap()));
        assert!(!block_contains(&b, IpAddr::from_str("11.0.0.1").unwrap()));
    }
}
