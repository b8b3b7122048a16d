//! `explain`: one pair evaluated directly from the policies, keeping the trail of every
//! policy and rule considered. The matrix is for bulk; this is for reasons.

use std::net::IpAddr;

use kubesurface_model::{
    Cluster, Endpoint, LabelSelector, NetworkPolicy, Peer, PolicyRule, PortSpec, Protocol,
};

use crate::atoms::{block_contains, block_covers_family};
use crate::selector::matches;
use crate::settings::Settings;

/// One side of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerRef {
    /// An endpoint (index into `Cluster::endpoints`).
    Endpoint(usize),
    /// An address outside the pods of the input.
    Address(IpAddr),
    /// A node: its name and known addresses. Traffic from a node to its own pods is always
    /// allowed.
    Node {
        /// Node name.
        name: String,
        /// Its addresses (may be empty when the Node object is absent).
        ips: Vec<IpAddr>,
    },
}

/// Whether a peer or port clause matched, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Matched.
    pub matched: bool,
    /// The reason, for people.
    pub why: String,
}

/// One rule of a policy as evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTrail {
    /// Index in the policy's `ingress` or `egress`.
    pub index: usize,
    /// The peer clause.
    pub peer: Match,
    /// The port clause.
    pub port: Match,
}

/// One policy that selects the pod on this side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyTrail {
    /// `ns/name`.
    pub policy: String,
    /// `file:line`.
    pub location: String,
    /// Each rule.
    pub rules: Vec<RuleTrail>,
    /// Some rule admitted the traffic.
    pub admits: bool,
}

/// One side (egress of the source, or ingress of the destination).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideTrail {
    /// The side allows the traffic.
    pub allowed: bool,
    /// Why, in one sentence.
    pub reason: String,
    /// The NetworkPolicies that isolate the pod for this direction (empty when not isolated).
    pub policies: Vec<PolicyTrail>,
    /// When dialect policies (admin, Calico, Cilium) select the pod for this direction:
    /// every step evaluated, in order, up to the one that decided.
    pub steps: Vec<StepTrail>,
}

/// One step of a tiered evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTrail {
    /// Tier name.
    pub tier: String,
    /// The policy's order (priority) within the tier; `None` = unset (last).
    pub order: Option<f64>,
    /// `Kind ns/name`, or `NetworkPolicy` for the Kubernetes NetworkPolicies as one step,
    /// or `end of tier` for the tier's default action.
    pub policy: String,
    /// `file:line`.
    pub location: String,
    /// The rule: `ingress[0]` (and its name, when it has one).
    pub rule: String,
    /// `Allow`, `Deny`, `Pass` or `Log`.
    pub action: String,
    /// The peer clause.
    pub peer: Match,
    /// The port clause.
    pub port: Match,
    /// This step decided the side (or, for `Pass`, left the tier).
    pub decided: bool,
}

// Orders are finite numbers from validated input (never NaN), so equality is reflexive.
impl Eq for StepTrail {}

/// The verdict for one (source, destination, port, protocol) and its trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// Allowed.
    pub allowed: bool,
    /// What decided: `policies`, `node-origin`, `self`.
    pub decided_by: String,
    /// The source's egress side.
    pub egress: SideTrail,
    /// The destination's ingress side.
    pub ingress: SideTrail,
    /// The settings the verdict used.
    pub assumptions: Vec<String>,
}

pub(crate) struct Ctx<'a> {
    pub(crate) cluster: &'a Cluster,
    pub(crate) settings: Settings,
}

fn selector_text(s: &LabelSelector) -> String {
    if s.is_empty() {
        return "{}".to_string();
    }
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for r in &s.match_expressions {
        let values = r.values.join(",");
        parts.push(match r.operator {
            kubesurface_model::Operator::In => format!("{} in ({values})", r.key),
            kubesurface_model::Operator::NotIn => format!("{} notin ({values})", r.key),
            kubesurface_model::Operator::Exists => r.key.clone(),
            kubesurface_model::Operator::DoesNotExist => format!("!{}", r.key),
        });
    }
    parts.join(",")
}

impl Ctx<'_> {
    pub(crate) fn name(&self, p: &PeerRef) -> String {
        match p {
            PeerRef::Endpoint(i) => self.cluster.endpoints[*i].display_name(),
            PeerRef::Address(ip) => format!("ext:{ip}"),
            PeerRef::Node { name, .. } => format!("node:{name}"),
        }
    }

    /// True for a node, or an address that is a node's.
    pub(crate) fn is_node_address(&self, p: &PeerRef) -> bool {
        match p {
            PeerRef::Node { .. } => true,
            PeerRef::Address(ip) => self.cluster.nodes.values().any(|n| n.ips().contains(ip)),
            PeerRef::Endpoint(_) => false,
        }
    }

    pub(crate) fn addresses(&self, p: &PeerRef) -> Option<Vec<IpAddr>> {
        match p {
            PeerRef::Endpoint(i) => {
                let e = &self.cluster.endpoints[*i];
                (!e.ips.is_empty()).then(|| e.ips.clone())
            }
            PeerRef::Address(ip) => Some(vec![*ip]),
            PeerRef::Node { ips, .. } => (!ips.is_empty()).then(|| ips.clone()),
        }
    }

    /// Does one peer clause of `policy` match `p`?
    fn peer_matches(&self, policy: &NetworkPolicy, peer: &Peer, p: &PeerRef) -> Match {
        match peer {
            Peer::Pods {
                pod_selector,
                namespace_selector,
            } => {
                let PeerRef::Endpoint(i) = p else {
                    return Match {
                        matched: false,
                        why: format!(
                            "pod/namespace selectors match only pods; {} is not one",
                            self.name(p)
                        ),
                    };
                };
                let e = &self.cluster.endpoints[*i];
                if e.host_network {
                    return Match {
                        matched: false,
                        why: format!(
                            "{} is a hostNetwork pod: selectors never match node traffic",
                            e.display_name()
                        ),
                    };
                }
                let ns_ok = match namespace_selector {
                    None => {
                        if e.namespace != policy.namespace {
                            return Match {
                                matched: false,
                                why: format!(
                                    "podSelector alone selects pods of namespace {}, not {}",
                                    policy.namespace, e.namespace
                                ),
                            };
                        }
                        true
                    }
                    Some(s) => {
                        let labels = self.cluster.namespace_labels(&e.namespace);
                        if !labels.is_some_and(|l| matches(s, l)) {
                            return Match {
                                matched: false,
                                why: format!(
                                    "namespace {} does not match namespaceSelector {}",
                                    e.namespace,
                                    selector_text(s)
                                ),
                            };
                        }
                        true
                    }
                };
                match pod_selector {
                    Some(s) if !matches(s, &e.labels) => Match {
                        matched: false,
                        why: format!(
                            "labels of {} do not match podSelector {}",
                            e.display_name(),
                            selector_text(s)
                        ),
                    },
                    Some(s) => Match {
                        matched: ns_ok,
                        why: format!(
                            "podSelector {} matches {}{}",
                            selector_text(s),
                            e.display_name(),
                            namespace_selector
                                .as_ref()
                                .map(|n| format!(" in a namespace matching {}", selector_text(n)))
                                .unwrap_or_default()
                        ),
                    },
                    None => Match {
                        matched: ns_ok,
                        why: format!(
                            "namespaceSelector {} matches namespace {}",
                            namespace_selector
                                .as_ref()
                                .map(selector_text)
                                .unwrap_or_default(),
                            e.namespace
                        ),
                    },
                }
            }
            Peer::IpBlock(b) => {
                if self.settings.cni == kubesurface_model::Cni::Cilium && self.is_node_address(p) {
                    return Match {
                        matched: false,
                        why: format!(
                            "ipBlock {} never matches a node address under Cilium (--cni cilium)",
                            b.cidr
                        ),
                    };
                }
                let is_cluster_addr = matches!(p, PeerRef::Endpoint(_));
                if is_cluster_addr && !self.settings.ipblock_matches_pods {
                    return Match {
                        matched: false,
                        why: format!(
                            "ipBlock {} does not match pod addresses (setting --ipblock-matches-pods false)",
                            b.cidr
                        ),
                    };
                }
                match self.addresses(p) {
                    Some(ips) => match ips.iter().find(|ip| block_contains(b, **ip)) {
                        Some(ip) => Match {
                            matched: true,
                            why: format!("{ip} is in ipBlock {}{}", b.cidr, except_text(&b.except)),
                        },
                        None => Match {
                            matched: false,
                            why: format!(
                                "{} not in ipBlock {}{}",
                                ips.iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(","),
                                b.cidr,
                                except_text(&b.except)
                            ),
                        },
                    },
                    None if block_covers_family(b) => Match {
                        matched: true,
                        why: format!(
                            "address unknown, but ipBlock {} covers every address",
                            b.cidr
                        ),
                    },
                    None => Match {
                        matched: false,
                        why: format!(
                            "address of {} unknown; ipBlock {} may not contain it",
                            self.name(p),
                            b.cidr
                        ),
                    },
                }
            }
        }
    }

    fn port_matches(
        &self,
        rule: &PolicyRule,
        dst: &PeerRef,
        port: u16,
        protocol: Protocol,
    ) -> Match {
        ports_match(self.cluster, &rule.ports, dst, port, protocol)
    }
}

/// Whether `port/protocol` to `dst` is among `ports` (empty = every port), and why.
pub(crate) fn ports_match(
    cluster: &Cluster,
    ports: &[kubesurface_model::PolicyPort],
    dst: &PeerRef,
    port: u16,
    protocol: Protocol,
) -> Match {
    {
        if ports.is_empty() {
            return Match {
                matched: true,
                why: "no ports listed: every port".into(),
            };
        }
        for p in ports {
            if p.protocol != protocol {
                continue;
            }
            match &p.port {
                PortSpec::All => {
                    return Match {
                        matched: true,
                        why: format!("every {protocol} port"),
                    };
                }
                PortSpec::Range(lo, hi) if (*lo..=*hi).contains(&port) => {
                    return Match {
                        matched: true,
                        why: if lo == hi {
                            format!("{protocol} {lo}")
                        } else {
                            format!("{protocol} {lo}-{hi}")
                        },
                    };
                }
                PortSpec::Named(name) => {
                    if let PeerRef::Endpoint(i) = dst {
                        let e = &cluster.endpoints[*i];
                        if e.ports.iter().any(|c| {
                            c.name.as_deref() == Some(name)
                                && c.protocol == protocol
                                && c.port == port
                        }) {
                            return Match {
                                matched: true,
                                why: format!(
                                    "named port {name:?} resolves to {protocol} {port} on {}",
                                    e.display_name()
                                ),
                            };
                        }
                    }
                }
                PortSpec::Range(..) => {}
            }
        }
        let listed: Vec<String> = ports
            .iter()
            .map(|p| match &p.port {
                PortSpec::All => format!("{} all", p.protocol),
                PortSpec::Range(lo, hi) if lo == hi => format!("{} {lo}", p.protocol),
                PortSpec::Range(lo, hi) => format!("{} {lo}-{hi}", p.protocol),
                PortSpec::Named(n) => format!("{} {n:?} (named, on the destination)", p.protocol),
            })
            .collect();
        Match {
            matched: false,
            why: format!("{protocol} {port} not among {}", listed.join(", ")),
        }
    }
}

impl Ctx<'_> {
    fn side(
        &self,
        pod: &PeerRef,
        other: &PeerRef,
        dst: &PeerRef,
        port: u16,
        protocol: Protocol,
        ingress: bool,
    ) -> SideTrail {
        let dir = if ingress { "ingress" } else { "egress" };
        let PeerRef::Endpoint(i) = pod else {
            return SideTrail {
                allowed: true,
                reason: format!(
                    "{} is outside the pod network: no {dir} policy applies",
                    self.name(pod)
                ),
                policies: vec![],
                steps: vec![],
            };
        };
        let e: &Endpoint = &self.cluster.endpoints[*i];
        if e.host_network {
            return SideTrail {
                allowed: true,
                reason: format!(
                    "{} uses hostNetwork: NetworkPolicy does not apply to it",
                    e.display_name()
                ),
                policies: vec![],
                steps: vec![],
            };
        }
        let mut policies = Vec::new();
        for p in &self.cluster.policies {
            let affects = if ingress {
                p.affects_ingress
            } else {
                p.affects_egress
            };
            if !affects || p.namespace != e.namespace || !matches(&p.pod_selector, &e.labels) {
                continue;
            }
            let rules = if ingress { &p.ingress } else { &p.egress };
            let mut trail = PolicyTrail {
                policy: format!("{}/{}", p.namespace, p.name),
                location: p.source.to_string(),
                rules: vec![],
                admits: false,
            };
            for (ri, rule) in rules.iter().enumerate() {
                let peer = if rule.peers.is_empty() {
                    Match {
                        matched: true,
                        why: format!(
                            "no {} listed: every peer",
                            if ingress { "from" } else { "to" }
                        ),
                    }
                } else {
                    let results: Vec<Match> = rule
                        .peers
                        .iter()
                        .map(|peer| self.peer_matches(p, peer, other))
                        .collect();
                    results
                        .iter()
                        .find(|m| m.matched)
                        .cloned()
                        .unwrap_or_else(|| {
                            // Several peers often fail for the same reason: say it once.
                            let mut reasons: Vec<&str> = Vec::new();
                            for m in &results {
                                if !reasons.contains(&m.why.as_str()) {
                                    reasons.push(&m.why);
                                }
                            }
                            Match {
                                matched: false,
                                why: reasons.join("; "),
                            }
                        })
                };
                let port_m = self.port_matches(rule, dst, port, protocol);
                trail.admits |= peer.matched && port_m.matched;
                trail.rules.push(RuleTrail {
                    index: ri,
                    peer,
                    port: port_m,
                });
            }
            policies.push(trail);
        }
        if policies.is_empty() {
            return SideTrail {
                allowed: true,
                reason: format!(
                    "no policy selects {} for {dir}: not isolated",
                    e.display_name()
                ),
                policies,
                steps: vec![],
            };
        }
        let allowed = policies.iter().any(|p| p.admits);
        let reason = if allowed {
            let by: Vec<&str> = policies
                .iter()
                .filter(|p| p.admits)
                .map(|p| p.policy.as_str())
                .collect();
            format!("isolated for {dir}; admitted by {}", by.join(", "))
        } else {
            format!(
                "isolated for {dir} by {} polic{}; no rule admits it",
                policies.len(),
                if policies.len() == 1 { "y" } else { "ies" }
            )
        };
        SideTrail {
            allowed,
            reason,
            policies,
            steps: vec![],
        }
    }
}

fn except_text(except: &[ipnet::IpNet]) -> String {
    if except.is_empty() {
        String::new()
    } else {
        format!(
            " except {}",
            except
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    }
}

/// Explains `src → dst:port/protocol`.
pub fn explain(
    cluster: &Cluster,
    settings: Settings,
    src: &PeerRef,
    dst: &PeerRef,
    port: u16,
    protocol: Protocol,
) -> Explanation {
    let ctx = Ctx { cluster, settings };
    let mut assumptions = vec![format!(
        "ipBlock {} pod addresses (--ipblock-matches-pods {})",
        if settings.ipblock_matches_pods {
            "matches"
        } else {
            "does not match"
        },
        settings.ipblock_matches_pods
    )];
    assumptions.push(format!(
        "CNI {} (--cni {})",
        settings.cni.as_str(),
        settings.cni.as_str()
    ));
    let side = |pod: &PeerRef, other: &PeerRef, ingress: bool| {
        let v1 = ctx.side(pod, other, dst, port, protocol, ingress);
        crate::explain_tiered::side(
            cluster, settings, v1, pod, other, dst, port, protocol, ingress,
        )
    };
    let egress = side(src, dst, false);
    let ingress = side(dst, src, true);
    if src == dst {
        return Explanation {
            allowed: true,
            decided_by: "self".into(),
            egress,
            ingress,
            assumptions,
        };
    }
    // Traffic from a pod's own node is always allowed.
    let dst_node = match dst {
        PeerRef::Endpoint(i) => cluster.endpoints[*i].node.clone(),
        _ => None,
    };
    let src_node = match src {
        PeerRef::Endpoint(i) if cluster.endpoints[*i].host_network => {
            cluster.endpoints[*i].node.clone()
        }
        PeerRef::Node { name, .. } => Some(name.clone()),
        _ => None,
    };
    if let (Some(a), Some(b)) = (&src_node, &dst_node)
        && a == b
    {
        assumptions.push("traffic from a pod's own node is always allowed".into());
        return Explanation {
            allowed: true,
            decided_by: format!("node-origin: the source is node {a}, where the destination runs"),
            egress,
            ingress,
            assumptions,
        };
    }
    let allowed = egress.allowed && ingress.allowed;
    Explanation {
        allowed,
        decided_by: "policies".into(),
        egress,
        ingress,
        assumptions,
    }
}
