//! Partition refinement: elements that no set tells apart stay in one class.
//!
//! The signatures of [`crate::matrix`] group peers by which rules admit them. Comparing
//! the per-peer lists of rule ids costs the sum of their lengths in hashing and comparing;
//! refining a partition by each distinct rule peer set costs only the set sizes, with
//! array updates and no hashing.

use fixedbitset::FixedBitSet;
use rustc_hash::FxHashMap;

/// A partition of the elements `0..n` into classes.
pub struct Partition {
    /// Per element: its class.
    class: Vec<u32>,
    /// Per class: its number of elements.
    size: Vec<u32>,
    /// Per class (scratch): elements of the class in the set being applied.
    inside: Vec<u32>,
    /// Per class (scratch): where its elements in the set go.
    moved_to: Vec<u32>,
    /// Classes the set being applied touches.
    touched: Vec<u32>,
}

impl Partition {
    /// The partition of elements by equal keys.
    pub fn by_key<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> Self {
        let mut index: FxHashMap<K, u32> = FxHashMap::default();
        let mut size: Vec<u32> = Vec::new();
        let class: Vec<u32> = keys
            .map(|k| {
                let next = size.len() as u32;
                let c = *index.entry(k).or_insert(next);
                if c == next {
                    size.push(0);
                }
                size[c as usize] += 1;
                c
            })
            .collect();
        let classes = size.len();
        Partition {
            class,
            size,
            inside: vec![0; classes],
            moved_to: vec![0; classes],
            touched: Vec::new(),
        }
    }

    /// Splits every class the set cuts into its elements inside and outside `set`
    /// (bits past the last element are ignored).
    pub fn refine(&mut self, set: &FixedBitSet) {
        let n = self.class.len();
        for e in set.ones().take_while(|&e| e < n) {
            let c = self.class[e] as usize;
            if self.inside[c] == 0 {
                self.touched.push(c as u32);
            }
            self.inside[c] += 1;
        }
        let mut any_split = false;
        for &c in &self.touched {
            let c = c as usize;
            if self.inside[c] == self.size[c] {
                self.moved_to[c] = c as u32;
            } else {
                any_split = true;
                let new = self.size.len() as u32;
                self.size.push(self.inside[c]);
                self.size[c] -= self.inside[c];
                self.moved_to[c] = new;
            }
        }
        let classes = self.size.len();
        self.inside.resize(classes, 0);
        self.moved_to.resize(classes, 0);
        if any_split {
            for e in set.ones().take_while(|&e| e < n) {
                let c = self.class[e] as usize;
                self.class[e] = self.moved_to[c];
            }
        }
        for &c in &self.touched {
            self.inside[c as usize] = 0;
        }
        self.touched.clear();
    }

    /// The classes numbered by first occurrence: the class of each element, and the first
    /// element of each class (so representatives ascend with the class number).
    pub fn numbered(self) -> (Vec<u32>, Vec<u32>) {
        let mut renumber = vec![u32::MAX; self.size.len()];
        let mut first = Vec::new();
        let class = self
            .class
            .iter()
            .enumerate()
            .map(|(e, &c)| {
                let r = &mut renumber[c as usize];
                if *r == u32::MAX {
                    *r = first.len() as u32;
                    first.push(e as u32);
                }
                *r
            })
            .collect();
        (class, first)
    }
}

/// The distinct sets among `sets`, and for each input the index of its distinct set.
pub fn distinct_sets<'a>(
    sets: impl Iterator<Item = &'a FixedBitSet>,
) -> (Vec<&'a FixedBitSet>, Vec<u32>) {
    let mut index: FxHashMap<&'a [fixedbitset::Block], u32> = FxHashMap::default();
    let mut distinct = Vec::new();
    let of = sets
        .map(|s| {
            let next = distinct.len() as u32;
            *index.entry(s.as_slice()).or_insert_with(|| {
                distinct.push(s);
                next
            })
        })
        .collect();
    (distinct, of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize, members: &[usize]) -> FixedBitSet {
        let mut s = FixedBitSet::with_capacity(n);
        for &m in members {
            s.insert(m);
        }
        s
    }

    /// The partition by exact membership vectors, the definition refinement must meet.
    fn by_membership(n: usize, initial: &[u32], sets: &[FixedBitSet]) -> (Vec<u32>, Vec<u32>) {
        let keys = (0..n).map(|e| {
            let member: Vec<bool> = sets.iter().map(|s| s.contains(e)).collect();
            (initial[e], member)
        });
        Partition::by_key(keys).numbered()
    }

    #[test]
    fn refinement_groups_exactly_by_membership() {
        let n = 8;
        let initial = [0, 0, 1, 0, 1, 0, 0, 2];
        let sets = [
            set(n, &[0, 1, 2, 3]),
            set(n, &[1, 3, 5]),
            set(n, &[0, 1, 2, 3]),
        ];
        let mut p = Partition::by_key(initial.iter().copied());
        for s in &sets {
            p.refine(s);
        }
        let got = p.numbered();
        assert_eq!(got, by_membership(n, &initial, &sets));
        // 0 | 1,3 | 2 | 4 | 5 | 6 | 7 numbered by first element.
        assert_eq!(got.0, vec![0, 1, 2, 1, 3, 4, 5, 6]);
        assert_eq!(got.1, vec![0, 1, 2, 4, 5, 6, 7]);
    }

    #[test]
    fn refinement_agrees_with_membership_on_pseudo_random_sets() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200 {
            let n = 1 + (next() % 70) as usize;
            let initial: Vec<u32> = (0..n).map(|_| (next() % 3) as u32).collect();
            let sets: Vec<FixedBitSet> = (0..(round % 9))
                .map(|_| {
                    let members: Vec<usize> = (0..n).filter(|_| next() % 3 == 0).collect();
                    set(n + 5, &members)
                })
                .collect();
            let mut p = Partition::by_key(initial.iter().copied());
            for s in &sets {
                p.refine(s);
            }
            assert_eq!(
                p.numbered(),
                by_membership(n, &initial, &sets),
                "round {round}"
            );
        }
    }

    #[test]
    fn distinct_sets_index_every_input() {
        let a = set(10, &[1, 2]);
        let b = set(10, &[3]);
        let c = set(10, &[1, 2]);
        let (distinct, of) = distinct_sets([&a, &b, &c].into_iter());
        assert_eq!(distinct.len(), 2);
        assert_eq!(of, vec![0, 1, 0]);
    }
}
