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

use kubesurface_model::{Action, Protocol};
use rayon::prelude::*;

use crate::compile::{Direction, RulePorts};
use crate::engine::{Engine, PeerId};
use crate::portset::{MAX_PORT, PortSet};
use crate::tiered::Step;

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
    /// Per rule with named ports: named-port signature → resolved mask.
    named_masks: HashMap<(u32, u32), Vec<u64>>,
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
    /// Per egress rule: the destination signatures it admits.
    egress_targets: Vec<Vec<u32>>,
    /// Per source signature: the ingress rules that admit it.
    src_in_members: Vec<Vec<u32>>,
    /// Per destination signature: its ingress side is open (external, hostNetwork, or not
    /// isolated).
    dst_open: Vec<bool>,
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
    index: HashMap<Vec<u64>, VerdictId>,
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
        let mut named_masks = HashMap::new();
        for &r in &named_rules {
            for (sig, ports) in sig_ports.iter().enumerate() {
                let set = engine.rules[r as usize].ports.resolve(Some(ports));
                named_masks.insert((r, sig as u32), atoms.mask_of(&set));
            }
        }

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
        // Which dialect rules admit each peer.
        let mut t_in_members: Vec<Vec<u32>> = vec![Vec::new(); peers];
        let mut t_eg_members: Vec<Vec<u32>> = vec![Vec::new(); peers];
        for (r, rule) in tiered.rules.iter().enumerate() {
            let members = match rule.direction {
                Direction::Ingress => &mut t_in_members,
                Direction::Egress => &mut t_eg_members,
            };
            for p in rule.peers.ones() {
                members[p].push(r as u32);
            }
        }

        // Which rules admit each peer.
        let mut in_members: Vec<Vec<u32>> = vec![Vec::new(); peers];
        let mut eg_members: Vec<Vec<u32>> = vec![Vec::new(); peers];
        for (r, rule) in engine.rules.iter().enumerate() {
            let members = match rule.direction {
                Direction::Ingress => &mut in_members,
                Direction::Egress => &mut eg_members,
            };
            for p in rule.peers.ones() {
                members[p].push(r as u32);
            }
        }

        let class_count = classes.len();
        type SrcKey<'a> = (
            bool,
            bool,
            Option<&'a [u32]>,
            &'a [u32],
            Option<u32>,
            &'a [u32],
        );
        type DstKey<'a> = (
            bool,
            bool,
            Option<&'a [u32]>,
            u32,
            &'a [u32],
            Option<u32>,
            &'a [u32],
        );
        let mut src_index: HashMap<SrcKey<'_>, u32> = HashMap::new();
        let mut dst_index: HashMap<DstKey<'_>, u32> = HashMap::new();
        let (mut src_sig, mut dst_sig) = (vec![0u32; peers], vec![0u32; peers]);
        let (mut src_rep, mut dst_rep) = (Vec::new(), Vec::new());
        for p in 0..peers {
            let ext = p >= class_count;
            let host = !ext && classes[p].host_network;
            let egress = if ext || host {
                None
            } else {
                engine.egress[p].as_deref()
            };
            let ingress = if ext || host {
                None
            } else {
                engine.ingress[p].as_deref()
            };
            let sk: SrcKey<'_> = (
                ext,
                host,
                egress,
                &in_members[p],
                tiered.egress[p],
                &t_in_members[p],
            );
            let next = src_rep.len() as u32;
            src_sig[p] = *src_index.entry(sk).or_insert_with(|| {
                src_rep.push(p as PeerId);
                next
            });
            let dk: DstKey<'_> = (
                ext,
                host,
                ingress,
                named_sig[p],
                &eg_members[p],
                tiered.ingress[p],
                &t_eg_members[p],
            );
            let next = dst_rep.len() as u32;
            dst_sig[p] = *dst_index.entry(dk).or_insert_with(|| {
                dst_rep.push(p as PeerId);
                next
            });
        }
        drop(src_index);
        drop(dst_index);

        let rules = engine.rules.len();
        let mut ingress_targets: Vec<Vec<u32>> = vec![Vec::new(); rules];
        let mut egress_targets: Vec<Vec<u32>> = vec![Vec::new(); rules];
        let mut dst_open = Vec::with_capacity(dst_rep.len());
        for (ds, &p) in dst_rep.iter().enumerate() {
            let p = p as usize;
            let ext = p >= class_count;
            let open = ext || classes[p].host_network || engine.ingress[p].is_none();
            dst_open.push(open);
            if !open {
                for &r in engine.ingress[p].as_deref().unwrap_or_default() {
                    ingress_targets[r as usize].push(ds as u32);
                }
            }
            for &r in &eg_members[p] {
                egress_targets[r as usize].push(ds as u32);
            }
        }
        let src_in_members: Vec<Vec<u32>> = src_rep
            .iter()
            .map(|&p| in_members[p as usize].clone())
            .collect();

        let dst_plan = dst_rep
            .iter()
            .map(|&p| tiered.ingress[p as usize])
            .collect();
        let src_plan = src_rep.iter().map(|&p| tiered.egress[p as usize]).collect();
        let mut full = vec![0u64; words];
        for p in Protocol::ALL {
            atoms.set_range(&mut full, p, 1, MAX_PORT);
        }
        let empty = vec![0u64; words];
        let index = HashMap::from([(empty.clone(), EMPTY), (full.clone(), FULL)]);
        Matrix {
            engine,
            atoms,
            words,
            rule_masks,
            named_masks,
            named_sig,
            src_sig,
            dst_sig,
            src_rep,
            dst_rep,
            ingress_targets,
            egress_targets,
            src_in_members,
            dst_open,
            tiered_masks,
            tiered_named_masks,
            dst_plan,
            src_plan,
            table: vec![empty, full],
            index,
        }
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
        if self.engine.rules[rule as usize].ports.named.is_empty() {
            &self.rule_masks[rule as usize]
        } else {
            &self.named_masks[&(rule, self.named_sig[dst as usize])]
        }
    }

    /// One row: the verdict mask towards every destination signature, scattered from the
    /// rules that involve the source (instead of scanning every destination's rules).
    fn row_masks(&self, ss: u32, row: &mut [u64], egress: &mut [u64]) {
        let e = self.engine;
        let words = self.words;
        let class_count = e.classes.classes.len();
        let src = self.src_rep[ss as usize] as usize;
        let src_ext = src >= class_count;
        let full = &self.table[FULL as usize];
        for (ds, open) in self.dst_open.iter().enumerate() {
            let slot = &mut row[ds * words..(ds + 1) * words];
            if *open {
                slot.copy_from_slice(full);
            } else {
                slot.fill(0);
            }
        }
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
            for &ds in &self.egress_targets[r as usize] {
                let dst = self.dst_rep[ds as usize];
                let mask = if dst as usize >= class_count {
                    &self.rule_masks[r as usize]
                } else {
                    self.rule_mask(r, dst)
                };
                for (o, m) in egress[ds as usize * words..(ds as usize + 1) * words]
                    .iter_mut()
                    .zip(mask)
                {
                    *o |= m;
                }
            }
        }
        for (o, m) in row.iter_mut().zip(egress.iter()) {
            *o &= m;
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

    /// Rows for these source signatures: for each, the verdict id per destination
    /// signature. Computed in parallel; new verdicts are interned.
    pub fn rows(&mut self, src_sigs: &[u32]) -> Vec<Vec<VerdictId>> {
        let dsts = self.dst_rep.len();
        let words = self.words;
        let this = &*self;
        let local: Vec<(Vec<Vec<u64>>, Vec<u32>)> = src_sigs
            .par_iter()
            .map_init(
                || (vec![0u64; dsts * words], vec![0u64; dsts * words]),
                |(row, egress), &ss| {
                    this.row_masks(ss, row, egress);
                    let full = &this.table[FULL as usize];
                    let mut seen: HashMap<&[u64], u32> = HashMap::new();
                    let mut masks: Vec<Vec<u64>> = Vec::new();
                    let ids = row
                        .chunks_exact(words)
                        .map(|m| {
                            if m.iter().all(|w| *w == 0) {
                                return EMPTY;
                            }
                            if m == full.as_slice() {
                                return FULL;
                            }
                            if let Some(&id) = this.index.get(m) {
                                return id;
                            }
                            let next = masks.len() as u32;
                            let id = *seen.entry(m).or_insert_with(|| {
                                masks.push(m.to_vec());
                                next
                            });
                            id | LOCAL
                        })
                        .collect();
                    (masks, ids)
                },
            )
            .collect();
        local
            .into_iter()
            .map(|(masks, row)| {
                let remap: Vec<VerdictId> = masks.into_iter().map(|m| self.intern(m)).collect();
                row.into_iter()
                    .map(|id| {
                        if id & LOCAL != 0 {
                            remap[(id & !LOCAL) as usize]
                        } else {
                            id
                        }
                    })
                    .collect()
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
