//! [`Labels`]: a small sorted map from label key to value, stored flat.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A label (or annotation) set: each key once, sorted by key, so equal sets compare, hash
/// and print identically.
///
/// It behaves as a `BTreeMap<String, String>` would (a later value for a key replaces an
/// earlier one; iteration is in key order; ordering compares entries in key order) but
/// keeps its entries in one vector: a pod's handful of labels take one allocation sized to
/// them instead of a B-tree node sized for eleven, which at 100,000 pods is a fifth of the
/// model's memory. Lookups are binary searches.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// The empty set.
    pub const fn new() -> Self {
        Labels(Vec::new())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// The value of `key`, to change in place.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut String> {
        self.position(key).ok().map(|i| &mut self.0[i].1)
    }

    /// The stored key and value of `key`.
    pub fn get_key_value(&self, key: &str) -> Option<(&String, &String)> {
        self.position(key)
            .ok()
            .map(|i| (&self.0[i].0, &self.0[i].1))
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Keys and values in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.0.iter())
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator + Clone {
        self.0.iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator + Clone {
        self.0.iter().map(|(_, v)| v)
    }

    /// Builds from entries in any order; for a repeated key the last value wins.
    fn from_entries(mut entries: Vec<(String, String)>) -> Self {
        let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
        if !sorted {
            // Stable, so equal keys stay in input order and the last one is kept below.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut kept: Vec<(String, String)> = Vec::with_capacity(entries.len());
            for entry in entries {
                match kept.last_mut() {
                    Some(last) if last.0 == entry.0 => *last = entry,
                    _ => kept.push(entry),
                }
            }
            entries = kept;
        }
        entries.shrink_to_fit();
        Labels(entries)
    }
}

/// Iterator over a [`Labels`]' entries, as `(&key, &value)` in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (String, String)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a String);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a String, &'a String);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Labels {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<(String, String)> for Labels {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Labels::from_entries(iter.into_iter().collect())
    }
}

impl<const N: usize> From<[(String, String); N]> for Labels {
    fn from(entries: [(String, String); N]) -> Self {
        Labels::from_entries(entries.into())
    }
}

impl Extend<(String, String)> for Labels {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

/// `labels["key"]`: the value, panicking when the key is absent (as `BTreeMap` does).
impl std::ops::Index<&str> for Labels {
    type Output = String;

    fn index(&self, key: &str) -> &String {
        self.get(key).unwrap_or_else(|| panic!("no label {key:?}"))
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LabelsVisitor;

        impl<'de> Visitor<'de> for LabelsVisitor {
            type Value = Labels;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings to strings")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Labels, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = access.next_entry::<String, String>()? {
                    entries.push(entry);
                }
                Ok(Labels::from_entries(entries))
            }
        }

        deserializer.deserialize_map(LabelsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn s(x: &str) -> String {
        x.to_string()
    }

    /// Every operation gives what a `BTreeMap<String, String>` gives on the same steps.
    #[test]
    fn behaves_as_a_sorted_map() {
        let steps = [
            ("app", "a"),
            ("tier", "web"),
            ("app", "b"),
            ("", "empty key"),
            ("z/x", "1"),
            ("app.kubernetes.io/name", "n"),
        ];
        let mut ours = Labels::new();
        let mut map = BTreeMap::new();
        for (k, v) in steps {
            assert_eq!(ours.insert(s(k), s(v)), map.insert(s(k), s(v)));
            assert_eq!(ours.len(), map.len());
            let a: Vec<_> = ours.iter().collect();
            let b: Vec<_> = map.iter().collect();
            assert_eq!(a, b);
        }
        for k in ["app", "", "missing", "z/x", "tier"] {
            assert_eq!(ours.get(k), map.get(k));
            assert_eq!(ours.contains_key(k), map.contains_key(k));
            assert_eq!(ours.get_key_value(k), map.get_key_value(k));
        }
        assert_eq!(ours.remove("tier"), map.remove("tier"));
        assert_eq!(ours.remove("tier"), map.remove("tier"));
        *ours.get_mut("app").unwrap() = s("c");
        *map.get_mut("app").unwrap() = s("c");
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            map.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            ours.values().collect::<Vec<_>>(),
            map.values().collect::<Vec<_>>()
        );
        assert_eq!(format!("{ours:?}"), format!("{map:?}"));
        assert_eq!(
            ours.clone().into_iter().collect::<Vec<_>>(),
            map.clone().into_iter().collect::<Vec<_>>()
        );
        ours.clear();
        assert!(ours.is_empty());
    }

    /// Collecting, extending and reading JSON keep the last value of a repeated key, as
    /// `BTreeMap` (and serde_json's map) do; the result is sorted.
    #[test]
    fn repeated_keys_keep_the_last_value() {
        let entries = vec![
            (s("b"), s("1")),
            (s("a"), s("2")),
            (s("b"), s("3")),
            (s("a"), s("4")),
        ];
        let ours: Labels = entries.clone().into_iter().collect();
        let map: BTreeMap<String, String> = entries.clone().into_iter().collect();
        assert_eq!(
            ours.iter().collect::<Vec<_>>(),
            map.iter().collect::<Vec<_>>()
        );
        let mut extended = Labels::from([(s("a"), s("0"))]);
        extended.extend(entries);
        assert_eq!(extended, ours);
        let json = r#"{"b":"1","a":"2","b":"3"}"#;
        let read: Labels = serde_json::from_str(json).unwrap();
        let map: BTreeMap<String, String> = serde_json::from_str(json).unwrap();
        assert_eq!(
            read.iter().collect::<Vec<_>>(),
            map.iter().collect::<Vec<_>>()
        );
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert!(serde_json::from_str::<Labels>(r#"{"a":1}"#).is_err());
        assert!(serde_json::from_str::<Labels>(r#"["a"]"#).is_err());
    }

    /// Sets order as the maps they stand for: entry by entry in key order.
    #[test]
    fn orders_as_maps_do() {
        let sets = [
            vec![],
            vec![("a", "1")],
            vec![("a", "1"), ("b", "1")],
            vec![("a", "2")],
            vec![("b", "0")],
            vec![("a", "1"), ("c", "0")],
        ];
        for x in &sets {
            for y in &sets {
                let lx: Labels = x.iter().map(|(k, v)| (s(k), s(v))).collect();
                let ly: Labels = y.iter().map(|(k, v)| (s(k), s(v))).collect();
                let mx: BTreeMap<String, String> = x.iter().map(|(k, v)| (s(k), s(v))).collect();
                let my: BTreeMap<String, String> = y.iter().map(|(k, v)| (s(k), s(v))).collect();
                assert_eq!(lx.cmp(&ly), mx.cmp(&my), "{x:?} vs {y:?}");
                assert_eq!(lx == ly, mx == my);
            }
        }
    }
}
