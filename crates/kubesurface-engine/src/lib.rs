//! kubesurface's evaluation engine: pure, no I/O, no async.
//!
//! Pipeline: [`atoms`] cut the address space at ipBlock boundaries; [`classes`] group
//! endpoints no policy can tell apart; [`compile`] turns each policy rule into a bitset
//! over peers (classes, then external atoms) and a port spec; [`Engine`] answers the
//! verdict for a pair of peers; [`connectivity`] aggregates verdicts to pods, workloads or
//! namespaces and streams them in a stable order.

pub mod atoms;
pub mod classes;
pub mod compile;
pub mod connectivity;
mod engine;
pub mod explain;
mod explain_tiered;
pub mod matrix;
mod partition;
pub mod portset;
pub mod selector;
mod settings;
pub mod tiered;
mod touched;

pub use engine::{Engine, PeerId};
pub use portset::{PortSet, RangeSet};
pub use settings::{Settings, detect_cni};
