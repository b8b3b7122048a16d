//! The resources kubesurface reads: exactly the kinds the ingest crate models.
//!
//! `deploy/rbac.yaml` grants `get` and `list` on exactly these resources; a test keeps the
//! two in sync. Never add Secrets or ConfigMaps here.

/// One resource the live reader lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// The kind of its objects (`Pod`).
    pub kind: &'static str,
    /// The API group; `""` is the core group.
    pub group: &'static str,
    /// The versions tried in order; the first one the server serves is used.
    pub versions: &'static [&'static str],
    /// The plural resource name in the URL (`pods`).
    pub plural: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether the resource may be absent (404: the CRD or API is not installed) or
    /// forbidden (403) without failing the run. Skipped resources are reported.
    pub optional: bool,
}

impl Resource {
    /// `plural.group` as RBAC and `kubectl api-resources` name it (`pods`, `deployments.apps`).
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The `apiVersion` of objects served at `version`.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// The URL path of the collection, cluster-wide or in one namespace.
    pub fn path(&self, version: &str, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{}/{version}", self.group)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{base}/namespaces/{ns}/{}", self.plural),
            _ => format!("{base}/{}", self.plural),
        }
    }
}

const fn core(kind: &'static str, plural: &'static str, namespaced: bool) -> Resource {
    Resource {
        kind,
        group: "",
        versions: &["v1"],
        plural,
        namespaced,
        optional: false,
    }
}

const fn builtin(
    kind: &'static str,
    group: &'static str,
    plural: &'static str,
    namespaced: bool,
    optional: bool,
) -> Resource {
    Resource {
        kind,
        group,
        versions: &["v1"],
        plural,
        namespaced,
        optional,
    }
}

const fn gateway(
    kind: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    namespaced: bool,
) -> Resource {
    Resource {
        kind,
        group: "gateway.networking.k8s.io",
        versions,
        plural,
        namespaced,
        optional: true,
    }
}

/// Every resource read, in the order their objects appear in the `List`.
///
/// Required: what no analysis can do without (namespaces, pods, services, policies,
/// workloads, endpoint slices, ingresses). Optional: cluster-scoped kinds a
/// namespace-restricted user may not see (Nodes, IngressClasses) and the Gateway API CRDs.
pub const RESOURCES: &[Resource] = &[
    core("Namespace", "namespaces", false),
    Resource {
        optional: true,
        ..core("Node", "nodes", false)
    },
    core("Pod", "pods", true),
    core("Service", "services", true),
    core("ReplicationController", "replicationcontrollers", true),
    builtin("Deployment", "apps", "deployments", true, false),
    builtin("ReplicaSet", "apps", "replicasets", true, false),
    builtin("StatefulSet", "apps", "statefulsets", true, false),
    builtin("DaemonSet", "apps", "daemonsets", true, false),
    builtin("Job", "batch", "jobs", true, false),
    builtin("CronJob", "batch", "cronjobs", true, false),
    builtin(
        "EndpointSlice",
        "discovery.k8s.io",
        "endpointslices",
        true,
        false,
    ),
    builtin(
        "NetworkPolicy",
        "networking.k8s.io",
        "networkpolicies",
        true,
        false,
    ),
    builtin("Ingress", "networking.k8s.io", "ingresses", true, false),
    builtin(
        "IngressClass",
        "networking.k8s.io",
        "ingressclasses",
        false,
        true,
    ),
    gateway("GatewayClass", &["v1", "v1beta1"], "gatewayclasses", false),
    gateway("Gateway", &["v1", "v1beta1"], "gateways", true),
    gateway("HTTPRoute", &["v1", "v1beta1"], "httproutes", true),
    gateway("GRPCRoute", &["v1", "v1alpha2"], "grpcroutes", true),
    gateway(
        "TLSRoute",
        &["v1", "v1alpha3", "v1alpha2"],
        "tlsroutes",
        true,
    ),
    gateway("TCPRoute", &["v1alpha2"], "tcproutes", true),
    gateway("UDPRoute", &["v1alpha2"], "udproutes", true),
    gateway(
        "ReferenceGrant",
        &["v1", "v1beta1"],
        "referencegrants",
        true,
    ),
    // Calico service-account selectors.
    Resource {
        optional: true,
        ..core("ServiceAccount", "serviceaccounts", true)
    },
    // Policy dialects (optional: skipped, and reported, when their CRDs are not installed).
    dialect(
        "AdminNetworkPolicy",
        "policy.networking.k8s.io",
        &["v1alpha1"],
        "adminnetworkpolicies",
        false,
    ),
    dialect(
        "BaselineAdminNetworkPolicy",
        "policy.networking.k8s.io",
        &["v1alpha1"],
        "baselineadminnetworkpolicies",
        false,
    ),
    dialect(
        "ClusterNetworkPolicy",
        "policy.networking.k8s.io",
        &["v1alpha2"],
        "clusternetworkpolicies",
        false,
    ),
    dialect(
        "NetworkPolicy",
        "projectcalico.org",
        &["v3"],
        "networkpolicies",
        true,
    ),
    dialect(
        "GlobalNetworkPolicy",
        "projectcalico.org",
        &["v3"],
        "globalnetworkpolicies",
        false,
    ),
    dialect("Tier", "projectcalico.org", &["v3"], "tiers", false),
    dialect(
        "HostEndpoint",
        "projectcalico.org",
        &["v3"],
        "hostendpoints",
        false,
    ),
    dialect(
        "CiliumNetworkPolicy",
        "cilium.io",
        &["v2"],
        "ciliumnetworkpolicies",
        true,
    ),
    dialect(
        "CiliumClusterwideNetworkPolicy",
        "cilium.io",
        &["v2"],
        "ciliumclusterwidenetworkpolicies",
        false,
    ),
];

/// An optional custom resource of a policy dialect.
const fn dialect(
    kind: &'static str,
    group: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    namespaced: bool,
) -> Resource {
    Resource {
        kind,
        group,
        versions,
        plural,
        namespaced,
        optional: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let pods = RESOURCES.iter().find(|r| r.kind == "Pod").unwrap();
        assert_eq!(pods.path("v1", None), "/api/v1/pods");
        assert_eq!(pods.path("v1", Some("a")), "/api/v1/namespaces/a/pods");
        let np = RESOURCES
            .iter()
            .find(|r| r.kind == "NetworkPolicy")
            .unwrap();
        assert_eq!(
            np.path("v1", Some("a")),
            "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies"
        );
        assert_eq!(np.api_version("v1"), "networking.k8s.io/v1");
        assert_eq!(np.qualified_name(), "networkpolicies.networking.k8s.io");
        let nodes = RESOURCES.iter().find(|r| r.kind == "Node").unwrap();
        assert_eq!(nodes.path("v1", Some("a")), "/api/v1/nodes");
    }

    #[test]
    fn never_secrets_or_configmaps() {
        for r in RESOURCES {
            assert!(!matches!(r.plural, "secrets" | "configmaps"), "{r:?}");
        }
    }
}
