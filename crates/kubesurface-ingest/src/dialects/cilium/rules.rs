//! One Cilium ingress or egress rule (allow or deny) → [`TieredRule`]s.
//!
//! Semantics, from docs.cilium.io "Layer 3 policies", "Layer 4 policies", "Deny policies"
//! and `pkg/policy/api` (`rule_validation.go`):
//!
//! - The L3 members (`fromEndpoints`, `fromCIDR`, `fromCIDRSet`, `fromEntities`,
//!   `fromNodes`, `fromGroups`; egress also `toServices`, `toFQDNs`) are mutually
//!   exclusive; Cilium rejects a rule that combines two of them.
//! - A rule with no L3 member but `toPorts` applies to every peer ("Limit ingress/egress
//!   ports"); a rule with neither (`{}`) allows nothing — it only puts the endpoint in
//!   default-deny ("Ingress/Egress Default Deny").
//! - `toPorts` entries are ORed; a `PortRule` without ports covers every port; a port
//!   `"0"` covers every port of its protocol; protocol `ANY` (or none) is TCP, UDP and SCTP.
//! - A `PortRule` with L7 `rules` (or a listener, or TLS SNI/termination) allows at L3/L4
//!   and filters at L7: kubesurface keeps the L3/L4 decision and marks the rule `l7`.
//! - ICMP (`icmps`) and ports of non-port IP protocols are not modelled: they allow (or
//!   deny) no TCP, UDP or SCTP port.
//!
//! Constructs kubesurface cannot resolve from the manifests are mapped conservatively —
//! never reporting less reachability than Cilium enforces — and noted as warnings: in an
//! allow rule `toFQDNs` becomes the `world` entity, `toServices` the pods of the Service's
//! namespace plus any address outside the cluster, `toGroups`/`fromGroups` and CIDR-group
//! references any address outside the cluster, and `fromRequires`/`toRequires` are
//! ignored; in a deny rule those peers are dropped.

use std::str::FromStr;

use ipnet::IpNet;
use kubesurface_model::{
    Action, LabelExpr, NamespaceMatch, PodMatch, PolicyPort, PortSpec, Protocol, Source,
    TieredPeer, TieredRule,
};

use super::selector::{self, Scope};
use super::wire;

/// Cilium's limit of ports per `PortRule` (`maxPorts` in `rule_validation.go`).
const MAX_PORTS: usize = 40;

/// What the rules of one policy share.
pub struct Context<'a> {
    /// The policy's namespace (CiliumNetworkPolicy) or `None` (clusterwide).
    pub namespace: Option<&'a str>,
    /// True for a host policy (`nodeSelector`).
    pub host_policy: bool,
    /// Where the policy was read from.
    pub source: &'a Source,
    /// Notes on constructs mapped conservatively.
    pub warnings: &'a mut Vec<String>,
}

impl Context<'_> {
    fn scope(&self) -> Scope<'_> {
        match self.namespace {
            Some(ns) => Scope::PeerOf(ns),
            None => Scope::Cluster,
        }
    }

    fn warn(&mut self, field: &str, what: &str) {
        self.warnings.push(format!("{field}: {what}"));
    }
}

/// The L3 part of a rule.
enum L3 {
    /// No L3 member: every peer.
    Wildcard,
    /// The peers of the one L3 member (possibly none, e.g. `fromEntities: [none]`).
    Peers(Vec<TieredPeer>),
}

/// Refuses a rule combining two L3 members, as Cilium does ("combining %s and %s is not
/// supported yet").
fn exclusive(members: &[(&str, usize)], field: &str) -> Result<(), String> {
    let present: Vec<&str> = members
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, _)| *name)
        .collect();
    if present.len() > 1 {
        return Err(format!(
            "{field}: combining {} and {} in one rule is not supported by Cilium (it rejects the policy); use separate rules",
            present[0], present[1]
        ));
    }
    Ok(())
}

/// A CIDR in prefix notation, as the CRD's pattern requires (host bits are cleared).
fn cidr(s: &str, field: &str) -> Result<IpNet, String> {
    if !s.contains('/') {
        return Err(format!(
            "{field}: {s:?} is not a valid CIDR (write a prefix, e.g. {s}/32)"
        ));
    }
    IpNet::from_str(s.trim())
        .map(|n| n.trunc())
        .map_err(|_| format!("{field}: {s:?} is not a valid CIDR"))
}

/// Addresses outside the cluster in `nets` (`None` = any), never pods.
fn networks(nets: Option<Vec<IpNet>>, except: Vec<IpNet>) -> TieredPeer {
    TieredPeer::Networks {
        nets,
        except,
        matches_pods: false,
    }
}

fn push(peers: &mut Vec<TieredPeer>, p: TieredPeer) {
    if !peers.contains(&p) {
        peers.push(p);
    }
}

/// `fromEndpoints` / `toEndpoints`.
fn endpoints(
    sels: &[wire::Selector],
    field: &str,
    ctx: &Context<'_>,
    peers: &mut Vec<TieredPeer>,
) -> Result<(), String> {
    for (i, s) in sels.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let parsed = selector::parse(s, &at)?;
        match parsed.reserved_entity(&at)? {
            Some(Some(e)) => push(peers, TieredPeer::Entity(e)),
            Some(None) => {}
            None => push(
                peers,
                TieredPeer::Pods {
                    pods: parsed.pods(ctx.scope(), &at)?,
                    not_labels: None,
                    nets: None,
                    not_nets: Vec::new(),
                },
            ),
        }
    }
    Ok(())
}

/// `fromCIDR` / `toCIDR`: one peer for the list.
fn cidrs(list: &[String], field: &str, peers: &mut Vec<TieredPeer>) -> Result<(), String> {
    if list.is_empty() {
        return Ok(());
    }
    let mut nets = Vec::with_capacity(list.len());
    for (i, c) in list.iter().enumerate() {
        nets.push(cidr(c, &format!("{field}[{i}]"))?);
    }
    push(peers, networks(Some(nets), Vec::new()));
    Ok(())
}

/// `fromCIDRSet` / `toCIDRSet`.
fn cidr_sets(
    list: &[wire::CidrRule],
    field: &str,
    deny: bool,
    ctx: &mut Context<'_>,
    peers: &mut Vec<TieredPeer>,
) -> Result<(), String> {
    for (i, r) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let set = [
            r.cidr.is_some(),
            r.cidr_group_ref.is_some(),
            r.cidr_group_selector.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err(format!(
                "{at}: exactly one of cidr, cidrGroupRef or cidrGroupSelector is required"
            ));
        }
        let Some(c) = &r.cidr else {
            // A CiliumCIDRGroup: its CIDRs are not in the input.
            if deny {
                ctx.warn(
                    &at,
                    "CIDR group references are not resolved; this deny peer is ignored",
                );
            } else {
                ctx.warn(
                    &at,
                    "CIDR group references are not resolved; read as any address outside the cluster",
                );
                push(peers, networks(None, Vec::new()));
            }
            continue;
        };
        let net = cidr(c, &format!("{at}.cidr"))?;
        let mut except = Vec::with_capacity(r.except.len());
        for (j, e) in r.except.iter().enumerate() {
            let ex_at = format!("{at}.except[{j}]");
            let ex = cidr(e, &ex_at)?;
            if ex.prefix_len() < net.prefix_len() || !net.contains(&ex.network()) {
                return Err(format!("{ex_at}: {e} is not within cidr {net}"));
            }
            except.push(ex);
        }
        except.sort();
        except.dedup();
        push(peers, networks(Some(vec![net]), except));
    }
    Ok(())
}

/// `fromEntities` / `toEntities`.
fn entities(list: &[String], field: &str, peers: &mut Vec<TieredPeer>) -> Result<(), String> {
    for (i, name) in list.iter().enumerate() {
        if let Some(e) = selector::entity(name).map_err(|e| format!("{field}[{i}]: {e}"))? {
            push(peers, TieredPeer::Entity(e));
        }
    }
    Ok(())
}

/// `fromNodes` / `toNodes`.
fn nodes(sels: &[wire::Selector], field: &str, peers: &mut Vec<TieredPeer>) -> Result<(), String> {
    for (i, s) in sels.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let expr = selector::parse(s, &at)?.nodes(&at)?;
        push(peers, TieredPeer::Nodes(expr));
    }
    Ok(())
}

/// Validates `fromRequires` / `toRequires` and notes that they are ignored.
fn requires(sels: &[wire::Selector], field: &str, ctx: &mut Context<'_>) -> Result<(), String> {
    if sels.is_empty() {
        return Ok(());
    }
    for (i, s) in sels.iter().enumerate() {
        selector::parse(s, &format!("{field}[{i}]"))?;
    }
    ctx.warn(
        field,
        "label requirements are not evaluated (deprecated in Cilium 1.17, removed in 1.19); kubesurface may report more reachability than Cilium allows",
    );
    Ok(())
}

/// An IANA service name as Cilium's `iana.IsSvcName` reads one (case-insensitively):
/// 1-15 letters, digits and `-`, at least one letter, no leading, trailing or double `-`.
fn is_svc_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.iter().any(u8::is_ascii_alphabetic)
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
}

/// The protocols of a port entry: `None` for IP protocols without ports (not modelled).
fn protocols(p: Option<&str>, field: &str) -> Result<Option<Vec<Protocol>>, String> {
    Ok(Some(match p.unwrap_or("") {
        "" | "ANY" => Protocol::ALL.to_vec(),
        "TCP" => vec![Protocol::Tcp],
        "UDP" => vec![Protocol::Udp],
        "SCTP" => vec![Protocol::Sctp],
        // Cilium's extended IP protocols (behind `--enable-extended-ip-protocols`).
        "VRRP" | "IGMP" | "GRE" | "IPIP" | "IPV6" | "ESP" | "AH" => return Ok(None),
        other => {
            return Err(format!(
                "{field}.protocol: unsupported protocol {other:?} (TCP, UDP, SCTP or ANY)"
            ));
        }
    }))
}

/// One `PortProtocol`: the ports it covers (empty for a non-port protocol).
fn port_protocol(pp: &wire::PortProtocol, field: &str) -> Result<Vec<PolicyPort>, String> {
    let Some(protos) = protocols(pp.protocol.as_deref(), field)? else {
        return Ok(Vec::new());
    };
    let port = match &pp.port {
        None => String::new(),
        Some(wire::Scalar::String(s)) => s.clone(),
        Some(wire::Scalar::Number(n)) => {
            return Err(format!(
                "{field}.port: expected a string, found {n} (quote it: \"{n}\")"
            ));
        }
    };
    let spec = if port.is_empty() {
        return Err(format!("{field}.port: must be specified"));
    } else if port.bytes().all(|c| c.is_ascii_digit()) {
        if port.len() > 1 && port.starts_with('0') {
            return Err(format!(
                "{field}.port: {port:?} has a leading zero (Cilium reads it as octal); write the decimal number"
            ));
        }
        let n: u32 = port
            .parse()
            .ok()
            .filter(|n| *n <= 65535)
            .ok_or_else(|| format!("{field}.port: {port} is not a valid port (0-65535)"))?;
        let start = n as u16;
        if start == 0 {
            // Port 0 is every port of the protocol (endPort ignored).
            PortSpec::All
        } else {
            let end = match pp.end_port {
                None | Some(0) => start,
                Some(e) if (0..=65535).contains(&e) => (e as u16).max(start),
                Some(e) => {
                    return Err(format!(
                        "{field}.endPort: {e} is not a valid port (0-65535)"
                    ));
                }
            };
            PortSpec::Range(start, end)
        }
    } else if is_svc_name(&port) {
        // Named ports resolve on the destination; endPort is ignored for them.
        PortSpec::Named(port.to_ascii_lowercase())
    } else {
        return Err(format!(
            "{field}.port: {port:?} is neither a port number nor a port name"
        ));
    };
    Ok(protos
        .into_iter()
        .map(|protocol| PolicyPort {
            protocol,
            port: spec.clone(),
        })
        .collect())
}

/// The ports of one group of `PortRule`s: every port, or a list.
enum Ports {
    All,
    Some(Vec<PolicyPort>),
}

impl Ports {
    fn add(slot: &mut Option<Ports>, ports: Ports) {
        *slot = Some(match (slot.take(), ports) {
            (None, p) => p,
            (Some(Ports::All), _) | (_, Ports::All) => Ports::All,
            (Some(Ports::Some(mut a)), Ports::Some(b)) => {
                for p in b {
                    if !a.contains(&p) {
                        a.push(p);
                    }
                }
                Ports::Some(a)
            }
        });
    }
}

/// Which direction a rule is for, and whether it denies.
#[derive(Clone, Copy)]
pub struct Kind {
    /// Ingress (else egress).
    pub ingress: bool,
    /// A deny rule (`ingressDeny`/`egressDeny`).
    pub deny: bool,
}

/// `toPorts`: the plain and the L7-filtered port groups (`None` = no such group).
fn to_ports(
    list: &[wire::PortRule],
    field: &str,
    kind: Kind,
    ctx: &Context<'_>,
) -> Result<(Option<Ports>, Option<Ports>), String> {
    let mut plain = None;
    let mut l7 = None;
    for (i, pr) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if pr.ports.len() > MAX_PORTS {
            return Err(format!(
                "{at}.ports: too many ports, the maximum is {MAX_PORTS}"
            ));
        }
        // Deny rules have only `ports` (api.PortDenyRule); the API server prunes the rest.
        let rules = pr.rules.as_ref().filter(|_| !kind.deny);
        let dns = rules.is_some_and(|r| r.dns.is_some());
        let other_l7 = rules.is_some_and(|r| {
            r.http.is_some() || r.kafka.is_some() || r.l7proto.is_some() || r.l7.is_some()
        });
        let proxied = !kind.deny
            && (pr.listener.is_some()
                || !pr.server_names.is_empty()
                || pr.terminating_tls.is_some()
                || pr.originating_tls.is_some());
        if dns && kind.ingress {
            return Err(format!(
                "{at}.rules.dns: DNS rules are not allowed on ingress"
            ));
        }
        if ctx.host_policy && (other_l7 || (kind.ingress && dns)) {
            return Err(format!(
                "{at}.rules: L7 rules are not supported in host policies (nodeSelector)"
            ));
        }
        if dns && pr.ports.is_empty() {
            return Err(format!(
                "{at}.ports: port 53 must be specified for DNS rules"
            ));
        }
        let mut ports = Vec::new();
        let mut any_port_field = false;
        for (j, pp) in pr.ports.iter().enumerate() {
            let pp_at = format!("{at}.ports[{j}]");
            if other_l7 && pp.protocol.as_deref() != Some("TCP") {
                return Err(format!(
                    "{pp_at}.protocol: L7 rules apply to TCP only (write protocol: TCP; got {})",
                    pp.protocol.as_deref().unwrap_or("ANY")
                ));
            }
            let got = port_protocol(pp, &pp_at)?;
            if (dns || other_l7) && got.iter().any(|p| p.port == PortSpec::All) {
                return Err(format!(
                    "{pp_at}.port: L7 rules can not be used when a port is 0"
                ));
            }
            any_port_field = true;
            for p in got {
                if !ports.contains(&p) {
                    ports.push(p);
                }
            }
        }
        let group = if !any_port_field {
            // No ports: every port.
            Ports::All
        } else if ports.is_empty() {
            // Only non-port protocols: no TCP, UDP or SCTP port.
            continue;
        } else if ports.iter().all(|p| p.port == PortSpec::All) && ports.len() == 3 {
            Ports::All
        } else {
            Ports::Some(ports)
        };
        if dns || other_l7 || proxied {
            Ports::add(&mut l7, group);
        } else {
            Ports::add(&mut plain, group);
        }
    }
    Ok((plain, l7))
}

/// The L3 members of one rule, whichever direction.
struct Members<'a> {
    endpoints: (&'a str, &'a [wire::Selector]),
    requires: (&'a str, &'a [wire::Selector]),
    cidr: (&'a str, &'a [String]),
    cidr_set: (&'a str, &'a [wire::CidrRule]),
    entities: (&'a str, &'a [String]),
    nodes: (&'a str, &'a [wire::Selector]),
    groups: (&'a str, usize),
    services: &'a [wire::ServiceRef],
    fqdns: usize,
    to_ports: &'a [wire::PortRule],
    icmps: usize,
}

/// `fromEndpoints` ... or `toEndpoints` ... → the L3 part.
fn l3(m: &Members<'_>, field: &str, kind: Kind, ctx: &mut Context<'_>) -> Result<L3, String> {
    let fqdns = if kind.deny { 0 } else { m.fqdns };
    let mut members = vec![
        (m.endpoints.0, m.endpoints.1.len()),
        (m.cidr.0, m.cidr.1.len()),
        (m.cidr_set.0, m.cidr_set.1.len()),
        (m.entities.0, m.entities.1.len()),
        (m.nodes.0, m.nodes.1.len()),
        (m.groups.0, m.groups.1),
    ];
    if !kind.ingress {
        members.push(("toServices", m.services.len()));
        members.push(("toFQDNs", fqdns));
    }
    exclusive(&members, field)?;
    requires(m.requires.1, &format!("{field}.{}", m.requires.0), ctx)?;
    if members.iter().all(|(_, n)| *n == 0) {
        return Ok(L3::Wildcard);
    }
    let mut peers = Vec::new();
    endpoints(
        m.endpoints.1,
        &format!("{field}.{}", m.endpoints.0),
        ctx,
        &mut peers,
    )?;
    cidrs(m.cidr.1, &format!("{field}.{}", m.cidr.0), &mut peers)?;
    cidr_sets(
        m.cidr_set.1,
        &format!("{field}.{}", m.cidr_set.0),
        kind.deny,
        ctx,
        &mut peers,
    )?;
    entities(
        m.entities.1,
        &format!("{field}.{}", m.entities.0),
        &mut peers,
    )?;
    nodes(m.nodes.1, &format!("{field}.{}", m.nodes.0), &mut peers)?;
    let groups_at = format!("{field}.{}", m.groups.0);
    if m.groups.1 > 0 {
        if kind.deny {
            ctx.warn(
                &groups_at,
                "cloud groups are not resolved; this deny peer is ignored",
            );
        } else {
            ctx.warn(
                &groups_at,
                "cloud groups are not resolved; read as any address outside the cluster",
            );
            push(&mut peers, networks(None, Vec::new()));
        }
    }
    if !m.services.is_empty() {
        let at = format!("{field}.toServices");
        if kind.deny {
            ctx.warn(&at, "Services are not resolved; this deny peer is ignored");
        } else {
            ctx.warn(
                &at,
                "Services are not resolved; read as every pod of the Service's namespace and any address outside the cluster",
            );
            for s in m.services {
                let ns = s
                    .k8s_service
                    .as_ref()
                    .and_then(|n| n.namespace.clone())
                    .or_else(|| {
                        s.k8s_service_selector
                            .as_ref()
                            .and_then(|n| n.namespace.clone())
                    })
                    .filter(|n| !n.is_empty())
                    .or_else(|| ctx.namespace.map(str::to_string));
                push(
                    &mut peers,
                    TieredPeer::Pods {
                        pods: PodMatch {
                            namespaces: ns.map_or(NamespaceMatch::Any, NamespaceMatch::Named),
                            labels: LabelExpr::All,
                            service_accounts: None,
                        },
                        not_labels: None,
                        nets: None,
                        not_nets: Vec::new(),
                    },
                );
            }
            push(&mut peers, networks(None, Vec::new()));
        }
    }
    if fqdns > 0 {
        let at = format!("{field}.toFQDNs");
        ctx.warn(
            &at,
            "DNS names are not resolved; read as the world entity (any address outside the cluster)",
        );
        push(
            &mut peers,
            TieredPeer::Entity(kubesurface_model::Entity::World),
        );
    }
    Ok(L3::Peers(peers))
}

/// The rules of one Cilium rule section entry.
fn build(
    m: &Members<'_>,
    field: &str,
    kind: Kind,
    ctx: &mut Context<'_>,
) -> Result<Vec<TieredRule>, String> {
    if m.icmps > 0 && !m.to_ports.is_empty() {
        return Err(format!(
            "{field}: the icmps block may only be present without toPorts (Cilium rejects the policy); define a separate rule"
        ));
    }
    let l3 = l3(m, field, kind, ctx)?;
    let (plain, l7) = to_ports(m.to_ports, &format!("{field}.toPorts"), kind, ctx)?;
    if m.icmps > 0 {
        ctx.warn(
            &format!("{field}.icmps"),
            "ICMP is not modelled; this rule allows or denies no TCP, UDP or SCTP port",
        );
    }
    let groups: Vec<(Ports, bool)> = if m.to_ports.is_empty() {
        if m.icmps > 0 || matches!(l3, L3::Wildcard) {
            // ICMP only, or `{}`: no TCP/UDP/SCTP traffic matches.
            Vec::new()
        } else {
            vec![(Ports::All, false)]
        }
    } else {
        plain
            .map(|p| (p, false))
            .into_iter()
            .chain(l7.map(|p| (p, true)))
            .collect()
    };
    let peers = match l3 {
        L3::Wildcard => vec![TieredPeer::All],
        L3::Peers(p) => p,
    };
    if peers.is_empty() {
        return Ok(Vec::new());
    }
    let action = if kind.deny {
        Action::Deny
    } else {
        Action::Allow
    };
    Ok(groups
        .into_iter()
        .map(|(ports, l7)| TieredRule {
            name: None,
            action,
            peers: peers.clone(),
            ports: match ports {
                Ports::All => Vec::new(),
                Ports::Some(p) => p,
            },
            not_ports: Vec::new(),
            l7,
            source: ctx.source.clone(),
        })
        .collect())
}

/// An `ingress` or `ingressDeny` entry.
pub fn ingress(
    r: &wire::IngressRule,
    field: &str,
    deny: bool,
    ctx: &mut Context<'_>,
) -> Result<Vec<TieredRule>, String> {
    let m = Members {
        endpoints: ("fromEndpoints", &r.from_endpoints),
        requires: ("fromRequires", &r.from_requires),
        cidr: ("fromCIDR", &r.from_cidr),
        cidr_set: ("fromCIDRSet", &r.from_cidr_set),
        entities: ("fromEntities", &r.from_entities),
        nodes: ("fromNodes", &r.from_nodes),
        groups: ("fromGroups", r.from_groups.len()),
        services: &[],
        fqdns: 0,
        to_ports: &r.to_ports,
        icmps: r.icmps.len(),
    };
    build(
        &m,
        field,
        Kind {
            ingress: true,
            deny,
        },
        ctx,
    )
}

/// An `egress` or `egressDeny` entry.
pub fn egress(
    r: &wire::EgressRule,
    field: &str,
    deny: bool,
    ctx: &mut Context<'_>,
) -> Result<Vec<TieredRule>, String> {
    let m = Members {
        endpoints: ("toEndpoints", &r.to_endpoints),
        requires: ("toRequires", &r.to_requires),
        cidr: ("toCIDR", &r.to_cidr),
        cidr_set: ("toCIDRSet", &r.to_cidr_set),
        entities: ("toEntities", &r.to_entities),
        nodes: ("toNodes", &r.to_nodes),
        groups: ("toGroups", r.to_groups.len()),
        services: &r.to_services,
        fqdns: r.to_fqdns.len(),
        to_ports: &r.to_ports,
        icmps: r.icmps.len(),
    };
    build(
        &m,
        field,
        Kind {
            ingress: false,
            deny,
        },
        ctx,
    )
}
