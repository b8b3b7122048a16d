//! `src,dst,allowed` CSV, one row per pair.

use std::io::{self, Write};

use kubesurface_engine::PortSet;
use kubesurface_engine::connectivity::Granularity;

use crate::ConnectivityRenderer;

/// Quotes a CSV field when it needs it (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV with a header row.
#[derive(Default)]
pub struct CsvRenderer {
    /// `allowed` fields already rendered, by verdict id.
    allowed: Vec<Option<String>>,
}

impl ConnectivityRenderer for CsvRenderer {
    fn begin(&mut self, out: &mut dyn Write, _: Granularity) -> io::Result<()> {
        writeln!(out, "src,dst,allowed")
    }

    fn connection(
        &mut self,
        out: &mut dyn Write,
        src: &str,
        dst: &str,
        verdict: u32,
        allowed: &PortSet,
    ) -> io::Result<()> {
        let slot = verdict as usize;
        if self.allowed.len() <= slot {
            self.allowed.resize(slot + 1, None);
        }
        let text = self.allowed[slot].get_or_insert_with(|| field(&allowed.to_string()));
        writeln!(out, "{},{},{text}", field(src), field(dst))
    }

    fn end(&mut self, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}
