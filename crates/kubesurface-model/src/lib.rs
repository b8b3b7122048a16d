//! The normalized cluster model: plain data, no I/O, no evaluation.
//!
//! `kubesurface-ingest` builds a [`Cluster`] from manifests (and later from a live API
//! server); `kubesurface-engine` evaluates it. Every object keeps the [`Source`] it was
//! read from so errors, findings and SARIF can point at a file and line.

mod cluster;
mod policy;
mod port;
mod selector;
mod service;

pub use cluster::{
    Cluster, ContainerPort, Endpoint, METADATA_NAME_LABEL, Namespace, Node, NodeAddress, Source,
    WorkloadRef,
};
pub use policy::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyRule, PortSpec};
pub use port::Protocol;
pub use selector::{LabelSelector, Labels, Operator, Requirement};
pub use service::{Service, ServicePort, TargetPort};
