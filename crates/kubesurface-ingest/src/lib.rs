//! Reads Kubernetes manifests into the kubesurface [`Cluster`] model.
//!
//! Inputs are files, directories (recursive) and stdin; YAML streams and JSON documents;
//! `List` kinds as `kubectl get -o yaml|json` writes them. Every object keeps its file and
//! line. Bad input is an [`IngestError`] naming file, line, object and problem; kinds that
//! are not modelled are counted in [`Cluster::unknown_kinds`], never an error.

mod assemble;
mod convert;
mod dialects;
mod document;
mod error;
mod input;
mod objects;
mod routes;
mod types;

use rayon::prelude::*;

pub use error::IngestError;
pub use input::{InputText, read_inputs};
use kubesurface_model::Cluster;

/// A loaded cluster and the warnings met on the way (duplicates, dangling references).
#[derive(Debug)]
pub struct Loaded {
    /// The model.
    pub cluster: Cluster,
    /// Human-readable warnings, each starting with `file:line`.
    pub warnings: Vec<String>,
}

/// Reads and models every path (`-` is stdin).
pub fn load_paths(paths: &[String]) -> Result<Loaded, IngestError> {
    let inputs = read_inputs(paths)?;
    load_texts(&inputs)
}

/// Models already-read inputs. Objects are split and typed in parallel; the first error in
/// input order is returned, so the same input always gives the same error.
pub fn load_texts(inputs: &[InputText]) -> Result<Loaded, IngestError> {
    let raw: Vec<Vec<document::RawObject<'_>>> = inputs
        .par_iter()
        .map(document::split)
        .collect::<Result<_, _>>()?;
    let raw: Vec<document::RawObject<'_>> = raw.into_iter().flatten().collect();
    let parsed: Vec<objects::Parsed> = raw
        .par_iter()
        .with_min_len(64)
        .map(objects::classify)
        .collect::<Result<_, _>>()?;
    // Fingerprints are computed only for objects whose name repeats.
    assemble::assemble(parsed, |i| objects::fingerprint(&raw[i]))
}
