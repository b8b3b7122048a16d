//! The cluster: namespaces, nodes, endpoints (pods), services and policies.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::{
    Gateway, GatewayClass, Ingress, IngressClass, Labels, NetworkPolicy, Protocol, ReferenceGrant,
    Route, Service,
};

/// The label the API server puts on every namespace, holding its name.
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where an object was read: a file (or `<stdin>`) and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Source {
    /// File path as given on the command line (or `<stdin>`).
    pub file: Arc<str>,
    /// 1-based line of the object's first line.
    pub line: u32,
}

impl Source {
    /// A source for objects that exist without a manifest (implicit namespaces).
    pub fn implicit() -> Self {
        Source {
            file: Arc::from("<implicit>"),
            line: 0,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A namespace. Its labels always include [`METADATA_NAME_LABEL`].
#[derive(Clone, Debug, Default)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// Labels, including `kubernetes.io/metadata.name`.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// Where it was declared; `None` when it exists only because objects use it.
    pub source: Option<Source>,
}

/// A node address (`status.addresses[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddress {
    /// `type`: InternalIP, ExternalIP, Hostname, …
    pub kind: String,
    /// `address`.
    pub address: String,
}

/// A Node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// `status.addresses`.
    pub addresses: Vec<NodeAddress>,
    /// `spec.taints`.
    pub taints: Vec<Taint>,
    /// Where it was read.
    pub source: Source,
}

impl Node {
    /// The node's IP addresses (InternalIP and ExternalIP) that parse.
    pub fn ips(&self) -> Vec<IpAddr> {
        self.addresses
            .iter()
            .filter(|a| a.kind.ends_with("IP"))
            .filter_map(|a| a.address.parse().ok())
            .collect()
    }
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Taint {
    /// `key`.
    pub key: String,
    /// `value`.
    pub value: String,
    /// `effect`: NoSchedule, PreferNoSchedule or NoExecute.
    pub effect: String,
}

/// A toleration.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Toleration {
    /// `key` (`None` with `Exists` tolerates every taint).
    pub key: Option<String>,
    /// `operator`: `Equal` (default) or `Exists`.
    pub operator: String,
    /// `value`.
    pub value: String,
    /// `effect` (`None` = every effect).
    pub effect: Option<String>,
}

/// One requirement of a node selector term (`matchExpressions` or `matchFields`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeRequirement {
    /// Label key, or the field (`metadata.name`) for `matchFields`.
    pub key: String,
    /// In, NotIn, Exists, DoesNotExist, Gt, Lt.
    pub operator: String,
    /// Values.
    pub values: Vec<String>,
    /// True for `matchFields`.
    pub field: bool,
}

/// Where a pod may be scheduled: what decides whether two pods can share a node.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scheduling {
    /// `spec.nodeSelector`.
    pub node_selector: Labels,
    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`: ORed terms of
    /// ANDed requirements. Empty = no constraint.
    pub required_terms: Vec<Vec<NodeRequirement>>,
    /// `spec.tolerations`.
    pub tolerations: Vec<Toleration>,
}

/// A declared `containerPort` of a pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerPort {
    /// `name` (what named ports in policies and Services resolve against).
    pub name: Option<String>,
    /// `containerPort`.
    pub port: u16,
    /// `protocol` (TCP when omitted).
    pub protocol: Protocol,
    /// `hostPort`, if any.
    pub host_port: Option<u16>,
    /// `hostIP`, if any.
    pub host_ip: Option<String>,
}

/// The workload an endpoint belongs to: the top of its ownerReferences chain within the
/// input, or the pod itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct WorkloadRef {
    /// Kind (`Deployment`, `StatefulSet`, …, or `Pod`).
    pub kind: String,
    /// Name.
    pub name: String,
}

/// A network endpoint: a Pod, or the single representative of a workload template that
/// has no Pods of its own in the input.
#[derive(Clone, Debug, Default)]
pub struct Endpoint {
    /// Namespace.
    pub namespace: String,
    /// Pod name; for a representative, the workload name.
    pub name: String,
    /// Pod labels (template labels for a representative).
    pub labels: Labels,
    /// `status.podIPs` / `status.podIP`; empty when unknown.
    pub ips: Vec<IpAddr>,
    /// `spec.nodeName`, when known.
    pub node: Option<String>,
    /// `spec.hostNetwork`.
    pub host_network: bool,
    /// Declared container ports (init containers included).
    pub ports: Vec<ContainerPort>,
    /// The workload it belongs to.
    pub workload: WorkloadRef,
    /// True when this stands for a workload template with no Pods in the input.
    pub representative: bool,
    /// Where the Pod (or the workload) was read.
    pub source: Source,
    /// Annotations of the Pod (of the workload, for a representative).
    pub annotations: Labels,
    /// Scheduling constraints (from the pod spec or template).
    pub scheduling: Scheduling,
    /// Where the workload object itself was read, when it is in the input.
    pub workload_source: Option<Source>,
    /// `metadata.uid` of the Pod, when the input has it (live clusters and dumps do); what
    /// node socket reports name a pod by.
    pub uid: Option<String>,
    /// `spec.serviceAccountName` (Calico service-account selectors), when set.
    pub service_account: Option<String>,
}

impl Endpoint {
    /// The name used at pod granularity: `ns/pod`, or `ns/name[Kind]` for a representative.
    pub fn display_name(&self) -> String {
        if self.representative {
            format!(
                "{}/{}[{}]",
                self.namespace, self.workload.name, self.workload.kind
            )
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }

    /// The name used at workload granularity: `ns/name[Kind]`.
    pub fn workload_name(&self) -> String {
        format!(
            "{}/{}[{}]",
            self.namespace, self.workload.name, self.workload.kind
        )
    }
}

/// The whole normalized cluster.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// Namespaces by name (declared and implicit).
    pub namespaces: BTreeMap<String, Namespace>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Pods and workload representatives, sorted by (namespace, name).
    pub endpoints: Vec<Endpoint>,
    /// Services.
    pub services: Vec<Service>,
    /// NetworkPolicies.
    pub policies: Vec<NetworkPolicy>,
    /// Backends of Services from Endpoints / EndpointSlices, keyed by `(namespace, service)`.
    pub service_endpoints: BTreeMap<(String, String), Vec<ServiceEndpoint>>,
    /// Ingresses.
    pub ingresses: Vec<Ingress>,
    /// IngressClasses.
    pub ingress_classes: Vec<IngressClass>,
    /// Gateways.
    pub gateways: Vec<Gateway>,
    /// GatewayClasses.
    pub gateway_classes: Vec<GatewayClass>,
    /// HTTPRoute, GRPCRoute, TLSRoute, TCPRoute and UDPRoute objects.
    pub routes: Vec<Route>,
    /// ReferenceGrants.
    pub reference_grants: Vec<ReferenceGrant>,
    /// Kinds read but not modelled, with their counts (`apiVersion/kind`).
    pub unknown_kinds: BTreeMap<String, usize>,
    /// Policies of the other dialects (admin, Calico, Cilium), normalized.
    pub tiered_policies: Vec<crate::TieredPolicy>,
    /// Calico `Tier` objects (built-in tiers are implied).
    pub tiers: Vec<crate::PolicyTier>,
    /// ServiceAccounts.
    pub service_accounts: Vec<crate::ServiceAccount>,
    /// Calico HostEndpoints.
    pub host_endpoints: Vec<crate::HostEndpoint>,
    /// Evidence of a CNI in the input (for `--cni` auto-detection).
    pub cni_evidence: crate::CniEvidence,
}

impl Cluster {
    /// Labels of a namespace (empty if unknown, which ingest never lets happen).
    pub fn namespace_labels(&self, name: &str) -> Option<&Labels> {
        self.namespaces.get(name).map(|n| &n.labels)
    }
}

/// One address behind a Service, from its Endpoints or EndpointSlices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEndpoint {
    /// The address.
    pub ip: IpAddr,
    /// `(port name, port, protocol)` served there.
    pub ports: Vec<(Option<String>, u16, Protocol)>,
    /// `targetRef` to a Pod (`namespace`, `name`), when given.
    pub pod: Option<(String, String)>,
}
