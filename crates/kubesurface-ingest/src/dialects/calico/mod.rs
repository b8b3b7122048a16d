//! The Calico dialect: `projectcalico.org/v3` (and `crd.projectcalico.org/v1`)
//! NetworkPolicy, GlobalNetworkPolicy, Tier and HostEndpoint, read into the normalized
//! [`TieredPolicy`] form. `docs/calico.md` is the user-facing account of the mapping.
//!
//! Sources for the semantics, cited where each rule is applied:
//! - the resource references (docs.tigera.io/calico/latest/reference/resources/
//!   networkpolicy, globalnetworkpolicy, tier, hostendpoint);
//! - libcalico-go: `validator/v3/validator.go` (what the API server rejects),
//!   `syncersv1/updateprocessors/rules.go` (how a rule's selectors become one endpoint
//!   selector), the `types` defaulting of the policy clients, `selector/` (the language).
//!
//! What a rule matches (Felix): every criterion present must hold: the computed endpoint
//! selector (below), `nets`, not `notNets`, not `notSelector`, the protocol, the ports.
//! The endpoint selector of a rule side is `NS && SA && selector`, where `NS` is the
//! namespaceSelector (or, in a namespaced policy, the policy's namespace) and is only
//! added when a selector, notSelector, namespaceSelector or serviceAccounts is present;
//! a side with none of them and no nets matches everything.

pub mod pseudo;
pub mod selector;
mod wire;

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use kubesurface_model::{
    Action, DEFAULT_TIER, Dialect, HostEndpoint, LabelExpr, NamespaceMatch, PodMatch, PolicyPort,
    PolicyTier, PortSpec, Protocol, ServiceAccountMatch, Source, Subject, TieredPeer, TieredPolicy,
    TieredRule,
};

use crate::document::Body;
use crate::objects::{Parsed, parse};
use pseudo::{Known, Spec};

/// The order of Calico's `default` tier, which a `Tier default` object must carry.
const DEFAULT_TIER_ORDER: f64 = kubesurface_model::DEFAULT_TIER_ORDER;

/// Suffix of the host-endpoint half of a GlobalNetworkPolicy that selects both pods and
/// host endpoints.
pub const HOSTS_SUFFIX: &str = " (hosts)";

/// Types one object of the Calico API groups.
///
/// A GlobalNetworkPolicy that can select both pods and host endpoints reads as two
/// policies (see [`policies`]); this returns the pod half then, as [`Parsed`] holds one
/// object, and the host half only when there is no pod half.
pub fn classify(
    kind: &str,
    api_version: &str,
    body: &Body<'_>,
    namespace: &str,
    source: Source,
) -> Result<Parsed, String> {
    match kind {
        "NetworkPolicy" | "GlobalNetworkPolicy" => {
            let parts = policies(kind, body, namespace, source)?;
            if parts.is_empty() {
                // Unreachable in practice: every policy selects pods or hosts.
                return Ok(Parsed::Unknown(format!("{api_version}/{kind}")));
            }
            Ok(Parsed::TieredMany(parts))
        }
        "Tier" => tier(body, source).map(Parsed::Tier),
        "HostEndpoint" => host_endpoint(body, source).map(|h| Parsed::HostEndpoint(Box::new(h))),
        _ => Ok(Parsed::Unknown(format!("{api_version}/{kind}"))),
    }
}

/// Reads a Calico NetworkPolicy (`kind` `NetworkPolicy`, in `namespace`) or
/// GlobalNetworkPolicy into its normalized parts: the pod part (subject
/// [`Subject::Pods`]) first, then, for a GlobalNetworkPolicy whose selectors can match host
/// endpoints, the host part (subject [`Subject::Nodes`] over HostEndpoint labels), named
/// `NAME (hosts)` when both exist.
pub fn policies(
    kind: &str,
    body: &Body<'_>,
    namespace: &str,
    source: Source,
) -> Result<Vec<TieredPolicy>, String> {
    let p: wire::Policy = parse(body)?;
    let global = kind == "GlobalNetworkPolicy";
    let spec = &p.spec;

    // Tier: spec.tier, default "default" (networkpolicy reference, `tier`).
    let tier = match spec.tier.as_deref() {
        None | Some("") => DEFAULT_TIER.to_string(),
        Some(t) => {
            tier_name(t).map_err(|e| format!("spec.tier: {e}"))?;
            t.to_string()
        }
    };
    // Policies of a tier are named `TIER.NAME` in older releases and plain `NAME` since
    // Calico 3.30; both spellings name the same policy.
    let name = p
        .metadata
        .name
        .strip_prefix(&format!("{tier}."))
        .filter(|n| !n.is_empty())
        .unwrap_or(&p.metadata.name)
        .to_string();

    if spec.order.is_some_and(|o| !o.is_finite()) {
        return Err("spec.order: must be a finite number".into());
    }

    // GlobalNetworkPolicy host-only options (validator.go validateGlobalNetworkPolicySpec).
    if !global && (spec.do_not_track || spec.pre_dnat || spec.apply_on_forward) {
        let field = if spec.do_not_track {
            "doNotTrack"
        } else if spec.pre_dnat {
            "preDNAT"
        } else {
            "applyOnForward"
        };
        return Err(format!(
            "spec.{field}: only a GlobalNetworkPolicy may set it"
        ));
    }
    if !global && spec.namespace_selector.is_some() {
        return Err("spec.namespaceSelector: only a GlobalNetworkPolicy may set it (a NetworkPolicy applies to its own namespace)".into());
    }
    if spec.do_not_track && spec.pre_dnat {
        return Err("spec.preDNAT: preDNAT and doNotTrack cannot both be true".into());
    }
    if (spec.do_not_track || spec.pre_dnat) && !spec.apply_on_forward {
        return Err(
            "spec.applyOnForward: must be true if either preDNAT or doNotTrack is true".into(),
        );
    }

    // types (defaultPolicyTypesField): absent or empty → Ingress when there are no egress
    // rules (also when there are no rules at all), Egress when there are egress rules but
    // no ingress rules, both when there are both.
    let (applies_ingress, applies_egress) = match spec.types.as_deref() {
        None | Some([]) => {
            if spec.egress.is_empty() {
                (true, false)
            } else if spec.ingress.is_empty() {
                (false, true)
            } else {
                (true, true)
            }
        }
        Some(types) => {
            let (mut i, mut e) = (false, false);
            for (n, t) in types.iter().enumerate() {
                let seen = match t.as_str() {
                    "Ingress" => std::mem::replace(&mut i, true),
                    "Egress" => std::mem::replace(&mut e, true),
                    other => {
                        return Err(format!(
                            "spec.types[{n}]: {other:?} is not a policy type (Ingress, Egress)"
                        ));
                    }
                };
                if seen {
                    return Err(format!("spec.types[{n}]: {t:?} is listed twice"));
                }
            }
            (i, e)
        }
    };
    if spec.pre_dnat && (applies_egress || !spec.egress.is_empty()) {
        return Err(
            "spec.egress: a preDNAT policy cannot have egress rules or the Egress type".into(),
        );
    }

    // The subject's selector: absent or empty = all() (networkpolicy reference).
    let subject_sel = selector_field(spec.selector.as_deref(), "spec.selector")?;
    if selector::mentions_global(&subject_sel) {
        return Err(
            "spec.selector: global() can only be used in a rule's namespaceSelector".into(),
        );
    }
    let sa_sel = spec
        .service_account_selector
        .as_deref()
        .map(|s| selector_field(Some(s), "spec.serviceAccountSelector"))
        .transpose()?;
    if sa_sel.as_ref().is_some_and(selector::mentions_global) {
        return Err(
            "spec.serviceAccountSelector: global() can only be used in a rule's namespaceSelector"
                .into(),
        );
    }
    let ns_sel = if global {
        spec.namespace_selector
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| selector_field(Some(s), "spec.namespaceSelector"))
            .transpose()?
    } else {
        None
    };
    if ns_sel.as_ref().is_some_and(selector::mentions_global) {
        return Err(
            "spec.namespaceSelector: global() can only be used in a rule's namespaceSelector"
                .into(),
        );
    }

    let ctx = Ctx {
        namespace: (!global).then_some(namespace),
        source: &source,
    };
    let mut ingress = Vec::with_capacity(spec.ingress.len());
    for (i, r) in spec.ingress.iter().enumerate() {
        ingress.push(rule(
            r,
            Direction::Ingress,
            &ctx,
            &format!("spec.ingress[{i}]"),
        )?);
    }
    let mut egress = Vec::with_capacity(spec.egress.len());
    for (i, r) in spec.egress.iter().enumerate() {
        egress.push(rule(
            r,
            Direction::Egress,
            &ctx,
            &format!("spec.egress[{i}]"),
        )?);
    }

    let dialect = if global {
        Dialect::CalicoGlobalNetworkPolicy
    } else {
        Dialect::CalicoNetworkPolicy
    };
    let make = |name: String, subject: Subject| TieredPolicy {
        dialect,
        namespace: (!global).then(|| namespace.to_string()),
        name,
        tier: tier.clone(),
        order: spec.order,
        subject,
        ingress: ingress.clone(),
        egress: egress.clone(),
        applies_ingress,
        applies_egress,
        // Calico's end-of-tier deny applies to every endpoint a policy of the tier selects,
        // for each direction the policy applies to (tiered policy docs).
        isolates_ingress: applies_ingress,
        isolates_egress: applies_egress,
        annotations: p.metadata.annotations.clone(),
        source: source.clone(),
    };

    // preDNAT and doNotTrack policies apply to host endpoints only (globalnetworkpolicy
    // reference: "only host endpoints").
    let host_only = spec.pre_dnat || spec.do_not_track;
    let pods = if host_only {
        None
    } else {
        pod_subject(
            &subject_sel,
            sa_sel.as_ref(),
            ns_sel.as_ref(),
            ctx.namespace,
        )?
    };
    let hosts = if global {
        host_subject(&subject_sel, sa_sel.as_ref(), ns_sel.as_ref())
    } else {
        None
    };
    let mut out = Vec::new();
    match (pods, hosts) {
        (Some(pods), Some(hosts)) => {
            out.push(make(name.clone(), Subject::Pods(pods)));
            out.push(make(format!("{name}{HOSTS_SUFFIX}"), Subject::Nodes(hosts)));
        }
        (Some(pods), None) => out.push(make(name, Subject::Pods(pods))),
        (None, Some(hosts)) => out.push(make(name, Subject::Nodes(hosts))),
        (None, None) => {
            // Selects nothing; kept (as pods matching nothing) so it is still counted.
            out.push(make(
                name,
                Subject::Pods(PodMatch {
                    namespaces: NamespaceMatch::Any,
                    labels: LabelExpr::Or(Vec::new()),
                    service_accounts: None,
                }),
            ));
        }
    }
    Ok(out)
}

/// Where a policy is and where it was read.
struct Ctx<'a> {
    /// The namespace of a NetworkPolicy; `None` for a GlobalNetworkPolicy.
    namespace: Option<&'a str>,
    source: &'a Source,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

/// Parses a selector field (absent or blank = `all()`), prefixing errors with the field.
fn selector_field(s: Option<&str>, field: &str) -> Result<LabelExpr, String> {
    match s {
        None => Ok(LabelExpr::All),
        Some(s) => selector::parse(s).map_err(|e| format!("{field}: {e} in {s:?}")),
    }
}

/// A tier name: a DNS-1123 label (validator.go `tierNameRegex`, at most 63 characters).
fn tier_name(t: &str) -> Result<(), String> {
    let b = t.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{t:?} is not a valid tier name (lower case alphanumerics and '-', at most 63)"
        ))
    }
}

/// The pods a policy applies to, or `None` when its selectors can match no pod.
fn pod_subject(
    sel: &LabelExpr,
    sa_sel: Option<&LabelExpr>,
    ns_sel: Option<&LabelExpr>,
    namespace: Option<&str>,
) -> Result<Option<PodMatch>, String> {
    // A pod carries projectcalico.org/orchestrator=k8s; in a namespaced policy the
    // namespace pseudo-label is the policy's namespace.
    let known = |k: &str| {
        if k == pseudo::ORCHESTRATOR {
            Known::Value("k8s")
        } else if k == pseudo::NAMESPACE {
            namespace.map_or(Known::Unknown, Known::Value)
        } else {
            Known::Unknown
        }
    };
    let sel = match pseudo::specialize(sel, &known) {
        Spec::Const(false) => return Ok(None),
        s => s.into_expr(),
    };
    let split = pseudo::split(&sel, "spec.selector")?;
    let namespaces = match (namespace, ns_sel) {
        (Some(ns), _) => {
            if split.namespace.is_empty() {
                NamespaceMatch::Named(ns.to_string())
            } else {
                let mut terms = vec![LabelExpr::Eq(
                    kubesurface_model::METADATA_NAME_LABEL.to_string(),
                    ns.to_string(),
                )];
                terms.extend(split.namespace.iter().cloned());
                NamespaceMatch::Selector(pseudo::and(terms))
            }
        }
        (None, ns_sel) => {
            let mut terms: Vec<LabelExpr> = ns_sel
                .map(pseudo::namespace_selector_keys)
                .into_iter()
                .collect();
            terms.extend(split.namespace.iter().cloned());
            match pseudo::and(terms) {
                LabelExpr::All => NamespaceMatch::Any,
                e => NamespaceMatch::Selector(e),
            }
        }
    };
    let mut sa_labels: Vec<LabelExpr> = sa_sel.cloned().into_iter().collect();
    sa_labels.extend(split.sa_labels.iter().cloned());
    let service_accounts = sa_match(split.sa_names, sa_labels);
    Ok(Some(PodMatch {
        namespaces,
        labels: pseudo::and(split.pod),
        service_accounts,
    }))
}

/// A ServiceAccount match from name lists (each a conjunct) and label terms.
fn sa_match(name_lists: Vec<Vec<String>>, labels: Vec<LabelExpr>) -> Option<ServiceAccountMatch> {
    if name_lists.is_empty() && labels.is_empty() {
        return None;
    }
    let had_lists = !name_lists.is_empty();
    let mut names: Option<Vec<String>> = None;
    for list in name_lists {
        names = Some(match names {
            None => list,
            Some(prev) => prev.into_iter().filter(|n| list.contains(n)).collect(),
        });
    }
    let mut names = names.unwrap_or_default();
    names.sort();
    names.dedup();
    if had_lists && names.is_empty() {
        // Name lists with no name in common (or `in {}`) match no pod: an impossible name
        // (ServiceAccount names are DNS subdomains, never contain a space).
        names.push(NO_SERVICE_ACCOUNT.to_string());
    }
    Some(ServiceAccountMatch {
        names,
        selector: (!labels.is_empty()).then(|| pseudo::and(labels)),
    })
}

/// A ServiceAccount name no pod can have.
const NO_SERVICE_ACCOUNT: &str = " none ";

/// The host endpoints a GlobalNetworkPolicy applies to: the selector over HostEndpoint
/// labels, or `None` when it can only match pods (it tests a pseudo-label only pods have,
/// or has a namespaceSelector or serviceAccountSelector that hosts cannot satisfy).
fn host_subject(
    sel: &LabelExpr,
    sa_sel: Option<&LabelExpr>,
    ns_sel: Option<&LabelExpr>,
) -> Option<LabelExpr> {
    // Calico ANDs `pcns.`-prefixed namespaceSelector and `pcsa.`-prefixed
    // serviceAccountSelector into the selector; on a host every such key is absent.
    let absent = |_: &str| Known::Absent;
    if let Some(ns) = ns_sel {
        // `all()` was rewritten to has(projectcalico.org/namespace): false on hosts.
        if !pseudo::namespace_selector_matches_hosts(ns) {
            return None;
        }
    }
    if let Some(sa) = sa_sel
        && pseudo::specialize(sa, &absent) == Spec::Const(false)
    {
        return None;
    }
    match pseudo::specialize(sel, &pseudo::host_known) {
        Spec::Const(false) => None,
        s => Some(s.into_expr()),
    }
}

/// One rule.
fn rule(r: &wire::Rule, dir: Direction, ctx: &Ctx<'_>, path: &str) -> Result<TieredRule, String> {
    let action = match r.action.as_str() {
        "Allow" => Action::Allow,
        "Deny" => Action::Deny,
        "Log" => Action::Log,
        "Pass" => Action::Pass,
        "" => return Err(format!("{path}.action: required (Allow, Deny, Log, Pass)")),
        other => {
            return Err(format!(
                "{path}.action: {other:?} is not an action (Allow, Deny, Log, Pass)"
            ));
        }
    };
    if let Some(v) = r.ip_version
        && v != 4
        && v != 6
    {
        return Err(format!("{path}.ipVersion: {v} is not 4 or 6"));
    }
    let protocol = r
        .protocol
        .as_ref()
        .map(|p| parse_protocol(p, &format!("{path}.protocol")))
        .transpose()?;
    let not_protocol = r
        .not_protocol
        .as_ref()
        .map(|p| parse_protocol(p, &format!("{path}.notProtocol")))
        .transpose()?;
    let is_icmp = |p: &Option<Proto>| matches!(p, Some(Proto::Other(n)) if n == "ICMP" || n == "ICMPv6" || n == "1" || n == "58");
    if r.icmp.is_some() && !is_icmp(&protocol) {
        return Err(format!(
            "{path}.icmp: rules that specify ICMP fields must set protocol to ICMP"
        ));
    }
    if r.not_icmp.is_some() && !is_icmp(&protocol) {
        return Err(format!(
            "{path}.notICMP: rules that specify ICMP fields must set protocol to ICMP"
        ));
    }
    // Application layer (ALP) match: only on Allow rules, only for ingress, TCP or no
    // protocol (validator.go validateRule, validateNetworkPolicySpec).
    let l7 = r.http.is_some();
    if l7 {
        if dir == Direction::Egress {
            return Err(format!("{path}.http: not allowed in egress rules"));
        }
        if action != Action::Allow {
            return Err(format!("{path}.http: only valid for Allow rules"));
        }
        if protocol
            .as_ref()
            .is_some_and(|p| *p != Proto::Modelled(Protocol::Tcp))
        {
            return Err(format!(
                "{path}.protocol: rules that specify HTTP fields must set protocol to TCP or leave it empty"
            ));
        }
    }

    // Nets: valid CIDRs (or addresses), and one IP family across the whole rule.
    let mut families = (false, false);
    let mut nets_of = |list: &[String], field: &str| -> Result<Vec<IpNet>, String> {
        let mut out = Vec::with_capacity(list.len());
        for (i, n) in list.iter().enumerate() {
            let net = net(n, &format!("{path}.{field}[{i}]"))?;
            match net {
                IpNet::V4(_) => families.0 = true,
                IpNet::V6(_) => families.1 = true,
            }
            if let Some(v) = r.ip_version
                && ((v == 4) != matches!(net, IpNet::V4(_)))
            {
                return Err(format!(
                    "{path}.{field}[{i}]: {n} does not match the rule's ipVersion {v}"
                ));
            }
            out.push(net);
        }
        Ok(out)
    };
    let src_nets = nets_of(&r.source.nets, "source.nets")?;
    let src_not_nets = nets_of(&r.source.not_nets, "source.notNets")?;
    let dst_nets = nets_of(&r.destination.nets, "destination.nets")?;
    let dst_not_nets = nets_of(&r.destination.not_nets, "destination.notNets")?;
    if families.0 && families.1 {
        return Err(format!("{path}: rule contains both IPv4 and IPv6 CIDRs"));
    }

    // Ports need TCP, UDP or SCTP (validator.go: "rules that specify ports must set
    // protocol to TCP or UDP or SCTP").
    let supports_ports = matches!(protocol, Some(Proto::Modelled(_)) | Some(Proto::UdpLite));
    for (list, field) in [
        (&r.source.ports, "source.ports"),
        (&r.source.not_ports, "source.notPorts"),
        (&r.destination.ports, "destination.ports"),
        (&r.destination.not_ports, "destination.notPorts"),
    ] {
        if !list.is_empty() && !supports_ports {
            return Err(format!(
                "{path}.{field}: rules that specify ports must set protocol to TCP, UDP or SCTP"
            ));
        }
    }

    // The side of the connection that is the policy's own endpoint, and the peer.
    let (local, local_name, remote, remote_name, remote_nets, remote_not_nets) = match dir {
        Direction::Ingress => (
            &r.destination,
            "destination",
            &r.source,
            "source",
            src_nets,
            src_not_nets,
        ),
        Direction::Egress => (
            &r.source,
            "source",
            &r.destination,
            "destination",
            dst_nets,
            dst_not_nets,
        ),
    };
    local_side(local, local_name, dir, path)?;
    if !remote.ports.is_empty() || !remote.not_ports.is_empty() {
        // Ingress: source ports of the client. Egress: handled as destination ports below.
        if dir == Direction::Ingress {
            return Err(format!(
                "{path}.source.ports: kubesurface does not model source ports (the client's ephemeral port)"
            ));
        }
    }
    if remote.services.is_some() {
        return Err(format!(
            "{path}.{remote_name}.services: kubesurface does not model Calico's Kubernetes Service match in rules; select the Service's pods instead"
        ));
    }

    let peers = remote_peers(
        remote,
        remote_nets,
        remote_not_nets,
        ctx.namespace,
        &format!("{path}.{remote_name}"),
    )?;

    // Ports: destination ports, of the rule's protocol.
    let port_side = &r.destination;
    let (mut ports, mut not_ports) = (Vec::new(), Vec::new());
    match &protocol {
        None => {}
        Some(Proto::Modelled(p)) => {
            if port_side.ports.is_empty() {
                ports.push(PolicyPort {
                    protocol: *p,
                    port: PortSpec::All,
                });
            }
            for (i, v) in port_side.ports.iter().enumerate() {
                ports.push(PolicyPort {
                    protocol: *p,
                    port: port(v, &format!("{path}.destination.ports[{i}]"))?,
                });
            }
            for (i, v) in port_side.not_ports.iter().enumerate() {
                not_ports.push(PolicyPort {
                    protocol: *p,
                    port: port(v, &format!("{path}.destination.notPorts[{i}]"))?,
                });
            }
        }
        Some(Proto::UdpLite | Proto::Other(_)) => {
            // ICMP, UDPLite, other IP protocols: no TCP, UDP or SCTP port matches.
            for (i, v) in port_side.ports.iter().enumerate() {
                port(v, &format!("{path}.destination.ports[{i}]"))?;
            }
            not_ports = Protocol::ALL
                .iter()
                .map(|p| PolicyPort {
                    protocol: *p,
                    port: PortSpec::All,
                })
                .collect();
        }
    }
    if let Some(Proto::Modelled(p)) = not_protocol {
        not_ports.push(PolicyPort {
            protocol: p,
            port: PortSpec::All,
        });
    }
    Ok(TieredRule {
        name: None,
        action,
        peers,
        ports,
        not_ports,
        l7,
        source: ctx.source.clone(),
    })
}

/// The policy's own side of a rule may only restrict ports (ingress destination ports).
/// Anything else restricts which selected endpoint the rule applies to, which the
/// normalized form cannot say.
fn local_side(e: &wire::EntityRule, side: &str, dir: Direction, path: &str) -> Result<(), String> {
    let set = [
        ("selector", e.selector.is_some()),
        ("notSelector", e.not_selector.is_some()),
        ("namespaceSelector", e.namespace_selector.is_some()),
        ("serviceAccounts", e.service_accounts.is_some()),
        ("nets", !e.nets.is_empty()),
        ("notNets", !e.not_nets.is_empty()),
        ("services", e.services.is_some()),
        ("ports", dir == Direction::Egress && !e.ports.is_empty()),
        (
            "notPorts",
            dir == Direction::Egress && !e.not_ports.is_empty(),
        ),
    ];
    if let Some((field, _)) = set.iter().find(|(_, on)| *on) {
        let what = if field.ends_with("orts") {
            "the local source port"
        } else {
            "the policy's own endpoint"
        };
        return Err(format!(
            "{path}.{side}.{field}: in {} rules `{side}` is the policy's own endpoint; kubesurface cannot model a rule restricted by {what} (only {}ports are supported there)",
            if dir == Direction::Ingress {
                "ingress"
            } else {
                "egress"
            },
            if dir == Direction::Ingress {
                "destination "
            } else {
                "no "
            },
        ));
    }
    Ok(())
}

/// The peers of the remote side of a rule.
fn remote_peers(
    e: &wire::EntityRule,
    nets: Vec<IpNet>,
    not_nets: Vec<IpNet>,
    policy_ns: Option<&str>,
    path: &str,
) -> Result<Vec<TieredPeer>, String> {
    let sel = e
        .selector
        .as_deref()
        .map(|s| selector_field(Some(s), &format!("{path}.selector")))
        .transpose()?;
    let not_sel = e
        .not_selector
        .as_deref()
        .map(|s| selector_field(Some(s), &format!("{path}.notSelector")))
        .transpose()?;
    let ns_sel = e
        .namespace_selector
        .as_deref()
        .map(|s| selector_field(Some(s), &format!("{path}.namespaceSelector")))
        .transpose()?;
    for (field, s) in [("selector", &sel), ("notSelector", &not_sel)] {
        if s.as_ref().is_some_and(selector::mentions_global) {
            return Err(format!(
                "{path}.{field}: global() can only be used in a namespaceSelector"
            ));
        }
    }
    if let Some(ns) = &ns_sel
        && selector::mentions_global(ns)
        && *ns != LabelExpr::Global
    {
        return Err(format!(
            "{path}.namespaceSelector: global() cannot be combined with other selectors"
        ));
    }
    let sa = match &e.service_accounts {
        None => None,
        Some(sa) => {
            for (i, n) in sa.names.iter().enumerate() {
                if n.is_empty() {
                    return Err(format!(
                        "{path}.serviceAccounts.names[{i}]: must not be empty"
                    ));
                }
            }
            let selector = sa
                .selector
                .as_deref()
                .map(|s| selector_field(Some(s), &format!("{path}.serviceAccounts.selector")))
                .transpose()?;
            Some((sa.names.clone(), selector))
        }
    };

    // getEndpointSelector: the namespace part applies as soon as a selector, notSelector,
    // namespaceSelector or serviceAccounts is present.
    let endpoint_selected = sel.is_some()
        || sa.is_some()
        || ns_sel.is_some()
        || (not_sel.is_some() && policy_ns.is_some());
    let nets_opt = (!nets.is_empty()).then_some(nets);

    if !endpoint_selected {
        return Ok(match (&not_sel, &nets_opt, not_nets.is_empty()) {
            (None, None, true) => vec![TieredPeer::All],
            (None, _, _) => vec![TieredPeer::Networks {
                nets: nets_opt,
                except: not_nets,
                matches_pods: true,
            }],
            (Some(x), _, _) => {
                // A GlobalNetworkPolicy side with only notSelector (and maybe nets):
                // everything except the endpoints it matches.
                vec![
                    TieredPeer::Pods {
                        pods: PodMatch {
                            namespaces: NamespaceMatch::Any,
                            labels: LabelExpr::All,
                            service_accounts: None,
                        },
                        not_labels: Some(x.clone()),
                        nets: nets_opt.clone(),
                        not_nets: not_nets.clone(),
                    },
                    TieredPeer::Networks {
                        nets: nets_opt,
                        except: not_nets,
                        matches_pods: false,
                    },
                ]
            }
        });
    }

    let mut peers = Vec::new();
    // Pods.
    let pods_possible = !matches!(ns_sel, Some(LabelExpr::Global));
    if pods_possible {
        let known = |k: &str| {
            if k == pseudo::ORCHESTRATOR {
                Known::Value("k8s")
            } else {
                Known::Unknown
            }
        };
        let pod_sel = pseudo::specialize(sel.as_ref().unwrap_or(&LabelExpr::All), &known);
        if pod_sel != Spec::Const(false) {
            let split = pseudo::split(&pod_sel.into_expr(), &format!("{path}.selector"))?;
            let mut ns_terms: Vec<LabelExpr> = Vec::new();
            let mut named = None;
            match (&ns_sel, policy_ns) {
                (Some(ns), _) => ns_terms.push(pseudo::namespace_selector_keys(ns)),
                (None, Some(ns)) => named = Some(ns.to_string()),
                (None, None) => {}
            }
            ns_terms.extend(split.namespace.iter().cloned());
            let namespaces = match (named, pseudo::and(ns_terms)) {
                (Some(ns), LabelExpr::All) => NamespaceMatch::Named(ns),
                (Some(ns), e) => NamespaceMatch::Selector(pseudo::and(vec![
                    LabelExpr::Eq(kubesurface_model::METADATA_NAME_LABEL.to_string(), ns),
                    e,
                ])),
                (None, LabelExpr::All) => NamespaceMatch::Any,
                (None, e) => NamespaceMatch::Selector(e),
            };
            let mut sa_names = split.sa_names;
            let mut sa_labels = split.sa_labels;
            if let Some((names, selector)) = &sa {
                if !names.is_empty() {
                    sa_names.push(names.clone());
                }
                sa_labels.extend(selector.iter().cloned());
            }
            peers.push(TieredPeer::Pods {
                pods: PodMatch {
                    namespaces,
                    labels: pseudo::and(split.pod),
                    service_accounts: sa_match(sa_names, sa_labels),
                },
                not_labels: not_sel.clone(),
                nets: nets_opt.clone(),
                not_nets: not_nets.clone(),
            });
        }
    }
    // Host endpoints: only when no namespace restriction excludes them and no
    // ServiceAccount is required (hosts have neither).
    let hosts_possible = sa.is_none()
        && match (&ns_sel, policy_ns) {
            (Some(ns), _) => pseudo::namespace_selector_matches_hosts(ns),
            (None, Some(_)) => false,
            (None, None) => true,
        };
    if hosts_possible {
        let host_sel =
            pseudo::specialize(sel.as_ref().unwrap_or(&LabelExpr::All), &pseudo::host_known);
        if host_sel != Spec::Const(false) {
            let mut terms = vec![host_sel.into_expr()];
            if let Some(x) = &not_sel {
                terms.push(LabelExpr::Not(Box::new(
                    pseudo::specialize(x, &pseudo::host_known).into_expr(),
                )));
            }
            peers.push(TieredPeer::Nodes(pseudo::and(terms)));
        }
    }
    Ok(peers)
}

/// A rule protocol.
#[derive(Clone, Debug, PartialEq)]
enum Proto {
    /// TCP, UDP or SCTP.
    Modelled(Protocol),
    /// UDPLite (136): has ports, but kubesurface does not model it.
    UdpLite,
    /// ICMP, ICMPv6 or another IP protocol (its name, or its number as text).
    Other(String),
}

/// `protocol` / `notProtocol`: `TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite` or a
/// number 1-255 (validator.go `protocolRegex`, numorstring.Protocol).
fn parse_protocol(v: &wire::NumOrString, field: &str) -> Result<Proto, String> {
    match v {
        wire::NumOrString::Str(s) => match s.as_str() {
            "TCP" => Ok(Proto::Modelled(Protocol::Tcp)),
            "UDP" => Ok(Proto::Modelled(Protocol::Udp)),
            "SCTP" => Ok(Proto::Modelled(Protocol::Sctp)),
            "UDPLite" => Ok(Proto::UdpLite),
            "ICMP" | "ICMPv6" => Ok(Proto::Other(s.clone())),
            other => match other.parse::<i64>() {
                Ok(n) => parse_protocol(&wire::NumOrString::Num(n), field),
                Err(_) => Err(format!(
                    "{field}: {other:?} is not a protocol (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)"
                )),
            },
        },
        wire::NumOrString::Num(n) => match n {
            6 => Ok(Proto::Modelled(Protocol::Tcp)),
            17 => Ok(Proto::Modelled(Protocol::Udp)),
            132 => Ok(Proto::Modelled(Protocol::Sctp)),
            136 => Ok(Proto::UdpLite),
            1..=255 => Ok(Proto::Other(n.to_string())),
            _ => Err(format!("{field}: {n} is not a protocol number (1-255)")),
        },
    }
}

/// One port: a number, `"MIN:MAX"`, or a port name (numorstring.Port).
fn port(v: &wire::NumOrString, field: &str) -> Result<PortSpec, String> {
    let number = |n: i64| -> Result<u16, String> {
        u16::try_from(n)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{field}: {n} is not a valid port (1-65535)"))
    };
    match v {
        wire::NumOrString::Num(n) => {
            let p = number(*n)?;
            Ok(PortSpec::Range(p, p))
        }
        wire::NumOrString::Str(s) => {
            if let Some((lo, hi)) = s.split_once(':') {
                let parse = |x: &str| -> Result<u16, String> {
                    x.parse::<i64>()
                        .map_err(|_| format!("{field}: {s:?} is not a port range (MIN:MAX)"))
                        .and_then(number)
                };
                let (lo, hi) = (parse(lo)?, parse(hi)?);
                if lo > hi {
                    return Err(format!(
                        "{field}: {s:?}: the minimum port is greater than the maximum"
                    ));
                }
                Ok(PortSpec::Range(lo, hi))
            } else if let Ok(n) = s.parse::<i64>() {
                let p = number(n)?;
                Ok(PortSpec::Range(p, p))
            } else if is_port_name(s) {
                Ok(PortSpec::Named(s.clone()))
            } else {
                Err(format!(
                    "{field}: {s:?} is not a port number, a MIN:MAX range or a port name"
                ))
            }
        }
    }
}

/// An IANA service name, as Kubernetes and Calico accept for named ports: 1-15 lower case
/// alphanumerics or '-', at least one letter, no leading, trailing or double '-'.
fn is_port_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.iter().any(|c| c.is_ascii_lowercase())
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
}

/// A CIDR, or an address (a full-length prefix), host bits cleared.
fn net(s: &str, field: &str) -> Result<IpNet, String> {
    if let Ok(ip) = IpAddr::from_str(s.trim()) {
        return Ok(IpNet::from(ip));
    }
    crate::convert::cidr(s, field)
}

/// A Tier (tier reference): `spec.order` (absent = after every ordered tier) and
/// `spec.defaultAction` (`Deny`, the default, or `Pass`).
fn tier(body: &Body<'_>, source: Source) -> Result<PolicyTier, String> {
    let t: wire::Tier = parse(body)?;
    tier_name(&t.metadata.name).map_err(|e| format!("metadata.name: {e}"))?;
    if t.spec.order.is_some_and(|o| !o.is_finite()) {
        return Err("spec.order: must be a finite number".into());
    }
    // Built-in tiers must keep their orders (validator.go validateTier).
    for (name, order) in [
        (DEFAULT_TIER, DEFAULT_TIER_ORDER),
        (
            kubesurface_model::ADMIN_TIER,
            kubesurface_model::ADMIN_TIER_ORDER,
        ),
        (
            kubesurface_model::BASELINE_TIER,
            kubesurface_model::BASELINE_TIER_ORDER,
        ),
    ] {
        if t.metadata.name == name && t.spec.order != Some(order) {
            return Err(format!(
                "spec.order: the {name} tier's order must be {order}"
            ));
        }
    }
    let default_action = match t.spec.default_action.as_deref() {
        None | Some("") | Some("Deny") => Action::Deny,
        Some("Pass") => Action::Pass,
        Some(other) => {
            return Err(format!(
                "spec.defaultAction: {other:?} is not a tier default action (Deny, Pass)"
            ));
        }
    };
    Ok(PolicyTier {
        name: t.metadata.name,
        order: t.spec.order,
        default_action,
        source: Some(source),
    })
}

/// A HostEndpoint (hostendpoint reference): `spec.node` is required, and an
/// `interfaceName` or `expectedIPs` (validator.go validateHostEndpointSpec).
fn host_endpoint(body: &Body<'_>, source: Source) -> Result<HostEndpoint, String> {
    let h: wire::HostEndpoint = parse(body)?;
    for (k, v) in &h.metadata.labels {
        crate::convert::label_key(k, "metadata.labels")?;
        crate::convert::label_value(v, &format!("metadata.labels[{k}]"))?;
    }
    if h.spec.node.is_empty() {
        return Err("spec.node: required (the node the interface belongs to)".into());
    }
    let interface = h.spec.interface_name.filter(|i| !i.is_empty());
    if interface.is_none() && h.spec.expected_ips.is_empty() {
        return Err("spec: an interfaceName or expectedIPs must be given".into());
    }
    let mut expected_ips = Vec::with_capacity(h.spec.expected_ips.len());
    for (i, ip) in h.spec.expected_ips.iter().enumerate() {
        expected_ips.push(
            IpAddr::from_str(ip.trim())
                .map_err(|_| format!("spec.expectedIPs[{i}]: {ip:?} is not an IP address"))?,
        );
    }
    Ok(HostEndpoint {
        name: h.metadata.name,
        node: h.spec.node,
        labels: h.metadata.labels,
        interface,
        expected_ips,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn read(kind: &str, spec: serde_json::Value) -> Result<Vec<TieredPolicy>, String> {
        let body = Body::Value(serde_json::json!({
            "apiVersion": "projectcalico.org/v3",
            "kind": kind,
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": spec,
        }));
        let source = Source {
            file: Arc::from("t.yaml"),
            line: 1,
        };
        policies(kind, &body, "shop", source)
    }

    fn subjects(kind: &str, spec: serde_json::Value) -> Vec<(String, Subject)> {
        read(kind, spec)
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.subject))
            .collect()
    }

    fn eq(k: &str, v: &str) -> LabelExpr {
        LabelExpr::Eq(k.into(), v.into())
    }

    /// A GlobalNetworkPolicy selector applies to workload and host endpoints alike
    /// (globalnetworkpolicy reference, `selector`); kubesurface splits it into a pod part
    /// and a host part named `NAME (hosts)`.
    #[test]
    fn global_policy_splits_into_pods_and_hosts() {
        let got = subjects(
            "GlobalNetworkPolicy",
            serde_json::json!({"selector": "role == 'web'"}),
        );
        assert_eq!(
            got,
            vec![
                (
                    "p".to_string(),
                    Subject::Pods(PodMatch {
                        namespaces: NamespaceMatch::Any,
                        labels: eq("role", "web"),
                        service_accounts: None,
                    })
                ),
                ("p (hosts)".to_string(), Subject::Nodes(eq("role", "web"))),
            ]
        );
    }

    #[test]
    fn pod_only_and_host_only_global_policies() {
        // A namespaceSelector or serviceAccountSelector, or a pod pseudo-label, rules hosts
        // out (hosts have no namespace, no ServiceAccount, no orchestrator).
        for spec in [
            serde_json::json!({"namespaceSelector": "all()"}),
            serde_json::json!({"namespaceSelector": "team == 'a'"}),
            serde_json::json!({"serviceAccountSelector": "role == 'x'"}),
            serde_json::json!({"selector": "projectcalico.org/orchestrator == 'k8s'"}),
            serde_json::json!({"selector": "has(projectcalico.org/namespace)"}),
        ] {
            let got = subjects("GlobalNetworkPolicy", spec.clone());
            assert_eq!(got.len(), 1, "{spec}");
            assert!(matches!(got[0].1, Subject::Pods(_)), "{spec}");
            assert_eq!(got[0].0, "p");
        }
        // Selectors only hosts satisfy, and preDNAT / doNotTrack policies, are host-only.
        for spec in [
            serde_json::json!({"selector": "!has(projectcalico.org/orchestrator) && role == 'gw'"}),
            serde_json::json!({"selector": "role == 'gw'", "preDNAT": true, "applyOnForward": true}),
            serde_json::json!({"selector": "role == 'gw'", "doNotTrack": true, "applyOnForward": true}),
        ] {
            let got = subjects("GlobalNetworkPolicy", spec.clone());
            assert_eq!(
                got,
                vec![("p".to_string(), Subject::Nodes(eq("role", "gw")))],
                "{spec}"
            );
        }
        // A namespaced policy never applies to hosts.
        let got = subjects("NetworkPolicy", serde_json::json!({}));
        assert_eq!(got.len(), 1);
        assert!(matches!(got[0].1, Subject::Pods(_)));
    }

    /// Both halves carry the same rules, order, tier and types.
    #[test]
    fn halves_share_rules() {
        let parts = read(
            "GlobalNetworkPolicy",
            serde_json::json!({"tier": "security", "order": 5, "ingress": [{"action": "Deny"}]}),
        )
        .unwrap();
        assert_eq!(parts.len(), 2);
        for p in &parts {
            assert_eq!(p.tier, "security");
            assert_eq!(p.order, Some(5.0));
            assert_eq!(p.ingress.len(), 1);
            assert_eq!(p.ingress[0].action, Action::Deny);
            assert!(p.applies_ingress && !p.applies_egress);
        }
    }

    #[test]
    fn ports_and_protocols() {
        let n = |v: i64| wire::NumOrString::Num(v);
        let st = |v: &str| wire::NumOrString::Str(v.to_string());
        assert_eq!(port(&n(80), "f"), Ok(PortSpec::Range(80, 80)));
        assert_eq!(port(&st("80:90"), "f"), Ok(PortSpec::Range(80, 90)));
        assert_eq!(port(&st("443"), "f"), Ok(PortSpec::Range(443, 443)));
        assert_eq!(port(&st("http"), "f"), Ok(PortSpec::Named("http".into())));
        assert!(port(&n(0), "f").is_err());
        assert!(port(&st("a:b"), "f").is_err());
        assert!(port(&st("-http"), "f").is_err());
        assert!(port(&st("h--p"), "f").is_err());
        assert!(port(&st("8080"), "f").is_ok());
        assert_eq!(
            parse_protocol(&n(17), "f"),
            Ok(Proto::Modelled(Protocol::Udp))
        );
        assert_eq!(
            parse_protocol(&st("132"), "f"),
            Ok(Proto::Modelled(Protocol::Sctp))
        );
        assert_eq!(
            parse_protocol(&st("ICMPv6"), "f"),
            Ok(Proto::Other("ICMPv6".into()))
        );
        assert_eq!(parse_protocol(&st("UDPLite"), "f"), Ok(Proto::UdpLite));
        assert!(parse_protocol(&st("tcp"), "f").is_err());
        assert!(parse_protocol(&n(0), "f").is_err());
    }
}
