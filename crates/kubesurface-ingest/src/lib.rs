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
mod list;
mod objects;
mod repeats;
mod routes;
mod scan;
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
    let loaded = load_texts(&inputs);
    release_in_background(inputs);
    loaded
}

/// Hands the inputs to a pool thread to be released. Nothing reads them once the model is
/// built, and unmapping a large input costs time in proportion to its size (0.6 ms for the
/// 8 MiB of 2,000 pods): off the caller's path, that runs while the caller compiles.
fn release_in_background(inputs: Vec<InputText>) {
    rayon::spawn(move || drop(inputs));
}

/// Models already-read inputs. Objects are split and typed in parallel (a JSON `List` is
/// read in parallel ranges, typed as it is read); the first error in input order is returned, an
/// input that cannot be split before any object that cannot be typed, so the same input
/// always gives the same error.
pub fn load_texts(inputs: &[InputText]) -> Result<Loaded, IngestError> {
    let read: Vec<Result<ReadInput<'_>, IngestError>> = if inputs.len() == 1 {
        vec![read_input(&inputs[0])]
    } else {
        inputs.par_iter().map(read_input).collect()
    };
    let mut read: Vec<ReadInput<'_>> = read.into_iter().collect::<Result<_, _>>()?;
    let (raw, typed) = if read.len() == 1 {
        read.pop().expect("one input")
    } else {
        // Sized up front: growing by doubling copies into fresh memory each time.
        let total = read.iter().map(|(objects, _)| objects.len()).sum();
        let mut raw = Vec::with_capacity(total);
        let mut typed = Vec::with_capacity(total);
        for (objects, parsed) in read {
            raw.extend(objects);
            typed.extend(parsed);
        }
        (raw, typed)
    };
    let parsed: Vec<objects::Parsed> = typed.into_iter().collect::<Result<_, _>>()?;
    // Fingerprints are computed only for objects whose name repeats.
    assemble::assemble(parsed, |i| objects::fingerprint(&raw[i]))
}

/// One input's objects and what each was typed as.
type ReadInput<'a> = (
    Vec<document::RawObject<'a>>,
    Vec<Result<objects::Parsed, IngestError>>,
);

/// Splits and types one input: a JSON `List` in parallel ranges, each item typed as it is
/// read; anything else split first and typed in parallel.
fn read_input(input: &InputText) -> Result<ReadInput<'_>, IngestError> {
    if let Some(items) = list::read(input) {
        return Ok(items);
    }
    let raw = document::split(input)?;
    let parsed = raw
        .par_iter()
        .with_min_len(64)
        .map(objects::classify)
        .collect();
    Ok((raw, parsed))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn pod(i: usize, name: &str) -> String {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"a"}},"status":{{"podIP":"10.0.{}.{}"}}}}"#,
            i / 250,
            i % 250 + 1
        )
    }

    /// A List of `n` pods, one a line (the List's first line is the opening), with the pods
    /// at `bad` indexes nameless.
    fn list(n: usize, bad: &[usize]) -> String {
        let items: Vec<String> = (0..n)
            .map(|i| {
                pod(i, if bad.contains(&i) { "" } else { "p" })
                    .replace("\"p\"", &format!("\"p{i}\""))
            })
            .collect();
        format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{}\n]}}\n",
            items.join(",\n")
        )
    }

    fn load(text: String) -> Result<Loaded, IngestError> {
        load_texts(&[InputText {
            name: Arc::from("list.json"),
            text: text.into(),
        }])
    }

    #[test]
    fn a_long_list_is_read_whole_and_in_order() {
        let loaded = load(list(1000, &[])).expect("valid");
        let names: Vec<&str> = loaded
            .cluster
            .endpoints
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names.len(), 1000);
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let p700 = loaded
            .cluster
            .endpoints
            .iter()
            .find(|e| e.name == "p700")
            .expect("p700");
        assert_eq!(p700.source.line, 702);
    }

    #[test]
    fn the_first_bad_object_in_input_order_is_reported() {
        let e = load(list(1000, &[900, 600])).expect_err("nameless pods");
        assert_eq!(e.to_string().split(':').nth(1), Some("602"), "{e}");
    }

    #[test]
    fn invalid_json_is_reported_before_any_bad_object() {
        let mut text = list(1000, &[3]);
        text.truncate(text.len() - 3);
        let e = load(text).expect_err("cut short");
        assert!(e.to_string().contains("invalid JSON"), "{e}");
    }
}
