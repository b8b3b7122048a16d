//! Services, kept for the exposure analyses.

use crate::{Labels, Protocol, Source};

/// A v1 Service as far as reachability needs it.
#[derive(Clone, Debug)]
pub struct Service {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.type` (`ClusterIP` when omitted).
    pub service_type: String,
    /// `spec.selector`; `None` for selector-less Services.
    pub selector: Option<Labels>,
    /// `spec.ports`.
    pub ports: Vec<ServicePort>,
    /// `spec.clusterIP` (`None` when unset; `"None"` for headless).
    pub cluster_ip: Option<String>,
    /// `spec.externalIPs`.
    pub external_ips: Vec<String>,
    /// `spec.externalTrafficPolicy` (`Cluster` when omitted).
    pub external_traffic_policy: String,
    /// `spec.loadBalancerSourceRanges`.
    pub load_balancer_source_ranges: Vec<String>,
    /// `status.loadBalancer.ingress[].ip|hostname`.
    pub load_balancer_ingress: Vec<String>,
    /// `spec.allocateLoadBalancerNodePorts` (true when omitted).
    pub allocate_load_balancer_node_ports: bool,
    /// `metadata.annotations`.
    pub annotations: Labels,
    /// Where it was read.
    pub source: Source,
}

/// One entry of `spec.ports`.
#[derive(Clone, Debug)]
pub struct ServicePort {
    /// `name`.
    pub name: Option<String>,
    /// `protocol` (TCP when omitted).
    pub protocol: Protocol,
    /// `port`.
    pub port: u16,
    /// `targetPort` (defaults to `port`).
    pub target_port: TargetPort,
    /// `nodePort`, if set.
    pub node_port: Option<u16>,
}

/// A Service `targetPort`: a number or the name of a containerPort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetPort {
    /// A port number.
    Number(u16),
    /// A containerPort name.
    Name(String),
}
