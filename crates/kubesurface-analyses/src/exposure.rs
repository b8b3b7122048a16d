//! Every way in from outside the cluster, to the pod and port behind it, with the
//! NetworkPolicy verdict for that traffic at the pod.
//!
//! Entry points: LoadBalancer addresses, NodePorts (open on every node), Service
//! externalIPs, Ingress host/paths and Gateway listeners (whose traffic reaches backends
//! from the controller pods), hostPorts, and hostNetwork pods' ports on their nodes'
//! addresses.

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;
use kubesurface_engine::{Engine, PeerId};
use kubesurface_model::{
    Cluster, Endpoint, Protocol, RouteNamespaces, Service, ServicePortRef, Source,
};

use crate::config::{Config, Snat};
use crate::controllers::{ControllerPods, gateway_controllers, ingress_controllers};
use crate::rules::HostSocket;
use crate::scheduling::nodes_of;
use crate::services::{IpIndex, backends};

/// How traffic gets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Via {
    /// A LoadBalancer Service address.
    LoadBalancer,
    /// A NodePort: the port on every node.
    NodePort,
    /// An Ingress host/path, through the ingress controller.
    Ingress,
    /// A Gateway listener, through the gateway's data plane.
    Gateway,
    /// A Service `externalIPs` address.
    ExternalIP,
    /// A container `hostPort`.
    HostPort,
    /// A port of a hostNetwork pod, on its node's addresses.
    HostNetwork,
}

impl Via {
    /// The name in the JSON contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::LoadBalancer => "LoadBalancer",
            Via::NodePort => "NodePort",
            Via::Ingress => "Ingress",
            Via::Gateway => "Gateway",
            Via::ExternalIP => "ExternalIP",
            Via::HostPort => "HostPort",
            Via::HostNetwork => "HostNetwork",
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One (entry point, target pod, port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposure {
    /// How traffic gets in.
    pub via: Via,
    /// How a client gets in: `203.0.113.10:443`, `node:*:30080`, `https://shop.example/`, …
    pub entry: String,
    /// The pod (`ns/pod`, or `ns/name[Kind]` for a template).
    pub target: String,
    /// Port on the pod.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// The NetworkPolicy verdict for that traffic at the target.
    pub admitted: bool,
    /// The source the verdict assumed (and the setting behind it).
    pub source: String,
    /// The object that opens the entry point: `NS/Kind/NAME`.
    pub object: String,
    /// Where that object was read.
    pub location: Source,
    /// Index of the target in `Cluster::endpoints`.
    pub endpoint: usize,
}

/// Annotations that make a LoadBalancer internal on the major clouds.
const INTERNAL_LB_ANNOTATIONS: &[(&str, &[&str])] = &[
    (
        "service.beta.kubernetes.io/aws-load-balancer-internal",
        &["true", "0.0.0.0/0"],
    ),
    (
        "service.beta.kubernetes.io/aws-load-balancer-scheme",
        &["internal"],
    ),
    ("networking.gke.io/load-balancer-type", &["Internal"]),
    (
        "cloud.google.com/load-balancer-type",
        &["Internal", "internal"],
    ),
    (
        "service.beta.kubernetes.io/azure-load-balancer-internal",
        &["true"],
    ),
    (
        "service.beta.kubernetes.io/oci-load-balancer-internal",
        &["true"],
    ),
    (
        "service.beta.kubernetes.io/openstack-internal-load-balancer",
        &["true"],
    ),
];

/// The legacy annotation form of `spec.loadBalancerSourceRanges`.
pub const SOURCE_RANGES_ANNOTATION: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";

/// The source of every verdict on a hostNetwork pod.
const HOST_NETWORK_SOURCE: &str = "any (policies do not apply to hostNetwork pods)";

/// The private ranges an internal load balancer is reachable from.
const PRIVATE_RANGES: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// True when a LoadBalancer Service is annotated internal.
pub fn is_internal_lb(service: &Service) -> bool {
    INTERNAL_LB_ANNOTATIONS.iter().any(|(key, values)| {
        service
            .annotations
            .get(key)
            .is_some_and(|v| values.contains(&v.as_str()))
    })
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter()
        .filter_map(|s| IpNet::from_str(s).ok())
        .collect()
}

/// Computes verdicts for one kind of source.
struct Verdicts<'e, 'c> {
    engine: &'e Engine<'c>,
    config: &'e Config,
    /// The external peers holding node addresses, each with one such address (empty when
    /// the input has no node addresses).
    node_peers: Vec<(PeerId, std::net::IpAddr)>,
}

impl Verdicts<'_, '_> {
    fn cluster(&self) -> &Cluster {
        self.engine.cluster
    }

    fn class(&self, endpoint: usize) -> PeerId {
        self.engine.classes.class_of[endpoint]
    }

    /// From clients in `ranges`, with their addresses kept.
    fn clients_verdict(
        &self,
        endpoint: usize,
        port: u16,
        protocol: Protocol,
        ranges: &[IpNet],
        why: &str,
    ) -> (bool, String) {
        let dst = self.class(endpoint);
        for net in ranges {
            for peer in self.engine.external_peers_overlapping(net) {
                if self
                    .engine
                    .ingress_allowed(dst, peer)
                    .contains(protocol, port)
                {
                    return (true, format!("{} ({why})", self.engine.external_name(peer)));
                }
            }
        }
        let names: Vec<String> = ranges.iter().map(|n| format!("ext:{n}")).collect();
        (false, format!("{} ({why})", names.join(", ")))
    }

    /// From node addresses, as kube-proxy's masquerade leaves them.
    fn nodes_verdict(&self, endpoint: usize, port: u16, protocol: Protocol) -> (bool, String) {
        let dst = self.class(endpoint);
        let why = "SNAT to a node address: externalTrafficPolicy Cluster";
        if self.node_peers.is_empty() {
            let ok = self
                .engine
                .ingress_from_unknown_address(dst)
                .contains(protocol, port);
            return (ok, format!("node addresses, unknown ({why})"));
        }
        for (peer, ip) in &self.node_peers {
            if self
                .engine
                .ingress_allowed(dst, *peer)
                .contains(protocol, port)
            {
                return (true, format!("node address {ip} ({why})"));
            }
        }
        (false, format!("node addresses ({why})"))
    }

    /// External traffic through a Service, under its externalTrafficPolicy.
    fn through_service(
        &self,
        service: &Service,
        endpoint: usize,
        port: u16,
        protocol: Protocol,
        ranges: &[IpNet],
    ) -> (bool, String) {
        if self.cluster().endpoints[endpoint].host_network {
            return (true, HOST_NETWORK_SOURCE.into());
        }
        match (
            service.external_traffic_policy.as_str(),
            self.config.settings.snat,
        ) {
            ("Local", _) => self.clients_verdict(
                endpoint,
                port,
                protocol,
                ranges,
                "client address kept: externalTrafficPolicy Local",
            ),
            (_, Snat::Client) => self.clients_verdict(
                endpoint,
                port,
                protocol,
                ranges,
                "client address kept: setting snat=client",
            ),
            (_, Snat::Node) => self.nodes_verdict(endpoint, port, protocol),
        }
    }

    /// From controller pods (Ingress, Gateway).
    fn pods_verdict(
        &self,
        controllers: &ControllerPods,
        endpoint: usize,
        port: u16,
        protocol: Protocol,
        ranges: &[IpNet],
    ) -> (bool, String) {
        if self.cluster().endpoints[endpoint].host_network {
            return (true, HOST_NETWORK_SOURCE.into());
        }
        if controllers.endpoints.is_empty() {
            let why = format!("{}; assumed outside the cluster", controllers.description);
            return self.clients_verdict(endpoint, port, protocol, ranges, &why);
        }
        let admitted = controllers.endpoints.iter().any(|&c| {
            c != endpoint
                && self
                    .engine
                    .endpoint_verdict(c, endpoint)
                    .contains(protocol, port)
        });
        (admitted, controllers.description.clone())
    }
}

fn object(namespace: &str, kind: &str, name: &str) -> String {
    format!("{namespace}/{kind}/{name}")
}

fn endpoint_object(e: &Endpoint) -> String {
    if e.representative {
        object(&e.namespace, &e.workload.kind, &e.workload.name)
    } else {
        object(&e.namespace, "Pod", &e.name)
    }
}

/// Every exposure of the cluster, sorted.
pub fn exposures(engine: &Engine<'_>, config: &Config) -> Vec<Exposure> {
    exposures_with_sockets(engine, config, &[])
}

/// Every exposure, with node socket reports joined: on a node with a report, a hostNetwork
/// pod's real listeners replace its declared ports (a wildcard bind is every address of
/// the node, a specific bind that address only, a loopback bind nothing).
pub fn exposures_with_sockets(
    engine: &Engine<'_>,
    config: &Config,
    sockets: &[HostSocket],
) -> Vec<Exposure> {
    let cluster = engine.cluster;
    // Node addresses matter only through the external peer (ipBlock atom) they fall in.
    let mut node_peers: Vec<(PeerId, std::net::IpAddr)> = Vec::new();
    for ip in cluster.nodes.values().flat_map(|n| n.ips()) {
        if let Some(peer) = engine.external_peer_of(ip)
            && !node_peers.iter().any(|(p, _)| *p == peer)
        {
            node_peers.push((peer, ip));
        }
    }
    let v = Verdicts {
        engine,
        config,
        node_peers,
    };
    let ips = IpIndex::new(cluster);
    let world = nets(&["0.0.0.0/0"]);
    let mut out = Vec::new();

    for service in &cluster.services {
        let is_lb = service.service_type == "LoadBalancer";
        let has_node_ports = service.service_type == "NodePort"
            || (is_lb && service.allocate_load_balancer_node_ports);
        if !is_lb && !has_node_ports && service.external_ips.is_empty() {
            continue; // no way in from outside: its backends are not looked up
        }
        let svc_object = object(&service.namespace, "Service", &service.name);
        let annotated_ranges: Vec<String> = service
            .annotations
            .get(SOURCE_RANGES_ANNOTATION)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let declared = if service.load_balancer_source_ranges.is_empty() {
            &annotated_ranges
        } else {
            &service.load_balancer_source_ranges
        };
        let lb_ranges = if !declared.is_empty() {
            declared
                .iter()
                .filter_map(|s| IpNet::from_str(s.trim()).ok())
                .collect()
        } else if is_internal_lb(service) {
            nets(&PRIVATE_RANGES)
        } else {
            world.clone()
        };
        for sp in &service.ports {
            let targets = backends(cluster, &ips, service, sp);
            let mut entries: Vec<(Via, String, &[IpNet])> = Vec::new();
            if has_node_ports {
                let np = sp
                    .node_port
                    .map_or_else(|| "<allocated>".to_string(), |n| n.to_string());
                entries.push((Via::NodePort, format!("node:*:{np}"), &world));
            }
            if is_lb {
                if service.load_balancer_ingress.is_empty() {
                    entries.push((
                        Via::LoadBalancer,
                        format!(
                            "lb:{}/{}(pending):{}",
                            service.namespace, service.name, sp.port
                        ),
                        &lb_ranges,
                    ));
                }
                for addr in &service.load_balancer_ingress {
                    entries.push((Via::LoadBalancer, format!("{addr}:{}", sp.port), &lb_ranges));
                }
            }
            for ip in &service.external_ips {
                entries.push((Via::ExternalIP, format!("{ip}:{}", sp.port), &world));
            }
            for (via, entry, ranges) in entries {
                for b in &targets {
                    let (admitted, source) =
                        v.through_service(service, b.endpoint, b.port, sp.protocol, ranges);
                    out.push(Exposure {
                        via,
                        entry: entry.clone(),
                        target: cluster.endpoints[b.endpoint].display_name(),
                        port: b.port,
                        protocol: sp.protocol,
                        admitted,
                        source,
                        object: svc_object.clone(),
                        location: service.source.clone(),
                        endpoint: b.endpoint,
                    });
                }
            }
        }
    }

    ingress_exposures(&v, &ips, &world, &mut out);
    gateway_exposures(&v, &ips, &world, &mut out);
    host_exposures(&v, &world, sockets, &mut out);

    out.sort_by(|a, b| {
        (&a.object, &a.entry, &a.target, a.port, a.protocol)
            .cmp(&(&b.object, &b.entry, &b.target, b.port, b.protocol))
    });
    out.dedup_by(|a, b| {
        a.object == b.object
            && a.entry == b.entry
            && a.target == b.target
            && a.port == b.port
            && a.protocol == b.protocol
    });
    out
}

/// Service backends of a Service port reference, in a namespace.
fn service_targets<'c>(
    cluster: &'c Cluster,
    ips: &IpIndex,
    namespace: &str,
    name: &str,
    port: Option<&ServicePortRef>,
) -> Vec<(&'c Service, crate::services::Backend, Protocol)> {
    let Some(service) = cluster
        .services
        .iter()
        .find(|s| s.namespace == namespace && s.name == name)
    else {
        return Vec::new();
    };
    service
        .ports
        .iter()
        .filter(|sp| match port {
            None => true,
            Some(ServicePortRef::Number(n)) => sp.port == *n,
            Some(ServicePortRef::Name(n)) => sp.name.as_deref() == Some(n),
        })
        .flat_map(|sp| {
            backends(cluster, ips, service, sp)
                .into_iter()
                .map(move |b| (service, b, sp.protocol))
        })
        .collect()
}

fn ingress_exposures(
    v: &Verdicts<'_, '_>,
    ips: &IpIndex,
    world: &[IpNet],
    out: &mut Vec<Exposure>,
) {
    let cluster = v.cluster();
    // Controllers are found once per class, not once per Ingress.
    let mut by_class: std::collections::HashMap<Option<&str>, ControllerPods> =
        std::collections::HashMap::new();
    for ing in &cluster.ingresses {
        let controllers = by_class
            .entry(ing.class.as_deref())
            .or_insert_with(|| ingress_controllers(cluster, v.config, ing.class.as_deref()));
        for path in &ing.paths {
            let Some(backend) = &path.backend else {
                continue;
            };
            let host = path.host.as_deref().unwrap_or("*");
            let scheme = if path
                .host
                .as_ref()
                .is_some_and(|h| ing.tls_hosts.contains(h))
            {
                "https"
            } else {
                "http"
            };
            let entry = match &path.path {
                Some(p) => format!("{scheme}://{host}{p}"),
                None => format!("{scheme}://{host}/* (default backend)"),
            };
            for (_, b, protocol) in service_targets(
                cluster,
                ips,
                &ing.namespace,
                &backend.service,
                Some(&backend.port),
            ) {
                let (admitted, source) =
                    v.pods_verdict(controllers, b.endpoint, b.port, protocol, world);
                out.push(Exposure {
                    via: Via::Ingress,
                    entry: entry.clone(),
                    target: cluster.endpoints[b.endpoint].display_name(),
                    port: b.port,
                    protocol,
                    admitted,
                    source,
                    object: object(&ing.namespace, "Ingress", &ing.name),
                    location: ing.source.clone(),
                    endpoint: b.endpoint,
                });
            }
        }
    }
}

/// Route kinds a listener protocol accepts when `allowedRoutes.kinds` is empty.
fn default_kinds(protocol: &str) -> &'static [&'static str] {
    match protocol {
        "HTTP" | "HTTPS" => &["HTTPRoute", "GRPCRoute"],
        "TLS" => &["TLSRoute", "TCPRoute"],
        "TCP" => &["TCPRoute"],
        "UDP" => &["UDPRoute"],
        _ => &[],
    }
}

fn reference_allowed(
    cluster: &Cluster,
    route_kind: &str,
    route_ns: &str,
    backend_ns: &str,
    backend: &str,
) -> bool {
    route_ns == backend_ns
        || cluster.reference_grants.iter().any(|g| {
            g.namespace == backend_ns
                && g.from
                    .iter()
                    .any(|(k, ns)| k == route_kind && ns == route_ns)
                && g.to
                    .iter()
                    .any(|(k, n)| k == "Service" && n.as_deref().is_none_or(|n| n == backend))
        })
}

fn gateway_exposures(
    v: &Verdicts<'_, '_>,
    ips: &IpIndex,
    world: &[IpNet],
    out: &mut Vec<Exposure>,
) {
    let cluster = v.cluster();
    for gw in &cluster.gateways {
        let controllers = gateway_controllers(cluster, v.config, gw);
        for listener in &gw.listeners {
            for route in &cluster.routes {
                let attached = route.parents.iter().any(|p| {
                    p.namespace == gw.namespace
                        && p.name == gw.name
                        && p.section.as_deref().is_none_or(|s| s == listener.name)
                        && p.port.is_none_or(|port| port == listener.port)
                });
                let ns_ok = match &listener.allowed_namespaces {
                    RouteNamespaces::Same => route.namespace == gw.namespace,
                    RouteNamespaces::All => true,
                    RouteNamespaces::Selector(s) => cluster
                        .namespace_labels(&route.namespace)
                        .is_some_and(|l| kubesurface_engine::selector::matches(s, l)),
                };
                let kind_ok = if listener.allowed_kinds.is_empty() {
                    default_kinds(&listener.protocol).contains(&route.kind.as_str())
                } else {
                    listener.allowed_kinds.contains(&route.kind)
                };
                if !(attached && ns_ok && kind_ok) {
                    continue;
                }
                let address = gw
                    .addresses
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("gateway:{}/{}", gw.namespace, gw.name));
                let host = listener
                    .hostname
                    .clone()
                    .or_else(|| route.hostnames.first().cloned())
                    .unwrap_or_else(|| "*".into());
                let entry = format!("{address}:{} ({} {host})", listener.port, listener.protocol);
                for backend in route.backends.iter().filter(|b| b.kind == "Service") {
                    if !reference_allowed(
                        cluster,
                        &route.kind,
                        &route.namespace,
                        &backend.namespace,
                        &backend.name,
                    ) {
                        continue;
                    }
                    let port = backend.port.map(ServicePortRef::Number);
                    for (_, b, protocol) in service_targets(
                        cluster,
                        ips,
                        &backend.namespace,
                        &backend.name,
                        port.as_ref(),
                    ) {
                        let (admitted, source) =
                            v.pods_verdict(&controllers, b.endpoint, b.port, protocol, world);
                        out.push(Exposure {
                            via: Via::Gateway,
                            entry: entry.clone(),
                            target: cluster.endpoints[b.endpoint].display_name(),
                            port: b.port,
                            protocol,
                            admitted,
                            source,
                            object: object(&route.namespace, &route.kind, &route.name),
                            location: route.source.clone(),
                            endpoint: b.endpoint,
                        });
                    }
                }
            }
        }
    }
}

/// The nodes an endpoint runs (or may run) on, as entry prefixes: `node:NAME`, or
/// `node:*` when the input has no Nodes.
fn node_entries(cluster: &Cluster, e: &Endpoint) -> Vec<String> {
    if let Some(n) = &e.node {
        return vec![format!("node:{n}")];
    }
    match nodes_of(cluster, e) {
        Some(nodes) => nodes.iter().map(|n| format!("node:{}", n.name)).collect(),
        None => vec!["node:*".to_string()],
    }
}

fn host_exposures(
    v: &Verdicts<'_, '_>,
    world: &[IpNet],
    sockets: &[HostSocket],
    out: &mut Vec<Exposure>,
) {
    let cluster = v.cluster();
    let reported: std::collections::BTreeSet<&str> =
        sockets.iter().map(|s| s.node.as_str()).collect();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        let location = e.source.clone();
        let obj = endpoint_object(e);
        if e.host_network {
            // Real listeners first; declared ports only on nodes without a report.
            for s in sockets
                .iter()
                .filter(|s| s.endpoint == Some(i) && s.host_netns && s.scope != "loopback")
            {
                let entry = if s.scope == "wildcard" {
                    format!(
                        "node:{}:{} (every interface, bound {})",
                        s.node, s.port, s.address
                    )
                } else {
                    format!("{}:{} (node {})", s.address, s.port, s.node)
                };
                out.push(Exposure {
                    via: Via::HostNetwork,
                    entry,
                    target: e.display_name(),
                    port: s.port,
                    protocol: s.protocol,
                    admitted: true,
                    source: "any (policies do not apply to hostNetwork pods); socket report".into(),
                    object: obj.clone(),
                    location: location.clone(),
                    endpoint: i,
                });
            }
        }
        for p in &e.ports {
            // On a hostNetwork pod a hostPort is just its port on the node: reported below.
            if let Some(hp) = p.host_port.filter(|_| !e.host_network) {
                let entries = match &p.host_ip {
                    Some(ip) if ip != "0.0.0.0" && ip != "::" => vec![format!("{ip}:{hp}")],
                    _ => node_entries(cluster, e)
                        .into_iter()
                        .map(|n| format!("{n}:{hp}"))
                        .collect(),
                };
                let (admitted, source) = if e.host_network {
                    (true, HOST_NETWORK_SOURCE.to_string())
                } else {
                    v.clients_verdict(
                        i,
                        p.port,
                        p.protocol,
                        world,
                        "hostPort keeps the client address",
                    )
                };
                for entry in entries {
                    out.push(Exposure {
                        via: Via::HostPort,
                        entry,
                        target: e.display_name(),
                        port: p.port,
                        protocol: p.protocol,
                        admitted,
                        source: source.clone(),
                        object: obj.clone(),
                        location: location.clone(),
                        endpoint: i,
                    });
                }
            }
            if e.host_network {
                for n in node_entries(cluster, e)
                    .into_iter()
                    .filter(|n| !reported.contains(n.trim_start_matches("node:")))
                {
                    out.push(Exposure {
                        via: Via::HostNetwork,
                        entry: format!("{n}:{}", p.port),
                        target: e.display_name(),
                        port: p.port,
                        protocol: p.protocol,
                        admitted: true,
                        source: HOST_NETWORK_SOURCE.into(),
                        object: obj.clone(),
                        location: location.clone(),
                        endpoint: i,
                    });
                }
            }
        }
    }
}
