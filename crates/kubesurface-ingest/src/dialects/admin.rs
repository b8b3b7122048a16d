//! The admin dialect: the cluster-scoped policies of `policy.networking.k8s.io`
//! (kubernetes-sigs/network-policy-api), read into [`TieredPolicy`]s.
//!
//! | object | tier | order | actions |
//! |---|---|---|---|
//! | `v1alpha1` AdminNetworkPolicy | [`ADMIN_TIER`] | `spec.priority` | Allow, Deny, Pass |
//! | `v1alpha1` BaselineAdminNetworkPolicy (only `default`) | [`BASELINE_TIER`] | none | Allow, Deny |
//! | `v1alpha2` ClusterNetworkPolicy | `spec.tier`: Admin or Baseline | `spec.priority` | Accept, Deny, Pass |
//!
//! Admin tiers never deny by default: `isolates_*` is false, traffic no rule matched goes on
//! to the next tier (NetworkPolicy, then the baseline, then allowed).
//!
//! `v1alpha2` renamed `Allow` to `Accept` and replaced `ports` (`portNumber`, `portRange`,
//! `namedPort`) with `protocols` (`tcp|udp|sctp: {destinationPort: {number | range}}`,
//! `destinationNamedPort`); subjects and peers kept their shape, but `pods.namespaceSelector`
//! became optional.
//!
//! Validation follows the CRDs of network-policy-api v0.1.7 (`v1alpha1`) and v0.2.0
//! (`v1alpha2`): required fields, "exactly one field" objects (subject, peer, port), enums,
//! ranges, item limits, CIDRs, the CEL rules (BaselineAdminNetworkPolicy named `default`,
//! no named ports towards `networks`/`nodes`/`domainNames`, `start < end` in `v1alpha2`
//! ranges) and label selector syntax. Fields a version does not have are errors, as
//! `kubectl apply` (strict field validation) makes them: this catches a `v1alpha1` spelling
//! in a `v1alpha2` object (`ports` for `protocols`) that would otherwise be read as "every
//! port".

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer};

use kubesurface_model::{
    ADMIN_TIER, Action, BASELINE_TIER, Cluster, Dialect, Endpoint, LabelExpr, NamespaceMatch,
    PodMatch, PolicyPort, PortSpec, Protocol, Source, Subject, TieredPeer, TieredPolicy,
    TieredRule,
};

use crate::IngestError;
use crate::convert;
use crate::document::Body;
use crate::objects::{Parsed, parse};
use crate::types;

/// The only name a BaselineAdminNetworkPolicy may have (the CEL rule of its CRD: one per
/// cluster, named `default`).
pub const BASELINE_NAME: &str = "default";
/// The highest `spec.priority` (lowest precedence) the API accepts.
pub const MAX_PRIORITY: i64 = 1000;
/// At most this many CIDRs in one `networks` peer (and domain names in `domainNames`).
const MAX_NETWORKS: usize = 25;
/// At most this many characters in a rule name.
const MAX_RULE_NAME: usize = 100;
/// At most this many characters in one `networks` CIDR.
const MAX_CIDR_LEN: usize = 43;

/// Types one object of the `policy.networking.k8s.io` group.
pub fn classify(
    kind: &str,
    api_version: &str,
    body: &Body<'_>,
    source: Source,
) -> Result<Parsed, String> {
    let version = api_version.rsplit_once('/').map_or("", |(_, v)| v);
    let kind = match (version, kind) {
        ("v1alpha1", "AdminNetworkPolicy") => Kind::Admin,
        ("v1alpha1", "BaselineAdminNetworkPolicy") => Kind::Baseline,
        ("v1alpha2", "ClusterNetworkPolicy") => Kind::Cluster,
        _ => return Ok(Parsed::Unknown(format!("{api_version}/{kind}"))),
    };
    let policy = match kind {
        Kind::Admin => {
            let o: Object<AnpSpec> = parse(body)?;
            let spec = required(o.spec, "spec")?;
            let priority = priority(spec.priority)?;
            let subject = subject(spec.subject.as_ref(), Version::V1alpha1)?;
            let rules = Rules::v1alpha1(kind, &spec.ingress, &spec.egress)?;
            build(
                kind,
                o.metadata,
                ADMIN_TIER,
                Some(priority),
                subject,
                rules,
                source,
            )
        }
        Kind::Baseline => {
            let o: Object<BanpSpec> = parse(body)?;
            if o.metadata.name != BASELINE_NAME {
                return Err(format!(
                    "metadata.name: a BaselineAdminNetworkPolicy must be named {BASELINE_NAME:?} \
                     (the API admits one per cluster, named {BASELINE_NAME:?}), not {:?}",
                    o.metadata.name
                ));
            }
            let spec = required(o.spec, "spec")?;
            let subject = subject(spec.subject.as_ref(), Version::V1alpha1)?;
            let rules = Rules::v1alpha1(kind, &spec.ingress, &spec.egress)?;
            build(
                kind,
                o.metadata,
                BASELINE_TIER,
                None,
                subject,
                rules,
                source,
            )
        }
        Kind::Cluster => {
            let o: Object<CnpSpec> = parse(body)?;
            let spec = required(o.spec, "spec")?;
            let tier = match spec.tier.as_deref() {
                Some("Admin") => ADMIN_TIER,
                Some("Baseline") => BASELINE_TIER,
                Some(other) => {
                    return Err(format!(
                        "spec.tier: {other:?} is not a tier (Admin or Baseline)"
                    ));
                }
                None => return Err("spec.tier: missing required field (Admin or Baseline)".into()),
            };
            let priority = priority(spec.priority)?;
            let subject = subject(spec.subject.as_ref(), Version::V1alpha2)?;
            let rules = Rules::v1alpha2(&spec.ingress, &spec.egress)?;
            build(
                kind,
                o.metadata,
                tier,
                Some(priority),
                subject,
                rules,
                source,
            )
        }
    };
    Ok(Parsed::Tiered(Box::new(policy)))
}

/// The three kinds read here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `v1alpha1` AdminNetworkPolicy.
    Admin,
    /// `v1alpha1` BaselineAdminNetworkPolicy.
    Baseline,
    /// `v1alpha2` ClusterNetworkPolicy.
    Cluster,
}

impl Kind {
    fn version(self) -> Version {
        match self {
            Kind::Admin | Kind::Baseline => Version::V1alpha1,
            Kind::Cluster => Version::V1alpha2,
        }
    }

    fn dialect(self) -> Dialect {
        match self {
            Kind::Admin => Dialect::AdminNetworkPolicy,
            Kind::Baseline => Dialect::BaselineAdminNetworkPolicy,
            Kind::Cluster => Dialect::ClusterNetworkPolicy,
        }
    }

    /// The action names of the kind's enum, and what they mean.
    fn actions(self) -> &'static [(&'static str, Action)] {
        match self {
            Kind::Admin => &[
                ("Allow", Action::Allow),
                ("Deny", Action::Deny),
                ("Pass", Action::Pass),
            ],
            Kind::Baseline => &[("Allow", Action::Allow), ("Deny", Action::Deny)],
            Kind::Cluster => &[
                ("Accept", Action::Allow),
                ("Deny", Action::Deny),
                ("Pass", Action::Pass),
            ],
        }
    }

    /// The most rules per direction, peers per rule and ports per rule.
    fn max_items(self) -> usize {
        match self.version() {
            Version::V1alpha1 => 100,
            Version::V1alpha2 => 25,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1alpha1,
    V1alpha2,
}

/// Rejects equal priorities that leave a verdict to the implementation: two policies of
/// this dialect in one tier (AdminNetworkPolicies and `tier: Admin` ClusterNetworkPolicies;
/// `tier: Baseline` ClusterNetworkPolicies) with the same `priority`, whose subjects share a
/// pod of the input. The API: "If two (or more) policies with the same priority could both
/// match a connection, then the implementation can apply any of the matching policies"; OVN-
/// Kubernetes reports them as conflicting, Calico orders them by name, netpol-analyzer
/// refuses them. Equal priorities over disjoint subjects are unambiguous and accepted.
///
/// Runs on the assembled cluster (it needs pods and namespace labels); the error points at
/// the later of the two policies and names the other.
pub fn check_priorities(cluster: &Cluster) -> Result<(), IngestError> {
    let mut groups: BTreeMap<(&str, i64), Vec<&TieredPolicy>> = BTreeMap::new();
    for p in &cluster.tiered_policies {
        if p.dialect.family() != "admin" {
            continue;
        }
        if let Some(order) = p.order {
            groups
                .entry((p.tier.as_str(), order as i64))
                .or_default()
                .push(p);
        }
    }
    for ((_, priority), mut group) in groups {
        if group.len() < 2 {
            continue;
        }
        group.sort_by(|a, b| {
            (&a.source.file, a.source.line, &a.name).cmp(&(&b.source.file, b.source.line, &b.name))
        });
        for (i, later) in group.iter().enumerate().skip(1) {
            for earlier in &group[..i] {
                let shared = cluster.endpoints.iter().find(|e| {
                    subject_selects(cluster, &earlier.subject, e)
                        && subject_selects(cluster, &later.subject, e)
                });
                if let Some(e) = shared {
                    return Err(IngestError::new(
                        later.source.clone(),
                        format!(
                            "priority {priority} is also the priority of {} ({}) and both select \
                             {}: the API leaves the order of equal priorities to the \
                             implementation; give one of them another priority",
                            earlier.display_name(),
                            earlier.source,
                            e.display_name()
                        ),
                    )
                    .with_object(later.display_name()));
                }
            }
        }
    }
    Ok(())
}

/// Whether a subject selects an endpoint (never a hostNetwork one: "host-networked pods are
/// not included in subject selection").
fn subject_selects(cluster: &Cluster, subject: &Subject, e: &Endpoint) -> bool {
    let Subject::Pods(m) = subject else {
        return false;
    };
    if e.host_network || !m.labels.matches(&e.labels) {
        return false;
    }
    match &m.namespaces {
        NamespaceMatch::Any => true,
        NamespaceMatch::Named(n) => *n == e.namespace,
        NamespaceMatch::Selector(expr) => cluster
            .namespaces
            .get(&e.namespace)
            .is_some_and(|ns| expr.matches(&ns.labels)),
    }
}

// ---------------------------------------------------------------------------------------------
// Wire types: only the fields of the API, unknown ones are errors below `spec`.

/// Deserializes `null` as the type's default (the API treats `null` like an omitted field).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize, Debug)]
#[serde(bound = "S: Deserialize<'de>")]
struct Object<S> {
    metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    spec: Option<S>,
}

#[derive(Deserialize, Debug, Default)]
struct Meta {
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    annotations: kubesurface_model::Labels,
}

/// `v1alpha1` AdminNetworkPolicySpec.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnpSpec {
    #[serde(default, deserialize_with = "nullable")]
    priority: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    subject: Option<SubjectW>,
    #[serde(default, deserialize_with = "nullable")]
    ingress: Vec<Rule1>,
    #[serde(default, deserialize_with = "nullable")]
    egress: Vec<Rule1>,
}

/// `v1alpha1` BaselineAdminNetworkPolicySpec (no priority).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BanpSpec {
    #[serde(default, deserialize_with = "nullable")]
    subject: Option<SubjectW>,
    #[serde(default, deserialize_with = "nullable")]
    ingress: Vec<Rule1>,
    #[serde(default, deserialize_with = "nullable")]
    egress: Vec<Rule1>,
}

/// `v1alpha2` ClusterNetworkPolicySpec.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CnpSpec {
    #[serde(default, deserialize_with = "nullable")]
    tier: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    priority: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    subject: Option<SubjectW>,
    #[serde(default, deserialize_with = "nullable")]
    ingress: Vec<Rule2>,
    #[serde(default, deserialize_with = "nullable")]
    egress: Vec<Rule2>,
}

/// `subject`: exactly one of `namespaces` and `pods`.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubjectW {
    #[serde(default, deserialize_with = "nullable")]
    namespaces: Option<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pods: Option<NamespacedPod>,
}

/// `NamespacedPod`: pods of the selected namespaces.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NamespacedPod {
    #[serde(default, deserialize_with = "nullable")]
    namespace_selector: Option<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pod_selector: Option<Selector>,
}

/// `metav1.LabelSelector`, strict: a stray key (an older API's `namespaceSelector` nested
/// under `namespaces`) would otherwise read as the empty selector, which selects everything.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Selector {
    #[serde(default, deserialize_with = "nullable")]
    match_labels: kubesurface_model::Labels,
    #[serde(default, deserialize_with = "nullable")]
    match_expressions: Vec<Requirement>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Requirement {
    key: String,
    operator: String,
    #[serde(default, deserialize_with = "nullable")]
    values: Vec<String>,
}

/// A `v1alpha1` rule (ingress rules have `from`, egress rules `to`).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rule1 {
    #[serde(default, deserialize_with = "nullable")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    action: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    from: Option<Vec<Peer>>,
    #[serde(default, deserialize_with = "nullable")]
    to: Option<Vec<Peer>>,
    #[serde(default, deserialize_with = "nullable")]
    ports: Option<Vec<Port1>>,
}

/// A `v1alpha2` rule.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rule2 {
    #[serde(default, deserialize_with = "nullable")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    action: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    from: Option<Vec<Peer>>,
    #[serde(default, deserialize_with = "nullable")]
    to: Option<Vec<Peer>>,
    #[serde(default, deserialize_with = "nullable")]
    protocols: Option<Vec<Protocol2>>,
}

/// A peer: exactly one field (ingress peers: `namespaces` or `pods`).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Peer {
    #[serde(default, deserialize_with = "nullable")]
    namespaces: Option<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pods: Option<NamespacedPod>,
    #[serde(default, deserialize_with = "nullable")]
    nodes: Option<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    networks: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    domain_names: Option<Vec<String>>,
}

/// `v1alpha1` AdminNetworkPolicyPort: exactly one field.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Port1 {
    #[serde(default, deserialize_with = "nullable")]
    port_number: Option<PortNumber1>,
    #[serde(default, deserialize_with = "nullable")]
    named_port: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    port_range: Option<PortRange1>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct PortNumber1 {
    #[serde(default, deserialize_with = "nullable")]
    protocol: Option<String>,
    port: i64,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct PortRange1 {
    #[serde(default, deserialize_with = "nullable")]
    protocol: Option<String>,
    start: i64,
    end: i64,
}

/// `v1alpha2` ClusterNetworkPolicyProtocol: exactly one field.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Protocol2 {
    #[serde(default, deserialize_with = "nullable")]
    tcp: Option<ProtocolPort2>,
    #[serde(default, deserialize_with = "nullable")]
    udp: Option<ProtocolPort2>,
    #[serde(default, deserialize_with = "nullable")]
    sctp: Option<ProtocolPort2>,
    #[serde(default, deserialize_with = "nullable")]
    destination_named_port: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProtocolPort2 {
    #[serde(default, deserialize_with = "nullable")]
    destination_port: Option<Port2>,
}

/// `v1alpha2` Port: exactly one of `number` and `range`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Port2 {
    #[serde(default, deserialize_with = "nullable")]
    number: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    range: Option<Range2>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Range2 {
    start: i64,
    end: i64,
}

// ---------------------------------------------------------------------------------------------
// Conversion

fn required<T>(v: Option<T>, field: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("{field}: missing required field"))
}

fn priority(p: Option<i64>) -> Result<i64, String> {
    match p {
        None => Err("spec.priority: missing required field (0-1000)".into()),
        Some(p) if (0..=MAX_PRIORITY).contains(&p) => Ok(p),
        Some(p) => Err(format!(
            "spec.priority: {p} is out of range (0-{MAX_PRIORITY}, lower values take precedence)"
        )),
    }
}

fn build(
    kind: Kind,
    meta: Meta,
    tier: &str,
    order: Option<i64>,
    subject: Subject,
    rules: Rules,
    source: Source,
) -> TieredPolicy {
    let rule = |r: RuleParts| TieredRule {
        name: r.name,
        action: r.action,
        peers: r.peers,
        ports: r.ports,
        not_ports: Vec::new(),
        l7: false,
        source: source.clone(),
    };
    TieredPolicy {
        dialect: kind.dialect(),
        namespace: None,
        name: meta.name,
        tier: tier.to_string(),
        order: order.map(|p| p as f64),
        subject,
        ingress: rules.ingress.into_iter().map(rule).collect(),
        egress: rules.egress.into_iter().map(rule).collect(),
        applies_ingress: true,
        applies_egress: true,
        isolates_ingress: false,
        isolates_egress: false,
        annotations: meta.annotations,
        source,
    }
}

/// A label selector, checked as the API server checks it, as a predicate.
fn selector(s: &Selector, field: &str) -> Result<LabelExpr, String> {
    let wire = types::LabelSelector {
        match_labels: s.match_labels.clone(),
        match_expressions: s
            .match_expressions
            .iter()
            .map(|r| types::SelectorRequirement {
                key: r.key.clone(),
                operator: r.operator.clone(),
                values: r.values.clone(),
            })
            .collect(),
    };
    let checked = convert::selector(&wire, field)?;
    Ok(LabelExpr::from_selector(&checked))
}

/// Namespaces a selector picks: `{}` is every namespace.
fn namespaces(s: &Selector, field: &str) -> Result<NamespaceMatch, String> {
    Ok(match selector(s, field)? {
        LabelExpr::All => NamespaceMatch::Any,
        expr => NamespaceMatch::Selector(expr),
    })
}

/// `NamespacedPod`: both selectors are required in `v1alpha1`; `v1alpha2` made
/// `namespaceSelector` optional (absent: every namespace).
fn namespaced_pod(p: &NamespacedPod, version: Version, field: &str) -> Result<PodMatch, String> {
    let ns = match (&p.namespace_selector, version) {
        (Some(s), _) => namespaces(s, &format!("{field}.namespaceSelector"))?,
        (None, Version::V1alpha2) => NamespaceMatch::Any,
        (None, Version::V1alpha1) => {
            return Err(format!(
                "{field}.namespaceSelector: missing required field (use {{}} for every namespace)"
            ));
        }
    };
    let labels = match &p.pod_selector {
        Some(s) => selector(s, &format!("{field}.podSelector"))?,
        None => {
            return Err(format!(
                "{field}.podSelector: missing required field (use {{}} for every pod)"
            ));
        }
    };
    Ok(PodMatch {
        namespaces: ns,
        labels,
        service_accounts: None,
    })
}

fn subject(s: Option<&SubjectW>, version: Version) -> Result<Subject, String> {
    let field = "spec.subject";
    let s = s.ok_or_else(|| format!("{field}: missing required field (namespaces or pods)"))?;
    match (&s.namespaces, &s.pods) {
        (Some(ns), None) => Ok(Subject::Pods(PodMatch {
            namespaces: namespaces(ns, &format!("{field}.namespaces"))?,
            labels: LabelExpr::All,
            service_accounts: None,
        })),
        (None, Some(p)) => Ok(Subject::Pods(namespaced_pod(
            p,
            version,
            &format!("{field}.pods"),
        )?)),
        (None, None) => Err(format!(
            "{field}: exactly one of namespaces and pods must be set, found none"
        )),
        (Some(_), Some(_)) => Err(format!(
            "{field}: exactly one of namespaces and pods must be set, found both"
        )),
    }
}

/// One rule, converted.
struct RuleParts {
    name: Option<String>,
    action: Action,
    peers: Vec<TieredPeer>,
    ports: Vec<PolicyPort>,
}

/// Both directions' rules.
struct Rules {
    ingress: Vec<RuleParts>,
    egress: Vec<RuleParts>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn field(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    /// The field holding the peers, and the one that must not appear.
    fn peers_field(self) -> (&'static str, &'static str) {
        match self {
            Direction::Ingress => ("from", "to"),
            Direction::Egress => ("to", "from"),
        }
    }
}

/// The parts every rule has, whatever its version.
struct RuleCommon<'a> {
    name: &'a Option<String>,
    action: &'a Option<String>,
    from: &'a Option<Vec<Peer>>,
    to: &'a Option<Vec<Peer>>,
}

impl<'a> RuleCommon<'a> {
    fn of(
        name: &'a Option<String>,
        action: &'a Option<String>,
        from: &'a Option<Vec<Peer>>,
        to: &'a Option<Vec<Peer>>,
    ) -> Self {
        RuleCommon {
            name,
            action,
            from,
            to,
        }
    }
}

impl Rules {
    fn v1alpha1(kind: Kind, ingress: &[Rule1], egress: &[Rule1]) -> Result<Rules, String> {
        Self::read(kind, ingress, egress, |r: &Rule1, at: &str| {
            let ports = ports_v1alpha1(r.ports.as_deref(), kind, at)?;
            Ok((RuleCommon::of(&r.name, &r.action, &r.from, &r.to), ports))
        })
    }

    fn v1alpha2(ingress: &[Rule2], egress: &[Rule2]) -> Result<Rules, String> {
        let kind = Kind::Cluster;
        Self::read(kind, ingress, egress, |r: &Rule2, at: &str| {
            let ports = protocols_v1alpha2(r.protocols.as_deref(), kind, at)?;
            Ok((RuleCommon::of(&r.name, &r.action, &r.from, &r.to), ports))
        })
    }

    /// Both directions of either API version: `parts` gives a rule's common fields and its
    /// ports (the field that differs between the versions).
    fn read<R>(
        kind: Kind,
        ingress: &[R],
        egress: &[R],
        parts: impl for<'r> Fn(&'r R, &str) -> Result<(RuleCommon<'r>, Ports), String>,
    ) -> Result<Rules, String> {
        let side = |rules: &[R], dir: Direction| {
            check_count(
                rules.len(),
                kind.max_items(),
                &format!("spec.{}", dir.field()),
            )?;
            rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let at = format!("spec.{}[{i}]", dir.field());
                    let (common, ports) = parts(r, &at)?;
                    rule(kind, dir, &common, ports, &at)
                })
                .collect::<Result<Vec<_>, String>>()
        };
        Ok(Rules {
            ingress: side(ingress, Direction::Ingress)?,
            egress: side(egress, Direction::Egress)?,
        })
    }
}

fn check_count(n: usize, max: usize, field: &str) -> Result<(), String> {
    if n > max {
        Err(format!("{field}: {n} items, at most {max} allowed"))
    } else {
        Ok(())
    }
}

/// Ports read from `ports` / `protocols`, and whether one of them is a named port.
struct Ports {
    ports: Vec<PolicyPort>,
    named: bool,
    /// The field holding them, for messages.
    field: &'static str,
}

fn rule(
    kind: Kind,
    dir: Direction,
    r: &RuleCommon<'_>,
    ports: Ports,
    at: &str,
) -> Result<RuleParts, String> {
    let name = match r.name.as_deref() {
        None | Some("") => None,
        Some(n) if n.chars().count() > MAX_RULE_NAME => {
            return Err(format!(
                "{at}.name: {} characters, at most {MAX_RULE_NAME} allowed",
                n.chars().count()
            ));
        }
        Some(n) => Some(n.to_string()),
    };
    let action = action(kind, r.action.as_deref(), &format!("{at}.action"))?;
    let (field, wrong) = dir.peers_field();
    let (list, other) = match dir {
        Direction::Ingress => (r.from, r.to),
        Direction::Egress => (r.to, r.from),
    };
    if other.is_some() {
        return Err(format!(
            "{at}.{wrong}: {} rules name their peers in `{field}`",
            dir.field()
        ));
    }
    let list = match list {
        Some(l) if !l.is_empty() => l,
        _ => {
            return Err(format!(
                "{at}.{field}: must be defined and contain at least one peer"
            ));
        }
    };
    check_count(list.len(), kind.max_items(), &format!("{at}.{field}"))?;
    let mut peers = Vec::with_capacity(list.len());
    let mut addresses = false;
    for (j, p) in list.iter().enumerate() {
        let peer_at = format!("{at}.{field}[{j}]");
        addresses |= p.nodes.is_some() || p.networks.is_some() || p.domain_names.is_some();
        peers.push(peer(kind, dir, p, &peer_at)?);
    }
    if addresses && ports.named {
        return Err(format!(
            "{at}.{}: named ports cannot be used in a rule with networks, nodes or domainNames \
             peers (those have no named ports)",
            ports.field
        ));
    }
    Ok(RuleParts {
        name,
        action,
        peers,
        ports: ports.ports,
    })
}

fn action(kind: Kind, a: Option<&str>, field: &str) -> Result<Action, String> {
    let known = kind.actions();
    let names = || known.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    let Some(a) = a.filter(|a| !a.is_empty()) else {
        return Err(format!("{field}: missing required field ({})", names()));
    };
    if let Some((_, action)) = known.iter().find(|(n, _)| *n == a) {
        return Ok(*action);
    }
    let hint = match (kind, a) {
        (Kind::Cluster, "Allow") => " (v1alpha2 renamed Allow to Accept)",
        (Kind::Admin | Kind::Baseline, "Accept") => {
            " (Accept is v1alpha2's name; v1alpha1 says Allow)"
        }
        (Kind::Baseline, "Pass") => " (a BaselineAdminNetworkPolicy has no later tier to pass to)",
        _ => "",
    };
    Err(format!(
        "{field}: unrecognized action {a:?}, expected one of {}{hint}",
        names()
    ))
}

fn peer(kind: Kind, dir: Direction, p: &Peer, at: &str) -> Result<TieredPeer, String> {
    let set: Vec<&str> = [
        ("namespaces", p.namespaces.is_some()),
        ("pods", p.pods.is_some()),
        ("nodes", p.nodes.is_some()),
        ("networks", p.networks.is_some()),
        ("domainNames", p.domain_names.is_some()),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| n)
    .collect();
    let allowed: &[&str] = match (dir, kind) {
        (Direction::Ingress, _) => &["namespaces", "pods"],
        (Direction::Egress, Kind::Baseline) => &["namespaces", "pods", "nodes", "networks"],
        (Direction::Egress, _) => &["namespaces", "pods", "nodes", "networks", "domainNames"],
    };
    if let Some(f) = set.iter().find(|f| !allowed.contains(f)) {
        let what = match dir {
            Direction::Ingress => "an ingress peer".to_string(),
            Direction::Egress => format!("a {} egress peer", kind.dialect().kind()),
        };
        return Err(format!(
            "{at}.{f}: not a field of {what} (expected one of {})",
            allowed.join(", ")
        ));
    }
    match set.as_slice() {
        [_] => {}
        [] => {
            return Err(format!(
                "{at}: exactly one of {} must be set, found none",
                allowed.join(", ")
            ));
        }
        more => {
            return Err(format!(
                "{at}: exactly one of {} must be set, found {}",
                allowed.join(", "),
                more.join(" and ")
            ));
        }
    }
    if let Some(s) = &p.namespaces {
        Ok(pods_peer(PodMatch {
            namespaces: namespaces(s, &format!("{at}.namespaces"))?,
            labels: LabelExpr::All,
            service_accounts: None,
        }))
    } else if let Some(np) = &p.pods {
        Ok(pods_peer(namespaced_pod(
            np,
            kind.version(),
            &format!("{at}.pods"),
        )?))
    } else if let Some(s) = &p.nodes {
        Ok(TieredPeer::Nodes(selector(s, &format!("{at}.nodes"))?))
    } else if let Some(nets) = &p.networks {
        networks(nets, &format!("{at}.networks"))
    } else if let Some(names) = &p.domain_names {
        domain_names(names, &format!("{at}.domainNames"))?;
        // Names resolve to addresses only at run time: no address kubesurface can name is
        // known to be one of them, so the peer matches nothing (see docs/admin-policies.md).
        Ok(TieredPeer::Networks {
            nets: Some(Vec::new()),
            except: Vec::new(),
            matches_pods: false,
        })
    } else {
        // Exactly one field is set (checked above); this keeps the function total.
        Err(format!("{at}: no peer field set"))
    }
}

fn pods_peer(pods: PodMatch) -> TieredPeer {
    TieredPeer::Pods {
        pods,
        not_labels: None,
        nets: None,
        not_nets: Vec::new(),
    }
}

/// `networks`: 1-25 distinct CIDRs; pod addresses inside them match too (the API: "cluster-
/// internal traffic will be checked against the rule as well").
fn networks(list: &[String], at: &str) -> Result<TieredPeer, String> {
    if list.is_empty() {
        return Err(format!("{at}: must contain at least one CIDR"));
    }
    check_count(list.len(), MAX_NETWORKS, at)?;
    let mut seen = BTreeSet::new();
    let mut nets = Vec::with_capacity(list.len());
    for (k, c) in list.iter().enumerate() {
        let field = format!("{at}[{k}]");
        if c.len() > MAX_CIDR_LEN {
            return Err(format!(
                "{field}: {c:?} is longer than {MAX_CIDR_LEN} characters"
            ));
        }
        if !seen.insert(c.as_str()) {
            return Err(format!("{field}: duplicate value {c:?}"));
        }
        if c.trim() != c {
            return Err(format!("{field}: {c:?} is not a valid CIDR"));
        }
        nets.push(convert::cidr(c, &field)?);
    }
    nets.sort();
    nets.dedup();
    Ok(TieredPeer::Networks {
        nets: Some(nets),
        except: Vec::new(),
        matches_pods: true,
    })
}

/// `domainNames`: 1-25 distinct names of the API's pattern (`*.` only as a prefix).
fn domain_names(list: &[String], at: &str) -> Result<(), String> {
    if list.is_empty() {
        return Err(format!("{at}: must contain at least one domain name"));
    }
    check_count(list.len(), MAX_NETWORKS, at)?;
    let mut seen = BTreeSet::new();
    for (k, n) in list.iter().enumerate() {
        let field = format!("{at}[{k}]");
        if !seen.insert(n.as_str()) {
            return Err(format!("{field}: duplicate value {n:?}"));
        }
        if !is_domain_name(n) {
            return Err(format!(
                "{field}: {n:?} is not a domain name (labels of letters, digits, '-' and '_', \
                 optionally `*.` in front and a final '.')"
            ));
        }
    }
    Ok(())
}

/// The API's pattern `^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`:
/// at least two labels.
fn is_domain_name(n: &str) -> bool {
    let n = n.strip_prefix("*.").unwrap_or(n);
    let n = n.strip_suffix('.').unwrap_or(n);
    let labels: Vec<&str> = n.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
        })
}

fn port_number(n: i64, field: &str) -> Result<u16, String> {
    convert::port_number(n, field)
}

fn protocol(p: Option<&str>, field: &str) -> Result<Protocol, String> {
    convert::protocol(p.filter(|p| !p.is_empty())).map_err(|e| format!("{field}: {e}"))
}

/// A named port: the API matches the container port of that name, whatever its protocol
/// (`namedPort` and `destinationNamedPort` carry no protocol). Container port names are
/// unique within a pod, so one entry per protocol says exactly that.
fn named_port(name: &str, field: &str) -> Result<Vec<PolicyPort>, String> {
    if name.is_empty() {
        return Err(format!("{field}: must not be empty"));
    }
    Ok(Protocol::ALL
        .iter()
        .map(|&protocol| PolicyPort {
            protocol,
            port: PortSpec::Named(name.to_string()),
        })
        .collect())
}

/// `v1alpha1` `ports`: absent = every port; present, 1-100 entries of exactly one field.
fn ports_v1alpha1(ports: Option<&[Port1]>, kind: Kind, at: &str) -> Result<Ports, String> {
    let mut out = Ports {
        ports: Vec::new(),
        named: false,
        field: "ports",
    };
    let Some(list) = ports else {
        return Ok(out);
    };
    let at = format!("{at}.ports");
    if list.is_empty() {
        return Err(format!(
            "{at}: must contain at least one port when present (omit it for every port)"
        ));
    }
    check_count(list.len(), kind.max_items(), &at)?;
    for (k, p) in list.iter().enumerate() {
        let field = format!("{at}[{k}]");
        let set = [
            p.port_number.is_some(),
            p.named_port.is_some(),
            p.port_range.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err(format!(
                "{field}: exactly one of portNumber, namedPort and portRange must be set, found {set}"
            ));
        }
        if let Some(n) = &p.port_number {
            let protocol = protocol(
                n.protocol.as_deref(),
                &format!("{field}.portNumber.protocol"),
            )?;
            let port = port_number(n.port, &format!("{field}.portNumber.port"))?;
            out.ports.push(PolicyPort {
                protocol,
                port: PortSpec::Range(port, port),
            });
        } else if let Some(r) = &p.port_range {
            let protocol = protocol(
                r.protocol.as_deref(),
                &format!("{field}.portRange.protocol"),
            )?;
            let start = port_number(r.start, &format!("{field}.portRange.start"))?;
            let end = port_number(r.end, &format!("{field}.portRange.end"))?;
            // The API asks for start < end; v1alpha1's CRD does not check it, a single-port
            // range is harmless, an inverted one would match nothing.
            if end < start {
                return Err(format!(
                    "{field}.portRange: start {start} is greater than end {end}"
                ));
            }
            out.ports.push(PolicyPort {
                protocol,
                port: PortSpec::Range(start, end),
            });
        } else if let Some(name) = &p.named_port {
            out.named = true;
            out.ports
                .extend(named_port(name, &format!("{field}.namedPort"))?);
        }
    }
    Ok(out)
}

/// `v1alpha2` `protocols`: absent = every protocol and port; present, 1-25 entries of
/// exactly one field.
fn protocols_v1alpha2(list: Option<&[Protocol2]>, kind: Kind, at: &str) -> Result<Ports, String> {
    let mut out = Ports {
        ports: Vec::new(),
        named: false,
        field: "protocols",
    };
    let Some(list) = list else {
        return Ok(out);
    };
    let at = format!("{at}.protocols");
    if list.is_empty() {
        return Err(format!(
            "{at}: must contain at least one entry when present (omit it for every protocol and port)"
        ));
    }
    check_count(list.len(), kind.max_items(), &at)?;
    for (k, p) in list.iter().enumerate() {
        let field = format!("{at}[{k}]");
        let set: Vec<(&str, Protocol, &ProtocolPort2)> = [
            ("tcp", Protocol::Tcp, &p.tcp),
            ("udp", Protocol::Udp, &p.udp),
            ("sctp", Protocol::Sctp, &p.sctp),
        ]
        .into_iter()
        .filter_map(|(n, proto, v)| v.as_ref().map(|v| (n, proto, v)))
        .collect();
        let count = set.len() + usize::from(p.destination_named_port.is_some());
        if count != 1 {
            return Err(format!(
                "{field}: exactly one of tcp, udp, sctp and destinationNamedPort must be set, found {count}"
            ));
        }
        if let Some(name) = &p.destination_named_port {
            out.named = true;
            out.ports
                .extend(named_port(name, &format!("{field}.destinationNamedPort"))?);
            continue;
        }
        let (name, protocol, pp) = set[0];
        let pfield = format!("{field}.{name}.destinationPort");
        let Some(port) = &pp.destination_port else {
            return Err(format!("{pfield}: missing required field"));
        };
        let spec = match (port.number, &port.range) {
            (Some(n), None) => {
                let n = port_number(n, &format!("{pfield}.number"))?;
                PortSpec::Range(n, n)
            }
            (None, Some(r)) => {
                let start = port_number(r.start, &format!("{pfield}.range.start"))?;
                let end = port_number(r.end, &format!("{pfield}.range.end"))?;
                if start >= end {
                    return Err(format!(
                        "{pfield}.range: start {start} must be less than end {end}"
                    ));
                }
                PortSpec::Range(start, end)
            }
            (n, r) => {
                let found = usize::from(n.is_some()) + usize::from(r.is_some());
                return Err(format!(
                    "{pfield}: exactly one of number and range must be set, found {found}"
                ));
            }
        };
        out.ports.push(PolicyPort {
            protocol,
            port: spec,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `text`; `check_priorities` runs as part of assembly.
    fn load(text: &str) -> Result<Cluster, String> {
        let input = crate::InputText {
            name: std::sync::Arc::from("in.yaml"),
            text: text.into(),
        };
        crate::load_texts(&[input])
            .map(|l| l.cluster)
            .map_err(|e| e.to_string())
    }

    const PODS: &str = "apiVersion: v1
kind: Pod
metadata: {name: a, namespace: ns-x, labels: {app: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: ns-y, labels: {app: b}}
";

    fn anp(name: &str, priority: u32, subject: &str) -> String {
        format!(
            "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n\
             metadata: {{name: {name}}}\nspec:\n  priority: {priority}\n  subject: {subject}\n"
        )
    }

    /// anp_bad_path_test_1 of netpol-analyzer (two ANPs with priority 50 over the same pods),
    /// and the API's "implementation can apply any of the matching policies".
    #[test]
    fn equal_priorities_over_shared_pods_are_ambiguous() {
        let e = load(&format!(
            "{PODS}{}{}",
            anp(
                "first",
                50,
                "{namespaces: {matchLabels: {kubernetes.io/metadata.name: ns-x}}}"
            ),
            anp(
                "second",
                50,
                "{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}"
            )
        ))
        .unwrap_err();
        assert!(
            e.starts_with("in.yaml:16: AdminNetworkPolicy second: priority 50"),
            "{e}"
        );
        assert!(e.contains("AdminNetworkPolicy first (in.yaml:9)"), "{e}");
        assert!(e.contains("ns-x/a"), "{e}");
    }

    #[test]
    fn equal_priorities_over_disjoint_pods_or_tiers_are_fine() {
        let c = load(&format!(
            "{PODS}{}{}{}",
            anp(
                "first",
                50,
                "{namespaces: {matchLabels: {kubernetes.io/metadata.name: ns-x}}}"
            ),
            anp(
                "second",
                50,
                "{namespaces: {matchLabels: {kubernetes.io/metadata.name: ns-y}}}"
            ),
            "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n\
             metadata: {name: third}\nspec: {tier: Baseline, priority: 50, subject: {namespaces: {}}}\n"
        ));
        assert!(c.is_ok(), "{c:?}");
        // Same tier, same priority, an ANP and an admin-tier ClusterNetworkPolicy: ambiguous.
        let c = load(&format!(
            "{PODS}{}{}",
            anp("first", 50, "{namespaces: {}}"),
            "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n\
             metadata: {name: other}\nspec: {tier: Admin, priority: 50, subject: {namespaces: {}}}\n"
        ));
        assert!(
            c.unwrap_err()
                .contains("ClusterNetworkPolicy other: priority 50")
        );
    }

    #[test]
    fn domain_names_follow_the_api_pattern() {
        // Examples from the DomainName doc comment of apis/v1alpha1 and apis/v1alpha2.
        for ok in [
            "kubernetes.io",
            "blog.kubernetes.io",
            "*.kubernetes.io",
            "a_b.example.com.",
        ] {
            assert!(is_domain_name(ok), "{ok}");
        }
        for bad in [
            "kubernetes",
            "*kubernetes.io",
            "www.*.io",
            "-a.io",
            "a..io",
            "",
            "*.",
        ] {
            assert!(!is_domain_name(bad), "{bad}");
        }
    }
}
