//! Types each raw object by its kind: the kinds kubesurface models become typed objects,
//! every other kind is counted.

use serde::de::DeserializeOwned;

use kubesurface_model as model;

use crate::IngestError;
use crate::convert;
use crate::document::{Body, RawObject};
use crate::routes;
use crate::types;

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The controllers whose pod templates become endpoints.
pub const WORKLOAD_KINDS: [&str; 7] = [
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// An object after typing.
#[derive(Debug)]
pub enum Parsed {
    /// A Namespace.
    Namespace {
        name: String,
        labels: model::Labels,
        annotations: model::Labels,
        source: model::Source,
    },
    /// A Node.
    Node(model::Node),
    /// A Pod.
    Pod(Box<PodObject>),
    /// A controller with a pod template.
    Workload(Box<WorkloadObject>),
    /// A Service.
    Service(Box<model::Service>),
    /// A NetworkPolicy.
    Policy(Box<model::NetworkPolicy>),
    /// Endpoints / EndpointSlice: the backends of one Service.
    Endpoints {
        namespace: String,
        service: String,
        backends: Vec<model::ServiceEndpoint>,
    },
    /// An Ingress.
    Ingress(Box<model::Ingress>),
    /// An IngressClass.
    IngressClass(model::IngressClass),
    /// A Gateway.
    Gateway(Box<model::Gateway>),
    /// A GatewayClass.
    GatewayClass(model::GatewayClass),
    /// An HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute.
    Route(Box<model::Route>),
    /// A ReferenceGrant.
    ReferenceGrant(model::ReferenceGrant),
    /// A policy of another dialect (admin, Calico, Cilium), normalized.
    Tiered(Box<model::TieredPolicy>),
    /// One object read as several normalized policies (a Calico GlobalNetworkPolicy's pod
    /// and host parts, a Cilium policy's deny and allow parts or its `specs`).
    TieredMany(Vec<model::TieredPolicy>),
    /// A Calico Tier.
    Tier(model::PolicyTier),
    /// A ServiceAccount.
    ServiceAccount(model::ServiceAccount),
    /// A Calico HostEndpoint.
    HostEndpoint(Box<model::HostEndpoint>),
    /// A CustomResourceDefinition: counted as an unknown kind, its name is CNI evidence.
    Crd {
        /// `apiVersion/kind`.
        kind: String,
        /// The CRD's name (`networkpolicies.projectcalico.org`).
        name: String,
    },
    /// An object read with notes for the user (constructs approximated, not modelled):
    /// each `file:line: Kind ns/name: field: note`.
    Warned {
        /// The object.
        parsed: Box<Parsed>,
        /// The notes.
        warnings: Vec<String>,
    },
    /// Any other kind: `apiVersion/kind`, counted and reported.
    Unknown(String),
}

/// A Pod, typed.
#[derive(Debug)]
pub struct PodObject {
    pub namespace: String,
    pub meta: types::ObjectMeta,
    pub node_name: Option<String>,
    pub host_network: bool,
    pub scheduling: model::Scheduling,
    pub service_account: Option<String>,
    pub ports: Vec<model::ContainerPort>,
    pub ips: Vec<std::net::IpAddr>,
    pub source: model::Source,
}

/// A workload, typed; `template` is `None` for a workload without one (a CronJob whose
/// job template lacks a pod template is invalid and rejected).
#[derive(Debug)]
pub struct WorkloadObject {
    pub kind: String,
    pub namespace: String,
    pub meta: types::ObjectMeta,
    pub labels: model::Labels,
    pub annotations: model::Labels,
    pub host_network: bool,
    pub node_name: Option<String>,
    pub ports: Vec<model::ContainerPort>,
    pub scheduling: model::Scheduling,
    pub service_account: Option<String>,
    pub source: model::Source,
}

/// Deserializes a body into a wire type, with the JSON path of the first error.
pub(crate) fn parse<T: DeserializeOwned>(body: &Body<'_>) -> Result<T, String> {
    match body {
        Body::Value(v) => serde_path_to_error::deserialize(v).map_err(path_message),
        Body::Raw(raw) => {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            serde_path_to_error::deserialize(&mut de).map_err(path_message)
        }
    }
}

fn path_message<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> String {
    let path = e.path().to_string();
    if path == "." {
        e.inner().to_string()
    } else {
        format!("{path}: {}", e.inner())
    }
}

fn scalar_string(v: &Option<serde_json::Value>) -> Option<String> {
    match v {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A fingerprint of an object's content, to tell a repeated identical object (harmless)
/// from two different definitions of one name (an error).
pub fn fingerprint(raw: &RawObject<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match &raw.body {
        Body::Value(v) => v.to_string().hash(&mut h),
        Body::Raw(r) => r.get().hash(&mut h),
    }
    h.finish()
}

/// Types one object.
pub fn classify(raw: &RawObject<'_>) -> Result<Parsed, IngestError> {
    let err = |msg: String| IngestError::new(raw.source.clone(), msg);
    let header: types::Header =
        parse(&raw.body).map_err(|m| err(format!("not a Kubernetes object: {m}")))?;
    let kind = header.kind.clone();
    let name = scalar_string(&header.metadata.name);
    let namespace = scalar_string(&header.metadata.namespace)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let object = format!(
        "{} {}",
        if kind.is_empty() { "<no kind>" } else { &kind },
        match (&name, kind.as_str()) {
            (
                Some(n),
                "Namespace"
                | "Node"
                | "AdminNetworkPolicy"
                | "BaselineAdminNetworkPolicy"
                | "ClusterNetworkPolicy"
                | "GlobalNetworkPolicy"
                | "Tier"
                | "HostEndpoint"
                | "CiliumClusterwideNetworkPolicy"
                | "CustomResourceDefinition"
                | "IngressClass"
                | "GatewayClass",
            ) => n.clone(),
            (Some(n), _) => format!("{namespace}/{n}"),
            (None, _) => format!("{namespace}/<no name>"),
        }
    );
    let fail = |msg: String| err(msg).with_object(object.clone());
    for (field, value) in [
        ("metadata.name", &header.metadata.name),
        ("metadata.namespace", &header.metadata.namespace),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_string() && !v.is_null()) {
            return Err(fail(format!(
                "{field}: expected a string, found {v} (quote it: YAML reads y, n, yes, no, on, off and numbers as non-strings)"
            )));
        }
    }
    if kind.is_empty() {
        return Err(fail("missing required field `kind`".into()));
    }
    if header.api_version.is_empty() {
        return Err(fail("missing required field `apiVersion`".into()));
    }
    let group = header.api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let known = match (group, kind.as_str()) {
        ("", "Namespace" | "Node" | "Pod" | "Service" | "Endpoints" | "ReplicationController") => {
            true
        }
        ("", "ServiceAccount") => true,
        ("networking.k8s.io" | "extensions", "NetworkPolicy") => true,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => true,
        (
            "policy.networking.k8s.io",
            "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" | "ClusterNetworkPolicy",
        ) => true,
        (
            "projectcalico.org" | "crd.projectcalico.org",
            "NetworkPolicy" | "GlobalNetworkPolicy" | "Tier" | "HostEndpoint",
        ) => true,
        ("cilium.io", "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy") => true,
        ("apps" | "extensions" | "batch", k) => WORKLOAD_KINDS.contains(&k),
        ("discovery.k8s.io", "EndpointSlice") => true,
        ("networking.k8s.io", "Ingress" | "IngressClass") => true,
        (
            "gateway.networking.k8s.io",
            "Gateway" | "GatewayClass" | "HTTPRoute" | "GRPCRoute" | "TLSRoute" | "TCPRoute"
            | "UDPRoute" | "ReferenceGrant",
        ) => true,
        _ => false,
    };
    if !known {
        return Ok(Parsed::Unknown(format!("{}/{}", header.api_version, kind)));
    }
    if name.as_deref().is_none_or(str::is_empty) {
        return Err(fail("missing required field `metadata.name`".into()));
    }
    let source = raw.source.clone();
    match group {
        "policy.networking.k8s.io" => {
            return crate::dialects::admin::classify(&kind, &header.api_version, &raw.body, source)
                .map_err(fail);
        }
        "projectcalico.org" | "crd.projectcalico.org" => {
            return crate::dialects::calico::classify(
                &kind,
                &header.api_version,
                &raw.body,
                &namespace,
                source,
            )
            .map_err(fail);
        }
        "cilium.io" => {
            return crate::dialects::cilium::classify(
                &kind,
                &header.api_version,
                &raw.body,
                &namespace,
                source,
            )
            .map_err(fail);
        }
        _ => {}
    }
    let parsed = match kind.as_str() {
        "CustomResourceDefinition" => Parsed::Crd {
            kind: format!("{}/{}", header.api_version, kind),
            name: name.clone().unwrap_or_default(),
        },
        "ServiceAccount" => {
            let sa: types::Namespace = parse(&raw.body).map_err(fail)?;
            Parsed::ServiceAccount(model::ServiceAccount {
                namespace,
                name: sa.metadata.name,
                labels: sa.metadata.labels,
            })
        }
        "Namespace" => {
            let ns: types::Namespace = parse(&raw.body).map_err(fail)?;
            Parsed::Namespace {
                name: ns.metadata.name,
                labels: ns.metadata.labels,
                annotations: ns.metadata.annotations,
                source,
            }
        }
        "Node" => {
            let node: types::Node = parse(&raw.body).map_err(fail)?;
            Parsed::Node(model::Node {
                name: node.metadata.name,
                labels: node.metadata.labels,
                addresses: node
                    .status
                    .addresses
                    .into_iter()
                    .map(|a| model::NodeAddress {
                        kind: a.kind,
                        address: a.address,
                    })
                    .collect(),
                taints: node
                    .spec
                    .taints
                    .into_iter()
                    .map(|t| model::Taint {
                        key: t.key,
                        value: t.value,
                        effect: t.effect,
                    })
                    .collect(),
                source,
            })
        }
        "Pod" => {
            let pod: types::Pod = parse(&raw.body).map_err(fail)?;
            let ports = convert::container_ports(&pod.spec).map_err(fail)?;
            let ips = convert::pod_ips(&pod.status).map_err(fail)?;
            Parsed::Pod(Box::new(PodObject {
                namespace,
                scheduling: convert::scheduling(&pod.spec),
                service_account: convert::service_account(&pod.spec),
                node_name: pod.spec.node_name,
                host_network: pod.spec.host_network,
                meta: pod.metadata,
                ports,
                ips,
                source,
            }))
        }
        "Service" => {
            let svc: types::Service = parse(&raw.body).map_err(fail)?;
            Parsed::Service(Box::new(
                convert::service(&svc, &namespace, source).map_err(fail)?,
            ))
        }
        "NetworkPolicy" => {
            let np: types::NetworkPolicy = parse(&raw.body).map_err(fail)?;
            Parsed::Policy(Box::new(
                convert::network_policy(&np, &namespace, source).map_err(fail)?,
            ))
        }
        "Endpoints" => {
            let e: types::Endpoints = parse(&raw.body).map_err(fail)?;
            Parsed::Endpoints {
                backends: convert::endpoints(&e, &namespace).map_err(fail)?,
                service: e.metadata.name,
                namespace,
            }
        }
        "EndpointSlice" => {
            let e: types::EndpointSlice = parse(&raw.body).map_err(fail)?;
            let Some(service) = e.metadata.labels.get(SERVICE_NAME_LABEL).cloned() else {
                return Ok(Parsed::Unknown(format!(
                    "{}/{} (without {SERVICE_NAME_LABEL})",
                    header.api_version, kind
                )));
            };
            Parsed::Endpoints {
                backends: convert::endpoint_slice(&e, &namespace).map_err(fail)?,
                service,
                namespace,
            }
        }
        "Ingress" => {
            let i: routes::Ingress = parse(&raw.body).map_err(fail)?;
            Parsed::Ingress(Box::new(
                routes::ingress(&i, &namespace, source).map_err(fail)?,
            ))
        }
        "IngressClass" => {
            let c: routes::IngressClass = parse(&raw.body).map_err(fail)?;
            Parsed::IngressClass(routes::ingress_class(&c, source))
        }
        "GatewayClass" => {
            let c: routes::GatewayClass = parse(&raw.body).map_err(fail)?;
            Parsed::GatewayClass(routes::gateway_class(&c, source))
        }
        "Gateway" => {
            let g: routes::Gateway = parse(&raw.body).map_err(fail)?;
            Parsed::Gateway(Box::new(
                routes::gateway(&g, &namespace, source).map_err(fail)?,
            ))
        }
        "ReferenceGrant" => {
            let g: routes::ReferenceGrant = parse(&raw.body).map_err(fail)?;
            Parsed::ReferenceGrant(routes::reference_grant(&g, &namespace, source))
        }
        "HTTPRoute" | "GRPCRoute" | "TLSRoute" | "TCPRoute" | "UDPRoute" => {
            let r: routes::Route = parse(&raw.body).map_err(fail)?;
            Parsed::Route(Box::new(
                routes::route(&r, &kind, &namespace, source).map_err(fail)?,
            ))
        }
        workload_kind => {
            let w: types::Workload = parse(&raw.body).map_err(fail)?;
            let template = match (workload_kind, w.spec.template, w.spec.job_template) {
                ("CronJob", _, Some(jt)) => jt.spec.template,
                (_, t, _) => t,
            };
            let Some(template) = template else {
                let field = if workload_kind == "CronJob" {
                    "spec.jobTemplate.spec.template"
                } else {
                    "spec.template"
                };
                return Err(fail(format!("missing required field `{field}`")));
            };
            let ports = convert::container_ports(&template.spec).map_err(fail)?;
            let mut annotations = w.metadata.annotations.clone();
            annotations.extend(template.metadata.annotations);
            Parsed::Workload(Box::new(WorkloadObject {
                kind: workload_kind.to_string(),
                namespace,
                meta: w.metadata,
                labels: template.metadata.labels,
                annotations,
                host_network: template.spec.host_network,
                scheduling: convert::scheduling(&template.spec),
                service_account: convert::service_account(&template.spec),
                node_name: template.spec.node_name,
                ports,
                source,
            }))
        }
    };
    Ok(parsed)
}
