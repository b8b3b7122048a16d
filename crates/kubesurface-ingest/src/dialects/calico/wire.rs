//! The narrow wire types of `projectcalico.org/v3` (and `crd.projectcalico.org/v1`, which
//! stores the same spec): only the fields kubesurface reads. `null` is read as an omitted
//! field, as the API server reads it.

use serde::{Deserialize, Deserializer};

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `metadata` of a Calico object.
#[derive(Deserialize, Debug, Default)]
pub struct Meta {
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub labels: kubesurface_model::Labels,
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: kubesurface_model::Labels,
}

/// NetworkPolicy and GlobalNetworkPolicy (the GNP-only fields are absent on a NetworkPolicy).
#[derive(Deserialize, Debug, Default)]
pub struct Policy {
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PolicySpec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    #[serde(default, deserialize_with = "nullable")]
    pub tier: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub order: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    pub selector: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub namespace_selector: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub service_account_selector: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub ingress: Vec<Rule>,
    #[serde(default, deserialize_with = "nullable")]
    pub egress: Vec<Rule>,
    #[serde(default, deserialize_with = "nullable")]
    pub do_not_track: bool,
    #[serde(default, rename = "preDNAT", deserialize_with = "nullable")]
    pub pre_dnat: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub apply_on_forward: bool,
}

/// A number or a string (`protocol: 6` / `protocol: TCP`, `ports: [80, "80:90", http]`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum NumOrString {
    Num(i64),
    Str(String),
}

impl std::fmt::Display for NumOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NumOrString::Num(n) => write!(f, "{n}"),
            NumOrString::Str(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, deserialize_with = "nullable")]
    pub action: String,
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: Option<NumOrString>,
    #[serde(default, deserialize_with = "nullable")]
    pub not_protocol: Option<NumOrString>,
    #[serde(default, deserialize_with = "nullable")]
    pub ip_version: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub icmp: Option<serde_json::Value>,
    #[serde(default, rename = "notICMP", deserialize_with = "nullable")]
    pub not_icmp: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub source: EntityRule,
    #[serde(default, deserialize_with = "nullable")]
    pub destination: EntityRule,
    #[serde(default, deserialize_with = "nullable")]
    pub http: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct EntityRule {
    #[serde(default, deserialize_with = "nullable")]
    pub nets: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub not_nets: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub selector: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub not_selector: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub namespace_selector: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<NumOrString>,
    #[serde(default, deserialize_with = "nullable")]
    pub not_ports: Vec<NumOrString>,
    #[serde(default, deserialize_with = "nullable")]
    pub service_accounts: Option<ServiceAccountMatch>,
    #[serde(default, deserialize_with = "nullable")]
    pub services: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug, Default)]
pub struct ServiceAccountMatch {
    #[serde(default, deserialize_with = "nullable")]
    pub names: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub selector: Option<String>,
}

/// A Tier.
#[derive(Deserialize, Debug, Default)]
pub struct Tier {
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: TierSpec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct TierSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub order: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_action: Option<String>,
}

/// A HostEndpoint.
#[derive(Deserialize, Debug, Default)]
pub struct HostEndpoint {
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: HostEndpointSpec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct HostEndpointSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub node: String,
    #[serde(default, deserialize_with = "nullable")]
    pub interface_name: Option<String>,
    #[serde(default, rename = "expectedIPs", deserialize_with = "nullable")]
    pub expected_ips: Vec<String>,
}
