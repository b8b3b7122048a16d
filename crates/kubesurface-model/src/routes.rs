//! Entry points from outside that are not Services: Ingress and Gateway API routes.

use crate::{LabelSelector, Labels, Source};

/// A Service port reference: by number or by the Service port's name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServicePortRef {
    /// `port.number`.
    Number(u16),
    /// `port.name`.
    Name(String),
}

/// A backend of an Ingress path: a Service and one of its ports.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IngressBackend {
    /// Service name (same namespace as the Ingress).
    pub service: String,
    /// Service port.
    pub port: ServicePortRef,
}

/// One host/path of an Ingress and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngressPath {
    /// `host` (`None` = any host).
    pub host: Option<String>,
    /// `path` (`None` for the default backend).
    pub path: Option<String>,
    /// The backend, `None` for resource backends (not followed).
    pub backend: Option<IngressBackend>,
}

/// A `networking.k8s.io/v1` Ingress.
#[derive(Clone, Debug)]
pub struct Ingress {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.ingressClassName`, or the legacy `kubernetes.io/ingress.class` annotation.
    pub class: Option<String>,
    /// Every rule path, then the default backend (path `None`).
    pub paths: Vec<IngressPath>,
    /// Hosts with TLS configured.
    pub tls_hosts: Vec<String>,
    /// Annotations.
    pub annotations: Labels,
    /// Where it was read.
    pub source: Source,
}

/// An IngressClass.
#[derive(Clone, Debug)]
pub struct IngressClass {
    /// Name.
    pub name: String,
    /// `spec.controller`, e.g. `k8s.io/ingress-nginx`.
    pub controller: String,
    /// Annotated `ingressclass.kubernetes.io/is-default-class: "true"`.
    pub is_default: bool,
    /// Where it was read.
    pub source: Source,
}

/// A GatewayClass.
#[derive(Clone, Debug)]
pub struct GatewayClass {
    /// Name.
    pub name: String,
    /// `spec.controllerName`.
    pub controller: String,
    /// Where it was read.
    pub source: Source,
}

/// Which namespaces may attach routes to a listener (`allowedRoutes.namespaces.from`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteNamespaces {
    /// `Same` (the default): the Gateway's namespace.
    Same,
    /// `All`.
    All,
    /// `Selector`: namespaces whose labels match.
    Selector(LabelSelector),
}

/// A Gateway listener.
#[derive(Clone, Debug)]
pub struct Listener {
    /// `name`.
    pub name: String,
    /// `port`.
    pub port: u16,
    /// `protocol` (HTTP, HTTPS, TLS, TCP, UDP, …).
    pub protocol: String,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `allowedRoutes.namespaces`.
    pub allowed_namespaces: RouteNamespaces,
    /// `allowedRoutes.kinds[].kind`; empty = the kinds the protocol allows.
    pub allowed_kinds: Vec<String>,
}

/// A Gateway.
#[derive(Clone, Debug)]
pub struct Gateway {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.gatewayClassName`.
    pub class: String,
    /// `spec.listeners`.
    pub listeners: Vec<Listener>,
    /// `spec.addresses[].value` and `status.addresses[].value`.
    pub addresses: Vec<String>,
    /// Where it was read.
    pub source: Source,
}

/// A `parentRefs` entry of a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentRef {
    /// Gateway namespace (defaults to the route's).
    pub namespace: String,
    /// Gateway name.
    pub name: String,
    /// `sectionName`: one listener.
    pub section: Option<String>,
    /// `port`: listeners on this port.
    pub port: Option<u16>,
}

/// A `backendRefs` entry of a route (Service backends only are followed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteBackend {
    /// Namespace (defaults to the route's; another needs a ReferenceGrant).
    pub namespace: String,
    /// Service name.
    pub name: String,
    /// Service port.
    pub port: Option<u16>,
    /// `kind` (Service when omitted).
    pub kind: String,
}

/// HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute.
#[derive(Clone, Debug)]
pub struct Route {
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.parentRefs`.
    pub parents: Vec<ParentRef>,
    /// `spec.hostnames`.
    pub hostnames: Vec<String>,
    /// Every `rules[].backendRefs[]`.
    pub backends: Vec<RouteBackend>,
    /// Where it was read.
    pub source: Source,
}

/// A ReferenceGrant: lets objects of `from` reference objects of `to` in its namespace.
#[derive(Clone, Debug)]
pub struct ReferenceGrant {
    /// Namespace (of the referenced objects).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `(kind, namespace)` allowed to reference.
    pub from: Vec<(String, String)>,
    /// `(kind, name)` that may be referenced (`name` `None` = all of that kind).
    pub to: Vec<(String, Option<String>)>,
    /// Where it was read.
    pub source: Source,
}
