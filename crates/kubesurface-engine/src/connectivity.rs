//! The connectivity matrix at pod, workload or namespace granularity, streamed in order.
//!
//! Verdicts are computed once per pair of peer signatures ([`crate::matrix`]) and
//! interned, then every output pair is the union of its members' verdicts, plus the
//! node-origin rule. Output rows are produced a chunk of sources at a time, so the pod-level
//! matrix of a large cluster is never held in memory.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use crate::engine::{Engine, PeerId};
use crate::matrix::{EMPTY, FULL, Matrix, VerdictId};
use crate::portset::PortSet;

/// Which objects the matrix is between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// `namespace/pod` (workload representatives as `namespace/name[Kind]`).
    Pod,
    /// `namespace/name[Kind]`.
    Workload,
    /// `namespace`.
    Namespace,
}

impl Granularity {
    /// The name used in the JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Pod => "pod",
            Granularity::Workload => "workload",
            Granularity::Namespace => "namespace",
        }
    }
}

/// One row or column of the output: a pod, workload, namespace or external range.
struct Group {
    name: String,
    peers: Vec<PeerId>,
}

/// Figures about one run, for `--stats` and the benchmark.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Endpoint classes.
    pub classes: usize,
    /// External peers.
    pub external_peers: usize,
    /// Distinct verdicts in the peer matrix.
    pub distinct_verdicts: usize,
    /// Output pairs with something allowed.
    pub allowed_pairs: usize,
    /// Distinct rows (sources no policy can tell apart share one).
    pub source_signatures: usize,
    /// Distinct columns.
    pub destination_signatures: usize,
}

/// A scanned source group: its source signatures and its (destination group, verdict)s.
type ScannedRow = (Vec<u32>, Vec<(u32, VerdictId)>);

/// Marks a pair whose verdict is a union still to compute.
const UNION: VerdictId = VerdictId::MAX;

/// Source groups evaluated together before their rows are emitted.
const CHUNK: usize = 512;

/// Streams every pair with something allowed, sorted by source then destination name,
/// never with source equal to destination.
pub fn for_each_connection(
    engine: &Engine<'_>,
    granularity: Granularity,
    mut emit: impl FnMut(&str, &str, &PortSet),
) -> Stats {
    for_each_connection_with_ids(engine, granularity, |src, dst, _, allowed| {
        emit(src, dst, allowed)
    })
}

/// As [`for_each_connection`], also passing a verdict id: equal ids are equal port sets,
/// so renderers can cache what they make of one.
pub fn for_each_connection_with_ids(
    engine: &Engine<'_>,
    granularity: Granularity,
    mut emit: impl FnMut(&str, &str, VerdictId, &PortSet),
) -> Stats {
    let mut matrix = Matrix::new(engine);
    let cluster = engine.cluster;
    let class_count = engine.classes.classes.len();

    let mut by_name: BTreeMap<String, (Vec<usize>, Vec<PeerId>)> = BTreeMap::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        let name = match granularity {
            Granularity::Pod => e.display_name(),
            Granularity::Workload => e.workload_name(),
            Granularity::Namespace => e.namespace.clone(),
        };
        let entry = by_name.entry(name).or_default();
        entry.0.push(i);
        entry.1.push(engine.classes.class_of[i]);
    }
    for j in 0..engine.external.len() {
        let peer = (class_count + j) as PeerId;
        by_name
            .entry(engine.external_name(peer))
            .or_default()
            .1
            .push(peer);
    }
    let mut group_of_endpoint = vec![0u32; cluster.endpoints.len()];
    let groups: Vec<Group> = by_name
        .into_iter()
        .enumerate()
        .map(|(g, (name, (members, mut peers)))| {
            for m in members {
                group_of_endpoint[m] = g as u32;
            }
            peers.sort_unstable();
            peers.dedup();
            Group { name, peers }
        })
        .collect();
    // Destination signatures per group (one for almost every group).
    let dst_sigs: Vec<Vec<u32>> = groups
        .iter()
        .map(|g| {
            let mut s: Vec<u32> = g.peers.iter().map(|&p| matrix.dst_sig(p)).collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();

    // Node-origin rule: a hostNetwork endpoint reaches everything on its own node.
    let mut on_node: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        if let Some(node) = &e.node {
            on_node.entry(node.as_str()).or_default().push(i);
        }
    }
    let mut node_origin: Vec<Vec<u32>> = vec![Vec::new(); groups.len()];
    for (i, e) in cluster.endpoints.iter().enumerate() {
        if !e.host_network {
            continue;
        }
        let Some(node) = &e.node else { continue };
        for &j in &on_node[node.as_str()] {
            if i != j {
                node_origin[group_of_endpoint[i] as usize].push(group_of_endpoint[j]);
            }
        }
    }
    for list in &mut node_origin {
        list.sort_unstable();
        list.dedup();
    }

    let mut portsets: Vec<Option<PortSet>> = Vec::new();
    let mut allowed_pairs = 0;
    let mut rows: HashMap<u32, Vec<VerdictId>> = HashMap::new();
    for chunk in (0..groups.len()).collect::<Vec<_>>().chunks(CHUNK) {
        let mut needed: Vec<u32> = chunk
            .iter()
            .flat_map(|&g| groups[g].peers.iter().map(|&p| matrix.src_sig(p)))
            .collect();
        needed.sort_unstable();
        needed.dedup();
        needed.retain(|s| !rows.contains_key(s));
        if rows.len() > 4 * CHUNK {
            rows.clear();
            needed = chunk
                .iter()
                .flat_map(|&g| groups[g].peers.iter().map(|&p| matrix.src_sig(p)))
                .collect();
            needed.sort_unstable();
            needed.dedup();
        }
        let computed = matrix.rows(&needed);
        rows.extend(needed.into_iter().zip(computed));
        // Scan the chunk's rows in parallel; unions across several signatures (groups
        // with differently-labelled members) are finished sequentially, as they intern.
        let scanned: Vec<ScannedRow> = chunk
            .par_iter()
            .map(|&gs| {
                let mut src_sigs: Vec<u32> = groups[gs]
                    .peers
                    .iter()
                    .map(|&p| matrix.src_sig(p))
                    .collect();
                src_sigs.sort_unstable();
                src_sigs.dedup();
                let origin = &node_origin[gs];
                let mut next_origin = 0;
                let single_row = (src_sigs.len() == 1).then(|| &rows[&src_sigs[0]]);
                let mut found = Vec::new();
                for (gd, ds) in dst_sigs.iter().enumerate() {
                    while next_origin < origin.len() && (origin[next_origin] as usize) < gd {
                        next_origin += 1;
                    }
                    if gd == gs {
                        continue;
                    }
                    let id = if origin.get(next_origin) == Some(&(gd as u32)) {
                        FULL
                    } else if let (Some(row), [d]) = (single_row, ds.as_slice()) {
                        row[*d as usize]
                    } else {
                        UNION
                    };
                    if id != EMPTY {
                        found.push((gd as u32, id));
                    }
                }
                (src_sigs, found)
            })
            .collect();
        for (&gs, (src_sigs, found)) in chunk.iter().zip(scanned) {
            for (gd, id) in found {
                let id = if id == UNION {
                    let mut id = EMPTY;
                    for s in &src_sigs {
                        for &d in &dst_sigs[gd as usize] {
                            id = matrix.union(id, rows[s][d as usize]);
                        }
                    }
                    id
                } else {
                    id
                };
                if id == EMPTY {
                    continue;
                }
                allowed_pairs += 1;
                let idx = id as usize;
                if portsets.len() <= idx {
                    portsets.resize(idx + 1, None);
                }
                let allowed = portsets[idx].get_or_insert_with(|| matrix.portset(id));
                emit(&groups[gs].name, &groups[gd as usize].name, id, allowed);
            }
        }
    }
    let (src_sigs, dst_sigs) = matrix.signatures();
    Stats {
        classes: class_count,
        external_peers: engine.external.len(),
        distinct_verdicts: matrix.distinct(),
        allowed_pairs,
        source_signatures: src_sigs,
        destination_signatures: dst_sigs,
    }
}
