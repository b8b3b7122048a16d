//! `diff`: what changed between two versions of a cluster — connections added, removed
//! or with a changed port set, exposure records added and removed, findings new and fixed.
//!
//! Identities, chosen so that a diff shows changes of meaning, not of layout:
//! - a connection is its `(src, dst)` pair at the chosen granularity; a pair present on
//!   both sides with different port sets is *changed*;
//! - an exposure record is all of its contract fields (via, entry, target, port, protocol,
//!   admitted, source, object): a record whose `admitted` flips is removed and added;
//! - a finding is `(rule, objects, message)`: locations are ignored, since line numbers
//!   shift between versions. A finding whose suppression changes is neither new nor fixed.
//!
//! Every list is sorted, so the same inputs always give the same diff.

use std::collections::{BTreeMap, BTreeSet};

use kubesurface_engine::connectivity::{Granularity, for_each_connection};
use kubesurface_engine::{Engine, PortSet};
use kubesurface_model::Protocol;

use crate::config::Config;
use crate::exposure::{Exposure, Via, exposures};
use crate::findings::Finding;
use crate::rules::{AuditContext, audit};

/// One side of a diff: everything compared.
pub struct Snapshot {
    /// `(src, dst) → allowed` at the granularity.
    pub connections: BTreeMap<(String, String), PortSet>,
    /// Every exposure.
    pub exposures: Vec<Exposure>,
    /// Every finding (suppressed ones included).
    pub findings: Vec<Finding>,
}

/// Computes the connectivity matrix at `granularity`, the exposures and the findings.
pub fn snapshot(engine: &Engine<'_>, config: &Config, granularity: Granularity) -> Snapshot {
    let mut connections = BTreeMap::new();
    for_each_connection(engine, granularity, |src, dst, allowed| {
        connections.insert((src.to_string(), dst.to_string()), allowed.clone());
    });
    let records = exposures(engine, config);
    let ctx = AuditContext::new(engine, config, &records, &[]);
    let findings = audit(&ctx);
    Snapshot {
        connections,
        exposures: records,
        findings,
    }
}

/// A connection on one side only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Source.
    pub src: String,
    /// Destination.
    pub dst: String,
    /// What is allowed.
    pub allowed: PortSet,
}

/// A connection on both sides with different port sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Source.
    pub src: String,
    /// Destination.
    pub dst: String,
    /// Allowed in OLD.
    pub before: PortSet,
    /// Allowed in NEW.
    pub after: PortSet,
}

/// The difference between two snapshots.
#[derive(Clone, Debug)]
pub struct Diff {
    /// The granularity of the connectivity comparison.
    pub granularity: Granularity,
    /// Connections only in NEW.
    pub added: Vec<Connection>,
    /// Connections only in OLD.
    pub removed: Vec<Connection>,
    /// Connections whose port set changed.
    pub changed: Vec<Change>,
    /// Exposure records only in NEW.
    pub exposure_added: Vec<Exposure>,
    /// Exposure records only in OLD.
    pub exposure_removed: Vec<Exposure>,
    /// Findings only in NEW (ranked as `audit` ranks them).
    pub findings_new: Vec<Finding>,
    /// Findings only in OLD.
    pub findings_fixed: Vec<Finding>,
}

impl Diff {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.exposure_added.is_empty()
            && self.exposure_removed.is_empty()
            && self.findings_new.is_empty()
            && self.findings_fixed.is_empty()
    }
}

/// The identity of an exposure record: every contract field.
type ExposureKey<'a> = (&'a str, &'a str, &'a str, u16, Protocol, Via, bool, &'a str);

fn exposure_key(e: &Exposure) -> ExposureKey<'_> {
    (
        &e.object, &e.entry, &e.target, e.port, e.protocol, e.via, e.admitted, &e.source,
    )
}

fn finding_key(f: &Finding) -> (&str, &[String], &str) {
    (f.rule, &f.objects, &f.message)
}

/// Records of `a` whose identity is not in `b`, sorted by identity, without duplicates.
fn exposures_only_in(a: &[Exposure], b: &[Exposure]) -> Vec<Exposure> {
    let other: BTreeSet<ExposureKey<'_>> = b.iter().map(exposure_key).collect();
    let mut out: Vec<Exposure> = a
        .iter()
        .filter(|e| !other.contains(&exposure_key(e)))
        .cloned()
        .collect();
    out.sort_by(|x, y| exposure_key(x).cmp(&exposure_key(y)));
    out.dedup_by(|x, y| exposure_key(x) == exposure_key(y));
    out
}

/// Findings of `a` whose identity is not in `b`, ranked as `audit` ranks them.
fn findings_only_in(a: &[Finding], b: &[Finding]) -> Vec<Finding> {
    let other: BTreeSet<(&str, &[String], &str)> = b.iter().map(finding_key).collect();
    let mut out: Vec<Finding> = a
        .iter()
        .filter(|f| !other.contains(&finding_key(f)))
        .cloned()
        .collect();
    out.sort_by(|x, y| {
        (y.severity, x.rule, &x.objects, &x.message, &x.locations).cmp(&(
            x.severity,
            y.rule,
            &y.objects,
            &y.message,
            &y.locations,
        ))
    });
    out.dedup_by(|x, y| finding_key(x) == finding_key(y));
    out
}

/// Compares two snapshots taken at `granularity`.
pub fn diff(old: &Snapshot, new: &Snapshot, granularity: Granularity) -> Diff {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for ((src, dst), before) in &old.connections {
        match new.connections.get(&(src.clone(), dst.clone())) {
            None => removed.push(Connection {
                src: src.clone(),
                dst: dst.clone(),
                allowed: before.clone(),
            }),
            Some(after) if after != before => changed.push(Change {
                src: src.clone(),
                dst: dst.clone(),
                before: before.clone(),
                after: after.clone(),
            }),
            Some(_) => {}
        }
    }
    for ((src, dst), allowed) in &new.connections {
        if !old.connections.contains_key(&(src.clone(), dst.clone())) {
            added.push(Connection {
                src: src.clone(),
                dst: dst.clone(),
                allowed: allowed.clone(),
            });
        }
    }
    Diff {
        granularity,
        added,
        removed,
        changed,
        exposure_added: exposures_only_in(&new.exposures, &old.exposures),
        exposure_removed: exposures_only_in(&old.exposures, &new.exposures),
        findings_new: findings_only_in(&new.findings, &old.findings),
        findings_fixed: findings_only_in(&old.findings, &new.findings),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Location, Severity};
    use kubesurface_model::Source;

    fn ports(p: u16) -> PortSet {
        let mut s = PortSet::empty();
        s.insert(Protocol::Tcp, p, p);
        s
    }

    fn finding(rule: &'static str, object: &str, line: u32) -> Finding {
        Finding {
            rule,
            name: "x",
            severity: Severity::High,
            objects: vec![object.to_string()],
            message: format!("{object} is open"),
            locations: vec![Location {
                file: "a.yaml".into(),
                line,
            }],
            suppressed: false,
            suppression: None,
        }
    }

    fn exposure(admitted: bool) -> Exposure {
        Exposure {
            via: Via::NodePort,
            entry: "node:*:30080".into(),
            target: "ns/web".into(),
            port: 80,
            protocol: Protocol::Tcp,
            admitted,
            source: "ext:0.0.0.0/0".into(),
            object: "ns/Service/web".into(),
            location: Source::default(),
            endpoint: 0,
        }
    }

    fn snap(
        conns: &[(&str, &str, u16)],
        exposures: Vec<Exposure>,
        findings: Vec<Finding>,
    ) -> Snapshot {
        Snapshot {
            connections: conns
                .iter()
                .map(|(s, d, p)| ((s.to_string(), d.to_string()), ports(*p)))
                .collect(),
            exposures,
            findings,
        }
    }

    #[test]
    fn connections_added_removed_changed() {
        let old = snap(
            &[("a", "b", 80), ("a", "c", 80), ("b", "c", 80)],
            vec![],
            vec![],
        );
        let new = snap(
            &[("a", "b", 80), ("a", "c", 443), ("c", "a", 80)],
            vec![],
            vec![],
        );
        let d = diff(&old, &new, Granularity::Workload);
        assert_eq!(d.added.len(), 1);
        assert_eq!(
            (d.added[0].src.as_str(), d.added[0].dst.as_str()),
            ("c", "a")
        );
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].src, "b");
        assert_eq!(d.changed.len(), 1);
        assert_eq!(
            (d.changed[0].before.clone(), d.changed[0].after.clone()),
            (ports(80), ports(443))
        );
        assert!(diff(&old, &old, Granularity::Workload).is_empty());
    }

    #[test]
    fn admitted_flip_is_removed_and_added() {
        let d = diff(
            &snap(&[], vec![exposure(false)], vec![]),
            &snap(&[], vec![exposure(true)], vec![]),
            Granularity::Pod,
        );
        assert_eq!(d.exposure_added.len(), 1);
        assert!(d.exposure_added[0].admitted);
        assert_eq!(d.exposure_removed.len(), 1);
        assert!(!d.exposure_removed[0].admitted);
    }

    #[test]
    fn findings_ignore_locations() {
        let old = snap(
            &[],
            vec![],
            vec![
                finding("KS101", "ns/Service/a", 3),
                finding("KS102", "ns/Service/b", 9),
            ],
        );
        let new = snap(
            &[],
            vec![],
            vec![
                finding("KS101", "ns/Service/a", 30),
                finding("KS103", "ns/Service/c", 1),
            ],
        );
        let d = diff(&old, &new, Granularity::Pod);
        assert_eq!(d.findings_new.len(), 1);
        assert_eq!(d.findings_new[0].rule, "KS103");
        assert_eq!(d.findings_fixed.len(), 1);
        assert_eq!(d.findings_fixed[0].rule, "KS102");
    }
}
