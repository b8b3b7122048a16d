//! Service backends: the endpoints behind a Service and the target port on each.

use std::collections::HashMap;
use std::net::IpAddr;

use kubesurface_model::{Cluster, Endpoint, Protocol, Service, ServicePort, TargetPort};

/// One backend endpoint of a Service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Index into `Cluster::endpoints`.
    pub endpoint: usize,
    /// The resolved target port on that endpoint.
    pub port: u16,
}

/// Endpoints by IP (for selector-less Services) and by namespace (for selectors).
pub struct IpIndex {
    by_ip: HashMap<IpAddr, usize>,
    by_namespace: HashMap<String, Vec<usize>>,
}

impl IpIndex {
    /// Indexes every endpoint.
    pub fn new(cluster: &Cluster) -> Self {
        let mut by_ip = HashMap::new();
        let mut by_namespace: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in cluster.endpoints.iter().enumerate() {
            for ip in &e.ips {
                by_ip.entry(*ip).or_insert(i);
            }
            by_namespace.entry(e.namespace.clone()).or_default().push(i);
        }
        IpIndex {
            by_ip,
            by_namespace,
        }
    }

    /// Endpoints of a namespace, ascending.
    pub fn in_namespace(&self, namespace: &str) -> &[usize] {
        self.by_namespace.get(namespace).map_or(&[], Vec::as_slice)
    }
}

/// True when a Service's selector selects the endpoint (same namespace; a non-empty
/// selector whose every pair is among the pod labels).
pub fn selects(service: &Service, e: &Endpoint) -> bool {
    service.namespace == e.namespace
        && service
            .selector
            .as_ref()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
}

/// The port a Service port targets on an endpoint: a number as is, a name resolved on
/// the endpoint's containerPorts with the same name and protocol.
pub fn target_port(sp: &ServicePort, e: &Endpoint) -> Option<u16> {
    match &sp.target_port {
        TargetPort::Number(n) => Some(*n),
        TargetPort::Name(name) => e
            .ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name) && p.protocol == sp.protocol)
            .map(|p| p.port),
    }
}

/// Every (endpoint, target port) behind one Service port. With a selector: the selected
/// endpoints. Without: the Endpoints/EndpointSlice addresses that are endpoints in the
/// input, on the port of the same name.
pub fn backends(
    cluster: &Cluster,
    ips: &IpIndex,
    service: &Service,
    sp: &ServicePort,
) -> Vec<Backend> {
    let mut out = Vec::new();
    if service.selector.as_ref().is_some_and(|s| !s.is_empty()) {
        for &i in ips.in_namespace(&service.namespace) {
            let e = &cluster.endpoints[i];
            if selects(service, e)
                && let Some(port) = target_port(sp, e)
            {
                out.push(Backend { endpoint: i, port });
            }
        }
        return out;
    }
    let key = (service.namespace.clone(), service.name.clone());
    for se in cluster.service_endpoints.get(&key).into_iter().flatten() {
        let Some(&endpoint) = ips.by_ip.get(&se.ip) else {
            continue;
        };
        let port = se
            .ports
            .iter()
            .find(|(name, _, proto)| {
                *proto == sp.protocol && (se.ports.len() == 1 || name == &sp.name)
            })
            .map(|(_, p, _)| *p);
        if let Some(port) = port {
            out.push(Backend { endpoint, port });
        }
    }
    out.sort_by_key(|b| (b.endpoint, b.port));
    out.dedup();
    out
}

/// True when an endpoint declares `port/protocol` (a containerPort) — hostNetwork pods and
/// undeclared ports still serve, but manifest review cannot see it.
pub fn declares(e: &Endpoint, port: u16, protocol: Protocol) -> bool {
    e.ports
        .iter()
        .any(|p| p.port == port && p.protocol == protocol)
}
