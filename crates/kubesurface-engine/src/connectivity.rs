//! The connectivity matrix at pod, workload or namespace granularity, streamed in order.
//!
//! Verdicts are computed once per pair of peer signatures ([`crate::matrix`]) and
//! interned, then every output pair is the union of its members' verdicts, plus the
//! node-origin rule. Output rows are produced a chunk of sources at a time, so the pod-level
//! matrix of a large cluster is never held in memory.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::engine::{Engine, PeerId};
use crate::matrix::{EMPTY, FULL, Matrix, VerdictId};
use crate::portset::PortSet;
use crate::touched::TouchedSet;

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

/// Marks a pair whose verdict is a union still to compute.
const UNION: VerdictId = VerdictId::MAX;

/// Source groups evaluated together before their rows are emitted.
const CHUNK: usize = 512;

/// The first chunk's size: chunks double from it up to [`CHUNK`], so that the first one,
/// which nothing overlaps, is short.
const FIRST_CHUNK: usize = 32;

/// The source groups `0..groups` in chunks of doubling size, then of [`CHUNK`].
fn chunk_ranges(groups: usize) -> Vec<Vec<usize>> {
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, FIRST_CHUNK);
    while start < groups {
        let end = (start + size).min(groups);
        chunks.push((start..end).collect());
        start = end;
        size = (size * 2).min(CHUNK);
    }
    chunks
}

/// Sparse rows kept between chunks, in (destination signature, verdict) entries; past this
/// the cache is emptied (about 128 MiB).
const ROW_CACHE_ENTRIES: usize = 16 << 20;

/// Unions of verdict ids already computed, readable from the parallel scan: a dense square
/// table over the first `dim` ids, filled as the sequential pass computes unions.
struct UnionMemo {
    dim: usize,
    table: Vec<VerdictId>,
}

/// A union not computed yet.
const UNKNOWN: VerdictId = VerdictId::MAX;

/// The most ids the memo covers (a 2048² table is 16 MiB); unions of later ids are computed
/// sequentially each time.
const MEMO_MAX: usize = 2048;

impl UnionMemo {
    fn new() -> Self {
        UnionMemo {
            dim: 0,
            table: Vec::new(),
        }
    }

    /// Makes room for ids below `distinct` (as far as `MEMO_MAX` allows).
    fn grow(&mut self, distinct: usize) {
        if distinct <= self.dim || self.dim == MEMO_MAX {
            return;
        }
        let dim = distinct.next_power_of_two().clamp(64, MEMO_MAX);
        let mut table = vec![UNKNOWN; dim * dim];
        for a in 0..self.dim {
            table[a * dim..a * dim + self.dim]
                .copy_from_slice(&self.table[a * self.dim..(a + 1) * self.dim]);
        }
        self.dim = dim;
        self.table = table;
    }

    /// The union of `a` and `b` when it is trivial or known.
    fn get(&self, a: VerdictId, b: VerdictId) -> Option<VerdictId> {
        if a == b || b == EMPTY || a == FULL {
            return Some(a);
        }
        if a == EMPTY || b == FULL {
            return Some(b);
        }
        let (a, b) = (a as usize, b as usize);
        if a < self.dim && b < self.dim {
            let u = self.table[a * self.dim + b];
            (u != UNKNOWN).then_some(u)
        } else {
            None
        }
    }

    /// The union of `a` and `b`, computed (and remembered) when not known.
    fn union(&mut self, matrix: &mut Matrix<'_, '_>, a: VerdictId, b: VerdictId) -> VerdictId {
        if let Some(u) = self.get(a, b) {
            return u;
        }
        let u = matrix.union(a, b);
        let (a, b) = (a as usize, b as usize);
        if a < self.dim && b < self.dim {
            self.table[a * self.dim + b] = u;
            self.table[b * self.dim + a] = u;
        }
        u
    }
}

/// One source group's verdicts towards every destination group, accumulated from the
/// sparse rows of its source signatures: `EMPTY` means untouched.
struct Accumulator {
    verdict: Vec<VerdictId>,
    touched: TouchedSet,
}

impl Accumulator {
    fn new(groups: usize) -> Self {
        Accumulator {
            verdict: vec![EMPTY; groups],
            touched: TouchedSet::new(groups),
        }
    }

    /// ORs `id` (never `EMPTY`) into the verdict towards `gd`; a union the memo does not
    /// know yet marks the pair `UNION`.
    fn add(&mut self, gd: u32, id: VerdictId, memo: &UnionMemo) {
        let slot = &mut self.verdict[gd as usize];
        match *slot {
            EMPTY => {
                *slot = id;
                self.touched.insert(gd);
            }
            UNION => {}
            current => *slot = memo.get(current, id).unwrap_or(UNION),
        }
    }

    /// Sets the verdict towards `gd` to `FULL` (the node-origin rule).
    fn set_full(&mut self, gd: u32) {
        let slot = &mut self.verdict[gd as usize];
        if *slot == EMPTY {
            self.touched.insert(gd);
        }
        *slot = FULL;
    }

    /// The touched destinations in order, without `skip`, and whether any is a `UNION`
    /// still to compute; resets.
    fn take(&mut self, skip: u32) -> (Vec<(u32, VerdictId)>, bool) {
        self.touched.sort();
        let mut found = Vec::with_capacity(self.touched.as_slice().len());
        let mut unions = false;
        for &gd in self.touched.as_slice() {
            let id = std::mem::replace(&mut self.verdict[gd as usize], EMPTY);
            if gd != skip {
                unions |= id == UNION;
                found.push((gd, id));
            }
        }
        self.touched.clear();
        (found, unions)
    }
}

/// The verdict of a sparse row towards destination signature `d`.
fn row_verdict(row: &[(u32, VerdictId)], d: u32) -> VerdictId {
    match row.binary_search_by_key(&d, |&(ds, _)| ds) {
        Ok(i) => row[i].1,
        Err(_) => EMPTY,
    }
}

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
    for_each_connection_batch(engine, granularity, |batch| {
        for &(src, dst, id) in batch.pairs() {
            emit(batch.name(src), batch.name(dst), id, batch.allowed(id));
        }
    })
}

/// A run of allowed pairs in output order, and what names and describes them. Groups are
/// numbered in name order; equal verdict ids are equal port sets.
pub struct ConnectionBatch<'a> {
    groups: &'a [Group],
    pairs: &'a [(u32, u32, VerdictId)],
    portsets: &'a [Option<PortSet>],
}

impl ConnectionBatch<'_> {
    /// `(source group, destination group, verdict)`, sorted by source then destination.
    pub fn pairs(&self) -> &[(u32, u32, VerdictId)] {
        self.pairs
    }

    /// How many groups there are (every group id is below it).
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// A group's name: `namespace/pod`, `namespace/name[Kind]`, a namespace or an external
    /// range.
    pub fn name(&self, group: u32) -> &str {
        &self.groups[group as usize].name
    }

    /// Every verdict known so far with the ports it allows (a superset of those in
    /// [`Self::pairs`]; there are few).
    pub fn verdicts(&self) -> impl Iterator<Item = (VerdictId, &PortSet)> {
        (self.portsets.iter().enumerate())
            .filter_map(|(id, set)| Some((id as VerdictId, set.as_ref()?)))
    }

    /// The ports a verdict allows; every verdict in [`Self::pairs`] has one.
    pub fn allowed(&self, verdict: VerdictId) -> &PortSet {
        self.portsets[verdict as usize]
            .as_ref()
            .expect("every verdict of a batch has its port set")
    }
}

/// As [`for_each_connection_with_ids`], a batch of pairs at a time: the next batch is being
/// computed while `emit` handles one, and `emit` may itself work in parallel.
pub fn for_each_connection_batch(
    engine: &Engine<'_>,
    granularity: Granularity,
    mut emit: impl FnMut(&ConnectionBatch<'_>),
) -> Stats {
    // The verdict machinery and the output groups do not depend on each other.
    let (mut matrix, (groups, node_origin)) = rayon::join(
        || Matrix::new(engine),
        || output_groups(engine, granularity),
    );
    let class_count = engine.classes.classes.len();

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

    // Source signatures per group, and the groups holding each destination signature: a
    // source group's row is scattered from the non-empty entries of its signatures' rows,
    // so the work follows what is allowed, not the number of group pairs.
    let src_sigs: Vec<Vec<u32>> = groups
        .iter()
        .map(|g| {
            let mut s: Vec<u32> = g.peers.iter().map(|&p| matrix.src_sig(p)).collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let (src_count, dst_count) = matrix.signatures();
    let mut groups_of_dst: Vec<Vec<u32>> = vec![Vec::new(); dst_count];
    for (g, ds) in dst_sigs.iter().enumerate() {
        for &d in ds {
            groups_of_dst[d as usize].push(g as u32);
        }
    }

    // One chunk of source groups at a time: its verdicts are computed (in parallel) while
    // the previous chunk is emitted on this thread.
    let mut state = ChunkState {
        rows: vec![None; src_count],
        cached: 0,
        memo: UnionMemo::new(),
        portsets_sent: 0,
    };
    let mut compute = |chunk: &[usize]| -> ChunkPairs {
        let ChunkState {
            rows,
            cached,
            memo,
            portsets_sent,
        } = &mut state;
        if *cached > ROW_CACHE_ENTRIES {
            rows.iter_mut().for_each(|r| *r = None);
            *cached = 0;
        }
        let mut needed: Vec<u32> = chunk
            .iter()
            .flat_map(|&g| src_sigs[g].iter().copied())
            .filter(|&s| rows[s as usize].is_none())
            .collect();
        needed.sort_unstable();
        needed.dedup();
        let computed = matrix.rows(&needed);
        for (s, row) in needed.into_iter().zip(computed) {
            *cached += row.len();
            rows[s as usize] = Some(row);
        }
        memo.grow(matrix.distinct());
        // Scan the chunk in parallel; unions the memo does not know yet are finished
        // sequentially, as they intern.
        let mut scanned: Vec<(Vec<(u32, VerdictId)>, bool)> = chunk
            .par_iter()
            .map_init(
                || Accumulator::new(groups.len()),
                |acc, &gs| {
                    for &s in &src_sigs[gs] {
                        for &(d, id) in rows[s as usize].as_deref().unwrap_or_default() {
                            for &gd in &groups_of_dst[d as usize] {
                                acc.add(gd, id, memo);
                            }
                        }
                    }
                    for &gd in &node_origin[gs] {
                        acc.set_full(gd);
                    }
                    acc.take(gs as u32)
                },
            )
            .collect();
        for (&gs, (found, unions)) in chunk.iter().zip(&mut scanned) {
            if !*unions {
                continue;
            }
            for (gd, id) in found.iter_mut().filter(|(_, id)| *id == UNION) {
                let mut union = EMPTY;
                for &s in &src_sigs[gs] {
                    let row = rows[s as usize].as_deref().unwrap_or_default();
                    for &d in &dst_sigs[*gd as usize] {
                        union = memo.union(&mut matrix, union, row_verdict(row, d));
                    }
                }
                *id = union;
            }
        }
        // Every verdict interned so far has its port set handed out once (there are few).
        let mut out = ChunkPairs {
            portsets: (*portsets_sent..matrix.distinct())
                .map(|id| (id as VerdictId, matrix.portset(id as VerdictId)))
                .collect(),
            ..ChunkPairs::default()
        };
        *portsets_sent = matrix.distinct();
        out.pairs = chunk
            .par_iter()
            .zip(&scanned)
            .flat_map_iter(|(&gs, (found, _))| {
                found
                    .iter()
                    .filter(|(_, id)| *id != EMPTY)
                    .map(move |&(gd, id)| (gs as u32, gd, id))
            })
            .collect();
        out.stats = (matrix.distinct(), matrix.signatures());
        out
    };

    let mut portsets: Vec<Option<PortSet>> = Vec::new();
    let mut allowed_pairs = 0;
    let mut chunks = chunk_ranges(groups.len());
    if chunks.is_empty() {
        // No groups: one empty chunk still reports the matrix's figures.
        chunks.push(Vec::new());
    }
    let mut figures = Default::default();
    // One worker computes the chunks in order, each while the one before it is emitted
    // here (a rendezvous channel: never more than one chunk ahead).
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<ChunkPairs>(0);
        let worker = scope.spawn(move || {
            for chunk in &chunks {
                if sender.send(compute(chunk)).is_err() {
                    break;
                }
            }
        });
        for current in receiver {
            figures = current.stats;
            for (id, set) in current.portsets {
                let idx = id as usize;
                if portsets.len() <= idx {
                    portsets.resize(idx + 1, None);
                }
                portsets[idx] = Some(set);
            }
            allowed_pairs += current.pairs.len();
            if !current.pairs.is_empty() {
                emit(&ConnectionBatch {
                    groups: &groups,
                    pairs: &current.pairs,
                    portsets: &portsets,
                });
            }
        }
        if let Err(panic) = worker.join() {
            std::panic::resume_unwind(panic);
        }
    });
    let (distinct_verdicts, (src_sigs, dst_sigs)) = figures;
    Stats {
        classes: class_count,
        external_peers: engine.external.len(),
        distinct_verdicts,
        allowed_pairs,
        source_signatures: src_sigs,
        destination_signatures: dst_sigs,
    }
}

/// The output groups in name order, and per group the groups its hostNetwork members reach
/// on their nodes (the node-origin rule).
fn output_groups(engine: &Engine<'_>, granularity: Granularity) -> (Vec<Group>, Vec<Vec<u32>>) {
    let cluster = engine.cluster;
    let class_count = engine.classes.classes.len();
    // Every endpoint and external peer by name, sorted; runs of one name are a group.
    // Workload and namespace names are made once per distinct (namespace, workload).
    let endpoints = cluster.endpoints.len();
    let (mut names, name_of_endpoint): (Vec<String>, Vec<u32>) = match granularity {
        Granularity::Pod => (
            cluster
                .endpoints
                .par_iter()
                .map(|e| e.display_name())
                .collect(),
            (0..endpoints as u32).collect(),
        ),
        Granularity::Workload | Granularity::Namespace => {
            let mut index: FxHashMap<(&str, &str, &str), u32> = FxHashMap::default();
            let mut names = Vec::new();
            let of = cluster
                .endpoints
                .iter()
                .map(|e| {
                    let key = match granularity {
                        Granularity::Workload => (
                            e.namespace.as_str(),
                            e.workload.name.as_str(),
                            e.workload.kind.as_str(),
                        ),
                        _ => (e.namespace.as_str(), "", ""),
                    };
                    *index.entry(key).or_insert_with(|| {
                        names.push(match granularity {
                            Granularity::Workload => e.workload_name(),
                            _ => e.namespace.clone(),
                        });
                        (names.len() - 1) as u32
                    })
                })
                .collect();
            (names, of)
        }
    };
    let first_external = names.len();
    for j in 0..engine.external.len() {
        names.push(engine.external_name((class_count + j) as PeerId));
    }
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.par_sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]).then(a.cmp(&b)));
    let mut group_of_name = vec![0u32; names.len()];
    let mut groups: Vec<Group> = Vec::new();
    for &n in &order {
        let name = std::mem::take(&mut names[n as usize]);
        if groups.last().is_none_or(|g| g.name != name) {
            groups.push(Group {
                name,
                peers: Vec::new(),
            });
        }
        group_of_name[n as usize] = (groups.len() - 1) as u32;
    }
    let group_of_endpoint: Vec<u32> = name_of_endpoint
        .iter()
        .map(|&n| group_of_name[n as usize])
        .collect();
    for (i, &g) in group_of_endpoint.iter().enumerate() {
        groups[g as usize].peers.push(engine.classes.class_of[i]);
    }
    for j in 0..engine.external.len() {
        let g = group_of_name[first_external + j];
        groups[g as usize].peers.push((class_count + j) as PeerId);
    }
    groups.par_iter_mut().for_each(|g| {
        g.peers.sort_unstable();
        g.peers.dedup();
    });
    // Node-origin rule: a hostNetwork endpoint reaches everything on its own node.
    // The groups on each node that has a hostNetwork endpoint (a group reaching itself is
    // dropped when rows are taken, so the endpoint itself need not be left out).
    let mut on_node: FxHashMap<&str, Vec<u32>> = cluster
        .endpoints
        .iter()
        .filter(|e| e.host_network)
        .filter_map(|e| e.node.as_deref())
        .map(|node| (node, Vec::new()))
        .collect();
    if !on_node.is_empty() {
        for (e, &g) in cluster.endpoints.iter().zip(&group_of_endpoint) {
            if let Some(list) = e.node.as_deref().and_then(|n| on_node.get_mut(n)) {
                list.push(g);
            }
        }
        for list in on_node.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
    }
    let mut node_origin: Vec<Vec<u32>> = vec![Vec::new(); groups.len()];
    for (e, &g) in cluster.endpoints.iter().zip(&group_of_endpoint) {
        if !e.host_network {
            continue;
        }
        let Some(node) = &e.node else { continue };
        node_origin[g as usize].extend(&on_node[node.as_str()]);
    }
    for list in &mut node_origin {
        list.sort_unstable();
        list.dedup();
    }

    (groups, node_origin)
}

/// What computing chunks carries from one chunk to the next.
struct ChunkState {
    /// Sparse rows per source signature, kept while the cache allows.
    rows: Vec<Option<Vec<(u32, VerdictId)>>>,
    /// Entries held in `rows`.
    cached: usize,
    memo: UnionMemo,
    /// Verdict ids below this have had their port sets handed out.
    portsets_sent: usize,
}

/// One chunk's result: `(source group, destination group, verdict)` in output order, the
/// port sets of verdicts interned since the last chunk, and the matrix figures after it.
#[derive(Default)]
struct ChunkPairs {
    pairs: Vec<(u32, u32, VerdictId)>,
    portsets: Vec<(VerdictId, PortSet)>,
    stats: (usize, (usize, usize)),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_group_once_in_order_growing_to_the_cap() {
        for groups in [0, 1, 31, 32, 33, 100, 5000] {
            let chunks = chunk_ranges(groups);
            let flat: Vec<usize> = chunks.iter().flatten().copied().collect();
            assert_eq!(flat, (0..groups).collect::<Vec<_>>(), "{groups}");
            assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
            let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
            if groups == 5000 {
                assert_eq!(&sizes[..6], [32, 64, 128, 256, 512, 512]);
            }
        }
    }

    #[test]
    fn memo_answers_trivial_unions_and_keeps_known_ones_when_it_grows() {
        let mut memo = UnionMemo::new();
        assert_eq!(memo.get(5, EMPTY), Some(5));
        assert_eq!(memo.get(EMPTY, 5), Some(5));
        assert_eq!(memo.get(5, FULL), Some(FULL));
        assert_eq!(memo.get(5, 5), Some(5));
        assert_eq!(memo.get(5, 6), None, "nothing known before it has room");
        memo.grow(10);
        assert_eq!(memo.dim, 64);
        let dim = memo.dim;
        memo.table[5 * dim + 6] = 7;
        memo.table[6 * dim + 5] = 7;
        assert_eq!(memo.get(5, 6), Some(7));
        assert_eq!(memo.get(5, 8), None);
        memo.grow(100);
        assert_eq!(memo.dim, 128);
        assert_eq!(memo.get(6, 5), Some(7), "kept across growth");
        assert_eq!(memo.get(100, 5), None);
        assert_eq!(
            memo.get(5000, 6),
            None,
            "ids past the table are never known"
        );
    }

    #[test]
    fn accumulator_unions_in_order_without_the_source_and_resets() {
        let mut memo = UnionMemo::new();
        memo.grow(8);
        let dim = memo.dim;
        memo.table[2 * dim + 3] = 4;
        memo.table[3 * dim + 2] = 4;
        let mut acc = Accumulator::new(6);
        acc.add(5, 2, &memo);
        acc.add(1, 2, &memo);
        acc.add(1, 3, &memo); // known union: 4
        acc.add(3, 2, &memo);
        acc.add(3, 6, &memo); // unknown union
        acc.add(0, 3, &memo); // the source itself
        acc.set_full(4);
        acc.set_full(5);
        assert_eq!(
            acc.take(0),
            (vec![(1, 4), (3, UNION), (4, FULL), (5, FULL)], true)
        );
        assert!(acc.verdict.iter().all(|&v| v == EMPTY));
        assert_eq!(acc.take(0), (vec![], false));
        acc.add(2, 2, &memo);
        acc.add(2, 3, &memo); // known union only
        assert_eq!(acc.take(0), (vec![(2, 4)], false));
    }
}
