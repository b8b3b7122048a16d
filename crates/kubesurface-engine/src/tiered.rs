//! Policy dialects in the engine: admin, Calico and Cilium policies
//! ([`kubesurface_model::TieredPolicy`]) compiled into ordered steps per peer and direction.
//!
//! A peer that no enforced dialect policy selects in a direction keeps the NetworkPolicy v1
//! path of [`crate::Engine`] unchanged. A peer that one selects gets a [`Plan`]: its tiers in
//! order, each a list of [`Step`]s — dialect rules with actions, and one step standing for
//! every NetworkPolicy v1 rule of the peer (they all allow, so their order among themselves
//! does not matter) at order [`KUBERNETES_POLICY_ORDER`] of [`DEFAULT_TIER`]. The module doc
//! of `kubesurface_model::dialect` states the evaluation.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use fixedbitset::FixedBitSet;
use ipnet::IpNet;
use kubesurface_model::{
    ADMIN_TIER, ADMIN_TIER_ORDER, Action, BASELINE_TIER, BASELINE_TIER_ORDER, Cluster,
    DEFAULT_TIER, DEFAULT_TIER_ORDER, Entity, IpBlock, KUBERNETES_POLICY_ORDER, Labels,
    NamespaceMatch, PodMatch, PolicyPort, PortSpec, Subject, TieredPeer, TieredPolicy,
};

use crate::atoms::{AtomId, block_atoms_set};
use crate::classes::{ClassAddress, EndpointClass, NamedPort};
use crate::compile::{Direction, PeerUniverse, RulePorts};
use crate::portset::PortSet;
use crate::settings::Settings;

/// Label keys through which Calico and Cilium selectors see a pod's namespace and service
/// account; added to a pod's own labels when dialect selectors match.
pub const NAMESPACE_LABEL_KEYS: [&str; 2] =
    ["projectcalico.org/namespace", "io.kubernetes.pod.namespace"];
/// Label keys carrying the service account.
pub const SERVICE_ACCOUNT_LABEL_KEYS: [&str; 2] = [
    "projectcalico.org/serviceaccount",
    "io.cilium.k8s.policy.serviceaccount",
];

/// One compiled dialect rule.
#[derive(Clone, Debug)]
pub struct TieredRuleC {
    /// Index of its policy in `Cluster::tiered_policies`.
    pub policy: u32,
    /// Direction.
    pub direction: Direction,
    /// Index in the policy's `ingress` or `egress`.
    pub index: u32,
    /// What it does.
    pub action: Action,
    /// Peers it matches.
    pub peers: FixedBitSet,
    /// Its ports.
    pub ports: RulePorts,
    /// Ports excluded (`notPorts`), when any.
    pub not_ports: Option<RulePorts>,
}

impl TieredRuleC {
    /// The ports it matches towards a destination with these named ports.
    pub fn resolve(&self, dst_named: Option<&[NamedPort]>) -> PortSet {
        let ports = self.ports.resolve(dst_named);
        match &self.not_ports {
            None => ports,
            Some(not) => ports.difference(&not.resolve(dst_named)),
        }
    }
}

/// One step of a tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The rules of one Kubernetes NetworkPolicy (index into `Cluster::policies`) that
    /// apply to the subject (all `Allow`), at order 1000 of the default tier, named
    /// `knp.default.NAME` as Calico names them for ties.
    NetworkPolicy(u32),
    /// A dialect rule (index into [`Tiered::rules`]).
    Rule(u32),
}

/// A tier's steps for one subject and direction.
#[derive(Clone, Debug, PartialEq)]
pub struct TierSteps {
    /// Index into [`Tiered::tiers`].
    pub tier: u32,
    /// Steps in evaluation order.
    pub steps: Vec<Step>,
    /// Whether unmatched traffic falls to the tier's default action.
    pub isolates: bool,
}

/// Everything that decides one direction for one subject.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Tiers in evaluation order (only those with a step or isolation).
    pub tiers: Vec<TierSteps>,
}

/// A tier as evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct TierInfo {
    /// Name.
    pub name: String,
    /// Order (`None` = last).
    pub order: Option<f64>,
    /// Default action for isolated subjects.
    pub default_action: Action,
}

/// The compiled dialect policies of a cluster.
#[derive(Clone, Debug, Default)]
pub struct Tiered {
    /// Known tiers, sorted by evaluation order.
    pub tiers: Vec<TierInfo>,
    /// Compiled rules.
    pub rules: Vec<TieredRuleC>,
    /// Distinct plans.
    pub plans: Vec<Plan>,
    /// Per peer: its ingress plan.
    pub ingress: Vec<Option<u32>>,
    /// Per peer: its egress plan.
    pub egress: Vec<Option<u32>>,
    /// Policies enforced under the settings (indices into `Cluster::tiered_policies`).
    pub enforced: Vec<u32>,
    /// Policies not enforced under the settings' CNI.
    pub ignored: Vec<u32>,
}

fn cmp_order(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The tiers of a cluster: its Tier objects plus the built-in ones, in evaluation order.
pub fn tier_table(cluster: &Cluster) -> Vec<TierInfo> {
    let mut tiers: BTreeMap<String, TierInfo> = BTreeMap::new();
    for (name, order, action) in [
        (DEFAULT_TIER, DEFAULT_TIER_ORDER, Action::Deny),
        (ADMIN_TIER, ADMIN_TIER_ORDER, Action::Pass),
        (BASELINE_TIER, BASELINE_TIER_ORDER, Action::Pass),
    ] {
        tiers.insert(
            name.to_string(),
            TierInfo {
                name: name.to_string(),
                order: Some(order),
                default_action: action,
            },
        );
    }
    for t in &cluster.tiers {
        tiers.insert(
            t.name.clone(),
            TierInfo {
                name: t.name.clone(),
                order: t.order,
                default_action: t.default_action,
            },
        );
    }
    for p in &cluster.tiered_policies {
        tiers.entry(p.tier.clone()).or_insert_with(|| TierInfo {
            name: p.tier.clone(),
            order: None,
            default_action: Action::Deny,
        });
    }
    let mut out: Vec<TierInfo> = tiers.into_values().collect();
    out.sort_by(|a, b| cmp_order(a.order, b.order).then_with(|| a.name.cmp(&b.name)));
    out
}

/// What the dialect policies need from the address space and the classes.
#[derive(Clone, Debug, Default)]
pub struct Needs {
    /// Extra address blocks to cut atoms at (CIDRs, node and API server addresses).
    pub blocks: Vec<IpBlock>,
    /// Classes must keep the atoms of their addresses.
    pub addresses: bool,
    /// Classes must keep the node of hostNetwork endpoints.
    pub host_nodes: bool,
    /// Classes must keep the service account.
    pub service_accounts: bool,
    /// Node addresses (for node peers, subjects and entities).
    pub node_addresses: bool,
}

fn whole(net: &IpNet) -> IpBlock {
    IpBlock {
        cidr: *net,
        except: Vec::new(),
    }
}

fn host_net(ip: std::net::IpAddr) -> IpNet {
    IpNet::from(ip)
}

/// The addresses of the API server: the `default/kubernetes` Service's endpoints.
pub fn apiserver_ips(cluster: &Cluster) -> Vec<std::net::IpAddr> {
    cluster
        .service_endpoints
        .get(&("default".to_string(), "kubernetes".to_string()))
        .into_iter()
        .flatten()
        .map(|e| e.ip)
        .collect()
}

/// What the enforced dialect policies need (empty when there are none).
pub fn needs(cluster: &Cluster, settings: &Settings) -> Needs {
    let mut n = Needs::default();
    let mut apiserver = false;
    for p in cluster
        .tiered_policies
        .iter()
        .filter(|p| settings.enforces(p.dialect))
    {
        if let Subject::Nodes(_) = p.subject {
            n.host_nodes = true;
            n.node_addresses = true;
        }
        if let Subject::Pods(pm) = &p.subject {
            n.service_accounts |= pm.service_accounts.is_some();
        }
        for rule in p.ingress.iter().chain(&p.egress) {
            for peer in &rule.peers {
                match peer {
                    TieredPeer::All => {}
                    TieredPeer::Pods {
                        pods,
                        nets,
                        not_nets,
                        ..
                    } => {
                        n.service_accounts |= pods.service_accounts.is_some();
                        if nets.is_some() || !not_nets.is_empty() {
                            n.addresses = true;
                        }
                        n.blocks
                            .extend(nets.iter().flatten().chain(not_nets).map(whole));
                    }
                    TieredPeer::Nodes(_) => {
                        n.host_nodes = true;
                        n.node_addresses = true;
                    }
                    TieredPeer::Networks {
                        nets,
                        except,
                        matches_pods,
                    } => {
                        n.addresses |= *matches_pods;
                        // Node addresses are cut out so that they can be left out.
                        n.node_addresses |= !*matches_pods;
                        n.blocks
                            .extend(nets.iter().flatten().chain(except).map(whole));
                    }
                    TieredPeer::Entity(e) => match e {
                        Entity::All | Entity::Internal => {}
                        Entity::KubeApiserver => apiserver = true,
                        _ => n.node_addresses = true,
                    },
                }
            }
        }
    }
    if settings.cni == kubesurface_model::Cni::Cilium {
        n.node_addresses = true; // ipBlocks must be able to leave node addresses out
    }
    // Selectors may name the service account through its pseudo-labels
    // (`projectcalico.org/serviceaccount`, `io.cilium.k8s.policy.serviceaccount`).
    n.service_accounts |= cluster
        .tiered_policies
        .iter()
        .any(|p| settings.enforces(p.dialect));
    if n.node_addresses {
        for node in cluster.nodes.values() {
            n.blocks
                .extend(node.ips().into_iter().map(|ip| whole(&host_net(ip))));
        }
    }
    if apiserver {
        n.blocks.extend(
            apiserver_ips(cluster)
                .into_iter()
                .map(|ip| whole(&host_net(ip))),
        );
    }
    n
}

/// Labels a dialect selector sees on a pod: its own plus its namespace and service account
/// under the keys Calico and Cilium expose them.
pub fn pod_view_labels<'a>(
    labels: &'a Labels,
    namespace: &str,
    service_account: Option<&str>,
) -> Cow<'a, Labels> {
    let mut out = labels.clone();
    let mut add = |key: &str, value: &str| {
        if !out.contains_key(key) {
            out.insert(key.to_string(), value.to_string());
        }
    };
    for k in NAMESPACE_LABEL_KEYS {
        add(k, namespace);
    }
    add("projectcalico.org/orchestrator", "k8s");
    let sa = service_account.unwrap_or("default");
    for k in SERVICE_ACCOUNT_LABEL_KEYS {
        add(k, sa);
    }
    Cow::Owned(out)
}

/// True when a namespace match covers `namespace`.
pub fn namespace_matches(cluster: &Cluster, m: &NamespaceMatch, namespace: &str) -> bool {
    match m {
        NamespaceMatch::Any => true,
        NamespaceMatch::Named(n) => n == namespace,
        NamespaceMatch::Selector(expr) => cluster
            .namespace_labels(namespace)
            .is_some_and(|l| expr.matches(l)),
    }
}

/// True when a pod match covers a (non-hostNetwork) pod with these facts.
pub fn pod_matches(
    cluster: &Cluster,
    m: &PodMatch,
    namespace: &str,
    labels: &Labels,
    service_account: Option<&str>,
) -> bool {
    if !namespace_matches(cluster, &m.namespaces, namespace) {
        return false;
    }
    if !m
        .labels
        .matches(&pod_view_labels(labels, namespace, service_account))
    {
        return false;
    }
    match &m.service_accounts {
        None => true,
        Some(sa) => {
            let name = service_account.unwrap_or("default");
            let name_ok = sa.names.is_empty() || sa.names.iter().any(|n| n == name);
            let selector_ok = sa.selector.as_ref().is_none_or(|expr| {
                let labels = cluster
                    .service_accounts
                    .iter()
                    .find(|s| s.namespace == namespace && s.name == name)
                    .map(|s| s.labels.clone())
                    .unwrap_or_default();
                expr.matches(&labels)
            });
            name_ok && selector_ok
        }
    }
}

/// True when a node-level selector of a policy of `family` matches `node`: Calico selects
/// hosts through their HostEndpoints' labels (a node without one has no host policy);
/// Cilium's `nodeSelector` and the admin policies' `nodes` peers match the Node's labels.
pub fn host_matches(
    cluster: &Cluster,
    node: &str,
    expr: &kubesurface_model::LabelExpr,
    family: &str,
) -> bool {
    if family == "calico" {
        cluster
            .host_endpoints
            .iter()
            .any(|h| h.node == node && expr.matches(&h.labels))
    } else {
        cluster
            .nodes
            .get(node)
            .is_some_and(|n| expr.matches(&n.labels))
    }
}

/// The address knowledge dialect peers need, over the peer universe.
struct Context<'a, 'u> {
    u: &'a PeerUniverse<'u>,
    /// External peer index → the nodes owning that address.
    node_atoms: HashMap<AtomId, Vec<String>>,
    /// Atoms of the API server's addresses.
    apiserver_atoms: BTreeSet<AtomId>,
}

impl Context<'_, '_> {
    fn class_pod(&self, c: &EndpointClass, m: &PodMatch) -> bool {
        !c.host_network
            && pod_matches(
                self.u.cluster,
                m,
                &c.namespace,
                &c.labels,
                c.service_account.as_deref(),
            )
    }

    fn node_matches(&self, node: &str, expr: &kubesurface_model::LabelExpr, family: &str) -> bool {
        host_matches(self.u.cluster, node, expr, family)
    }

    /// Peers (classes, externals) inside `nets` (all when `None`) and outside `except`.
    fn networks(
        &self,
        set: &mut FixedBitSet,
        nets: Option<&[IpNet]>,
        except: &[IpNet],
        classes_too: bool,
    ) {
        let atoms = self.u.atoms;
        let mut inside = FixedBitSet::with_capacity(atoms.atoms().len());
        match nets {
            None => inside.insert_range(..),
            Some(nets) => {
                for n in nets {
                    inside.union_with(&block_atoms_set(atoms, &whole(n)));
                }
            }
        }
        for n in except {
            inside.difference_with(&block_atoms_set(atoms, &whole(n)));
        }
        let covers_all =
            nets.is_none_or(|ns| ns.iter().any(|n| n.prefix_len() == 0)) && except.is_empty();
        for (j, atom) in self.u.external.iter().enumerate() {
            // CIDR peers that never match pods never match nodes either (Cilium).
            let node_excluded = !classes_too
                && (self.node_atoms.contains_key(atom)
                    || self.u.cidr_excluded.contains(*atom as usize));
            if inside.contains(*atom as usize) && !node_excluded {
                set.insert(self.u.classes.len() + j);
            }
        }
        if classes_too {
            for (i, c) in self.u.classes.iter().enumerate() {
                let hit = match &c.address {
                    ClassAddress::Atoms(ids) => ids.iter().any(|a| inside.contains(*a as usize)),
                    ClassAddress::Unknown | ClassAddress::NotMatched => covers_all,
                };
                if hit {
                    set.insert(i);
                }
            }
        }
    }

    fn node_peers(&self, set: &mut FixedBitSet, filter: impl Fn(&str) -> bool) {
        for (i, c) in self.u.classes.iter().enumerate() {
            if c.host_network && c.node.as_deref().is_some_and(&filter) {
                set.insert(i);
            }
        }
        for (j, atom) in self.u.external.iter().enumerate() {
            if self
                .node_atoms
                .get(atom)
                .is_some_and(|nodes| nodes.iter().any(|n| filter(n)))
            {
                set.insert(self.u.classes.len() + j);
            }
        }
    }

    fn peer_set(&self, peer: &TieredPeer, family: &str, set: &mut FixedBitSet) {
        let classes = self.u.classes;
        match peer {
            TieredPeer::All => set.insert_range(..),
            TieredPeer::Pods {
                pods,
                not_labels,
                nets,
                not_nets,
            } => {
                let mut within = FixedBitSet::with_capacity(self.u.len());
                if nets.is_some() || !not_nets.is_empty() {
                    self.networks(&mut within, nets.as_deref(), not_nets, true);
                } else {
                    within.insert_range(..);
                }
                for (i, c) in classes.iter().enumerate() {
                    if within.contains(i)
                        && self.class_pod(c, pods)
                        && not_labels.as_ref().is_none_or(|expr| {
                            !expr.matches(&pod_view_labels(
                                &c.labels,
                                &c.namespace,
                                c.service_account.as_deref(),
                            ))
                        })
                    {
                        set.insert(i);
                    }
                }
            }
            TieredPeer::Nodes(expr) => self.node_peers(set, |n| self.node_matches(n, expr, family)),
            TieredPeer::Networks {
                nets,
                except,
                matches_pods,
            } => self.networks(set, nets.as_deref(), except, *matches_pods),
            TieredPeer::Entity(entity) => match entity {
                Entity::All => set.insert_range(..),
                Entity::Internal => {}
                Entity::World => {
                    for (j, atom) in self.u.external.iter().enumerate() {
                        if !self.node_atoms.contains_key(atom) {
                            set.insert(classes.len() + j);
                        }
                    }
                }
                Entity::Cluster => {
                    set.insert_range(..classes.len());
                    self.node_peers(set, |_| true);
                }
                Entity::Host | Entity::RemoteNode => {
                    for (i, c) in classes.iter().enumerate() {
                        if c.host_network {
                            set.insert(i);
                        }
                    }
                    self.node_peers(set, |_| true);
                }
                Entity::KubeApiserver => {
                    for (j, atom) in self.u.external.iter().enumerate() {
                        if self.apiserver_atoms.contains(atom) {
                            set.insert(classes.len() + j);
                        }
                    }
                    for (i, c) in classes.iter().enumerate() {
                        if c.namespace == "kube-system"
                            && c.labels.get("component").map(String::as_str)
                                == Some("kube-apiserver")
                        {
                            set.insert(i);
                        }
                    }
                }
            },
        }
    }

    fn subject_set(&self, policy: &TieredPolicy) -> FixedBitSet {
        let mut set = FixedBitSet::with_capacity(self.u.len());
        match &policy.subject {
            Subject::Pods(m) => {
                for (i, c) in self.u.classes.iter().enumerate() {
                    if self.class_pod(c, m) {
                        set.insert(i);
                    }
                }
            }
            Subject::Nodes(expr) => self.node_peers(&mut set, |n| {
                self.node_matches(n, expr, policy.dialect.family())
            }),
        }
        set
    }
}

fn rule_ports(ports: &[PolicyPort]) -> RulePorts {
    if ports.is_empty() {
        return RulePorts {
            all: true,
            ..RulePorts::default()
        };
    }
    let mut out = RulePorts::default();
    for p in ports {
        match &p.port {
            PortSpec::All => out.numeric.insert(p.protocol, 1, crate::portset::MAX_PORT),
            PortSpec::Range(lo, hi) => out.numeric.insert(p.protocol, *lo, *hi),
            PortSpec::Named(name) => out.named.push((p.protocol, name.clone())),
        }
    }
    out
}

/// Compiles the enforced dialect policies over the peer universe. `v1_ingress` and
/// `v1_egress` are, per class, the NetworkPolicy v1 rules that isolate it (`None`: not
/// isolated); `v1_rule_policy` maps a v1 rule to its policy.
pub fn compile(
    universe: &PeerUniverse<'_>,
    settings: &Settings,
    v1_ingress: &[Option<Vec<u32>>],
    v1_egress: &[Option<Vec<u32>>],
    v1_rule_policy: &[u32],
) -> Tiered {
    let cluster = universe.cluster;
    let (enforced, ignored): (Vec<u32>, Vec<u32>) = (0..cluster.tiered_policies.len() as u32)
        .partition(|&i| settings.enforces(cluster.tiered_policies[i as usize].dialect));
    let peers = universe.len();
    let mut out = Tiered {
        tiers: tier_table(cluster),
        ingress: vec![None; peers],
        egress: vec![None; peers],
        ignored,
        ..Tiered::default()
    };
    if enforced.is_empty() {
        out.enforced = enforced;
        return out;
    }
    let mut node_atoms: HashMap<AtomId, Vec<String>> = HashMap::new();
    for node in cluster.nodes.values() {
        for ip in node.ips() {
            let atom = universe.atoms.atom_of(ip);
            // Only an atom holding exactly this address stands for the node.
            let a = universe.atoms.atoms()[atom as usize];
            if a.lo == a.hi {
                node_atoms.entry(atom).or_default().push(node.name.clone());
            }
        }
    }
    let apiserver_atoms = apiserver_ips(cluster)
        .into_iter()
        .map(|ip| universe.atoms.atom_of(ip))
        .filter(|&a| {
            let atom = universe.atoms.atoms()[a as usize];
            atom.lo == atom.hi
        })
        .collect();
    let ctx = Context {
        u: universe,
        node_atoms,
        apiserver_atoms,
    };

    // Per direction and peer: the policies selecting it.
    let mut selecting: [Vec<Vec<u32>>; 2] = [vec![Vec::new(); peers], vec![Vec::new(); peers]];
    // Per policy and direction: its compiled rule ids.
    let mut policy_rules: HashMap<(u32, usize), Vec<u32>> = HashMap::new();
    for &pi in &enforced {
        let policy = &cluster.tiered_policies[pi as usize];
        let subjects = ctx.subject_set(policy);
        for (d, direction, applies, rules) in [
            (
                0,
                Direction::Ingress,
                policy.applies_ingress,
                &policy.ingress,
            ),
            (1, Direction::Egress, policy.applies_egress, &policy.egress),
        ] {
            if !applies {
                continue;
            }
            let mut ids = Vec::new();
            for (ri, rule) in rules.iter().enumerate() {
                let mut set = FixedBitSet::with_capacity(peers);
                for peer in &rule.peers {
                    ctx.peer_set(peer, policy.dialect.family(), &mut set);
                }
                ids.push(out.rules.len() as u32);
                out.rules.push(TieredRuleC {
                    policy: pi,
                    direction,
                    index: ri as u32,
                    action: rule.action,
                    peers: set,
                    ports: rule_ports(&rule.ports),
                    not_ports: (!rule.not_ports.is_empty()).then(|| rule_ports(&rule.not_ports)),
                });
            }
            policy_rules.insert((pi, d), ids);
            for p in subjects.ones() {
                selecting[d][p].push(pi);
            }
        }
    }

    let tier_index: HashMap<&str, u32> = out
        .tiers
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i as u32))
        .collect();
    let default_tier = tier_index[DEFAULT_TIER];
    // Keyed by direction too: the same policies give different plans for ingress and egress.
    type PlanKey = (usize, Vec<u32>, bool, Vec<u32>);
    let mut plan_index: HashMap<PlanKey, u32> = HashMap::new();
    let class_count = universe.classes.len();
    for (d, v1) in [(0usize, v1_ingress), (1, v1_egress)] {
        for p in 0..peers {
            if selecting[d][p].is_empty() {
                continue;
            }
            let v1_rules = if p < class_count {
                v1[p].as_deref()
            } else {
                None
            };
            let v1_isolated = v1_rules.is_some();
            let mut v1_policies: Vec<u32> = v1_rules
                .unwrap_or_default()
                .iter()
                .map(|&r| v1_rule_policy[r as usize])
                .collect();
            v1_policies.dedup(); // rule ids are grouped by policy
            let key = (d, selecting[d][p].clone(), v1_isolated, v1_policies);
            let next = out.plans.len() as u32;
            let id = *plan_index
                .entry(key)
                .or_insert_with_key(|(_, policies, v1, v1_policies)| {
                    out.plans.push(build_plan(
                        cluster,
                        policies,
                        (*v1, v1_policies),
                        d,
                        &policy_rules,
                        &tier_index,
                        default_tier,
                    ));
                    next
                });
            match d {
                0 => out.ingress[p] = Some(id),
                _ => out.egress[p] = Some(id),
            }
        }
    }
    out.enforced = enforced;
    out
}

/// The ordering key of a policy within its tier: order (unset last), then namespace and name.
fn policy_key(p: &TieredPolicy) -> (Option<f64>, String) {
    (
        p.order,
        format!("{}/{}", p.namespace.as_deref().unwrap_or(""), p.name),
    )
}

/// The name a Kubernetes NetworkPolicy sorts by among equal orders: `NS/knp.default.NAME`,
/// Calico's name for it.
pub fn kubernetes_policy_key(p: &kubesurface_model::NetworkPolicy) -> String {
    format!("{}/knp.default.{}", p.namespace, p.name)
}

fn build_plan(
    cluster: &Cluster,
    policies: &[u32],
    (v1_isolated, v1_policies): (bool, &[u32]),
    d: usize,
    policy_rules: &HashMap<(u32, usize), Vec<u32>>,
    tier_index: &HashMap<&str, u32>,
    default_tier: u32,
) -> Plan {
    // Entries per tier: (order key, step list, isolates).
    type Entry = ((Option<f64>, String), Vec<Step>, bool);
    let mut by_tier: BTreeMap<u32, Vec<Entry>> = BTreeMap::new();
    for &pi in policies {
        let p = &cluster.tiered_policies[pi as usize];
        let isolates = if d == 0 {
            p.isolates_ingress
        } else {
            p.isolates_egress
        };
        let steps = policy_rules
            .get(&(pi, d))
            .into_iter()
            .flatten()
            .map(|&r| Step::Rule(r))
            .collect();
        by_tier
            .entry(tier_index[p.tier.as_str()])
            .or_default()
            .push((policy_key(p), steps, isolates));
    }
    if v1_isolated {
        let entries = by_tier.entry(default_tier).or_default();
        // Isolation alone (policies without rules) still makes the tier deny by default.
        entries.push((
            (Some(KUBERNETES_POLICY_ORDER), String::new()),
            Vec::new(),
            true,
        ));
        for &pi in v1_policies {
            entries.push((
                (
                    Some(KUBERNETES_POLICY_ORDER),
                    kubernetes_policy_key(&cluster.policies[pi as usize]),
                ),
                vec![Step::NetworkPolicy(pi)],
                true,
            ));
        }
    }
    let tiers = by_tier
        .into_iter()
        .map(|(tier, mut entries)| {
            entries.sort_by(|a, b| cmp_order(a.0.0, b.0.0).then_with(|| a.0.1.cmp(&b.0.1)));
            TierSteps {
                tier,
                isolates: entries.iter().any(|e| e.2),
                steps: entries.into_iter().flat_map(|e| e.1).collect(),
            }
        })
        .collect();
    Plan { tiers }
}

/// Evaluates a plan over port sets: `rule_ports(step)` gives the ports a step matches for
/// this peer (empty when its peers do not match), `v1()` what NetworkPolicy v1 allows.
pub fn evaluate(
    tiered: &Tiered,
    plan: &Plan,
    mut step_ports: impl FnMut(Step) -> PortSet,
) -> PortSet {
    let mut undecided = PortSet::full();
    let mut allowed = PortSet::empty();
    for tier in &plan.tiers {
        let mut passed = PortSet::empty();
        for &step in &tier.steps {
            if undecided.is_empty() {
                break;
            }
            let action = match step {
                Step::NetworkPolicy(_) => Action::Allow,
                Step::Rule(r) => tiered.rules[r as usize].action,
            };
            if action == Action::Log {
                continue;
            }
            let m = step_ports(step).intersect(&undecided);
            if m.is_empty() {
                continue;
            }
            undecided = undecided.difference(&m);
            match action {
                Action::Allow => allowed.union_with(&m),
                Action::Pass => passed.union_with(&m),
                Action::Deny | Action::Log => {}
            }
        }
        if tier.isolates && tiered.tiers[tier.tier as usize].default_action == Action::Deny {
            undecided = PortSet::empty();
        }
        undecided.union_with(&passed);
    }
    allowed.union_with(&undecided);
    allowed
}
