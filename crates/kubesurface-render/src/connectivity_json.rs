//! The `kubesurface.connectivity/v1` JSON contract, written as a stream.

use std::io::{self, Write};

use rayon::prelude::*;

use kubesurface_engine::PortSet;
use kubesurface_engine::connectivity::{ConnectionBatch, Granularity};
use kubesurface_model::Protocol;

use crate::ConnectivityRenderer;

/// The schema identifier of the connectivity JSON.
pub const CONNECTIVITY_SCHEMA: &str = "kubesurface.connectivity/v1";

/// `{"TCP":[[lo,hi],…],"UDP":…,"SCTP":…}` with only the protocols that allow something,
/// in that order.
pub fn allowed_json(allowed: &PortSet) -> String {
    let mut out = String::from("{");
    for p in Protocol::ALL {
        let ranges = allowed.protocol(p);
        if ranges.is_empty() {
            continue;
        }
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&format!("\"{}\":[", p.as_str()));
        for (i, (lo, hi)) in ranges.ranges().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!("[{lo},{hi}]"));
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// Appends a JSON string literal; names that need no escaping (every Kubernetes name) are
/// copied as they are.
fn push_string(out: &mut Vec<u8>, s: &str) {
    // Without an early exit the check vectorizes.
    let plain = s
        .bytes()
        .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(
            serde_json::Value::String(s.to_string())
                .to_string()
                .as_bytes(),
        );
    }
}

/// Writes one connection per line inside the `connections` array.
#[derive(Default)]
pub struct JsonRenderer {
    first: bool,
    /// `allowed` objects already rendered, by verdict id: few distinct, many pairs.
    allowed: Vec<Option<String>>,
    /// The current source and its JSON literal: rows come grouped by source.
    src: String,
    src_text: Vec<u8>,
    /// The current destination's JSON literal (reused, not allocated per row).
    dst_text: Vec<u8>,
    /// The line being written.
    line: Vec<u8>,
    /// The settings the verdicts used, written as the optional `settings` object.
    settings: Option<String>,
    /// Per group, for batches: the start of a line naming it as the source,
    /// `,\n{"src":"<name>","dst":`.
    src_open: Vec<Box<[u8]>>,
    /// Per group, for batches: its name as the destination, `"<name>","allowed":`.
    dst_mid: Vec<Box<[u8]>>,
    /// Per verdict id, for batches: the end of a line, `{"TCP":…}}`.
    allowed_close: Vec<Box<[u8]>>,
}

/// Pairs a batch is written in at a time, rendered in parallel pieces of [`PIECE`].
const WINDOW: usize = 1 << 16;
/// Pairs one thread renders into one buffer.
const PIECE: usize = 4096;

/// The `allowed` object of a verdict, rendered the first time it is met.
fn remember_allowed<'a>(
    cache: &'a mut Vec<Option<String>>,
    verdict: u32,
    allowed: &PortSet,
) -> &'a str {
    let slot = verdict as usize;
    if cache.len() <= slot {
        cache.resize(slot + 1, None);
    }
    cache[slot].get_or_insert_with(|| allowed_json(allowed))
}

/// Appends one connection line: `,` unless it is the first, a newline, and the object.
fn push_line(out: &mut Vec<u8>, first: bool, src: &[u8], dst: &[u8], allowed: &[u8]) {
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"\n{\"src\":");
    out.extend_from_slice(src);
    out.extend_from_slice(b",\"dst\":");
    out.extend_from_slice(dst);
    out.extend_from_slice(b",\"allowed\":");
    out.extend_from_slice(allowed);
    out.push(b'}');
}

impl JsonRenderer {
    /// A renderer that states `settings` after `granularity`.
    pub fn with_settings(settings: &kubesurface_engine::Settings) -> Self {
        JsonRenderer {
            settings: Some(crate::settings_json(settings)),
            ..JsonRenderer::default()
        }
    }
}

impl ConnectivityRenderer for JsonRenderer {
    fn begin(&mut self, out: &mut dyn Write, granularity: Granularity) -> io::Result<()> {
        self.first = true;
        self.src.clear();
        self.src_text.clear();
        // Name literals belong to one run's groups.
        self.src_open.clear();
        self.dst_mid.clear();
        write!(
            out,
            "{{\"schema\":\"{CONNECTIVITY_SCHEMA}\",\"granularity\":\"{}\",",
            granularity.as_str()
        )?;
        if let Some(settings) = &self.settings {
            write!(out, "\"settings\":{settings},")?;
        }
        out.write_all(b"\"connections\":[")
    }

    fn connection(
        &mut self,
        out: &mut dyn Write,
        src: &str,
        dst: &str,
        verdict: u32,
        allowed: &PortSet,
    ) -> io::Result<()> {
        if self.src_text.is_empty() || self.src != src {
            self.src.clear();
            self.src.push_str(src);
            self.src_text.clear();
            push_string(&mut self.src_text, src);
        }
        let text = remember_allowed(&mut self.allowed, verdict, allowed);
        self.dst_text.clear();
        push_string(&mut self.dst_text, dst);
        self.line.clear();
        push_line(
            &mut self.line,
            self.first,
            &self.src_text,
            &self.dst_text,
            text.as_bytes(),
        );
        self.first = false;
        out.write_all(&self.line)
    }

    fn connections(&mut self, out: &mut dyn Write, batch: &ConnectionBatch<'_>) -> io::Result<()> {
        if self.src_open.len() != batch.group_count() {
            (self.src_open, self.dst_mid) = (0..batch.group_count())
                .into_par_iter()
                .map(|g| {
                    let mut name = Vec::new();
                    push_string(&mut name, batch.name(g as u32));
                    let src_open = [&b",\n{\"src\":"[..], &name, b",\"dst\":"].concat();
                    let dst_mid = [&name[..], b",\"allowed\":"].concat();
                    (src_open.into_boxed_slice(), dst_mid.into_boxed_slice())
                })
                .unzip();
        }
        for (verdict, allowed) in batch.verdicts() {
            let text = remember_allowed(&mut self.allowed, verdict, allowed);
            let slot = verdict as usize;
            if self.allowed_close.len() <= slot {
                self.allowed_close.resize(slot + 1, Box::default());
            }
            if self.allowed_close[slot].is_empty() {
                self.allowed_close[slot] = [text.as_bytes(), b"}"].concat().into_boxed_slice();
            }
        }
        let (src_open, dst_mid, close) = (&self.src_open, &self.dst_mid, &self.allowed_close);
        for window in batch.pairs().chunks(WINDOW) {
            // The very first line of the array has no separator before it.
            let skip = usize::from(self.first);
            self.first = false;
            let pieces: Vec<Vec<u8>> = window
                .par_chunks(PIECE)
                .map(|pairs| {
                    let size: usize = pairs
                        .iter()
                        .map(|&(src, dst, verdict)| {
                            src_open[src as usize].len()
                                + dst_mid[dst as usize].len()
                                + close[verdict as usize].len()
                        })
                        .sum();
                    let mut text = Vec::with_capacity(size);
                    for &(src, dst, verdict) in pairs {
                        text.extend_from_slice(&src_open[src as usize]);
                        text.extend_from_slice(&dst_mid[dst as usize]);
                        text.extend_from_slice(&close[verdict as usize]);
                    }
                    text
                })
                .collect();
            for (k, piece) in pieces.iter().enumerate() {
                out.write_all(&piece[if k == 0 { skip } else { 0 }..])?;
            }
        }
        Ok(())
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"\n]}\n")
    }
}

#[cfg(test)]
mod tests {
    use kubesurface_model::Protocol;

    use super::*;

    #[test]
    fn lines_per_pair_with_sources_and_odd_names_escaped() {
        let mut web = PortSet::empty();
        web.insert(Protocol::Tcp, 80, 80);
        let mut r = JsonRenderer::default();
        let mut out = Vec::new();
        r.begin(&mut out, Granularity::Workload).unwrap();
        r.connection(&mut out, "a/x[Deployment]", "b/y[Deployment]", 2, &web)
            .unwrap();
        r.connection(&mut out, "a/x[Deployment]", "c/\"q\"", 1, &PortSet::full())
            .unwrap();
        r.connection(&mut out, "b/y[Deployment]", "a/x[Deployment]", 2, &web)
            .unwrap();
        r.end(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"schema\":\"kubesurface.connectivity/v1\",\"granularity\":\"workload\",\"connections\":[\n\
             {\"src\":\"a/x[Deployment]\",\"dst\":\"b/y[Deployment]\",\"allowed\":{\"TCP\":[[80,80]]}},\n\
             {\"src\":\"a/x[Deployment]\",\"dst\":\"c/\\\"q\\\"\",\"allowed\":{\"TCP\":[[1,65535]],\"UDP\":[[1,65535]],\"SCTP\":[[1,65535]]}},\n\
             {\"src\":\"b/y[Deployment]\",\"dst\":\"a/x[Deployment]\",\"allowed\":{\"TCP\":[[80,80]]}}\n]}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["connections"].as_array().unwrap().len(), 3);
    }
}
