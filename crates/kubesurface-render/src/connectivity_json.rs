//! The `kubesurface.connectivity/v1` JSON contract, written as a stream.

use std::io::{self, Write};

use kubesurface_engine::PortSet;
use kubesurface_engine::connectivity::Granularity;
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
    /// The current source and its line start, `{"src":"…","dst":`: rows come grouped by
    /// source.
    src: String,
    prefix: Vec<u8>,
    /// The line being written.
    line: Vec<u8>,
    /// The settings the verdicts used, written as the optional `settings` object.
    settings: Option<String>,
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
        self.prefix.clear();
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
        if self.prefix.is_empty() || self.src != src {
            self.src.clear();
            self.src.push_str(src);
            self.prefix.clear();
            self.prefix.extend_from_slice(b"\n{\"src\":");
            push_string(&mut self.prefix, src);
            self.prefix.extend_from_slice(b",\"dst\":");
        }
        let line = &mut self.line;
        line.clear();
        if !self.first {
            line.push(b',');
        }
        self.first = false;
        line.extend_from_slice(&self.prefix);
        push_string(line, dst);
        line.extend_from_slice(b",\"allowed\":");
        let slot = verdict as usize;
        if self.allowed.len() <= slot {
            self.allowed.resize(slot + 1, None);
        }
        let text = self.allowed[slot].get_or_insert_with(|| allowed_json(allowed));
        line.extend_from_slice(text.as_bytes());
        line.push(b'}');
        out.write_all(line)
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
