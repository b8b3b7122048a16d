//! The bulk verdict machinery behind `connectivity`: port atoms, peer signatures and
//! verdict rows computed with word-wide bit operations.
//!
//! 1. **Port atoms.** Every port boundary any rule or named port can produce cuts each
//!    protocol's 1..=65535 into intervals. A rule's ports become a small bitmask over these
//!    atoms, so union and intersection are a few word operations, never range merging.
//! 2. **Signatures.** A peer's row (what it reaches) depends only on its egress rules and on
//!    which ingress rules admit it; a peer's column only on its ingress rules, its named
//!    ports and which egress rules admit it. Peers with equal keys share a signature and
//!    verdicts are computed once per (source signature, destination signature).
//! 3. **Rows on demand.** Rows are computed for the sources a caller needs, in parallel,
//!    and interned: a verdict is a small integer id, `EMPTY` or `FULL` most of the time.

use std::collections::HashMap;
use std::sync::Mutex;

use fixedbitset::FixedBitSet;
use kubesurface_model::{Action, Protocol};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::compile::{Direction, RulePorts};
use crate::engine::{Engine, PeerId};
use crate::partition::{Partition, distinct_sets};
use crate::portset::{MAX_PORT, PortSet};
use crate::tiered::Step;
use crate::touched::TouchedSet;

/// An interned verdict.
pub type VerdictId = u32;
/// Nothing allowed.
pub const EMPTY: VerdictId = 0;
/// Everything allowed.
pub const FULL: VerdictId = 1;

/// The port space cut into atoms, per protocol.
struct PortAtoms {
    /// Per protocol: sorted atom start ports (first is 1).
    starts: [Vec<u32>; 3],
    /// Per protocol: index of its first atom in the mask.
    offset: [usize; 3],
    /// Total atoms.
    count: usize,
}

impl PortAtoms {
    fn new(cuts: [Vec<u32>; 3]) -> Self {
        let mut starts: [Vec<u32>; 3] = Default::default();
        let mut offset = [0; 3];
        let mut count = 0;
        for (p, mut c) in cuts.into_iter().enumerate() {
            c.push(1);
            c.retain(|&x| (1..=u32::from(MAX_PORT)).contains(&x));
            c.sort_unstable();
            c.dedup();
            offset[p] = count;
            count += c.len();
            starts[p] = c;
        }
        PortAtoms {
            starts,
            offset,
            count,
        }
    }

    fn words(&self) -> usize {
        self.count.div_ceil(64)
    }

    /// Sets the bits of `lo..=hi` of `protocol` (both must be atom boundaries).
    fn set_range(&self, mask: &mut [u64], protocol: Protocol, lo: u16, hi: u16) {
        let starts = &self.starts[protocol.index()];
        let first = starts.partition_point(|&s| s <= u32::from(lo)) - 1;
        let last = starts.partition_point(|&s| s <= u32::from(hi)) - 1;
        for i in first..=last {
            let bit = self.offset[protocol.index()] + i;
            mask[bit / 64] |= 1 << (bit % 64);
        }
    }

    fn mask_of(&self, set: &PortSet) -> Vec<u64> {
        let mut mask = vec![0; self.words()];
        for p in Protocol::ALL {
            for &(lo, hi) in set.protocol(p).ranges() {
                self.set_range(&mut mask, p, lo, hi);
            }
        }
        mask
    }

    fn to_portset(&self, mask: &[u64]) -> PortSet {
        let mut set = PortSet::empty();
        for p in Protocol::ALL {
            let starts = &self.starts[p.index()];
            for (i, &start) in starts.iter().enumerate() {
                let bit = self.offset[p.index()] + i;
                if mask[bit / 64] & (1 << (bit % 64)) != 0 {
                    let end = starts.get(i + 1).map_or(u32::from(MAX_PORT), |n| n - 1);
                    set.insert(p, start as u16, end as u16);
                }
            }
        }
        set
    }
}

/// Verdict rows over destination signatures, and the table of distinct verdicts.
pub struct Matrix<'e, 'c> {
    engine: &'e Engine<'c>,
    atoms: PortAtoms,
    words: usize,
    /// Per rule: its port mask when it has no named ports.
    rule_masks: Vec<Vec<u64>>,
    /// Per rule: its slot among the rules with named ports (`NO_SET` for none).
    named_slot: Vec<u32>,
    /// Per (named slot, named-port signature): the resolved mask, `words` each.
    named_masks: Vec<u64>,
    /// Number of named-port signatures.
    named_sigs: usize,
    /// Per peer: its named-port signature (0 = none, and for external peers).
    named_sig: Vec<u32>,
    /// Per peer: source and destination signatures.
    src_sig: Vec<u32>,
    dst_sig: Vec<u32>,
    /// A representative peer of each signature.
    src_rep: Vec<PeerId>,
    dst_rep: Vec<PeerId>,
    /// Per ingress rule: the destination signatures it isolates (whose ingress lists hold it).
    ingress_targets: Vec<Vec<u32>>,
    /// Per ingress rule: its mask towards each of its `ingress_targets`, `words` each.
    ingress_target_masks: Vec<Vec<u64>>,
    /// Per v1 egress rule: its distinct peer set (`NO_SET` for ingress rules).
    egress_set_of: Vec<u32>,
    /// Per distinct egress peer set: the destination signatures it admits.
    egress_set_targets: Vec<Vec<u32>>,
    /// Per source signature: the ingress rules that admit it.
    src_in_members: Vec<Vec<u32>>,
    /// Per destination signature: its ingress side is open (external, hostNetwork, or not
    /// isolated).
    open: Vec<bool>,
    /// The open destination signatures, ascending.
    open_dsts: Vec<u32>,
    /// Some destination signature has a dialect ingress plan.
    any_dst_plan: bool,
    /// The ingress side of a row before any rule: `FULL` towards open destination
    /// signatures (external, hostNetwork, or not isolated), `EMPTY` elsewhere.
    open_row: Vec<u64>,
    /// Per dialect rule: its port mask when it has no named ports.
    tiered_masks: Vec<Vec<u64>>,
    /// Per dialect rule with named ports: named-port signature → resolved mask.
    tiered_named_masks: HashMap<(u32, u32), Vec<u64>>,
    /// Per destination signature: its dialect ingress plan.
    dst_plan: Vec<Option<u32>>,
    /// Per source signature: its dialect egress plan.
    src_plan: Vec<Option<u32>>,
    /// Distinct verdicts, `EMPTY` and `FULL` first.
    table: Vec<Vec<u64>>,
    index: FxHashMap<Vec<u64>, VerdictId>,
    /// Row buffers kept between calls of [`Matrix::rows`]: each is as large as a row over
    /// every destination signature, and rayon asks for one per piece of work it splits off.
    scratch_pool: Mutex<Vec<RowScratch>>,
}

/// Marks a rule of the other direction in a per-rule set index.
const NO_SET: u32 = u32::MAX;

/// The distinct peer sets of the rules of one direction, v1 rules then dialect rules, and
/// per v1 rule the index of its set (`NO_SET` for the other direction).
fn rule_sets<'a>(engine: &'a Engine<'_>, direction: Direction) -> (Vec<&'a FixedBitSet>, Vec<u32>) {
    let v1 = engine.rules.iter().filter(|r| r.direction == direction);
    let dialect = engine
        .tiered
        .rules
        .iter()
        .filter(|r| r.direction == direction);
    let (sets, of) = distinct_sets(v1.map(|r| &r.peers).chain(dialect.map(|r| &r.peers)));
    let mut of = of.into_iter();
    let v1_of = engine
        .rules
        .iter()
        .map(|r| {
            if r.direction == direction {
                of.next().unwrap_or(NO_SET)
            } else {
                NO_SET
            }
        })
        .collect();
    (sets, v1_of)
}

/// Port boundaries of a rule's ports.
fn cut_rule(ports: &RulePorts, cuts: &mut [Vec<u32>; 3]) {
    for p in Protocol::ALL {
        for &(lo, hi) in ports.numeric.protocol(p).ranges() {
            cuts[p.index()].extend([u32::from(lo), u32::from(hi) + 1]);
        }
    }
}

impl<'e, 'c> Matrix<'e, 'c> {
    /// Prepares masks and signatures for `engine`.
    pub fn new(engine: &'e Engine<'c>) -> Self {
        let classes = &engine.classes.classes;
        let peers = engine.peer_count();

        // Named-port signatures of classes.
        let mut sig_index: HashMap<&[crate::classes::NamedPort], u32> = HashMap::new();
        sig_index.insert(&[], 0);
        let mut named_sig = vec![0u32; peers];
        let mut sig_ports: Vec<&[crate::classes::NamedPort]> = vec![&[]];
        for (i, c) in classes.iter().enumerate() {
            let next = sig_ports.len() as u32;
            let id = *sig_index
                .entry(c.named_ports.as_slice())
                .or_insert_with(|| {
                    sig_ports.push(c.named_ports.as_slice());
                    next
                });
            named_sig[i] = id;
        }

        // Port atoms from every numeric range and every named port a rule can resolve to.
        let mut cuts: [Vec<u32>; 3] = Default::default();
        for r in &engine.rules {
            cut_rule(&r.ports, &mut cuts);
        }
        let tiered = &engine.tiered;
        for r in &tiered.rules {
            cut_rule(&r.ports, &mut cuts);
            if let Some(not) = &r.not_ports {
                cut_rule(not, &mut cuts);
            }
        }
        let named_rules: Vec<u32> = (0..engine.rules.len() as u32)
            .filter(|&r| !engine.rules[r as usize].ports.named.is_empty())
            .collect();
        let tiered_named_rules: Vec<u32> = (0..tiered.rules.len() as u32)
            .filter(|&r| {
                let rule = &tiered.rules[r as usize];
                !rule.ports.named.is_empty()
                    || rule.not_ports.as_ref().is_some_and(|n| !n.named.is_empty())
            })
            .collect();
        if !named_rules.is_empty() || !tiered_named_rules.is_empty() {
            for sig in &sig_ports {
                for np in sig.iter() {
                    cuts[np.protocol.index()].extend([u32::from(np.port), u32::from(np.port) + 1]);
                }
            }
        }
        let atoms = PortAtoms::new(cuts);
        let words = atoms.words();
        let rule_masks: Vec<Vec<u64>> = engine
            .rules
            .iter()
            .map(|r| atoms.mask_of(&r.ports.resolve(None)))
            .collect();
        // A named port is an atom of its own, so a rule's mask towards a named-port
        // signature is its numeric mask plus the bits of the ports its names resolve to.
        // Rules with equal ports share a slot (few distinct port specs, so the table
        // stays in cache while rows are scattered).
        let mut named_slot = vec![NO_SET; engine.rules.len()];
        type PortsKey<'a> = (&'a [u64], &'a [(Protocol, String)]);
        let mut slot_index: FxHashMap<PortsKey<'_>, u32> = FxHashMap::default();
        let mut slot_rules: Vec<u32> = Vec::new();
        for &r in &named_rules {
            let key = (
                rule_masks[r as usize].as_slice(),
                engine.rules[r as usize].ports.named.as_slice(),
            );
            let next = slot_rules.len() as u32;
            named_slot[r as usize] = *slot_index.entry(key).or_insert_with(|| {
                slot_rules.push(r);
                next
            });
        }
        let named_masks: Vec<u64> = slot_rules
            .par_iter()
            .flat_map_iter(|&r| {
                let rule = &engine.rules[r as usize];
                let numeric = &rule_masks[r as usize];
                let atoms = &atoms;
                sig_ports.iter().flat_map(move |ports| {
                    let mut mask = numeric.clone();
                    for (protocol, name) in &rule.ports.named {
                        for np in ports
                            .iter()
                            .filter(|n| &n.name == name && n.protocol == *protocol)
                        {
                            atoms.set_range(&mut mask, *protocol, np.port, np.port);
                        }
                    }
                    mask
                })
            })
            .collect();

        let tiered_masks: Vec<Vec<u64>> = tiered
            .rules
            .iter()
            .map(|r| atoms.mask_of(&r.resolve(None)))
            .collect();
        let mut tiered_named_masks = HashMap::new();
        for &r in &tiered_named_rules {
            for (sig, ports) in sig_ports.iter().enumerate() {
                let set = tiered.rules[r as usize].resolve(Some(ports));
                tiered_named_masks.insert((r, sig as u32), atoms.mask_of(&set));
            }
        }
        // Signatures: a source's row depends on its own egress side and on which ingress
        // rules (v1 or dialect) admit it; a destination's column on its ingress side, its
        // named ports and which egress rules admit it. Peers are first grouped by their
        // own side, then the groups are split by every distinct peer set of the rules.
        let class_count = classes.len();
        let own = |p: usize| p >= class_count || classes[p].host_network;
        let (in_sets, in_set_of) = rule_sets(engine, Direction::Ingress);
        let (eg_sets, eg_set_of) = rule_sets(engine, Direction::Egress);
        let mut src = Partition::by_key((0..peers).map(|p| {
            let egress = if own(p) {
                None
            } else {
                engine.egress[p].as_deref()
            };
            (p >= class_count, own(p), egress, tiered.egress[p])
        }));
        for set in &in_sets {
            src.refine(set);
        }
        let (src_sig, src_rep) = src.numbered();
        let mut dst = Partition::by_key((0..peers).map(|p| {
            let ingress = if own(p) {
                None
            } else {
                engine.ingress[p].as_deref()
            };
            (
                p >= class_count,
                own(p),
                ingress,
                named_sig[p],
                tiered.ingress[p],
            )
        }));
        for set in &eg_sets {
            dst.refine(set);
        }
        let (dst_sig, dst_rep) = dst.numbered();

        // Per distinct set: the signatures whose representatives it holds (ascending, as
        // representatives ascend with their signature).
        let reps_in = |sets: &[&FixedBitSet], rep: &[u32], sig: &[u32]| -> Vec<Vec<u32>> {
            sets.par_iter()
                .map(|set| {
                    set.ones()
                        .filter(|&p| rep[sig[p] as usize] as usize == p)
                        .map(|p| sig[p])
                        .collect()
                })
                .collect()
        };
        let src_sigs_in = reps_in(&in_sets, &src_rep, &src_sig);
        let egress_set_targets = reps_in(&eg_sets, &dst_rep, &dst_sig);
        let mut src_in_members: Vec<Vec<u32>> = vec![Vec::new(); src_rep.len()];
        for (r, &set) in in_set_of.iter().enumerate() {
            if set != NO_SET {
                for &ss in &src_sigs_in[set as usize] {
                    src_in_members[ss as usize].push(r as u32);
                }
            }
        }

        let rules = engine.rules.len();
        let mut ingress_targets: Vec<Vec<u32>> = vec![Vec::new(); rules];
        let mut dst_open = Vec::with_capacity(dst_rep.len());
        for (ds, &p) in dst_rep.iter().enumerate() {
            let p = p as usize;
            let open = own(p) || engine.ingress[p].is_none();
            dst_open.push(open);
            if !open {
                for &r in engine.ingress[p].as_deref().unwrap_or_default() {
                    ingress_targets[r as usize].push(ds as u32);
                }
            }
        }

        let dst_plan: Vec<Option<u32>> = dst_rep
            .iter()
            .map(|&p| tiered.ingress[p as usize])
            .collect();
        let src_plan = src_rep.iter().map(|&p| tiered.egress[p as usize]).collect();
        let mut full = vec![0u64; words];
        for p in Protocol::ALL {
            atoms.set_range(&mut full, p, 1, MAX_PORT);
        }
        let empty = vec![0u64; words];
        let open_row = dst_open
            .iter()
            .flat_map(|&open| if open { &full } else { &empty })
            .copied()
            .collect();
        let index = FxHashMap::from_iter([(empty.clone(), EMPTY), (full.clone(), FULL)]);
        let mut matrix = Matrix {
            engine,
            atoms,
            words,
            rule_masks,
            named_slot,
            named_masks,
            named_sigs: sig_ports.len(),
            named_sig,
            src_sig,
            dst_sig,
            src_rep,
            dst_rep,
            ingress_targets,
            ingress_target_masks: Vec::new(),
            egress_set_of: eg_set_of,
            egress_set_targets,
            src_in_members,
            open_row,
            open_dsts: (0..dst_open.len() as u32)
                .filter(|&d| dst_open[d as usize])
                .collect(),
            any_dst_plan: dst_plan.iter().any(Option::is_some),
            open: dst_open,
            dst_plan,
            tiered_masks,
            tiered_named_masks,
            src_plan,
            table: vec![empty, full],
            index,
            scratch_pool: Mutex::new(Vec::new()),
        };
        let target_masks = (0..rules as u32)
            .into_par_iter()
            .map(|r| {
                let targets = &matrix.ingress_targets[r as usize];
                targets
                    .iter()
                    .flat_map(|&ds| matrix.rule_mask(r, matrix.dst_rep[ds as usize]))
                    .copied()
                    .collect()
            })
            .collect();
        matrix.ingress_target_masks = target_masks;
        matrix
    }

    /// Number of source and destination signatures.
    pub fn signatures(&self) -> (usize, usize) {
        (self.src_rep.len(), self.dst_rep.len())
    }

    /// The source signature of a peer.
    pub fn src_sig(&self, peer: PeerId) -> u32 {
        self.src_sig[peer as usize]
    }

    /// The destination signature of a peer.
    pub fn dst_sig(&self, peer: PeerId) -> u32 {
        self.dst_sig[peer as usize]
    }

    fn rule_mask(&self, rule: u32, dst: PeerId) -> &[u64] {
        match self.named_slot[rule as usize] {
            NO_SET => &self.rule_masks[rule as usize],
            slot => {
                let at = (slot as usize * self.named_sigs + self.named_sig[dst as usize] as usize)
                    * self.words;
                &self.named_masks[at..at + self.words]
            }
        }
    }

    /// One row without dialect plans, as `emit(destination signature, mask)` for the
    /// non-empty masks in destination order. Only the destinations the source's rules
    /// touch are visited (plus the open ones when its egress is not isolated).
    fn sparse_row(&self, ss: u32, scratch: &mut RowScratch, mut emit: impl FnMut(u32, &[u64])) {
        let e = self.engine;
        let words = self.words;
        let class_count = e.classes.classes.len();
        let src = self.src_rep[ss as usize] as usize;
        let src_ext = src >= class_count;
        let RowScratch {
            ingress,
            egress,
            mask,
            ..
        } = scratch;
        for &r in &self.src_in_members[ss as usize] {
            let masks = self.ingress_target_masks[r as usize].chunks_exact(words);
            for (&ds, mask) in self.ingress_targets[r as usize].iter().zip(masks) {
                or_into(ingress.slot(ds, words), mask);
            }
        }
        let full = &self.table[FULL as usize];
        let own = src_ext || e.classes.classes[src].host_network;
        match if own { None } else { e.egress[src].as_deref() } {
            Some(rules) => {
                for &r in rules {
                    let set = self.egress_set_of[r as usize];
                    for &ds in &self.egress_set_targets[set as usize] {
                        or_into(egress.slot(ds, words), self.egress_rule_mask(r, ds));
                    }
                }
                egress.touched.sort();
                for &ds in egress.touched.as_slice() {
                    let allowed = if self.open[ds as usize] {
                        full.as_slice()
                    } else {
                        ingress.get(ds, words)
                    };
                    let mut any = 0;
                    for ((o, a), b) in mask.iter_mut().zip(allowed).zip(egress.get(ds, words)) {
                        *o = a & b;
                        any |= *o;
                    }
                    if any != 0 {
                        emit(ds, mask);
                    }
                }
            }
            None => {
                // Open destinations (all of the row) merged with the scattered ones.
                ingress.touched.sort();
                let mut scattered = ingress.touched.as_slice().iter().peekable();
                for &ds in &self.open_dsts {
                    while let Some(&&t) = scattered.peek().filter(|&&&t| t < ds) {
                        scattered.next();
                        let m = ingress.get(t, words);
                        if m.iter().any(|w| *w != 0) {
                            emit(t, m);
                        }
                    }
                    scattered.next_if(|&&t| t == ds);
                    if !(src_ext && self.dst_rep[ds as usize] as usize >= class_count) {
                        emit(ds, full);
                    }
                }
                for &t in scattered {
                    let m = ingress.get(t, words);
                    if m.iter().any(|w| *w != 0) {
                        emit(t, m);
                    }
                }
            }
        }
        ingress.clear(words);
        egress.clear(words);
    }

    /// One row: the verdict mask towards every destination signature, scattered from the
    /// rules that involve the source (instead of scanning every destination's rules).
    fn row_masks(&self, ss: u32, row: &mut [u64], egress: &mut [u64]) {
        let e = self.engine;
        let words = self.words;
        let class_count = e.classes.classes.len();
        let src = self.src_rep[ss as usize] as usize;
        let src_ext = src >= class_count;
        row.copy_from_slice(&self.open_row);
        for &r in &self.src_in_members[ss as usize] {
            for &ds in &self.ingress_targets[r as usize] {
                let mask = self.rule_mask(r, self.dst_rep[ds as usize]);
                for (o, m) in row[ds as usize * words..(ds as usize + 1) * words]
                    .iter_mut()
                    .zip(mask)
                {
                    *o |= m;
                }
            }
        }
        // Destinations a dialect policy selects for ingress: their tiers decide.
        let mut scratch = Scratch::new(words);
        for (ds, plan) in self.dst_plan.iter().enumerate() {
            let Some(plan) = plan else { continue };
            let dst = self.dst_rep[ds];
            let out = &mut row[ds * words..(ds + 1) * words];
            self.evaluate_mask(*plan, out, &mut scratch, |step, m| match step {
                Step::NetworkPolicy(pi) => {
                    for &r in e.ingress[dst as usize].as_deref().unwrap_or_default() {
                        let rule = &e.rules[r as usize];
                        if rule.policy == pi && rule.peers.contains(src) {
                            or_into(m, self.rule_mask(r, dst));
                        }
                    }
                }
                Step::Rule(r) => {
                    if e.tiered.rules[r as usize].peers.contains(src) {
                        or_into(m, self.tiered_mask(r, dst));
                    }
                }
            });
        }
        if src_ext {
            // Outside to outside is not the cluster's traffic.
            for (ds, &p) in self.dst_rep.iter().enumerate() {
                if p as usize >= class_count {
                    row[ds * words..(ds + 1) * words].fill(0);
                }
            }
        }
        // A source a dialect policy selects for egress: its tiers decide.
        if let Some(plan) = self.src_plan[ss as usize] {
            for (ds, &dst) in self.dst_rep.iter().enumerate() {
                let out = &mut egress[ds * words..(ds + 1) * words];
                self.evaluate_mask(plan, out, &mut scratch, |step, m| match step {
                    Step::NetworkPolicy(pi) => {
                        for &r in e.egress[src].as_deref().unwrap_or_default() {
                            let rule = &e.rules[r as usize];
                            if rule.policy == pi && rule.peers.contains(dst as usize) {
                                or_into(m, self.rule_mask(r, dst));
                            }
                        }
                    }
                    Step::Rule(r) => {
                        if e.tiered.rules[r as usize].peers.contains(dst as usize) {
                            or_into(m, self.tiered_mask(r, dst));
                        }
                    }
                });
            }
            for (o, m) in row.iter_mut().zip(egress.iter()) {
                *o &= m;
            }
            return;
        }
        if src_ext || e.classes.classes[src].host_network {
            return;
        }
        let Some(rules) = e.egress[src].as_deref() else {
            return;
        };
        egress.fill(0);
        for &r in rules {
            let set = self.egress_set_of[r as usize];
            for &ds in &self.egress_set_targets[set as usize] {
                let slot = &mut egress[ds as usize * words..(ds as usize + 1) * words];
                or_into(slot, self.egress_rule_mask(r, ds));
            }
        }
        for (o, m) in row.iter_mut().zip(egress.iter()) {
            *o &= m;
        }
    }

    /// An egress rule's mask towards destination signature `ds` (names resolve to nothing
    /// outside the cluster).
    fn egress_rule_mask(&self, rule: u32, ds: u32) -> &[u64] {
        let dst = self.dst_rep[ds as usize];
        if dst as usize >= self.engine.classes.classes.len() {
            &self.rule_masks[rule as usize]
        } else {
            self.rule_mask(rule, dst)
        }
    }

    fn tiered_mask(&self, rule: u32, dst: PeerId) -> &[u64] {
        match self
            .tiered_named_masks
            .get(&(rule, self.named_sig[dst as usize]))
        {
            Some(m) => m,
            None => &self.tiered_masks[rule as usize],
        }
    }

    /// Evaluates a dialect plan into `out`; `step_mask(step, m)` ORs into the zeroed `m`
    /// the ports the step matches for this pair.
    fn evaluate_mask(
        &self,
        plan: u32,
        out: &mut [u64],
        scratch: &mut Scratch,
        mut step_mask: impl FnMut(Step, &mut [u64]),
    ) {
        let tiered = &self.engine.tiered;
        let plan = &tiered.plans[plan as usize];
        let Scratch {
            m,
            undecided,
            passed,
        } = scratch;
        undecided.copy_from_slice(&self.table[FULL as usize]);
        out.fill(0); // allowed
        for tier in &plan.tiers {
            passed.fill(0);
            for &step in &tier.steps {
                let action = match step {
                    Step::NetworkPolicy(_) => Action::Allow,
                    Step::Rule(r) => tiered.rules[r as usize].action,
                };
                if action == Action::Log {
                    continue;
                }
                m.fill(0);
                step_mask(step, m);
                let mut any = 0;
                for (x, u) in m.iter_mut().zip(undecided.iter()) {
                    *x &= u;
                    any |= *x;
                }
                if any == 0 {
                    continue;
                }
                for (u, x) in undecided.iter_mut().zip(m.iter()) {
                    *u &= !x;
                }
                match action {
                    Action::Allow => or_into(out, m),
                    Action::Pass => or_into(passed, m),
                    Action::Deny | Action::Log => {}
                }
            }
            if tier.isolates && tiered.tiers[tier.tier as usize].default_action == Action::Deny {
                undecided.fill(0);
            }
            or_into(undecided, passed);
        }
        or_into(out, undecided);
    }

    /// Rows for these source signatures: for each, the `(destination signature, verdict)`
    /// entries whose verdict is not `EMPTY`, by destination. Computed in parallel; new
    /// verdicts are interned.
    pub fn rows(&mut self, src_sigs: &[u32]) -> Vec<Vec<(u32, VerdictId)>> {
        let this = &*self;
        // Per row: the masks it found that the table lacks, and its entries.
        type LocalRow = (Vec<Vec<u64>>, Vec<(u32, VerdictId)>);
        let local: Vec<LocalRow> = src_sigs
            .par_iter()
            .map_init(
                || {
                    Pooled::take(&this.scratch_pool, || {
                        RowScratch::new(this.dst_rep.len(), this.words)
                    })
                },
                |scratch, &ss| {
                    let scratch = scratch.get();
                    let mut interner = RowInterner::new(this);
                    let mut entries = Vec::new();
                    if self.any_dst_plan || self.src_plan[ss as usize].is_some() {
                        let words = this.words;
                        let (row, egress) = scratch.dense();
                        this.row_masks(ss, row, egress);
                        for (d, m) in row.chunks_exact(words).enumerate() {
                            if m.iter().any(|w| *w != 0) {
                                entries.push((d as u32, interner.id(m)));
                            }
                        }
                    } else {
                        this.sparse_row(ss, scratch, |d, m| {
                            entries.push((d, interner.id(m)));
                        });
                    }
                    (interner.masks, entries)
                },
            )
            .collect();
        local
            .into_iter()
            .map(|(masks, mut row)| {
                if !masks.is_empty() {
                    let remap: Vec<VerdictId> = masks.into_iter().map(|m| self.intern(m)).collect();
                    for (_, id) in &mut row {
                        if *id & LOCAL != 0 {
                            *id = remap[(*id & !LOCAL) as usize];
                        }
                    }
                }
                row
            })
            .collect()
    }

    fn intern(&mut self, mask: Vec<u64>) -> VerdictId {
        if let Some(&id) = self.index.get(&mask) {
            return id;
        }
        let id = self.table.len() as VerdictId;
        self.table.push(mask.clone());
        self.index.insert(mask, id);
        id
    }

    /// The union of two verdicts.
    pub fn union(&mut self, a: VerdictId, b: VerdictId) -> VerdictId {
        if a == b || b == EMPTY || a == FULL {
            return a;
        }
        if a == EMPTY || b == FULL {
            return b;
        }
        let mask: Vec<u64> = self.table[a as usize]
            .iter()
            .zip(&self.table[b as usize])
            .map(|(x, y)| x | y)
            .collect();
        self.intern(mask)
    }

    /// A verdict as ports.
    pub fn portset(&self, id: VerdictId) -> PortSet {
        self.atoms.to_portset(&self.table[id as usize])
    }

    /// Number of distinct verdicts so far.
    pub fn distinct(&self) -> usize {
        self.table.len()
    }
}

/// Equal masks, compared inline (they are a word or two; `==` calls `memcmp`).
fn same(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

fn or_into(out: &mut [u64], mask: &[u64]) {
    for (o, m) in out.iter_mut().zip(mask) {
        *o |= m;
    }
}

/// Buffers for [`Matrix::evaluate_mask`], reused across pairs.
struct Scratch {
    m: Vec<u64>,
    undecided: Vec<u64>,
    passed: Vec<u64>,
}

impl Scratch {
    fn new(words: usize) -> Self {
        Scratch {
            m: vec![0; words],
            undecided: vec![0; words],
            passed: vec![0; words],
        }
    }
}

/// A sparse buffer of masks over destination signatures: slots are zeroed when first
/// touched and cleared after the row, so a row costs what its rules touch.
struct SparseMasks {
    masks: Vec<u64>,
    touched: TouchedSet,
}

impl SparseMasks {
    fn new(dsts: usize, words: usize) -> Self {
        SparseMasks {
            masks: vec![0; dsts * words],
            touched: TouchedSet::new(dsts),
        }
    }

    /// The slot of `ds`, touched.
    fn slot(&mut self, ds: u32, words: usize) -> &mut [u64] {
        self.touched.insert(ds);
        let d = ds as usize;
        &mut self.masks[d * words..(d + 1) * words]
    }

    /// The mask of `ds` (zero when untouched).
    fn get(&self, ds: u32, words: usize) -> &[u64] {
        let d = ds as usize;
        &self.masks[d * words..(d + 1) * words]
    }

    /// Zeroes the touched slots.
    fn clear(&mut self, words: usize) {
        for &ds in self.touched.as_slice() {
            let d = ds as usize;
            self.masks[d * words..(d + 1) * words].fill(0);
        }
        self.touched.clear();
    }
}

/// A value borrowed from a pool, given back when dropped.
struct Pooled<'p, T> {
    pool: &'p Mutex<Vec<T>>,
    value: Option<T>,
}

impl<'p, T> Pooled<'p, T> {
    /// A pooled value, or a new one when the pool is empty.
    fn take(pool: &'p Mutex<Vec<T>>, new: impl FnOnce() -> T) -> Self {
        let pooled = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Pooled {
            pool,
            value: Some(pooled.unwrap_or_else(new)),
        }
    }

    fn get(&mut self) -> &mut T {
        self.value.as_mut().expect("present until dropped")
    }
}

impl<T> Drop for Pooled<'_, T> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            self.pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(value);
        }
    }
}

/// Per-thread buffers for computing rows.
struct RowScratch {
    dsts: usize,
    words: usize,
    ingress: SparseMasks,
    egress: SparseMasks,
    /// One mask.
    mask: Vec<u64>,
    /// Dense row and egress buffers for rows with dialect plans (allocated on first use).
    dense: Option<(Vec<u64>, Vec<u64>)>,
}

impl RowScratch {
    fn new(dsts: usize, words: usize) -> Self {
        RowScratch {
            dsts,
            words,
            ingress: SparseMasks::new(dsts, words),
            egress: SparseMasks::new(dsts, words),
            mask: vec![0; words],
            dense: None,
        }
    }

    fn dense(&mut self) -> (&mut [u64], &mut [u64]) {
        let size = self.dsts * self.words;
        let (row, egress) = self
            .dense
            .get_or_insert_with(|| (vec![0; size], vec![0; size]));
        (row, egress)
    }
}

/// Verdict ids for one row's masks: known verdicts by lookup, new ones numbered locally
/// (marked `LOCAL`) until the row is merged into the table.
struct RowInterner<'m> {
    table: &'m FxHashMap<Vec<u64>, VerdictId>,
    full: &'m [u64],
    seen: FxHashMap<Vec<u64>, u32>,
    masks: Vec<Vec<u64>>,
    /// The previous mask and its id: neighbouring destinations often share a verdict.
    last: Vec<u64>,
    last_id: VerdictId,
}

impl<'m> RowInterner<'m> {
    fn new(matrix: &'m Matrix<'_, '_>) -> Self {
        let full = matrix.table[FULL as usize].as_slice();
        RowInterner {
            table: &matrix.index,
            full,
            seen: FxHashMap::default(),
            masks: Vec::new(),
            last: full.to_vec(),
            last_id: FULL,
        }
    }

    /// The id of a non-empty mask.
    fn id(&mut self, m: &[u64]) -> VerdictId {
        if same(m, &self.last) {
            return self.last_id;
        }
        let id = if same(m, self.full) {
            FULL
        } else if let Some(&id) = self.table.get(m) {
            id
        } else if let Some(&local) = self.seen.get(m) {
            local | LOCAL
        } else {
            let local = self.masks.len() as u32;
            self.masks.push(m.to_vec());
            self.seen.insert(m.to_vec(), local);
            local | LOCAL
        };
        self.last.copy_from_slice(m);
        self.last_id = id;
        id
    }
}

/// Marks a row-local verdict id before interning.
const LOCAL: u32 = 1 << 31;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_round_trip_through_atoms() {
        let mut cuts: [Vec<u32>; 3] = Default::default();
        cuts[0].extend([80, 81, 8000, 8081]);
        cuts[1].extend([53, 54]);
        let atoms = PortAtoms::new(cuts);
        let mut set = PortSet::empty();
        set.insert(Protocol::Tcp, 80, 80);
        set.insert(Protocol::Tcp, 8000, 8080);
        set.insert(Protocol::Udp, 53, 53);
        let mask = atoms.mask_of(&set);
        assert_eq!(atoms.to_portset(&mask), set);
        assert_eq!(
            atoms.to_portset(&atoms.mask_of(&PortSet::full())),
            PortSet::full()
        );
    }
}
