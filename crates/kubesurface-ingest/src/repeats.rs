//! Finds the objects that repeat an earlier object's kind, namespace and name, before the
//! join moves the objects apart.
//!
//! Every object's identity is hashed in parallel, borrowed (nothing is allocated per object);
//! only identities whose hashes meet are compared, and only true repeats are recorded. The
//! join then asks, object by object, whether one is a repeat — instead of building a map of
//! every name it has seen, one allocated key per object, on its serial path.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};

use kubesurface_model::Source;

use crate::objects::Parsed;

/// What two objects must not share.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Identity<'a> {
    /// The kind as errors name it (`Pod`, `Deployment`, `calico NetworkPolicy`).
    kind: Cow<'a, str>,
    /// Empty for cluster-scoped objects.
    namespace: &'a str,
    name: &'a str,
}

impl Identity<'_> {
    /// How errors name the object: `Kind ns/name`, or `Kind name` when cluster-scoped.
    fn describe(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Calls `f` with each identity an object claims, numbered by its part (a `TieredMany` is
/// several policies; every other object claims at most one, part 0). Namespaces merge,
/// Endpoints add up, and CRDs and unknown kinds are only counted: they claim none.
fn identities<'a>(p: &'a Parsed, f: &mut impl FnMut(usize, Identity<'a>, Cow<'a, Source>)) {
    let mut one = |kind: Cow<'a, str>, namespace: &'a str, name: &'a str, source: &'a Source| {
        f(
            0,
            Identity {
                kind,
                namespace,
                name,
            },
            Cow::Borrowed(source),
        );
    };
    match p {
        Parsed::Node(n) => one("Node".into(), "", &n.name, &n.source),
        Parsed::Pod(p) => one("Pod".into(), &p.namespace, &p.meta.name, &p.source),
        Parsed::Workload(w) => one(
            w.kind.as_str().into(),
            &w.namespace,
            &w.meta.name,
            &w.source,
        ),
        Parsed::Service(s) => one("Service".into(), &s.namespace, &s.name, &s.source),
        Parsed::Policy(p) => one("NetworkPolicy".into(), &p.namespace, &p.name, &p.source),
        Parsed::Ingress(i) => one("Ingress".into(), &i.namespace, &i.name, &i.source),
        Parsed::IngressClass(c) => one("IngressClass".into(), "", &c.name, &c.source),
        Parsed::Gateway(g) => one("Gateway".into(), &g.namespace, &g.name, &g.source),
        Parsed::GatewayClass(c) => one("GatewayClass".into(), "", &c.name, &c.source),
        Parsed::Route(r) => one(r.kind.as_str().into(), &r.namespace, &r.name, &r.source),
        Parsed::ReferenceGrant(g) => one("ReferenceGrant".into(), &g.namespace, &g.name, &g.source),
        Parsed::HostEndpoint(h) => one("HostEndpoint".into(), "", &h.name, &h.source),
        Parsed::Tiered(p) => tiered(0, p, f),
        Parsed::TieredMany(parts) => {
            for (part, p) in parts.iter().enumerate() {
                tiered(part, p, f);
            }
        }
        Parsed::Tier(t) => f(
            0,
            Identity {
                kind: "Tier".into(),
                namespace: "",
                name: &t.name,
            },
            t.source
                .as_ref()
                .map_or_else(|| Cow::Owned(Source::implicit()), Cow::Borrowed),
        ),
        Parsed::ServiceAccount(sa) => f(
            0,
            Identity {
                kind: "ServiceAccount".into(),
                namespace: &sa.namespace,
                name: &sa.name,
            },
            Cow::Owned(Source::implicit()),
        ),
        Parsed::Warned { parsed, .. } => identities(parsed, f),
        Parsed::Namespace { .. }
        | Parsed::Endpoints { .. }
        | Parsed::Crd { .. }
        | Parsed::Unknown(_) => {}
    }
}

/// The identity of one normalized dialect policy, as part `part` of its object.
fn tiered<'a>(
    part: usize,
    p: &'a kubesurface_model::TieredPolicy,
    f: &mut impl FnMut(usize, Identity<'a>, Cow<'a, Source>),
) {
    f(
        part,
        Identity {
            kind: format!("{} {}", p.dialect.family(), p.dialect.kind()).into(),
            namespace: p.namespace.as_deref().unwrap_or_default(),
            name: &p.name,
        },
        Cow::Borrowed(&p.source),
    );
}

/// An object (part) that repeats an earlier one's identity.
#[derive(Debug, Clone)]
pub struct Repeat {
    /// The index of the first object with this identity.
    pub first: usize,
    /// Where the first one is.
    pub first_source: Source,
    /// Where this one is.
    pub source: Source,
    /// How errors name the object (`Kind ns/name`).
    pub object: String,
}

/// The repeats among a list of objects, by (object index, part).
#[derive(Debug, Default)]
pub struct Repeats(FxHashMap<(usize, usize), Repeat>);

impl Repeats {
    /// Finds the repeats among `objects` (in input order): every later object (part) whose
    /// identity an earlier one already claimed, each paired with the first claimant.
    pub fn find(objects: &[Parsed]) -> Repeats {
        let mut hashes: Vec<(u64, u32, u32)> = objects
            .par_iter()
            .enumerate()
            .fold(Vec::new, |mut out, (i, p)| {
                identities(p, &mut |part, id, _| {
                    let mut h = FxHasher::default();
                    id.hash(&mut h);
                    out.push((h.finish(), i as u32, part as u32));
                });
                out
            })
            .reduce(Vec::new, |mut a, b| {
                a.extend(b);
                a
            });
        hashes.par_sort_unstable();
        let mut repeats = FxHashMap::default();
        for run in hashes.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
            // Equal hashes: compare the identities themselves, in input order.
            let claims: Vec<(usize, usize, Identity<'_>, Cow<'_, Source>)> = run
                .iter()
                .filter_map(|&(_, i, part)| {
                    let mut found = None;
                    identities(&objects[i as usize], &mut |p, id, source| {
                        if p == part as usize {
                            found = Some((i as usize, p, id, source));
                        }
                    });
                    found
                })
                .collect();
            for (k, (i, part, id, source)) in claims.iter().enumerate() {
                if let Some((first, _, _, first_source)) = claims[..k].iter().find(|c| c.2 == *id) {
                    repeats.insert(
                        (*i, *part),
                        Repeat {
                            first: *first,
                            first_source: first_source.clone().into_owned(),
                            source: source.clone().into_owned(),
                            object: id.describe(),
                        },
                    );
                }
            }
        }
        Repeats(repeats)
    }

    /// The repeat at object `index`, part `part`, if it is one.
    pub fn get(&self, index: usize, part: usize) -> Option<&Repeat> {
        if self.0.is_empty() {
            return None;
        }
        self.0.get(&(index, part))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kubesurface_model as model;

    use super::*;

    fn source(line: u32) -> Source {
        Source {
            file: Arc::from("a.yaml"),
            line,
        }
    }

    fn account(ns: &str, name: &str) -> Parsed {
        Parsed::ServiceAccount(model::ServiceAccount {
            namespace: ns.into(),
            name: name.into(),
            labels: Default::default(),
        })
    }

    fn ingress_class(name: &str, line: u32) -> Parsed {
        Parsed::IngressClass(model::IngressClass {
            name: name.into(),
            controller: "c".into(),
            is_default: false,
            source: source(line),
        })
    }

    fn gateway_class(name: &str, line: u32) -> Parsed {
        Parsed::GatewayClass(model::GatewayClass {
            name: name.into(),
            controller: "c".into(),
            source: source(line),
        })
    }

    #[test]
    fn later_claimants_are_paired_with_the_first() {
        let objects = vec![
            ingress_class("web", 1),
            gateway_class("web", 2),
            ingress_class("db", 3),
            ingress_class("web", 4),
            ingress_class("web", 5),
        ];
        let r = Repeats::find(&objects);
        assert!(r.get(0, 0).is_none());
        assert!(r.get(1, 0).is_none(), "another kind");
        assert!(r.get(2, 0).is_none(), "another name");
        for i in [3, 4] {
            let repeat = r.get(i, 0).expect("repeat");
            assert_eq!(repeat.first, 0);
            assert_eq!(repeat.first_source.line, 1);
            assert_eq!(repeat.source.line, i as u32 + 1);
            assert_eq!(repeat.object, "IngressClass web");
        }
        assert_eq!(r.0.len(), 2);
    }

    #[test]
    fn namespaced_objects_repeat_only_in_their_namespace() {
        let r = Repeats::find(&[account("a", "x"), account("b", "x"), account("a", "x")]);
        assert!(r.get(1, 0).is_none());
        let repeat = r.get(2, 0).expect("repeat");
        assert_eq!(
            (repeat.first, repeat.object.as_str()),
            (0, "ServiceAccount a/x")
        );
    }

    #[test]
    fn warned_objects_claim_what_they_wrap_and_namespaces_claim_nothing() {
        let namespace = |line| Parsed::Namespace {
            name: "a".into(),
            labels: Default::default(),
            annotations: Default::default(),
            source: source(line),
        };
        let warned = Parsed::Warned {
            parsed: Box::new(ingress_class("web", 4)),
            warnings: vec![],
        };
        let r = Repeats::find(&[namespace(1), namespace(2), ingress_class("web", 3), warned]);
        assert!(r.get(1, 0).is_none());
        assert_eq!(r.get(3, 0).expect("repeat").first, 2);
    }

    /// Many objects, few repeats: every pair found, whatever the hash order.
    #[test]
    fn repeats_are_found_among_many() {
        let objects: Vec<Parsed> = (0..5000)
            .map(|i| account("ns", &format!("s{}", i % 4000)))
            .collect();
        let r = Repeats::find(&objects);
        assert_eq!(r.0.len(), 1000);
        for i in 4000..5000 {
            assert_eq!(r.get(i, 0).expect("repeat").first, i - 4000);
        }
    }
}
