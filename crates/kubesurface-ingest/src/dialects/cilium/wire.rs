//! The narrow wire types of `cilium.io/v2` CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy: only the fields the reader looks at. Field names follow
//! `pkg/policy/api` of github.com/cilium/cilium (`rule.go`, `ingress.go`, `egress.go`,
//! `l4.go`, `cidr.go`, `service.go`, `selector.go`). Fields kubesurface cannot evaluate
//! (`toFQDNs`, `toGroups`, `icmps`, L7 rule bodies) are read only far enough to know they
//! are there.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

/// Deserializes `null` as the type's default (the API treats `null` like an omitted field).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The whole object: metadata and `spec` and/or `specs`.
#[derive(Deserialize, Debug, Default)]
pub struct Policy {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: Metadata,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: Option<Rule>,
    #[serde(default, deserialize_with = "nullable")]
    pub specs: Option<Vec<Rule>>,
}

#[derive(Deserialize, Debug, Default)]
pub struct Metadata {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: kubesurface_model::Labels,
}

/// `api.Rule`: one rule with its subject.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, deserialize_with = "nullable")]
    pub endpoint_selector: Option<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pub node_selector: Option<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pub ingress: Vec<IngressRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub ingress_deny: Vec<IngressRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub egress: Vec<EgressRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub egress_deny: Vec<EgressRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub enable_default_deny: DefaultDeny,
}

/// `api.DefaultDenyConfig`.
#[derive(Deserialize, Debug, Default)]
pub struct DefaultDeny {
    #[serde(default, deserialize_with = "nullable")]
    pub ingress: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub egress: Option<bool>,
}

/// `api.EndpointSelector` (a `metav1.LabelSelector` whose keys may carry a source prefix).
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    #[serde(default, deserialize_with = "nullable")]
    pub match_labels: kubesurface_model::Labels,
    #[serde(default, deserialize_with = "nullable")]
    pub match_expressions: Vec<Requirement>,
    /// Newer Cilium: a CEL expression ANDed with the selector (not evaluated).
    #[serde(default, rename = "matchCELExpression")]
    pub match_cel_expression: Option<IgnoredAny>,
}

#[derive(Deserialize, Debug, Default, Clone)]
pub struct Requirement {
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    #[serde(default, deserialize_with = "nullable")]
    pub operator: String,
    #[serde(default, deserialize_with = "nullable")]
    pub values: Vec<String>,
}

/// `api.IngressRule` and `api.IngressDenyRule` (the deny form has no L7 `rules`).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct IngressRule {
    #[serde(default, deserialize_with = "nullable")]
    pub from_endpoints: Vec<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pub from_requires: Vec<Selector>,
    #[serde(default, rename = "fromCIDR", deserialize_with = "nullable")]
    pub from_cidr: Vec<String>,
    #[serde(default, rename = "fromCIDRSet", deserialize_with = "nullable")]
    pub from_cidr_set: Vec<CidrRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub from_entities: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub from_nodes: Vec<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pub from_groups: Vec<IgnoredAny>,
    #[serde(default, deserialize_with = "nullable")]
    pub to_ports: Vec<PortRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub icmps: Vec<IgnoredAny>,
}

/// `api.EgressRule` and `api.EgressDenyRule` (the deny form has no `toFQDNs` and no L7
/// `rules`; the API server prunes them, so the reader ignores them there).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct EgressRule {
    #[serde(default, deserialize_with = "nullable")]
    pub to_endpoints: Vec<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pub to_requires: Vec<Selector>,
    #[serde(default, rename = "toCIDR", deserialize_with = "nullable")]
    pub to_cidr: Vec<String>,
    #[serde(default, rename = "toCIDRSet", deserialize_with = "nullable")]
    pub to_cidr_set: Vec<CidrRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub to_entities: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub to_nodes: Vec<Selector>,
    #[serde(default, deserialize_with = "nullable")]
    pub to_groups: Vec<IgnoredAny>,
    #[serde(default, deserialize_with = "nullable")]
    pub to_services: Vec<ServiceRef>,
    #[serde(default, rename = "toFQDNs", deserialize_with = "nullable")]
    pub to_fqdns: Vec<IgnoredAny>,
    #[serde(default, deserialize_with = "nullable")]
    pub to_ports: Vec<PortRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub icmps: Vec<IgnoredAny>,
}

/// `api.CIDRRule`: a CIDR with exceptions, or a reference to CiliumCIDRGroups.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct CidrRule {
    #[serde(default, deserialize_with = "nullable")]
    pub cidr: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub except: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub cidr_group_ref: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub cidr_group_selector: Option<IgnoredAny>,
}

/// `api.Service`: a Kubernetes Service by name or by label selector.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRef {
    #[serde(default, deserialize_with = "nullable")]
    pub k8s_service: Option<ServiceName>,
    #[serde(default, deserialize_with = "nullable")]
    pub k8s_service_selector: Option<ServiceSelector>,
}

#[derive(Deserialize, Debug, Default)]
pub struct ServiceName {
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct ServiceSelector {
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: Option<String>,
}

/// `api.PortRule` (`api.PortDenyRule` has only `ports`).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PortRule {
    /// `None` when omitted (every port); `Some(vec![])` is treated the same.
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<PortProtocol>,
    #[serde(default, deserialize_with = "nullable")]
    pub rules: Option<L7Rules>,
    #[serde(default, deserialize_with = "nullable")]
    pub listener: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "nullable")]
    pub server_names: Vec<IgnoredAny>,
    #[serde(default, rename = "terminatingTLS", deserialize_with = "nullable")]
    pub terminating_tls: Option<IgnoredAny>,
    #[serde(default, rename = "originatingTLS", deserialize_with = "nullable")]
    pub originating_tls: Option<IgnoredAny>,
}

/// `api.L7Rules`: only which kinds are present.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct L7Rules {
    #[serde(default)]
    pub http: Option<IgnoredAny>,
    #[serde(default)]
    pub kafka: Option<IgnoredAny>,
    #[serde(default)]
    pub dns: Option<IgnoredAny>,
    #[serde(default)]
    pub l7proto: Option<IgnoredAny>,
    #[serde(default)]
    pub l7: Option<IgnoredAny>,
}

/// `api.PortProtocol`.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PortProtocol {
    #[serde(default, deserialize_with = "nullable")]
    pub port: Option<Scalar>,
    #[serde(default, deserialize_with = "nullable")]
    pub end_port: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: Option<String>,
}

/// A string field that may have been written as a number (`port: 80` instead of
/// `port: "80"`); the API server rejects the number, and so does the reader.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Scalar {
    String(String),
    Number(serde_json::Number),
}
