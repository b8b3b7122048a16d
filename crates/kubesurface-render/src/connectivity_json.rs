//! The `kubesurface.connectivity/v1` JSON contract, written as a stream.

use std::io::{self, Write};

use kubesurface_engine::PortSet;
use kubesurface_engine::connectivity::Granularity;
use kubesurface_model::Protocol;

use crate::ConnectivityRenderer;

/// The schema identifier of the connectivity JSON.
pub const CONNECTIVITY_SCHEMA: &str = "kubesurface.connectivity/v1";

/// `{"TCP":[[lo,hi],…],"UDP":…,"SCTP":…}` with only the protocols that allow something.
pub fn allowed_json(allowed: &PortSet) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for p in Protocol::ALL {
        let ranges = allowed.protocol(p);
        if ranges.is_empty() {
            continue;
        }
        let list = ranges
            .ranges()
            .iter()
            .map(|&(lo, hi)| serde_json::json!([lo, hi]))
            .collect();
        map.insert(p.as_str().to_string(), serde_json::Value::Array(list));
    }
    serde_json::Value::Object(map)
}

/// Writes one connection per line inside the `connections` array.
#[derive(Default)]
pub struct JsonRenderer {
    first: bool,
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
        allowed: &PortSet,
    ) -> io::Result<()> {
        if !self.first {
            out.write_all(b",")?;
        }
        self.first = false;
        let record = serde_json::json!({"src": src, "dst": dst, "allowed": allowed_json(allowed)});
        write!(out, "\n{record}")
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"\n]}\n")
    }
}
