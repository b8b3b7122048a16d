//! `explain` for the policy dialects: one side of one connection evaluated straight from the
//! [`TieredPolicy`]s (no classes, atoms or bitsets), step by step in tier and order, keeping
//! every step up to the one that decided.

use std::net::IpAddr;

use ipnet::IpNet;
use kubesurface_model::{
    Action, Cluster, DEFAULT_TIER, Entity, KUBERNETES_POLICY_ORDER, LabelExpr, Protocol, Subject,
    TieredPeer, TieredPolicy, TieredRule,
};

use crate::explain::{Ctx, Match, PeerRef, SideTrail, StepTrail, ports_match};
use crate::settings::Settings;
use crate::tiered::{apiserver_ips, host_matches, pod_matches, pod_view_labels, tier_table};

fn node_ips(cluster: &Cluster, filter: impl Fn(&str) -> bool) -> Vec<IpAddr> {
    cluster
        .nodes
        .values()
        .filter(|n| filter(&n.name))
        .flat_map(|n| n.ips())
        .collect()
}

fn node_label_match(cluster: &Cluster, node: &str, expr: &LabelExpr, family: &str) -> bool {
    host_matches(cluster, node, expr, family)
}

/// True when policy `p` applies to `pod` (a pod, a hostNetwork pod, a node or a node
/// address).
fn subject_matches(cluster: &Cluster, p: &TieredPolicy, pod: &PeerRef) -> bool {
    let family = p.dialect.family();
    match (&p.subject, pod) {
        (Subject::Pods(m), PeerRef::Endpoint(i)) => {
            let e = &cluster.endpoints[*i];
            !e.host_network
                && pod_matches(
                    cluster,
                    m,
                    &e.namespace,
                    &e.labels,
                    e.service_account.as_deref(),
                )
        }
        (Subject::Nodes(expr), PeerRef::Endpoint(i)) => {
            let e = &cluster.endpoints[*i];
            e.host_network
                && e.node
                    .as_deref()
                    .is_some_and(|n| node_label_match(cluster, n, expr, family))
        }
        (Subject::Nodes(expr), PeerRef::Node { name, .. }) => {
            node_label_match(cluster, name, expr, family)
        }
        (Subject::Nodes(expr), PeerRef::Address(ip)) => {
            node_ips(cluster, |n| node_label_match(cluster, n, expr, family)).contains(ip)
        }
        (Subject::Pods(_), _) => false,
    }
}

fn in_nets(ip: &IpAddr, nets: Option<&[IpNet]>, except: &[IpNet]) -> bool {
    nets.is_none_or(|ns| ns.iter().any(|n| n.contains(ip)))
        && !except.iter().any(|n| n.contains(ip))
}

fn nets_text(nets: Option<&[IpNet]>, except: &[IpNet]) -> String {
    let mut t = match nets {
        None => "any address".to_string(),
        Some(ns) => ns
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
    };
    if !except.is_empty() {
        t.push_str(" except ");
        t.push_str(
            &except
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    t
}

fn m(matched: bool, why: String) -> Match {
    Match { matched, why }
}

/// Whether a peer of unknown address lies in the networks: only when they cover a whole
/// family without exceptions (as the engine decides).
fn unknown_in(nets: Option<&[IpNet]>, except: &[IpNet]) -> bool {
    nets.is_none_or(|ns| ns.iter().any(|n| n.prefix_len() == 0)) && except.is_empty()
}

fn networks_match(
    ctx: &Ctx<'_>,
    other: &PeerRef,
    nets: Option<&[IpNet]>,
    except: &[IpNet],
) -> Match {
    let text = nets_text(nets, except);
    match ctx.addresses(other) {
        Some(ips) => match ips.iter().find(|ip| in_nets(ip, nets, except)) {
            Some(ip) => m(true, format!("{ip} is in {text}")),
            None => m(false, format!("{} is not in {text}", ctx.name(other))),
        },
        None if unknown_in(nets, except) => m(
            true,
            format!(
                "address of {} unknown, but {text} covers every address",
                ctx.name(other)
            ),
        ),
        None => m(
            false,
            format!(
                "address of {} unknown; {text} may not contain it",
                ctx.name(other)
            ),
        ),
    }
}

/// Whether one dialect peer matches the other end of the connection.
fn peer_matches(ctx: &Ctx<'_>, peer: &TieredPeer, family: &str, other: &PeerRef) -> Match {
    let cluster = ctx.cluster;
    let is_node_ip = |ip: &IpAddr| node_ips(cluster, |_| true).contains(ip);
    match peer {
        TieredPeer::All => m(true, "any peer".into()),
        TieredPeer::Pods {
            pods,
            not_labels,
            nets,
            not_nets,
        } => {
            let PeerRef::Endpoint(i) = other else {
                return m(false, format!("{} is not a pod", ctx.name(other)));
            };
            let e = &cluster.endpoints[*i];
            if e.host_network {
                return m(
                    false,
                    format!(
                        "{} is a hostNetwork pod: pod selectors never match it",
                        e.display_name()
                    ),
                );
            }
            if !pod_matches(
                cluster,
                pods,
                &e.namespace,
                &e.labels,
                e.service_account.as_deref(),
            ) {
                return m(
                    false,
                    format!("{} is not among the selected pods", e.display_name()),
                );
            }
            if let Some(not) = not_labels
                && not.matches(&pod_view_labels(
                    &e.labels,
                    &e.namespace,
                    e.service_account.as_deref(),
                ))
            {
                return m(false, format!("{} matches notSelector", e.display_name()));
            }
            if nets.is_some() || !not_nets.is_empty() {
                let n = networks_match(ctx, other, nets.as_deref(), not_nets);
                if !n.matched {
                    return n;
                }
            }
            m(
                true,
                format!("{} is among the selected pods", e.display_name()),
            )
        }
        TieredPeer::Nodes(expr) => {
            let hit = match other {
                PeerRef::Endpoint(i) => {
                    let e = &cluster.endpoints[*i];
                    e.host_network
                        && e.node
                            .as_deref()
                            .is_some_and(|n| node_label_match(cluster, n, expr, family))
                }
                PeerRef::Node { name, .. } => node_label_match(cluster, name, expr, family),
                PeerRef::Address(ip) => {
                    node_ips(cluster, |n| node_label_match(cluster, n, expr, family)).contains(ip)
                }
            };
            m(
                hit,
                format!(
                    "{} {} a selected node",
                    ctx.name(other),
                    if hit {
                        "is (or runs on the network of)"
                    } else {
                        "is not"
                    }
                ),
            )
        }
        TieredPeer::Networks {
            nets,
            except,
            matches_pods,
        } => {
            if !matches_pods
                && (matches!(other, PeerRef::Endpoint(_)) || ctx.is_node_address(other))
            {
                return m(
                    false,
                    format!("CIDR peers never match pods or nodes ({})", ctx.name(other)),
                );
            }
            networks_match(ctx, other, nets.as_deref(), except)
        }
        TieredPeer::Entity(entity) => {
            let hit = match (entity, other) {
                (Entity::All, _) => true,
                (Entity::Internal, _) => false,
                (Entity::World, PeerRef::Address(ip)) => !is_node_ip(ip),
                (Entity::World, _) => false,
                (Entity::Cluster, PeerRef::Address(ip)) => is_node_ip(ip),
                (Entity::Cluster, _) => true,
                (Entity::Host | Entity::RemoteNode, PeerRef::Endpoint(i)) => {
                    cluster.endpoints[*i].host_network
                }
                (Entity::Host | Entity::RemoteNode, PeerRef::Node { .. }) => true,
                (Entity::Host | Entity::RemoteNode, PeerRef::Address(ip)) => is_node_ip(ip),
                (Entity::KubeApiserver, PeerRef::Address(ip)) => {
                    apiserver_ips(cluster).contains(ip)
                }
                (Entity::KubeApiserver, PeerRef::Endpoint(i)) => {
                    let e = &cluster.endpoints[*i];
                    e.namespace == "kube-system"
                        && e.labels.get("component").map(String::as_str) == Some("kube-apiserver")
                }
                (Entity::KubeApiserver, PeerRef::Node { .. }) => false,
            };
            m(
                hit,
                format!(
                    "{} {} entity {entity:?}",
                    ctx.name(other),
                    if hit { "is in" } else { "is not in" }
                ),
            )
        }
    }
}

fn rule_match(
    ctx: &Ctx<'_>,
    family: &str,
    rule: &TieredRule,
    other: &PeerRef,
    dst: &PeerRef,
    port: u16,
    protocol: Protocol,
) -> (Match, Match) {
    let results: Vec<Match> = rule
        .peers
        .iter()
        .map(|p| peer_matches(ctx, p, family, other))
        .collect();
    let peer = results
        .iter()
        .find(|r| r.matched)
        .cloned()
        .unwrap_or_else(|| {
            let mut reasons: Vec<&str> = Vec::new();
            for r in &results {
                if !reasons.contains(&r.why.as_str()) {
                    reasons.push(&r.why);
                }
            }
            m(
                false,
                if reasons.is_empty() {
                    "no peers".into()
                } else {
                    reasons.join("; ")
                },
            )
        });
    let mut port_m = ports_match(ctx.cluster, &rule.ports, dst, port, protocol);
    if port_m.matched && !rule.not_ports.is_empty() {
        let not = ports_match(ctx.cluster, &rule.not_ports, dst, port, protocol);
        if not.matched {
            port_m = m(false, format!("excluded by notPorts: {}", not.why));
        }
    }
    if port_m.matched && rule.l7 {
        port_m
            .why
            .push_str(" (L7 rules filter further; decided at L3/L4)");
    }
    (peer, port_m)
}

/// One entry of a tier in `explain`.
enum Entry<'a> {
    /// A dialect policy.
    Dialect(&'a TieredPolicy),
    /// A Kubernetes NetworkPolicy that isolates the pod, with its v1 trail.
    Kubernetes(&'a crate::explain::PolicyTrail),
}

fn cmp_order(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// One side, with the dialects: `v1` is the NetworkPolicy v1 trail of this side; when no
/// enforced dialect policy selects `pod` for the direction, it is returned unchanged.
#[allow(clippy::too_many_arguments)]
pub(crate) fn side(
    cluster: &Cluster,
    settings: Settings,
    v1: SideTrail,
    pod: &PeerRef,
    other: &PeerRef,
    dst: &PeerRef,
    port: u16,
    protocol: Protocol,
    ingress: bool,
) -> SideTrail {
    let ctx = Ctx { cluster, settings };
    let dir = if ingress { "ingress" } else { "egress" };
    let selecting: Vec<&TieredPolicy> = cluster
        .tiered_policies
        .iter()
        .filter(|p| settings.enforces(p.dialect))
        .filter(|p| {
            if ingress {
                p.applies_ingress
            } else {
                p.applies_egress
            }
        })
        .filter(|p| subject_matches(cluster, p, pod))
        .collect();
    if selecting.is_empty() {
        return v1;
    }
    let v1_isolated = !v1.policies.is_empty();
    let tiers = tier_table(cluster);
    let mut steps: Vec<StepTrail> = Vec::new();
    let mut verdict: Option<(bool, String)> = None;
    'tiers: for tier in &tiers {
        // (order, sort name, a dialect policy or a Kubernetes NetworkPolicy's trail)
        let mut entries: Vec<(Option<f64>, String, Entry<'_>)> = selecting
            .iter()
            .filter(|p| p.tier == tier.name)
            .map(|p| {
                (
                    p.order,
                    format!("{}/{}", p.namespace.as_deref().unwrap_or(""), p.name),
                    Entry::Dialect(p),
                )
            })
            .collect();
        let mut isolates = false;
        if tier.name == DEFAULT_TIER && v1_isolated {
            isolates = true;
            for trail in &v1.policies {
                let (ns, name) = trail.policy.split_once('/').unwrap_or(("", &trail.policy));
                entries.push((
                    Some(KUBERNETES_POLICY_ORDER),
                    format!("{ns}/knp.default.{name}"),
                    Entry::Kubernetes(trail),
                ));
            }
        }
        if entries.is_empty() {
            continue;
        }
        entries.sort_by(|a, b| cmp_order(a.0, b.0).then_with(|| a.1.cmp(&b.1)));
        for (order, _, entry) in &entries {
            let p = match entry {
                Entry::Dialect(p) => *p,
                Entry::Kubernetes(trail) => {
                    let decided = trail.admits;
                    steps.push(StepTrail {
                        tier: tier.name.clone(),
                        order: *order,
                        policy: format!("NetworkPolicy {}", trail.policy),
                        location: trail.location.clone(),
                        rule: "its rules (see policies)".into(),
                        action: Action::Allow.as_str().into(),
                        peer: m(
                            decided,
                            if decided {
                                "a rule admits it".into()
                            } else {
                                "no rule admits it".into()
                            },
                        ),
                        port: m(decided, String::new()),
                        decided,
                    });
                    if decided {
                        verdict = Some((
                            true,
                            format!(
                                "allowed by NetworkPolicy {} in tier {}",
                                trail.policy, tier.name
                            ),
                        ));
                        break 'tiers;
                    }
                    continue;
                }
            };
            isolates |= if ingress {
                p.isolates_ingress
            } else {
                p.isolates_egress
            };
            let rules = if ingress { &p.ingress } else { &p.egress };
            for (ri, rule) in rules.iter().enumerate() {
                let (peer, port_m) =
                    rule_match(&ctx, p.dialect.family(), rule, other, dst, port, protocol);
                let hit = peer.matched && port_m.matched;
                let decided = hit && rule.action != Action::Log;
                steps.push(StepTrail {
                    tier: tier.name.clone(),
                    order: p.order,
                    policy: p.display_name(),
                    location: rule.source.to_string(),
                    rule: match &rule.name {
                        Some(n) => format!("{dir}[{ri}] {n:?}"),
                        None => format!("{dir}[{ri}]"),
                    },
                    action: rule.action.as_str().into(),
                    peer,
                    port: port_m,
                    decided,
                });
                if !decided {
                    continue;
                }
                match rule.action {
                    Action::Allow => {
                        verdict = Some((
                            true,
                            format!(
                                "allowed by {} {dir}[{ri}] (tier {})",
                                p.display_name(),
                                tier.name
                            ),
                        ));
                        break 'tiers;
                    }
                    Action::Deny => {
                        verdict = Some((
                            false,
                            format!(
                                "denied by {} {dir}[{ri}] (tier {})",
                                p.display_name(),
                                tier.name
                            ),
                        ));
                        break 'tiers;
                    }
                    Action::Pass | Action::Log => continue 'tiers,
                }
            }
        }
        if isolates && tier.default_action == Action::Deny {
            steps.push(StepTrail {
                tier: tier.name.clone(),
                order: None,
                policy: "end of tier".into(),
                location: String::new(),
                rule: String::new(),
                action: Action::Deny.as_str().into(),
                peer: m(
                    true,
                    format!(
                        "a policy of tier {} selects {} for {dir}",
                        tier.name,
                        ctx.name(pod)
                    ),
                ),
                port: m(true, "no rule of the tier matched".into()),
                decided: true,
            });
            verdict = Some((
                false,
                format!(
                    "denied at the end of tier {}: selected for {dir}, no rule matched",
                    tier.name
                ),
            ));
            break;
        }
    }
    let (allowed, reason) = verdict.unwrap_or((
        true,
        format!("no tier decided {dir} for {}: allowed", ctx.name(pod)),
    ));
    SideTrail {
        allowed,
        reason,
        policies: v1.policies,
        steps,
    }
}
