//! The cluster: namespaces, nodes, endpoints (pods), services and policies.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::{Labels, NetworkPolicy, Protocol, Service};

/// The label the API server puts on every namespace, holding its name.
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where an object was read: a file (or `<stdin>`) and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
#[derive(Clone, Debug)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// Labels, including `kubernetes.io/metadata.name`.
    pub labels: Labels,
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
    /// Where it was read.
    pub source: Source,
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
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadRef {
    /// Kind (`Deployment`, `StatefulSet`, …, or `Pod`).
    pub kind: String,
    /// Name.
    pub name: String,
}

/// A network endpoint: a Pod, or the single representative of a workload template that
/// has no Pods of its own in the input.
#[derive(Clone, Debug)]
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
    /// Kinds read but not modelled, with their counts (`apiVersion/kind`).
    pub unknown_kinds: BTreeMap<String, usize>,
}

impl Cluster {
    /// Labels of a namespace (empty if unknown, which ingest never lets happen).
    pub fn namespace_labels(&self, name: &str) -> Option<&Labels> {
        self.namespaces.get(name).map(|n| &n.labels)
    }
}
