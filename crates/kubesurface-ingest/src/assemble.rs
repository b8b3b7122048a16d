//! Joins typed objects into the cluster: implicit namespaces, ownership chains, workload
//! representatives, deterministic order.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use kubesurface_model::{Cluster, Endpoint, METADATA_NAME_LABEL, Namespace, Source, WorkloadRef};

use crate::objects::{Parsed, PodObject, WORKLOAD_KINDS, WorkloadObject};
use crate::repeats::Repeats;
use crate::types::OwnerReference;
use crate::{IngestError, Loaded};

/// Longest ownerReferences chain followed (real chains are CronJob→Job→Pod, 2 deep).
const MAX_OWNER_DEPTH: usize = 16;

/// The reference that names an object's owner: the controller, else the first.
fn controller(refs: &[OwnerReference]) -> Option<&OwnerReference> {
    refs.iter().find(|r| r.controller).or_else(|| refs.first())
}

/// Workloads by (namespace, kind, name), borrowed (lookups allocate nothing), with their
/// positions in the sorted workload list. Fx-hashed, as every map of names here: the keys
/// come from the input, and each pod is looked up several times on its ownership chain.
type WorkloadIndex<'a> = FxHashMap<(&'a str, &'a str, &'a str), (usize, &'a WorkloadObject)>;

/// The controller reference of a workload in the input.
fn owner_of<'a>(
    index: &WorkloadIndex<'a>,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Option<&'a OwnerReference> {
    index
        .get(&(namespace, kind, name))
        .and_then(|(_, w)| controller(&w.meta.owner_references))
}

/// The top of an ownerReferences chain, following owners present in the input. An owner
/// absent from the input still names the workload (as `kubectl get pods` dumps need).
fn top_owner<'a>(
    index: &WorkloadIndex<'a>,
    namespace: &str,
    refs: &'a [OwnerReference],
) -> Option<(&'a str, &'a str)> {
    let first = controller(refs)?;
    if !WORKLOAD_KINDS.contains(&first.kind.as_str()) {
        return None; // e.g. a static pod's mirror, owned by its Node
    }
    let mut current = (first.kind.as_str(), first.name.as_str());
    for _ in 0..MAX_OWNER_DEPTH {
        let Some(next) = owner_of(index, namespace, current.0, current.1)
            .filter(|r| WORKLOAD_KINDS.contains(&r.kind.as_str()))
        else {
            break;
        };
        current = (next.kind.as_str(), next.name.as_str());
    }
    Some(current)
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
    let mut pods: Vec<Box<PodObject>> = Vec::new();
    let mut workloads: BTreeMap<(String, String, String), WorkloadObject> = BTreeMap::new();
    let mut ns_sources: BTreeMap<String, Source> = BTreeMap::new();
    // Found in parallel before the objects are moved apart.
    let repeats = Repeats::find(&parsed);
    // True when object `index` (part `part`) repeats an earlier object: harmless when it is
    // the same object again, an error when the two differ.
    let repeated = |index: usize, part: usize, errors: &mut Vec<IngestError>| {
        let Some(r) = repeats.get(index, part) else {
            return false;
        };
        if fingerprint_of(r.first) != fingerprint_of(index) {
            errors.push(
                IngestError::new(
                    r.source.clone(),
                    format!(
                        "defined twice (also at {}); which one applies depends on apply order",
                        r.first_source
                    ),
                )
                .with_object(r.object.clone()),
            );
        }
        true
    };

    for (index, p) in parsed.into_iter().enumerate() {
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
                            .get(k)
                            .or(existing.annotations.get(k))
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
                if repeated(index, 0, &mut errors) {
                    continue;
                }
                cluster.nodes.insert(node.name.clone(), node);
            }
            Parsed::Pod(pod) => {
                if repeated(index, 0, &mut errors) {
                    continue;
                }
                pods.push(pod);
            }
            Parsed::Workload(w) => {
                if repeated(index, 0, &mut errors) {
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
                if repeated(index, 0, &mut errors) {
                    continue;
                }
                cluster.services.push(*s);
            }
            Parsed::Policy(p) => {
                if repeated(index, 0, &mut errors) {
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
                if !repeated(index, 0, &mut errors) {
                    cluster.ingresses.push(*i);
                }
            }
            Parsed::IngressClass(c) => {
                if !repeated(index, 0, &mut errors) {
                    cluster.ingress_classes.push(c);
                }
            }
            Parsed::Gateway(g) => {
                if !repeated(index, 0, &mut errors) {
                    cluster.gateways.push(*g);
                }
            }
            Parsed::GatewayClass(c) => {
                if !repeated(index, 0, &mut errors) {
                    cluster.gateway_classes.push(c);
                }
            }
            Parsed::Route(r) => {
                if !repeated(index, 0, &mut errors) {
                    cluster.routes.push(*r);
                }
            }
            Parsed::ReferenceGrant(g) => {
                if !repeated(index, 0, &mut errors) {
                    cluster.reference_grants.push(g);
                }
            }
            Parsed::Tiered(p) => {
                let kind = format!("{} {}", p.dialect.family(), p.dialect.kind());
                if !repeated(index, 0, &mut errors) {
                    note_evidence(&mut cluster.cni_evidence, p.dialect.family(), &kind);
                    cluster.tiered_policies.push(*p);
                }
            }
            Parsed::TieredMany(parts) => {
                for (part, p) in parts.into_iter().enumerate() {
                    let kind = format!("{} {}", p.dialect.family(), p.dialect.kind());
                    if !repeated(index, part, &mut errors) {
                        note_evidence(&mut cluster.cni_evidence, p.dialect.family(), &kind);
                        cluster.tiered_policies.push(p);
                    }
                }
            }
            Parsed::Tier(t) => {
                if !repeated(index, 0, &mut errors) {
                    note_evidence(&mut cluster.cni_evidence, "calico", "Tier");
                    cluster.tiers.push(t);
                }
            }
            Parsed::ServiceAccount(sa) => {
                if !repeated(index, 0, &mut errors) {
                    cluster.service_accounts.push(sa);
                }
            }
            Parsed::HostEndpoint(h) => {
                if !repeated(index, 0, &mut errors) {
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

    // Workloads by (namespace, kind, name), borrowed: the lookups below allocate nothing.
    let index: WorkloadIndex<'_> = workloads
        .iter()
        .enumerate()
        .map(|(i, ((ns, kind, name), w))| ((ns.as_str(), kind.as_str(), name.as_str()), (i, w)))
        .collect();
    // Pods become endpoints in parallel, their fields moved, not copied. Each also names the
    // workloads on its ownership chain: those have pods, so they do not stand for
    // themselves.
    // Room for the workloads that stand for themselves, too: growing the endpoints later
    // would copy them all into fresh memory.
    let mut pod_endpoints: Vec<Endpoint> = Vec::with_capacity(pods.len() + workloads.len());
    let mut owned: Vec<Vec<usize>> = Vec::with_capacity(pods.len());
    pods.into_par_iter()
        .map(|pod| {
            let pod = *pod;
            let mut chain = Vec::new();
            let mut refs = controller(&pod.meta.owner_references);
            for _ in 0..MAX_OWNER_DEPTH {
                let Some(r) = refs else { break };
                let key = (pod.namespace.as_str(), r.kind.as_str(), r.name.as_str());
                if let Some(&(i, _)) = index.get(&key) {
                    chain.push(i);
                }
                refs = owner_of(&index, &pod.namespace, &r.kind, &r.name);
            }
            let meta = pod.meta;
            let (kind, name) = top_owner(&index, &pod.namespace, &meta.owner_references)
                .unwrap_or(("Pod", meta.name.as_str()));
            // Annotations of the owning workload apply to its pods; the pod's own win.
            let owner = index
                .get(&(pod.namespace.as_str(), kind, name))
                .map(|&(_, w)| w);
            let workload = WorkloadRef {
                kind: kind.to_string(),
                name: name.to_string(),
            };
            // A pod made from its workload's template usually carries every one of those
            // annotations already; then the merge is the pod's own, and nothing is copied.
            let annotations = match owner {
                Some(w)
                    if !w
                        .annotations
                        .keys()
                        .all(|k| meta.annotations.contains_key(k)) =>
                {
                    let mut a = w.annotations.clone();
                    a.extend(meta.annotations);
                    a
                }
                _ => meta.annotations,
            };
            let endpoint = Endpoint {
                name: meta.name,
                labels: meta.labels,
                ips: pod.ips,
                node: pod.node_name,
                host_network: pod.host_network,
                ports: pod.ports,
                representative: false,
                source: pod.source,
                annotations,
                scheduling: pod.scheduling,
                workload_source: owner.map(|w| w.source.clone()),
                uid: meta.uid.filter(|u| !u.is_empty()),
                service_account: pod.service_account,
                workload,
                namespace: pod.namespace,
            };
            (endpoint, chain)
        })
        .unzip_into_vecs(&mut pod_endpoints, &mut owned);
    // A workload stands for itself when it is the top of its chain and no pod belongs to
    // it.
    let mut stands_for_itself: Vec<bool> = workloads
        .iter()
        .map(|((namespace, _, _), w)| {
            !controller(&w.meta.owner_references)
                .is_some_and(|r| index.contains_key(&(namespace.as_str(), &r.kind, &r.name)))
        })
        .collect();
    for i in owned.into_iter().flatten() {
        stands_for_itself[i] = false;
    }
    drop(index);
    cluster.endpoints = pod_endpoints;
    let workloads: Vec<_> = workloads.into_iter().zip(stands_for_itself).collect();
    let representatives: Vec<Endpoint> = workloads
        .into_par_iter()
        .filter(|(_, stands)| *stands)
        .map(|(((namespace, kind, name), w), _)| Endpoint {
            namespace,
            name: name.clone(),
            labels: w.labels,
            ips: Vec::new(),
            node: w.node_name,
            host_network: w.host_network,
            ports: w.ports,
            workload: WorkloadRef { kind, name },
            representative: true,
            workload_source: Some(w.source.clone()),
            source: w.source,
            annotations: w.annotations,
            scheduling: w.scheduling,
            uid: None,
            service_account: w.service_account,
        })
        .collect();
    cluster.endpoints.extend(representatives);

    // Namespaces that objects use but the input does not declare exist implicitly.
    let mut implicit: BTreeSet<&str> = BTreeSet::new();
    let mut previous = None;
    for name in (cluster.endpoints.iter().map(|e| e.namespace.as_str()))
        .chain(cluster.policies.iter().map(|p| p.namespace.as_str()))
        .chain(cluster.services.iter().map(|s| s.namespace.as_str()))
    {
        // Objects come grouped by namespace: look each run up once.
        if previous != Some(name) && !cluster.namespaces.contains_key(name) {
            implicit.insert(name);
        }
        previous = Some(name);
    }
    let implicit: Vec<String> = implicit.into_iter().map(str::to_string).collect();
    for name in implicit {
        cluster.namespaces.insert(
            name.clone(),
            Namespace {
                labels: [(METADATA_NAME_LABEL.to_string(), name.clone())].into(),
                name,
                annotations: Default::default(),
                source: None,
            },
        );
    }

    cluster
        .endpoints
        .par_sort_by_cached_key(|e| (sort_name(e), e.source.clone()));
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

/// [`Endpoint::display_name`], built without the formatting machinery (it is the sort key
/// of every endpoint).
fn sort_name(e: &Endpoint) -> String {
    let name = if e.representative {
        &e.workload.name
    } else {
        &e.name
    };
    let mut s = String::with_capacity(e.namespace.len() + name.len() + e.workload.kind.len() + 3);
    s.push_str(&e.namespace);
    s.push('/');
    s.push_str(name);
    if e.representative {
        s.push('[');
        s.push_str(&e.workload.kind);
        s.push(']');
    }
    s
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
