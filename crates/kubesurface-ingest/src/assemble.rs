//! Joins typed objects into the cluster: implicit namespaces, ownership chains, workload
//! representatives, deterministic order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kubesurface_model::{Cluster, Endpoint, METADATA_NAME_LABEL, Namespace, Source, WorkloadRef};

use crate::objects::{Parsed, PodObject, WORKLOAD_KINDS, WorkloadObject};
use crate::types::OwnerReference;
use crate::{IngestError, Loaded};

/// Longest ownerReferences chain followed (real chains are CronJob→Job→Pod, 2 deep).
const MAX_OWNER_DEPTH: usize = 16;

/// The reference that names an object's owner: the controller, else the first.
fn controller(refs: &[OwnerReference]) -> Option<&OwnerReference> {
    refs.iter().find(|r| r.controller).or_else(|| refs.first())
}

/// Builds the cluster from typed objects (in input order).
///
/// Two objects with the same kind, namespace and name are an error (which one would be in
/// force depends on how they are applied), except Namespaces: manifests often declare
/// their namespace in several files, so those merge (labels and annotations; later keys win).
pub fn assemble(
    parsed: Vec<Parsed>,
    fingerprint_of: impl Fn(usize) -> u64,
) -> Result<Loaded, IngestError> {
    let mut cluster = Cluster::default();
    let mut warnings = Vec::new();
    let mut errors: Vec<IngestError> = Vec::new();
    let mut pods: Vec<PodObject> = Vec::new();
    let mut workloads: BTreeMap<(String, String, String), WorkloadObject> = BTreeMap::new();
    let mut ns_sources: BTreeMap<String, Source> = BTreeMap::new();
    let mut seen: HashMap<(String, String, String), (Source, usize)> = HashMap::new();
    let current = std::cell::Cell::new(0usize);
    let mut duplicate =
        |kind: &str, ns: &str, name: &str, source: &Source, errors: &mut Vec<IngestError>| {
            let key = (kind.to_string(), ns.to_string(), name.to_string());
            if let Some((first, print)) = seen.get(&key) {
                if fingerprint_of(*print) == fingerprint_of(current.get()) {
                    return true; // the same object again: harmless
                }
                let object = if ns.is_empty() {
                    format!("{kind} {name}")
                } else {
                    format!("{kind} {ns}/{name}")
                };
                errors.push(
                IngestError::new(
                    source.clone(),
                    format!(
                        "defined twice (also at {first}); which one applies depends on apply order"
                    ),
                )
                .with_object(object),
            );
                true
            } else {
                seen.insert(key, (source.clone(), current.get()));
                false
            }
        };

    for (index, p) in parsed.into_iter().enumerate() {
        current.set(index);
        let p = match p {
            Parsed::Warned {
                parsed,
                warnings: notes,
            } => {
                warnings.extend(notes);
                *parsed
            }
            p => p,
        };
        match p {
            Parsed::Namespace {
                name,
                labels,
                annotations,
                source,
            } => {
                if let Some(existing) = cluster.namespaces.get_mut(&name) {
                    let conflict = labels.iter().chain(&annotations).find(|(k, v)| {
                        existing
                            .labels
                            .get(*k)
                            .or(existing.annotations.get(*k))
                            .is_some_and(|old| old != *v)
                    });
                    if let Some((k, _)) = conflict {
                        let first = existing.source.clone().unwrap_or_else(Source::implicit);
                        errors.push(
                            IngestError::new(source, format!("declared again (also at {first}) with a different value for {k:?}"))
                                .with_object(format!("Namespace {name}")),
                        );
                        continue;
                    }
                    existing.labels.extend(labels);
                    existing.annotations.extend(annotations);
                    continue;
                }
                let mut labels = labels;
                labels.insert(METADATA_NAME_LABEL.to_string(), name.clone());
                ns_sources.insert(name.clone(), source.clone());
                cluster.namespaces.insert(
                    name.clone(),
                    Namespace {
                        name,
                        labels,
                        annotations,
                        source: Some(source),
                    },
                );
            }
            Parsed::Node(node) => {
                if duplicate("Node", "", &node.name, &node.source, &mut errors) {
                    continue;
                }
                cluster.nodes.insert(node.name.clone(), node);
            }
            Parsed::Pod(pod) => {
                if duplicate(
                    "Pod",
                    &pod.namespace,
                    &pod.pod.metadata.name,
                    &pod.source,
                    &mut errors,
                ) {
                    continue;
                }
                pods.push(*pod);
            }
            Parsed::Workload(w) => {
                if duplicate(&w.kind, &w.namespace, &w.meta.name, &w.source, &mut errors) {
                    continue;
                }
                if w.kind == "DaemonSet" {
                    match w.meta.name.as_str() {
                        "calico-node" => note_evidence(
                            &mut cluster.cni_evidence,
                            "calico",
                            "DaemonSet calico-node",
                        ),
                        "cilium" => {
                            note_evidence(&mut cluster.cni_evidence, "cilium", "DaemonSet cilium")
                        }
                        _ => {}
                    }
                }
                workloads.insert(
                    (w.namespace.clone(), w.kind.clone(), w.meta.name.clone()),
                    *w,
                );
            }
            Parsed::Service(s) => {
                if duplicate("Service", &s.namespace, &s.name, &s.source, &mut errors) {
                    continue;
                }
                cluster.services.push(*s);
            }
            Parsed::Policy(p) => {
                if duplicate(
                    "NetworkPolicy",
                    &p.namespace,
                    &p.name,
                    &p.source,
                    &mut errors,
                ) {
                    continue;
                }
                cluster.policies.push(*p);
            }
            Parsed::Endpoints {
                namespace,
                service,
                backends,
            } => {
                let list = cluster
                    .service_endpoints
                    .entry((namespace, service))
                    .or_default();
                for b in backends {
                    if !list.contains(&b) {
                        list.push(b);
                    }
                }
            }
            Parsed::Ingress(i) => {
                if !duplicate("Ingress", &i.namespace, &i.name, &i.source, &mut errors) {
                    cluster.ingresses.push(*i);
                }
            }
            Parsed::IngressClass(c) => {
                if !duplicate("IngressClass", "", &c.name, &c.source, &mut errors) {
                    cluster.ingress_classes.push(c);
                }
            }
            Parsed::Gateway(g) => {
                if !duplicate("Gateway", &g.namespace, &g.name, &g.source, &mut errors) {
                    cluster.gateways.push(*g);
                }
            }
            Parsed::GatewayClass(c) => {
                if !duplicate("GatewayClass", "", &c.name, &c.source, &mut errors) {
                    cluster.gateway_classes.push(c);
                }
            }
            Parsed::Route(r) => {
                if !duplicate(&r.kind, &r.namespace, &r.name, &r.source, &mut errors) {
                    cluster.routes.push(*r);
                }
            }
            Parsed::ReferenceGrant(g) => {
                if !duplicate(
                    "ReferenceGrant",
                    &g.namespace,
                    &g.name,
                    &g.source,
                    &mut errors,
                ) {
                    cluster.reference_grants.push(g);
                }
            }
            Parsed::Tiered(p) => {
                let kind = format!("{} {}", p.dialect.family(), p.dialect.kind());
                let ns = p.namespace.clone().unwrap_or_default();
                if !duplicate(&kind, &ns, &p.name, &p.source, &mut errors) {
                    note_evidence(&mut cluster.cni_evidence, p.dialect.family(), &kind);
                    cluster.tiered_policies.push(*p);
                }
            }
            Parsed::TieredMany(parts) => {
                for p in parts {
                    let kind = format!("{} {}", p.dialect.family(), p.dialect.kind());
                    let ns = p.namespace.clone().unwrap_or_default();
                    if !duplicate(&kind, &ns, &p.name, &p.source, &mut errors) {
                        note_evidence(&mut cluster.cni_evidence, p.dialect.family(), &kind);
                        cluster.tiered_policies.push(p);
                    }
                }
            }
            Parsed::Tier(t) => {
                let source = t.source.clone().unwrap_or_else(Source::implicit);
                if !duplicate("Tier", "", &t.name, &source, &mut errors) {
                    note_evidence(&mut cluster.cni_evidence, "calico", "Tier");
                    cluster.tiers.push(t);
                }
            }
            Parsed::ServiceAccount(sa) => {
                let source = Source::implicit();
                if !duplicate(
                    "ServiceAccount",
                    &sa.namespace,
                    &sa.name,
                    &source,
                    &mut errors,
                ) {
                    cluster.service_accounts.push(sa);
                }
            }
            Parsed::HostEndpoint(h) => {
                if !duplicate("HostEndpoint", "", &h.name, &h.source, &mut errors) {
                    note_evidence(&mut cluster.cni_evidence, "calico", "HostEndpoint");
                    cluster.host_endpoints.push(*h);
                }
            }
            Parsed::Crd { kind, name } => {
                if name.ends_with(".projectcalico.org") {
                    note_evidence(&mut cluster.cni_evidence, "calico", &format!("CRD {name}"));
                } else if name.ends_with(".cilium.io") {
                    note_evidence(&mut cluster.cni_evidence, "cilium", &format!("CRD {name}"));
                }
                *cluster.unknown_kinds.entry(kind).or_default() += 1;
            }
            Parsed::Warned { .. } => {} // unwrapped above; never nested
            Parsed::Unknown(kind) => {
                if kind.contains("projectcalico.org/") {
                    note_evidence(&mut cluster.cni_evidence, "calico", &kind);
                } else if kind.starts_with("cilium.io/") {
                    note_evidence(&mut cluster.cni_evidence, "cilium", &kind);
                }
                *cluster.unknown_kinds.entry(kind).or_default() += 1
            }
        }
    }

    // The top of an ownerReferences chain, following owners present in the input. An owner
    // absent from the input still names the workload (as `kubectl get pods` dumps need).
    let top_owner = |namespace: &str, refs: &[OwnerReference]| -> Option<WorkloadRef> {
        let first = controller(refs)?;
        if !WORKLOAD_KINDS.contains(&first.kind.as_str()) {
            return None; // e.g. a static pod's mirror, owned by its Node
        }
        let mut current = WorkloadRef {
            kind: first.kind.clone(),
            name: first.name.clone(),
        };
        for _ in 0..MAX_OWNER_DEPTH {
            let key = (
                namespace.to_string(),
                current.kind.clone(),
                current.name.clone(),
            );
            let Some(next) = workloads
                .get(&key)
                .and_then(|w| controller(&w.meta.owner_references))
                .filter(|r| WORKLOAD_KINDS.contains(&r.kind.as_str()))
            else {
                break;
            };
            current = WorkloadRef {
                kind: next.kind.clone(),
                name: next.name.clone(),
            };
        }
        Some(current)
    };

    let mut populated: BTreeSet<(String, WorkloadRef)> = BTreeSet::new();
    for pod in pods {
        let meta = &pod.pod.metadata;
        let workload =
            top_owner(&pod.namespace, &meta.owner_references).unwrap_or_else(|| WorkloadRef {
                kind: "Pod".to_string(),
                name: meta.name.clone(),
            });
        // Every workload on the chain has pods now, so none of them needs a representative.
        let mut refs = controller(&meta.owner_references).cloned();
        for _ in 0..MAX_OWNER_DEPTH {
            let Some(r) = refs else { break };
            populated.insert((
                pod.namespace.clone(),
                WorkloadRef {
                    kind: r.kind.clone(),
                    name: r.name.clone(),
                },
            ));
            refs = workloads
                .get(&(pod.namespace.clone(), r.kind.clone(), r.name.clone()))
                .and_then(|w| controller(&w.meta.owner_references).cloned());
        }
        // Annotations of the owning workload apply to its pods; the pod's own win.
        let owner = workloads.get(&(
            pod.namespace.clone(),
            workload.kind.clone(),
            workload.name.clone(),
        ));
        let mut annotations = owner.map(|w| w.annotations.clone()).unwrap_or_default();
        annotations.extend(meta.annotations.clone());
        cluster.endpoints.push(Endpoint {
            name: meta.name.clone(),
            labels: meta.labels.clone(),
            ips: pod.ips,
            node: pod.pod.spec.node_name.clone(),
            host_network: pod.pod.spec.host_network,
            ports: pod.ports,
            representative: false,
            source: pod.source,
            annotations,
            scheduling: crate::convert::scheduling(&pod.pod.spec),
            workload_source: owner.map(|w| w.source.clone()),
            uid: meta.uid.clone().filter(|u| !u.is_empty()),
            service_account: crate::convert::service_account(&pod.pod.spec),
            workload,
            namespace: pod.namespace,
        });
    }

    // A workload stands for itself when it is the top of its chain and no pod belongs to it.
    for ((namespace, kind, name), w) in &workloads {
        let me = WorkloadRef {
            kind: kind.clone(),
            name: name.clone(),
        };
        if populated.contains(&(namespace.clone(), me.clone())) {
            continue;
        }
        let owned_by_input = controller(&w.meta.owner_references).is_some_and(|r| {
            workloads.contains_key(&(namespace.clone(), r.kind.clone(), r.name.clone()))
        });
        if owned_by_input {
            continue;
        }
        cluster.endpoints.push(Endpoint {
            namespace: namespace.clone(),
            name: name.clone(),
            labels: w.labels.clone(),
            ips: Vec::new(),
            node: w.node_name.clone(),
            host_network: w.host_network,
            ports: w.ports.clone(),
            workload: me,
            representative: true,
            source: w.source.clone(),
            annotations: w.annotations.clone(),
            scheduling: w.scheduling.clone(),
            workload_source: Some(w.source.clone()),
            uid: None,
            service_account: w.service_account.clone(),
        });
    }

    // Namespaces that objects use but the input does not declare exist implicitly.
    let used: Vec<String> = cluster
        .endpoints
        .iter()
        .map(|e| e.namespace.clone())
        .chain(cluster.policies.iter().map(|p| p.namespace.clone()))
        .chain(cluster.services.iter().map(|s| s.namespace.clone()))
        .collect();
    for name in used {
        cluster
            .namespaces
            .entry(name.clone())
            .or_insert_with(|| Namespace {
                labels: [(METADATA_NAME_LABEL.to_string(), name.clone())].into(),
                name,
                annotations: Default::default(),
                source: None,
            });
    }

    cluster
        .endpoints
        .sort_by_cached_key(|e| (e.display_name(), e.source.clone()));
    cluster
        .policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .services
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster.tiered_policies.sort_by(|a, b| {
        (a.dialect, &a.namespace, &a.name).cmp(&(b.dialect, &b.namespace, &b.name))
    });
    cluster.tiers.sort_by(|a, b| a.name.cmp(&b.name));
    cluster
        .service_accounts
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster.host_endpoints.sort_by(|a, b| a.name.cmp(&b.name));
    cluster.cni_evidence.calico.sort();
    cluster.cni_evidence.cilium.sort();
    // Equal admin-policy priorities over shared pods leave verdicts to the implementation.
    if let Err(e) = crate::dialects::admin::check_priorities(&cluster) {
        errors.push(e);
    }
    if let Some(first) = errors.into_iter().next() {
        return Err(first);
    }
    Ok(Loaded { cluster, warnings })
}

/// Records one piece of CNI evidence (each distinct description once).
fn note_evidence(evidence: &mut kubesurface_model::CniEvidence, family: &str, what: &str) {
    let list = match family {
        "calico" => &mut evidence.calico,
        "cilium" => &mut evidence.cilium,
        _ => return,
    };
    if !list.iter().any(|w| w == what) {
        list.push(what.to_string());
    }
}
