//! The normalized cluster model: plain data, no I/O, no evaluation.
//!
//! `kubesurface-ingest` builds a [`Cluster`] from manifests (and later from a live API
//! server); `kubesurface-engine` evaluates it. Every object keeps the [`Source`] it was
//! read from so errors, findings and SARIF can point at a file and line.

mod cluster;
mod dialect;
mod labels;
mod policy;
mod port;
mod routes;
mod selector;
mod service;

pub use cluster::{
    Cluster, ContainerPort, Endpoint, METADATA_NAME_LABEL, Namespace, Node, NodeAddress,
    NodeRequirement, Scheduling, ServiceEndpoint, Source, Taint, Toleration, WorkloadRef,
};
pub use dialect::{
    ADMIN_TIER, ADMIN_TIER_ORDER, Action, BASELINE_TIER, BASELINE_TIER_ORDER, Cni, CniEvidence,
    DEFAULT_TIER, DEFAULT_TIER_ORDER, Dialect, Entity, HostEndpoint, KUBERNETES_POLICY_ORDER,
    LabelExpr, NamespaceMatch, PodMatch, PolicyTier, ServiceAccount, ServiceAccountMatch, Subject,
    TieredPeer, TieredPolicy, TieredRule,
};
pub use labels::Labels;
pub use policy::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyRule, PortSpec};
pub use port::Protocol;
pub use routes::{
    Gateway, GatewayClass, Ingress, IngressBackend, IngressClass, IngressPath, Listener, ParentRef,
    ReferenceGrant, Route, RouteBackend, RouteNamespaces, ServicePortRef,
};
pub use selector::{LabelSelector, Operator, Requirement};
pub use service::{Service, ServicePort, TargetPort};
