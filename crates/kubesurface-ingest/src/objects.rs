//! Types each raw object by its kind: the kinds kubesurface models become typed objects,
//! every other kind is counted.

use serde::de::DeserializeOwned;

use kubesurface_model as model;

use crate::IngestError;
use crate::convert;
use crate::document::{Body, RawObject, peek_json_type};
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
    // The fast path: no path tracking (it allocates per key). Only a failure is parsed again
    // with the path, for the message.
    if let Some(t) = parse_untracked(body) {
        return Ok(t);
    }
    match body {
        Body::Value(v) => serde_path_to_error::deserialize(v).map_err(path_message),
        Body::Raw(raw) => {
            let mut de = serde_json::Deserializer::from_str(raw);
            serde_path_to_error::deserialize(&mut de).map_err(path_message)
        }
    }
}

/// Deserializes a body into a wire type; `None` on any error.
fn parse_untracked<T: DeserializeOwned>(body: &Body<'_>) -> Option<T> {
    match body {
        Body::Value(v) => T::deserialize(v).ok(),
        Body::Raw(raw) => serde_json::from_str(raw).ok(),
    }
}

/// Where [`core_object`] reads its wire type from.
trait WireSource {
    /// Reads the object as `T`; the message is empty unless the source tracks paths.
    fn read<T: DeserializeOwned>(&mut self) -> Result<T, String>;
}

/// A whole body, with or without the JSON path of an error.
struct FromBody<'b, 'a> {
    body: &'b Body<'a>,
    tracked: bool,
}

impl WireSource for FromBody<'_, '_> {
    fn read<T: DeserializeOwned>(&mut self) -> Result<T, String> {
        if self.tracked {
            parse(self.body)
        } else {
            parse_untracked(self.body).ok_or_else(String::new)
        }
    }
}

/// The JSON value at the start of a text that goes on past it (the rest of a `List`);
/// `len` is set to the value's length once it is read.
struct FromPrefix<'a> {
    text: &'a str,
    len: usize,
}

impl WireSource for FromPrefix<'_> {
    fn read<T: DeserializeOwned>(&mut self) -> Result<T, String> {
        let mut values = serde_json::Deserializer::from_str(self.text).into_iter::<T>();
        match values.next() {
            Some(Ok(t)) => {
                self.len = values.byte_offset();
                Ok(t)
            }
            _ => Err(String::new()),
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
        Body::Raw(r) => r.hash(&mut h),
    }
    h.finish()
}

/// The (API group, kind)s kubesurface reads; every other kind is counted.
fn is_known(group: &str, kind: &str) -> bool {
    match (group, kind) {
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
    }
}

/// The namespace of a namespaced object: `default` when absent or empty.
fn namespace_of(meta: &types::ObjectMeta) -> String {
    meta.namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string()
}

/// [`namespace_of`], moved out of the metadata.
fn take_namespace(meta: &mut types::ObjectMeta) -> String {
    match meta.namespace.take() {
        Some(namespace) if !namespace.is_empty() => namespace,
        _ => "default".to_string(),
    }
}

/// An empty `metadata.name` is an error (the header check names it).
fn named(meta: &types::ObjectMeta) -> Result<(), String> {
    if meta.name.is_empty() {
        Err("missing required field `metadata.name`".to_string())
    } else {
        Ok(())
    }
}

/// True for the kinds [`core_object`] reads (everything known but Ingress, Gateway API,
/// CRDs and the policy dialects).
fn is_core(kind: &str) -> bool {
    matches!(
        kind,
        "ServiceAccount"
            | "Namespace"
            | "Node"
            | "Pod"
            | "Service"
            | "NetworkPolicy"
            | "Endpoints"
            | "EndpointSlice"
    ) || WORKLOAD_KINDS.contains(&kind)
}

/// Reads a known object of a core kind ([`is_core`]) from its wire type; its namespace comes
/// from that type's `metadata`. A parse error carries the JSON path of the problem when the
/// wire source tracks paths; otherwise it is empty (the caller reads the object again to
/// name the problem).
fn core_object(
    kind: &str,
    api_version: &str,
    wire: &mut impl WireSource,
    source: &model::Source,
) -> Result<Parsed, String> {
    let source = source.clone();
    Ok(match kind {
        "ServiceAccount" => {
            let sa: types::Namespace = wire.read()?;
            named(&sa.metadata)?;
            Parsed::ServiceAccount(model::ServiceAccount {
                namespace: namespace_of(&sa.metadata),
                name: sa.metadata.name,
                labels: sa.metadata.labels,
            })
        }
        "Namespace" => {
            let ns: types::Namespace = wire.read()?;
            named(&ns.metadata)?;
            Parsed::Namespace {
                name: ns.metadata.name,
                labels: ns.metadata.labels,
                annotations: ns.metadata.annotations,
                source,
            }
        }
        "Node" => {
            let node: types::Node = wire.read()?;
            named(&node.metadata)?;
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
            let mut pod: types::Pod = wire.read()?;
            named(&pod.metadata)?;
            let ports = convert::container_ports(&pod.spec)?;
            let ips = convert::pod_ips(&pod.status)?;
            Parsed::Pod(Box::new(PodObject {
                namespace: take_namespace(&mut pod.metadata),
                scheduling: convert::scheduling(&mut pod.spec),
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
            let svc: types::Service = wire.read()?;
            named(&svc.metadata)?;
            let namespace = namespace_of(&svc.metadata);
            Parsed::Service(Box::new(convert::service(&svc, &namespace, source)?))
        }
        "NetworkPolicy" => {
            let np: types::NetworkPolicy = wire.read()?;
            named(&np.metadata)?;
            let namespace = namespace_of(&np.metadata);
            Parsed::Policy(Box::new(convert::network_policy(&np, &namespace, source)?))
        }
        "Endpoints" => {
            let e: types::Endpoints = wire.read()?;
            named(&e.metadata)?;
            let namespace = namespace_of(&e.metadata);
            Parsed::Endpoints {
                backends: convert::endpoints(&e, &namespace)?,
                service: e.metadata.name,
                namespace,
            }
        }
        "EndpointSlice" => {
            let e: types::EndpointSlice = wire.read()?;
            named(&e.metadata)?;
            let Some(service) = e.metadata.labels.get(SERVICE_NAME_LABEL).cloned() else {
                return Ok(Parsed::Unknown(format!(
                    "{api_version}/{kind} (without {SERVICE_NAME_LABEL})"
                )));
            };
            let namespace = namespace_of(&e.metadata);
            Parsed::Endpoints {
                backends: convert::endpoint_slice(&e, &namespace)?,
                service,
                namespace,
            }
        }
        workload_kind => {
            let w: types::Workload = wire.read()?;
            named(&w.metadata)?;
            let template = match (workload_kind, w.spec.template, w.spec.job_template) {
                ("CronJob", _, Some(jt)) => jt.spec.template,
                (_, t, _) => t,
            };
            let Some(mut template) = template else {
                let field = if workload_kind == "CronJob" {
                    "spec.jobTemplate.spec.template"
                } else {
                    "spec.template"
                };
                return Err(format!("missing required field `{field}`"));
            };
            let ports = convert::container_ports(&template.spec)?;
            let mut annotations = w.metadata.annotations.clone();
            annotations.extend(template.metadata.annotations);
            Parsed::Workload(Box::new(WorkloadObject {
                kind: workload_kind.to_string(),
                namespace: namespace_of(&w.metadata),
                meta: w.metadata,
                labels: template.metadata.labels,
                annotations,
                host_network: template.spec.host_network,
                scheduling: convert::scheduling(&mut template.spec),
                service_account: convert::service_account(&template.spec),
                node_name: template.spec.node_name,
                ports,
                source,
            }))
        }
    })
}

/// Types one object.
pub fn classify(raw: &RawObject<'_>) -> Result<Parsed, IngestError> {
    if let Some(parsed) = classify_fast(raw) {
        return Ok(parsed);
    }
    classify_checked(raw)
}

/// The common case in one typed pass: `apiVersion` and `kind` peeked from the start of the
/// text, a kind of the core API read straight into its wire type (which also holds the
/// header's fields, so that whatever the header check would reject fails here too).
/// `None` when anything is unusual or wrong: [`classify_checked`] then reads the object
/// again and names the problem.
fn classify_fast(raw: &RawObject<'_>) -> Option<Parsed> {
    let (api_version, kind) = raw.body.peek_type()?;
    if !read_in_one_pass(api_version, kind) {
        return None;
    }
    let mut wire = FromBody {
        body: &raw.body,
        tracked: false,
    };
    core_object(kind, api_version, &mut wire, &raw.source).ok()
}

/// [`classify_fast`] of the JSON object at the start of `text`, which goes on past it (the
/// rest of a `List`): the object and its length in bytes. `None` when anything is unusual
/// or wrong, as for [`classify_fast`]; the caller then finds the object's end and types it
/// with [`classify`].
pub fn classify_prefix(text: &str, source: &model::Source) -> Option<(Parsed, usize)> {
    let (api_version, kind) = peek_json_type(text)?;
    if !read_in_one_pass(api_version, kind) {
        return None;
    }
    let mut wire = FromPrefix { text, len: 0 };
    let parsed = core_object(kind, api_version, &mut wire, source).ok()?;
    (wire.len > 0).then_some((parsed, wire.len))
}

/// True for the (apiVersion, kind)s the one-pass read types: the known core kinds.
fn read_in_one_pass(api_version: &str, kind: &str) -> bool {
    if api_version.is_empty() || kind.is_empty() {
        return false;
    }
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    is_known(group, kind)
        && is_core(kind)
        && matches!(
            group,
            "" | "apps" | "extensions" | "batch" | "networking.k8s.io" | "discovery.k8s.io"
        )
}

/// Types one object, checking its header first, so that errors name the object.
fn classify_checked(raw: &RawObject<'_>) -> Result<Parsed, IngestError> {
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
    let known = is_known(group, &kind);
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
    if is_core(&kind) {
        let mut wire = FromBody {
            body: &raw.body,
            tracked: true,
        };
        return core_object(&kind, &header.api_version, &mut wire, &source).map_err(fail);
    }
    let parsed = match kind.as_str() {
        "CustomResourceDefinition" => Parsed::Crd {
            kind: format!("{}/{}", header.api_version, kind),
            name: name.clone().unwrap_or_default(),
        },
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
        _ => {
            return Err(fail(format!("{}/{kind} is not read", header.api_version)));
        }
    };
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn source() -> model::Source {
        model::Source {
            file: Arc::from("t.json"),
            line: 3,
        }
    }

    /// Both paths on one object: the one-pass read, when it answers, must answer as the
    /// checked read does.
    fn both(text: &str) -> (Option<String>, String) {
        let raw = RawObject {
            source: source(),
            body: Body::Raw(text),
        };
        let fast = classify_fast(&raw).map(|p| format!("{p:?}"));
        // Read from the start of a longer text, the one-pass read answers the same, with
        // the object's length.
        let longer = format!("{text},\n{text}]}}");
        let prefix = classify_prefix(&longer, &raw.source).map(|(p, len)| {
            assert_eq!(len, text.len(), "{text}");
            format!("{p:?}")
        });
        assert_eq!(prefix, fast, "{text}");
        let checked = match classify_checked(&raw) {
            Ok(p) => format!("{p:?}"),
            Err(e) => format!("error: {e}"),
        };
        (fast, checked)
    }

    #[test]
    fn one_pass_read_agrees_with_the_checked_read() {
        for text in [
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a","labels":{"app":"x"},"ownerReferences":[{"kind":"ReplicaSet","name":"r","controller":true}]},"spec":{"nodeName":"n1","containers":[{"ports":[{"name":"http","containerPort":80}]}]},"status":{"podIP":"10.0.0.1"}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":""}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":null}}"#,
            r#"{"metadata":{"name":"p"},"kind":"Pod","apiVersion":"v1"}"#,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"a","annotations":{"k":"v"}},"spec":{"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[]}}}}"#,
            r#"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{}}}}}}"#,
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"a"},"spec":{"selector":{"app":"x"},"ports":[{"port":80,"targetPort":"http"}]}}"#,
            r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"np","namespace":"a"},"spec":{"podSelector":{},"policyTypes":["Ingress"]}}"#,
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","labels":{"team":"t"}}}"#,
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"status":{"addresses":[{"type":"InternalIP","address":"172.16.0.1"}]}}"#,
            r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa","namespace":"a"}}"#,
            r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"s","namespace":"a"},"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80}]}]}"#,
            r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s-1","labels":{"kubernetes.io/service-name":"s"}},"addressType":"IPv4","endpoints":[]}"#,
        ] {
            let (fast, checked) = both(text);
            assert_eq!(fast.as_ref(), Some(&checked), "{text}");
        }
    }

    #[test]
    fn one_pass_read_leaves_what_the_checked_read_rejects_or_counts_to_it() {
        for text in [
            // Problems the header check names.
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":""}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":5}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":5}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":null}"#,
            r#"{"apiVersion":"v1","kind":"Pod"}"#,
            r#"{"apiVersion":"v1","kind":"Pod","kind":"Pod","metadata":{"name":"p"}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"apiVersion":"v2"}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"}}"#,
            r#"{"apiVersion":"","kind":"Pod","metadata":{"name":"p"}}"#,
            // Problems of the object itself.
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"ports":[{"containerPort":"x"}]}]}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"podIP":"nope"}}"#,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{}}"#,
            // Kinds not read in one pass.
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#,
            r#"{"apiVersion":"example.com/v1","kind":"Pod","metadata":{"name":"p"}}"#,
            r#"{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},"spec":{}}"#,
            r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s-1"},"addressType":"IPv4"}"#,
        ] {
            let (fast, checked) = both(text);
            match fast {
                None => {}
                Some(fast) => assert_eq!(fast, checked, "{text}"),
            }
            if checked.starts_with("error") {
                assert_eq!(both(text).0, None, "{text}");
            }
        }
    }
}
