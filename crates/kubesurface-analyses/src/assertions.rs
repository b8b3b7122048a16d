//! Reachability assertions (`kubesurface test`): a YAML list of expectations checked
//! against the cluster.
//!
//! ```yaml
//! - name: tenant VMs' hosts must not reach the database
//!   from: openstack/app=nova-compute
//!   to: svc:openstack/mariadb:3306
//!   expect: deny
//! - {from: "openstack/keystone-api[Deployment]", to: "openstack/mariadb-server:3306", expect: allow}
//! ```
//!
//! `from` and `to` take the peer forms of `reach` (`ns/name`, `ns/name[Kind]`,
//! `ns/Kind/name`, `ns/key=value,…`, `svc:ns/name`, `ext:IP|CIDR`, `node:NAME`); `to` may end
//! in `:PORT[/PROTO]` (TCP by default). `name` is optional.
//!
//! # What an assertion means when a peer stands for several pods
//!
//! A selector, a workload or a Service usually resolves to several pods. The two
//! expectations are read the way a security review reads them:
//!
//! - **`deny`** is a promise about *every* path: no resolved source may reach any resolved
//!   destination. One allowed pair is a failure, and every allowed pair is listed with the
//!   trail that allows it. Without a port, "reach" means any port at all; with
//!   `svc:` and no port, any port the Service forwards (its targetPorts).
//! - **`allow`** is a promise of *service*: every resolved source must reach at least one
//!   resolved destination. A Service with three backends is fine when one answers; a
//!   source that reaches none of them is a failure, listed with the trail to each
//!   destination. Without a port, some port must be allowed (with `svc:`, some port the
//!   Service forwards).
//!
//! An `ext:` range is one source or destination: `ext:0.0.0.0/0 … allow` holds when
//! *some* address of the range is admitted, `… deny` when *no* address is. Name a single
//! address (`ext:203.0.113.7`) to be exact about one client. A pod is never checked
//! against itself (self traffic is always allowed); a source whose only destination is
//! itself holds trivially.
//!
//! A peer that resolves to nothing is an error (exit 2), never a silent pass: a `deny`
//! against a misspelt name would otherwise always hold. So is an assertion with no pod on
//! either side (`ext:` or `node:` to `ext:` or `node:`): NetworkPolicy does not decide it.

use std::net::IpAddr;

use kubesurface_engine::explain::{Explanation, explain};
use kubesurface_engine::{Engine, PortSet};
use kubesurface_model::Protocol;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::query::{QueryPeer, name, parse_target, peer_ref, resolve, verdict};

/// What an assertion expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Every source reaches at least one destination.
    Allow,
    /// No source reaches any destination.
    Deny,
}

impl Expect {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Allow => "allow",
            Expect::Deny => "deny",
        }
    }
}

/// One assertion as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// Its name, when given.
    pub name: Option<String>,
    /// The source peer.
    pub from: String,
    /// The destination peer, optionally with `:PORT[/PROTO]`.
    pub to: String,
    /// The expectation.
    pub expect: Expect,
    /// Line of the list item (1-based).
    pub line: u64,
    /// Line of `from`.
    pub from_line: u64,
    /// Line of `to`.
    pub to_line: u64,
}

impl Assertion {
    /// The name, or `FROM -> TO: EXPECT`.
    pub fn title(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("{} -> {}: {}", self.from, self.to, self.expect.as_str()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssertion {
    #[serde(default)]
    name: Option<String>,
    from: Spanned<String>,
    to: Spanned<String>,
    expect: Spanned<String>,
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_aliases: 1_000,
        },
    }
}

/// Parses an assertions file; errors read `FILE:LINE: message`.
pub fn parse(file: &str, text: &str) -> Result<Vec<Assertion>, String> {
    if text.trim().is_empty() {
        return Err(format!(
            "{file}:1: no assertions (expected a YAML list of {{from, to, expect}})"
        ));
    }
    let items: Vec<Spanned<RawAssertion>> = serde_saphyr::from_str_with_options(text, yaml_options())
        .map_err(|e| {
            let line = e.location().map_or(1, |l| l.line().max(1));
            let msg = e.to_string();
            format!(
                "{file}:{line}: {} (expected a YAML list of {{from, to, expect: allow|deny}}, optional name)",
                msg.lines().next().unwrap_or("invalid YAML")
            )
        })?;
    if items.is_empty() {
        return Err(format!("{file}:1: no assertions"));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let line = item.referenced.line().max(1);
        let raw = item.value;
        let at = |s: &Spanned<String>| s.referenced.line().max(line);
        let expect = match raw.expect.value.trim() {
            "allow" => Expect::Allow,
            "deny" => Expect::Deny,
            other => {
                return Err(format!(
                    "{file}:{}: expect: {other:?} is not `allow` or `deny`",
                    at(&raw.expect)
                ));
            }
        };
        let from = raw.from.value.trim().to_string();
        let to = raw.to.value.trim().to_string();
        for (field, value, l) in [("from", &from, at(&raw.from)), ("to", &to, at(&raw.to))] {
            if value.is_empty() {
                return Err(format!("{file}:{l}: {field} is empty"));
            }
        }
        let source =
            parse_target(&from).map_err(|e| format!("{file}:{}: from: {e}", at(&raw.from)))?;
        if source.port.is_some() {
            return Err(format!(
                "{file}:{}: from: {from:?}: a source takes no port (put the port on `to`)",
                at(&raw.from)
            ));
        }
        parse_target(&to).map_err(|e| format!("{file}:{}: to: {e}", at(&raw.to)))?;
        out.push(Assertion {
            name: raw
                .name
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            from_line: at(&raw.from),
            to_line: at(&raw.to),
            from,
            to,
            expect,
            line,
        });
    }
    Ok(out)
}

/// The explain trail of one pair at one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trail {
    /// Port explained (the pod's port, after any Service mapping).
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// The verdict and its reasons.
    pub explanation: Explanation,
}

/// One pair that makes an assertion fail: allowed for `deny`, denied for `allow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offense {
    /// Source name.
    pub src: String,
    /// Destination name (with the Service it was reached through, for `svc:`).
    pub dst: String,
    /// Every port NetworkPolicy allows between them (before any Service mapping).
    pub allowed: PortSet,
    /// The trail, for the first few offenses (`None` beyond them, or when there is no
    /// port to explain at).
    pub trail: Option<Trail>,
}

/// The result of one assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The assertion held.
    pub passed: bool,
    /// Resolved sources.
    pub sources: usize,
    /// Resolved destinations.
    pub destinations: usize,
    /// Pairs evaluated (self pairs excluded).
    pub pairs: usize,
    /// One sentence: what was found.
    pub summary: String,
    /// The pairs that make it fail, in order.
    pub offenses: Vec<Offense>,
}

/// Trails are computed for this many offenses of one assertion; the rest are listed.
pub const MAX_TRAILS: usize = 5;

fn same_endpoint(a: &QueryPeer, b: &QueryPeer) -> bool {
    matches!((a, b), (QueryPeer::Endpoint { index: x, .. }, QueryPeer::Endpoint { index: y, .. }) if x == y)
}

/// Is `dst` reached from `src` in the assertion's sense (see the module docs)?
fn reached(
    engine: &Engine<'_>,
    src: &QueryPeer,
    dst: &QueryPeer,
    port: Option<(u16, Protocol)>,
) -> (bool, PortSet) {
    let allowed = verdict(engine, src, dst);
    let mapped = match dst {
        QueryPeer::Endpoint {
            port_map: Some((sp, tp, proto)),
            ..
        } => Some((*sp, *tp, *proto)),
        _ => None,
    };
    let ok = match (port, mapped) {
        (Some((p, proto)), Some((sp, tp, sproto))) => {
            sp == p && sproto == proto && allowed.contains(proto, tp)
        }
        (Some((p, proto)), None) => allowed.contains(proto, p),
        (None, Some((_, tp, proto))) => allowed.contains(proto, tp),
        (None, None) => !allowed.is_empty(),
    };
    (ok, allowed)
}

fn ip_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The name of a peer as the assertion wrote it: an `ext:` range keeps its text (the
/// engine's atom is shown only when it is a part of the range).
fn peer_name(engine: &Engine<'_>, p: &QueryPeer, all: usize) -> String {
    let QueryPeer::External { range, peers } = p else {
        return name(engine, p);
    };
    if peers.len() == 1 && all > 1 {
        let id = peers[0];
        let atom = engine.atoms.atoms()
            [engine.external[id as usize - engine.classes.classes.len()] as usize];
        let (lo, hi) = (ip_key(range.network()), ip_key(range.broadcast()));
        if lo <= atom.lo && atom.hi <= hi {
            return format!("{} (in ext:{range})", engine.external_name(id));
        }
    }
    if range.prefix_len() == range.max_prefix_len() {
        format!("ext:{}", range.addr())
    } else {
        format!("ext:{range}")
    }
}

/// For an `ext:` range that spans several atoms, the atom that decides the pair: the first
/// that is reached (for a `deny` offense), so the trail shows the address that gets in.
fn narrow(
    engine: &Engine<'_>,
    peer: &QueryPeer,
    other: &QueryPeer,
    peer_is_source: bool,
    port: Option<(u16, Protocol)>,
) -> (QueryPeer, String) {
    if let QueryPeer::External { range, peers } = peer
        && peers.len() > 1
    {
        for &p in peers {
            let single = QueryPeer::External {
                range: *range,
                peers: vec![p],
            };
            let (ok, _) = if peer_is_source {
                reached(engine, &single, other, port)
            } else {
                reached(engine, other, &single, port)
            };
            if ok {
                let label = peer_name(engine, &single, peers.len());
                return (single, label);
            }
        }
    }
    (peer.clone(), peer_name(engine, peer, 1))
}

fn dst_name(label: String, d: &QueryPeer) -> String {
    match d {
        QueryPeer::Endpoint { via: Some(v), .. } => format!("{label} (via {v})"),
        _ => label,
    }
}

/// The port to explain an offense at.
fn trail_port(
    engine: &Engine<'_>,
    dst: &QueryPeer,
    port: Option<(u16, Protocol)>,
    allowed: &PortSet,
    expect: Expect,
) -> Option<(u16, Protocol)> {
    if let QueryPeer::Endpoint {
        port_map: Some((sp, tp, proto)),
        ..
    } = dst
    {
        return match port {
            Some((p, pr)) if (p, pr) != (*sp, *proto) => None,
            _ => Some((*tp, *proto)),
        };
    }
    if port.is_some() {
        return port;
    }
    let mut declared: Vec<(u16, Protocol)> = match dst {
        QueryPeer::Endpoint { index, .. } => engine.cluster.endpoints[*index]
            .ports
            .iter()
            .map(|p| (p.port, p.protocol))
            .collect(),
        _ => Vec::new(),
    };
    declared.sort_unstable();
    match expect {
        // Denied everywhere: explain at a port the destination serves.
        Expect::Allow => declared.first().copied(),
        // Allowed somewhere: prefer a served port that is allowed, else the first allowed.
        Expect::Deny => declared
            .iter()
            .copied()
            .find(|(p, proto)| allowed.contains(*proto, *p))
            .or_else(|| {
                Protocol::ALL.iter().find_map(|proto| {
                    allowed
                        .protocol(*proto)
                        .ranges()
                        .first()
                        .map(|(lo, _)| (*lo, *proto))
                })
            }),
    }
}

fn offense(
    engine: &Engine<'_>,
    src: &QueryPeer,
    dst: &QueryPeer,
    port: Option<(u16, Protocol)>,
    expect: Expect,
    with_trail: bool,
) -> Offense {
    let (s, s_name, d, d_label) = if expect == Expect::Deny {
        let (s, s_name) = narrow(engine, src, dst, true, port);
        let (d, d_label) = narrow(engine, dst, &s, false, port);
        (s, s_name, d, d_label)
    } else {
        (
            src.clone(),
            peer_name(engine, src, 1),
            dst.clone(),
            peer_name(engine, dst, 1),
        )
    };
    let allowed = verdict(engine, &s, &d);
    let trail = if with_trail {
        trail_port(engine, &d, port, &allowed, expect).map(|(p, proto)| Trail {
            port: p,
            protocol: proto,
            explanation: explain(
                engine.cluster,
                engine.settings,
                &peer_ref(engine, &s),
                &peer_ref(engine, &d),
                p,
                proto,
            ),
        })
    } else {
        None
    };
    Offense {
        src: s_name,
        dst: dst_name(d_label, &d),
        allowed,
        trail,
    }
}

/// Evaluates one assertion. `Err` when a peer resolves to nothing (or a Service has no
/// such port): the assertion cannot be checked.
pub fn evaluate(engine: &Engine<'_>, a: &Assertion) -> Result<Outcome, String> {
    let target = parse_target(&a.to)?;
    let port = target.port.zip(target.protocol);
    let sources = resolve(engine, &a.from).map_err(|e| format!("from: {e}"))?;
    let mut destinations = resolve(engine, &target.peer).map_err(|e| format!("to: {e}"))?;
    if let Some((p, proto)) = port {
        let before = destinations.len();
        destinations.retain(|d| match d {
            QueryPeer::Endpoint {
                port_map: Some((sp, _, sproto)),
                ..
            } => *sp == p && *sproto == proto,
            _ => true,
        });
        if destinations.is_empty() && before > 0 {
            return Err(format!(
                "to: {:?}: the Service has no port {p}/{proto}",
                target.peer
            ));
        }
    }
    let is_pod = |p: &QueryPeer| matches!(p, QueryPeer::Endpoint { .. });
    if !sources.iter().any(is_pod) && !destinations.iter().any(is_pod) {
        return Err(format!(
            "to: {:?}: neither side is a pod; traffic between addresses and nodes is not decided by NetworkPolicy",
            a.to
        ));
    }
    let mut pairs = 0usize;
    let mut offenses = Vec::new();
    let summary;
    let passed;
    match a.expect {
        Expect::Deny => {
            for s in &sources {
                for d in &destinations {
                    if same_endpoint(s, d) {
                        continue;
                    }
                    pairs += 1;
                    if reached(engine, s, d, port).0 {
                        let with_trail = offenses.len() < MAX_TRAILS;
                        offenses.push(offense(engine, s, d, port, a.expect, with_trail));
                    }
                }
            }
            passed = offenses.is_empty();
            summary = if passed {
                format!("no path: 0 of {pairs} pairs allowed")
            } else {
                format!(
                    "expected deny, but {} of {pairs} pairs are allowed",
                    offenses.len()
                )
            };
        }
        Expect::Allow => {
            let mut failing_sources = 0usize;
            for s in &sources {
                let candidates: Vec<&QueryPeer> = destinations
                    .iter()
                    .filter(|d| !same_endpoint(s, d))
                    .collect();
                pairs += candidates.len();
                if candidates.is_empty() {
                    continue; // only itself: self traffic is always allowed
                }
                if candidates.iter().any(|d| reached(engine, s, d, port).0) {
                    continue;
                }
                failing_sources += 1;
                for d in candidates {
                    let with_trail = offenses.len() < MAX_TRAILS;
                    offenses.push(offense(engine, s, d, port, a.expect, with_trail));
                }
            }
            passed = failing_sources == 0;
            summary = if passed {
                format!(
                    "every source reaches a destination ({} source(s), {} destination(s))",
                    sources.len(),
                    destinations.len()
                )
            } else {
                format!(
                    "expected allow, but {failing_sources} of {} source(s) reach none of the {} destination(s)",
                    sources.len(),
                    destinations.len()
                )
            };
        }
    }
    Ok(Outcome {
        passed,
        sources: sources.len(),
        destinations: destinations.len(),
        pairs,
        summary,
        offenses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flow_and_block_items_with_lines() {
        let text = "# comment\n- {from: a/b, to: \"c/d:80\", expect: deny}\n- name: x\n  from: ext:10.0.0.1\n  to: svc:c/d\n  expect: allow\n";
        let a = parse("f.yaml", text).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].line, a[0].expect), (2, Expect::Deny));
        assert_eq!(a[0].title(), "a/b -> c/d:80: deny");
        assert_eq!(
            (
                a[1].name.as_deref(),
                a[1].line,
                a[1].from_line,
                a[1].to_line
            ),
            (Some("x"), 3, 4, 5)
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(
            "f.yaml",
            "- {from: a/b, to: c/d, expect: allow}\n- {from: a/b, to: c/d, expect: maybe}\n",
        )
        .unwrap_err();
        assert!(e.starts_with("f.yaml:2:"), "{e}");
        let e = parse(
            "f.yaml",
            "- {from: a/b, to: c/d, expect: allow}\n\n- {from: a/b, too: c/d, expect: deny}\n",
        )
        .unwrap_err();
        assert!(e.starts_with("f.yaml:3:"), "{e}");
        let e = parse("f.yaml", "- {from: a/b, to: c/d}\n").unwrap_err();
        assert!(e.starts_with("f.yaml:1:"), "{e}");
        let e = parse("f.yaml", "- {from: \"a/b:80\", to: c/d, expect: deny}\n").unwrap_err();
        assert!(e.contains("takes no port"), "{e}");
        let e = parse("f.yaml", "- {from: a/b, to: \"c/d:0\", expect: deny}\n").unwrap_err();
        assert!(e.starts_with("f.yaml:1: to:"), "{e}");
        assert!(parse("f.yaml", "").is_err());
        assert!(parse("f.yaml", "[]").is_err());
        assert!(parse("f.yaml", "from: a/b\n").is_err());
    }
}
