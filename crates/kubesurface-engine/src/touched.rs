//! A set of small indices that remembers which were inserted, for scratch buffers that are
//! filled sparsely, read back in index order and cleared.

/// Indices below a fixed bound, kept both as a bitmap and as a list.
///
/// At 100,000 pods a row of the connectivity matrix touches hundreds to thousands of its
/// ten thousand destination slots; reading them back in order by sorting the list cost
/// more than computing them. With the bitmap, the
/// order comes from one pass over `bound / 64` words when many are touched, and from a
/// sort of the list only when few are.
#[derive(Debug, Clone)]
pub(crate) struct TouchedSet {
    bits: Vec<u64>,
    list: Vec<u32>,
    sorted: bool,
}

impl TouchedSet {
    /// An empty set for indices below `bound`.
    pub(crate) fn new(bound: usize) -> Self {
        TouchedSet {
            bits: vec![0; bound.div_ceil(64)],
            list: Vec::new(),
            sorted: true,
        }
    }

    /// Adds `i`; true when it was not in the set.
    #[inline]
    pub(crate) fn insert(&mut self, i: u32) -> bool {
        let (word, bit) = (i as usize / 64, 1u64 << (i % 64));
        let fresh = self.bits[word] & bit == 0;
        if fresh {
            self.bits[word] |= bit;
            self.sorted &= self.list.last().is_none_or(|&last| last < i);
            self.list.push(i);
        }
        fresh
    }

    /// Puts the members in ascending order (until the next insertion).
    pub(crate) fn sort(&mut self) {
        if !self.sorted {
            // A sort costs about n·log n, a pass over the bitmap one step per word.
            if self.list.len() * 8 < self.bits.len() {
                self.list.sort_unstable();
            } else {
                self.list.clear();
                for (w, &word) in self.bits.iter().enumerate() {
                    let mut bits = word;
                    while bits != 0 {
                        self.list.push((w * 64) as u32 + bits.trailing_zeros());
                        bits &= bits - 1;
                    }
                }
            }
            self.sorted = true;
        }
    }

    /// The members, in insertion order, or ascending after [`TouchedSet::sort`].
    pub(crate) fn as_slice(&self) -> &[u32] {
        &self.list
    }

    /// Empties the set, in time proportional to its size.
    pub(crate) fn clear(&mut self) {
        for &i in &self.list {
            self.bits[i as usize / 64] = 0;
        }
        self.list.clear();
        self.sorted = true;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever was inserted, in any order and with repeats, comes back once each and in
        /// order; the set is empty after `clear` and can be refilled.
        #[test]
        fn sorted_members_are_the_distinct_insertions(
            bound in 1usize..2000,
            rounds in prop::collection::vec(prop::collection::vec(any::<u32>(), 0..600), 1..4),
        ) {
            let mut set = TouchedSet::new(bound);
            for round in rounds {
                let mut expected = BTreeSet::new();
                for i in round {
                    let i = i % bound as u32;
                    prop_assert_eq!(set.insert(i), expected.insert(i));
                }
                let mut inserted: Vec<u32> = set.as_slice().to_vec();
                inserted.sort_unstable();
                let expected: Vec<u32> = expected.into_iter().collect();
                prop_assert_eq!(&inserted, &expected);
                set.sort();
                prop_assert_eq!(set.as_slice(), expected.as_slice());
                set.clear();
                prop_assert!(set.as_slice().is_empty());
                prop_assert!(set.bits.iter().all(|&w| w == 0));
            }
        }
    }

    #[test]
    fn both_ways_of_ordering_agree() {
        // Few members of a large bound are sorted; many are read off the bitmap.
        for (bound, members) in [
            (10_000, vec![9_000, 3, 64, 63]),
            (128, vec![127, 0, 65, 64, 1]),
        ] {
            let mut set = TouchedSet::new(bound);
            for &m in &members {
                set.insert(m);
            }
            let mut expected = members.clone();
            expected.sort_unstable();
            set.sort();
            assert_eq!(set.as_slice(), expected.as_slice());
            // A second sort changes nothing.
            set.sort();
            assert_eq!(set.as_slice(), expected.as_slice());
        }
    }
}
