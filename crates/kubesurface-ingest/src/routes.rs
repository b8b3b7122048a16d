//! Ingress (networking.k8s.io/v1), IngressClass and Gateway API objects: wire types and
//! their conversion to the model.

use serde::{Deserialize, Deserializer};

use kubesurface_model as model;
use model::{RouteNamespaces, ServicePortRef, Source};

use crate::convert;
use crate::types::{LabelSelector, ObjectMeta};

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The legacy annotation naming an Ingress's class.
const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// The annotation marking the default IngressClass.
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

#[derive(Deserialize, Debug, Default)]
pub struct Ingress {
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: IngressSpec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub ingress_class_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_backend: Option<IngressBackend>,
    #[serde(default, deserialize_with = "nullable")]
    pub rules: Vec<IngressRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub tls: Vec<IngressTls>,
}

#[derive(Deserialize, Debug, Default)]
pub struct IngressTls {
    #[serde(default, deserialize_with = "nullable")]
    pub hosts: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct IngressRule {
    #[serde(default, deserialize_with = "nullable")]
    pub host: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub http: Option<HttpRuleValue>,
}

#[derive(Deserialize, Debug, Default)]
pub struct HttpRuleValue {
    #[serde(default, deserialize_with = "nullable")]
    pub paths: Vec<HttpPath>,
}

#[derive(Deserialize, Debug, Default)]
pub struct HttpPath {
    #[serde(default, deserialize_with = "nullable")]
    pub path: Option<String>,
    pub backend: IngressBackend,
}

#[derive(Deserialize, Debug, Default)]
pub struct IngressBackend {
    #[serde(default, deserialize_with = "nullable")]
    pub service: Option<IngressServiceBackend>,
}

#[derive(Deserialize, Debug, Default)]
pub struct IngressServiceBackend {
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub port: ServiceBackendPort,
}

#[derive(Deserialize, Debug, Default)]
pub struct ServiceBackendPort {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub number: Option<i64>,
}

fn backend(b: &IngressBackend, field: &str) -> Result<Option<model::IngressBackend>, String> {
    let Some(s) = &b.service else {
        return Ok(None);
    };
    let port = match (&s.port.number, &s.port.name) {
        (Some(n), _) => ServicePortRef::Number(convert::port_number(
            *n,
            &format!("{field}.service.port.number"),
        )?),
        (None, Some(name)) => ServicePortRef::Name(name.clone()),
        (None, None) => {
            return Err(format!("{field}.service.port: needs a number or a name"));
        }
    };
    Ok(Some(model::IngressBackend {
        service: s.name.clone(),
        port,
    }))
}

/// An Ingress.
pub fn ingress(i: &Ingress, namespace: &str, source: Source) -> Result<model::Ingress, String> {
    let mut paths = Vec::new();
    for (ri, rule) in i.spec.rules.iter().enumerate() {
        for (pi, p) in rule.http.iter().flat_map(|h| &h.paths).enumerate() {
            paths.push(model::IngressPath {
                host: rule.host.clone().filter(|h| !h.is_empty()),
                path: Some(p.path.clone().unwrap_or_else(|| "/".into())),
                backend: backend(
                    &p.backend,
                    &format!("spec.rules[{ri}].http.paths[{pi}].backend"),
                )?,
            });
        }
    }
    if let Some(b) = &i.spec.default_backend {
        paths.push(model::IngressPath {
            host: None,
            path: None,
            backend: backend(b, "spec.defaultBackend")?,
        });
    }
    Ok(model::Ingress {
        namespace: namespace.to_string(),
        name: i.metadata.name.clone(),
        class: i.spec.ingress_class_name.clone().or_else(|| {
            i.metadata
                .annotations
                .get(INGRESS_CLASS_ANNOTATION)
                .cloned()
        }),
        paths,
        tls_hosts: i
            .spec
            .tls
            .iter()
            .flat_map(|t| t.hosts.iter().cloned())
            .collect(),
        annotations: i.metadata.annotations.clone(),
        source,
    })
}

#[derive(Deserialize, Debug, Default)]
pub struct IngressClass {
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: IngressClassSpec,
}

#[derive(Deserialize, Debug, Default)]
pub struct IngressClassSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub controller: String,
}

/// An IngressClass.
pub fn ingress_class(c: &IngressClass, source: Source) -> model::IngressClass {
    model::IngressClass {
        name: c.metadata.name.clone(),
        controller: c.spec.controller.clone(),
        is_default: c
            .metadata
            .annotations
            .get(DEFAULT_CLASS_ANNOTATION)
            .is_some_and(|v| v == "true"),
        source,
    }
}

#[derive(Deserialize, Debug, Default)]
pub struct GatewayClass {
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: GatewayClassSpec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub controller_name: String,
}

/// A GatewayClass.
pub fn gateway_class(c: &GatewayClass, source: Source) -> model::GatewayClass {
    model::GatewayClass {
        name: c.metadata.name.clone(),
        controller: c.spec.controller_name.clone(),
        source,
    }
}

#[derive(Deserialize, Debug, Default)]
pub struct Gateway {
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: GatewaySpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: GatewayStatus,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    #[serde(default, deserialize_with = "nullable")]
    pub gateway_class_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub listeners: Vec<GatewayListener>,
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<GatewayAddress>,
}

#[derive(Deserialize, Debug, Default)]
pub struct GatewayStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<GatewayAddress>,
}

#[derive(Deserialize, Debug, Default)]
pub struct GatewayAddress {
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct GatewayListener {
    pub name: String,
    pub port: i64,
    pub protocol: String,
    #[serde(default, deserialize_with = "nullable")]
    pub hostname: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub allowed_routes: AllowedRoutes,
}

#[derive(Deserialize, Debug, Default)]
pub struct AllowedRoutes {
    #[serde(default, deserialize_with = "nullable")]
    pub namespaces: RouteNamespacesWire,
    #[serde(default, deserialize_with = "nullable")]
    pub kinds: Vec<RouteGroupKind>,
}

#[derive(Deserialize, Debug, Default)]
pub struct RouteNamespacesWire {
    #[serde(default, deserialize_with = "nullable")]
    pub from: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub selector: Option<LabelSelector>,
}

#[derive(Deserialize, Debug, Default)]
pub struct RouteGroupKind {
    pub kind: String,
}

/// A Gateway.
pub fn gateway(g: &Gateway, namespace: &str, source: Source) -> Result<model::Gateway, String> {
    let mut listeners = Vec::new();
    for (i, l) in g.spec.listeners.iter().enumerate() {
        let at = format!("spec.listeners[{i}]");
        let ns = &l.allowed_routes.namespaces;
        let allowed_namespaces = match ns.from.as_deref().unwrap_or("Same") {
            "Same" => RouteNamespaces::Same,
            "All" => RouteNamespaces::All,
            "Selector" => {
                let sel = ns.selector.as_ref().ok_or_else(|| {
                    format!(
                        "{at}.allowedRoutes.namespaces.selector: required when from is Selector"
                    )
                })?;
                RouteNamespaces::Selector(convert::selector(
                    sel,
                    &format!("{at}.allowedRoutes.namespaces.selector"),
                )?)
            }
            other => {
                return Err(format!(
                    "{at}.allowedRoutes.namespaces.from: {other:?} is not Same, All or Selector"
                ));
            }
        };
        listeners.push(model::Listener {
            name: l.name.clone(),
            port: convert::port_number(l.port, &format!("{at}.port"))?,
            protocol: l.protocol.clone(),
            hostname: l.hostname.clone(),
            allowed_namespaces,
            allowed_kinds: l
                .allowed_routes
                .kinds
                .iter()
                .map(|k| k.kind.clone())
                .collect(),
        });
    }
    let addresses = g
        .spec
        .addresses
        .iter()
        .chain(&g.status.addresses)
        .map(|a| a.value.clone())
        .filter(|v| !v.is_empty())
        .collect();
    Ok(model::Gateway {
        namespace: namespace.to_string(),
        name: g.metadata.name.clone(),
        class: g.spec.gateway_class_name.clone(),
        listeners,
        addresses,
        source,
    })
}

#[derive(Deserialize, Debug, Default)]
pub struct Route {
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: RouteSpec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub parent_refs: Vec<ParentRefWire>,
    #[serde(default, deserialize_with = "nullable")]
    pub hostnames: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub rules: Vec<RouteRule>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ParentRefWire {
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub section_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub port: Option<i64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    #[serde(default, deserialize_with = "nullable")]
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Deserialize, Debug, Default)]
pub struct BackendRef {
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub port: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub kind: Option<String>,
}

/// Any of the route kinds.
pub fn route(
    r: &Route,
    kind: &str,
    namespace: &str,
    source: Source,
) -> Result<model::Route, String> {
    let mut parents = Vec::new();
    for (i, p) in r.spec.parent_refs.iter().enumerate() {
        parents.push(model::ParentRef {
            namespace: p.namespace.clone().unwrap_or_else(|| namespace.to_string()),
            name: p.name.clone(),
            section: p.section_name.clone(),
            port: p
                .port
                .map(|n| convert::port_number(n, &format!("spec.parentRefs[{i}].port")))
                .transpose()?,
        });
    }
    let mut backends = Vec::new();
    for (ri, rule) in r.spec.rules.iter().enumerate() {
        for (bi, b) in rule.backend_refs.iter().enumerate() {
            backends.push(model::RouteBackend {
                namespace: b.namespace.clone().unwrap_or_else(|| namespace.to_string()),
                name: b.name.clone(),
                port: b
                    .port
                    .map(|n| {
                        convert::port_number(n, &format!("spec.rules[{ri}].backendRefs[{bi}].port"))
                    })
                    .transpose()?,
                kind: b.kind.clone().unwrap_or_else(|| "Service".into()),
            });
        }
    }
    Ok(model::Route {
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: r.metadata.name.clone(),
        parents,
        hostnames: r.spec.hostnames.clone(),
        backends,
        source,
    })
}

#[derive(Deserialize, Debug, Default)]
pub struct ReferenceGrant {
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: ReferenceGrantSpec,
}

#[derive(Deserialize, Debug, Default)]
pub struct ReferenceGrantSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub from: Vec<GrantFrom>,
    #[serde(default, deserialize_with = "nullable")]
    pub to: Vec<GrantTo>,
}

#[derive(Deserialize, Debug, Default)]
pub struct GrantFrom {
    pub kind: String,
    pub namespace: String,
}

#[derive(Deserialize, Debug, Default)]
pub struct GrantTo {
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<String>,
}

/// A ReferenceGrant.
pub fn reference_grant(
    g: &ReferenceGrant,
    namespace: &str,
    source: Source,
) -> model::ReferenceGrant {
    model::ReferenceGrant {
        namespace: namespace.to_string(),
        name: g.metadata.name.clone(),
        from: g
            .spec
            .from
            .iter()
            .map(|f| (f.kind.clone(), f.namespace.clone()))
            .collect(),
        to: g
            .spec
            .to
            .iter()
            .map(|t| (t.kind.clone(), t.name.clone()))
            .collect(),
        source,
    }
}
