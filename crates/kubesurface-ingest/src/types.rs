//! The narrow wire types: only the fields kubesurface reads, so typed parsing skips the
//! rest of each object. `null` is accepted wherever the API accepts an omitted field.

use serde::{Deserialize, Deserializer};

/// Deserializes `null` as the type's default (the API treats `null` like an omitted field).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `apiVersion`, `kind` and the identifying part of `metadata`: read first, to dispatch
/// and to name the object in errors.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    #[serde(default, deserialize_with = "nullable")]
    pub api_version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: HeaderMeta,
}

#[derive(Deserialize, Debug, Default)]
pub struct HeaderMeta {
    #[serde(default)]
    pub name: Option<serde_json::Value>,
    #[serde(default)]
    pub namespace: Option<serde_json::Value>,
}

/// `apiVersion` or `kind` in a typed object: skipped, but declared so that a repeated key is
/// an error, as it is for the header the object would otherwise be checked with.
#[derive(Debug, Default)]
pub struct TypeField;

impl<'de> Deserialize<'de> for TypeField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(TypeField)
    }
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: String,
    /// Read so that a non-string namespace fails the one-pass read as the header check
    /// would (a repeated key, too).
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub uid: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub labels: kubesurface_model::Labels,
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: kubesurface_model::Labels,
    #[serde(default, deserialize_with = "nullable")]
    pub owner_references: Vec<OwnerReference>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    pub kind: String,
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub controller: bool,
}

/// Metadata of a pod template (name and namespace come from the owner).
#[derive(Deserialize, Debug, Default)]
pub struct TemplateMeta {
    #[serde(default, deserialize_with = "nullable")]
    pub labels: kubesurface_model::Labels,
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: kubesurface_model::Labels,
}

#[derive(Deserialize, Debug, Default)]
pub struct Namespace {
    pub metadata: ObjectMeta,
    #[serde(default, rename = "apiVersion")]
    pub _api_version: TypeField,
    #[serde(default, rename = "kind")]
    pub _kind: TypeField,
}

#[derive(Deserialize, Debug, Default)]
pub struct Node {
    pub metadata: ObjectMeta,
    #[serde(default, rename = "apiVersion")]
    pub _api_version: TypeField,
    #[serde(default, rename = "kind")]
    pub _kind: TypeField,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: NodeSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: NodeStatus,
}

#[derive(Deserialize, Debug, Default)]
pub struct NodeSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub taints: Vec<Taint>,
}

#[derive(Deserialize, Debug, Default)]
pub struct Taint {
    pub key: String,
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
    pub effect: String,
}

#[derive(Deserialize, Debug, Default)]
pub struct NodeStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<NodeAddress>,
}

#[derive(Deserialize, Debug, Default)]
pub struct NodeAddress {
    #[serde(rename = "type")]
    pub kind: String,
    pub address: String,
}

#[derive(Deserialize, Debug, Default)]
pub struct Pod {
    pub metadata: ObjectMeta,
    #[serde(default, rename = "apiVersion")]
    pub _api_version: TypeField,
    #[serde(default, rename = "kind")]
    pub _kind: TypeField,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PodSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: PodStatus,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    #[serde(default, deserialize_with = "nullable")]
    pub init_containers: Vec<Container>,
    #[serde(default, deserialize_with = "nullable")]
    pub host_network: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub node_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub node_selector: kubesurface_model::Labels,
    #[serde(default, deserialize_with = "nullable")]
    pub affinity: Affinity,
    #[serde(default, deserialize_with = "nullable")]
    pub tolerations: Vec<Toleration>,
    #[serde(default, deserialize_with = "nullable")]
    pub service_account_name: Option<String>,
    /// Deprecated alias of `serviceAccountName`.
    #[serde(default, deserialize_with = "nullable")]
    pub service_account: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    #[serde(default, deserialize_with = "nullable")]
    pub node_affinity: NodeAffinity,
}

#[derive(Deserialize, Debug, Default)]
pub struct NodeAffinity {
    #[serde(
        default,
        rename = "requiredDuringSchedulingIgnoredDuringExecution",
        deserialize_with = "nullable"
    )]
    pub required: NodeSelector,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    #[serde(default, deserialize_with = "nullable")]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    #[serde(default, deserialize_with = "nullable")]
    pub match_expressions: Vec<NodeSelectorRequirement>,
    #[serde(default, deserialize_with = "nullable")]
    pub match_fields: Vec<NodeSelectorRequirement>,
}

#[derive(Deserialize, Debug, Default)]
pub struct NodeSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default, deserialize_with = "nullable")]
    pub values: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct Toleration {
    #[serde(default, deserialize_with = "nullable")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub operator: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub effect: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct Container {
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<ContainerPort>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<String>,
    pub container_port: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub host_port: Option<i64>,
    #[serde(default, rename = "hostIP", deserialize_with = "nullable")]
    pub host_ip: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default, rename = "podIP", deserialize_with = "nullable")]
    pub pod_ip: Option<String>,
    #[serde(default, rename = "podIPs", deserialize_with = "nullable")]
    pub pod_ips: Vec<PodIp>,
}

#[derive(Deserialize, Debug, Default)]
pub struct PodIp {
    pub ip: String,
}

/// Any controller with a pod template: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
/// ReplicationController; CronJob keeps its template one level deeper.
#[derive(Deserialize, Debug, Default)]
pub struct Workload {
    pub metadata: ObjectMeta,
    #[serde(default, rename = "apiVersion")]
    pub _api_version: TypeField,
    #[serde(default, rename = "kind")]
    pub _kind: TypeField,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: WorkloadSpec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub template: Option<PodTemplate>,
    #[serde(default, deserialize_with = "nullable")]
    pub job_template: Option<Box<JobTemplate>>,
}

#[derive(Deserialize, Debug, Default)]
pub struct JobTemplate {
    #[serde(default, deserialize_with = "nullable")]
    pub spec: WorkloadSpec,
}

#[derive(Deserialize, Debug, Default)]
pub struct PodTemplate {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: TemplateMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PodSpec,
}

#[derive(Deserialize, Debug, Default)]
pub struct Service {
    pub metadata: ObjectMeta,
    #[serde(default, rename = "apiVersion")]
    pub _api_version: TypeField,
    #[serde(default, rename = "kind")]
    pub _kind: TypeField,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: ServiceSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: ServiceStatus,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(default, rename = "type", deserialize_with = "nullable")]
    pub service_type: Option<String>,
    #[serde(default)]
    pub selector: Option<kubesurface_model::Labels>,
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<ServicePort>,
    #[serde(default, rename = "clusterIP", deserialize_with = "nullable")]
    pub cluster_ip: Option<String>,
    #[serde(default, rename = "externalIPs", deserialize_with = "nullable")]
    pub external_ips: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_traffic_policy: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub load_balancer_source_ranges: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub allocate_load_balancer_node_ports: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: Option<String>,
    pub port: i64,
    #[serde(default)]
    pub target_port: Option<IntOrString>,
    #[serde(default, deserialize_with = "nullable")]
    pub node_port: Option<i64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub load_balancer: LoadBalancerStatus,
}

#[derive(Deserialize, Debug, Default)]
pub struct LoadBalancerStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub ingress: Vec<LoadBalancerIngress>,
}

#[derive(Deserialize, Debug, Default)]
pub struct LoadBalancerIngress {
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
}

/// `intstr.IntOrString`.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

#[derive(Deserialize, Debug, Default)]
pub struct NetworkPolicy {
    pub metadata: ObjectMeta,
    #[serde(default, rename = "apiVersion")]
    pub _api_version: TypeField,
    #[serde(default, rename = "kind")]
    pub _kind: TypeField,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: NetworkPolicySpec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    #[serde(default, deserialize_with = "nullable")]
    pub pod_selector: LabelSelector,
    #[serde(default)]
    pub policy_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub ingress: Vec<PolicyRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub egress: Vec<PolicyRule>,
}

#[derive(Deserialize, Debug, Default)]
pub struct PolicyRule {
    #[serde(default, deserialize_with = "nullable")]
    pub from: Vec<PolicyPeer>,
    #[serde(default, deserialize_with = "nullable")]
    pub to: Vec<PolicyPeer>,
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<PolicyPort>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPeer {
    #[serde(default)]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default)]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, deserialize_with = "nullable")]
    pub ip_block: Option<IpBlock>,
}

#[derive(Deserialize, Debug, Default)]
pub struct IpBlock {
    pub cidr: String,
    #[serde(default, deserialize_with = "nullable")]
    pub except: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPort {
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub port: Option<IntOrString>,
    #[serde(default, deserialize_with = "nullable")]
    pub end_port: Option<i64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, deserialize_with = "nullable")]
    pub match_labels: kubesurface_model::Labels,
    #[serde(default, deserialize_with = "nullable")]
    pub match_expressions: Vec<SelectorRequirement>,
}

#[derive(Deserialize, Debug, Default)]
pub struct SelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default, deserialize_with = "nullable")]
    pub values: Vec<String>,
}

/// v1 Endpoints.
#[derive(Deserialize, Debug, Default)]
pub struct Endpoints {
    pub metadata: ObjectMeta,
    #[serde(default, rename = "apiVersion")]
    pub _api_version: TypeField,
    #[serde(default, rename = "kind")]
    pub _kind: TypeField,
    #[serde(default, deserialize_with = "nullable")]
    pub subsets: Vec<EndpointSubset>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<EndpointAddress>,
    #[serde(default, deserialize_with = "nullable")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<EndpointPort>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    pub ip: String,
    #[serde(default, deserialize_with = "nullable")]
    pub target_ref: Option<TargetRef>,
}

#[derive(Deserialize, Debug, Default)]
pub struct TargetRef {
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

#[derive(Deserialize, Debug, Default)]
pub struct EndpointPort {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub port: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: Option<String>,
}

/// discovery.k8s.io/v1 EndpointSlice.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlice {
    pub metadata: ObjectMeta,
    #[serde(default, rename = "apiVersion")]
    pub _api_version: TypeField,
    #[serde(default, rename = "kind")]
    pub _kind: TypeField,
    #[serde(default, deserialize_with = "nullable")]
    pub address_type: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub endpoints: Vec<SliceEndpoint>,
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<EndpointPort>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct SliceEndpoint {
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub target_ref: Option<TargetRef>,
}
