//! The connectivity matrix at pod, workload or namespace granularity, streamed in order.
//!
//! Verdicts are computed once per pair of peers (classes and external atoms) and interned,
//! then every output pair is the union of its members' class-pair verdicts, plus the
//! node-origin rule. Output rows are produced a chunk of sources at a time, so the pod-level
//! matrix of a large cluster is never held in memory.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;

use crate::engine::{Engine, PeerId};
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

/// Verdicts for every pair of peers, interned: `table[ids[src * n + dst]]`.
pub struct PeerMatrix {
    n: usize,
    table: Vec<PortSet>,
    ids: Vec<u32>,
}

impl PeerMatrix {
    /// Computes every peer-pair verdict, rows in parallel.
    pub fn compute(engine: &Engine<'_>) -> Self {
        let n = engine.peer_count();
        let rows: Vec<(Vec<PortSet>, Vec<u32>)> = (0..n as PeerId)
            .into_par_iter()
            .map(|src| {
                let mut local: Vec<PortSet> = Vec::new();
                let mut index: HashMap<PortSet, u32> = HashMap::new();
                let ids = (0..n as PeerId)
                    .map(|dst| {
                        let v = engine.class_verdict(src, dst);
                        *index.entry(v).or_insert_with_key(|v| {
                            local.push(v.clone());
                            (local.len() - 1) as u32
                        })
                    })
                    .collect();
                (local, ids)
            })
            .collect();
        let mut table: Vec<PortSet> = Vec::new();
        let mut global: HashMap<PortSet, u32> = HashMap::new();
        let mut ids = Vec::with_capacity(n * n);
        for (local, row) in rows {
            let remap: Vec<u32> = local
                .into_iter()
                .map(|v| {
                    *global.entry(v).or_insert_with_key(|v| {
                        table.push(v.clone());
                        (table.len() - 1) as u32
                    })
                })
                .collect();
            ids.extend(row.into_iter().map(|i| remap[i as usize]));
        }
        PeerMatrix { n, table, ids }
    }

    /// The verdict for a peer pair.
    pub fn get(&self, src: PeerId, dst: PeerId) -> &PortSet {
        &self.table[self.ids[src as usize * self.n + dst as usize] as usize]
    }

    /// Number of distinct verdicts.
    pub fn distinct_verdicts(&self) -> usize {
        self.table.len()
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
}

/// Source groups evaluated together before their rows are emitted.
const CHUNK: usize = 256;

/// Streams every pair with something allowed, sorted by source then destination name,
/// never with source equal to destination.
pub fn for_each_connection(
    engine: &Engine<'_>,
    granularity: Granularity,
    mut emit: impl FnMut(&str, &str, &PortSet),
) -> Stats {
    let matrix = PeerMatrix::compute(engine);
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

    // Node-origin rule: a hostNetwork endpoint reaches everything on its own node.
    let mut on_node: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        if let Some(node) = &e.node {
            on_node.entry(node.as_str()).or_default().push(i);
        }
    }
    let mut node_origin: HashSet<(u32, u32)> = HashSet::new();
    for (i, e) in cluster.endpoints.iter().enumerate() {
        if !e.host_network {
            continue;
        }
        let Some(node) = &e.node else { continue };
        for &j in &on_node[node.as_str()] {
            if i != j {
                node_origin.insert((group_of_endpoint[i], group_of_endpoint[j]));
            }
        }
    }

    let full = PortSet::full();
    let mut stats = Stats {
        classes: class_count,
        external_peers: engine.external.len(),
        distinct_verdicts: matrix.distinct_verdicts(),
        allowed_pairs: 0,
    };
    for chunk in (0..groups.len()).collect::<Vec<_>>().chunks(CHUNK) {
        let rows: Vec<Vec<(u32, PortSet)>> = chunk
            .par_iter()
            .map(|&gs| {
                let src = &groups[gs];
                let mut row = Vec::new();
                for (gd, dst) in groups.iter().enumerate() {
                    if gd == gs {
                        continue;
                    }
                    if node_origin.contains(&(gs as u32, gd as u32)) {
                        row.push((gd as u32, full.clone()));
                        continue;
                    }
                    let mut allowed = PortSet::empty();
                    for &s in &src.peers {
                        for &d in &dst.peers {
                            allowed.union_with(matrix.get(s, d));
                        }
                    }
                    if !allowed.is_empty() {
                        row.push((gd as u32, allowed));
                    }
                }
                row
            })
            .collect();
        for (&gs, row) in chunk.iter().zip(rows) {
            for (gd, allowed) in row {
                stats.allowed_pairs += 1;
                emit(&groups[gs].name, &groups[gd as usize].name, &allowed);
            }
        }
    }
    stats
}
