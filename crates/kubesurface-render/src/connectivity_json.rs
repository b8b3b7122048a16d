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

/// Writes a JSON string literal; names that need no escaping (every Kubernetes name)
/// are written as they are.
fn write_string(out: &mut dyn Write, s: &str) -> io::Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        out.write_all(
            serde_json::Value::String(s.to_string())
                .to_string()
                .as_bytes(),
        )
    }
}

/// Writes one connection per line inside the `connections` array.
#[derive(Default)]
pub struct JsonRenderer {
    first: bool,
    /// `allowed` objects already rendered, by verdict id: few distinct, many pairs.
    allowed: Vec<Option<String>>,
}

impl ConnectivityRenderer for JsonRenderer {
    fn begin(&mut self, out: &mut dyn Write, granularity: Granularity) -> io::Result<()> {
        self.first = true;
        write!(
            out,
            "{{\"schema\":\"{CONNECTIVITY_SCHEMA}\",\"granularity\":\"{}\",\"connections\":[",
            granularity.as_str()
        )
    }

    fn connection(
        &mut self,
        out: &mut dyn Write,
        src: &str,
        dst: &str,
        verdict: u32,
        allowed: &PortSet,
    ) -> io::Result<()> {
        if !self.first {
            out.write_all(b",")?;
        }
        self.first = false;
        out.write_all(b"\n{\"src\":")?;
        write_string(out, src)?;
        out.write_all(b",\"dst\":")?;
        write_string(out, dst)?;
        out.write_all(b",\"allowed\":")?;
        let slot = verdict as usize;
        if self.allowed.len() <= slot {
            self.allowed.resize(slot + 1, None);
        }
        let text = self.allowed[slot].get_or_insert_with(|| allowed_json(allowed));
        out.write_all(text.as_bytes())?;
        out.write_all(b"}")
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"\n]}\n")
    }
}
