//! The table people read first: grouped by source, `All` or compact port lists.

use std::io::{self, Write};

use kubesurface_engine::PortSet;
use kubesurface_engine::connectivity::Granularity;

use crate::ConnectivityRenderer;

/// Rows are buffered per source so columns align within each source's block.
#[derive(Default)]
pub struct TableRenderer {
    current: Option<String>,
    rows: Vec<(String, String)>,
    /// Port lists already rendered, by verdict id.
    allowed: Vec<Option<String>>,
    total: usize,
    sources: usize,
}

impl TableRenderer {
    fn flush(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let Some(src) = self.current.take() else {
            return Ok(());
        };
        self.sources += 1;
        writeln!(out, "{src}")?;
        let width = self.rows.iter().map(|(d, _)| d.len()).max().unwrap_or(0);
        for (dst, allowed) in self.rows.drain(..) {
            writeln!(out, "  -> {dst:<width$}  {allowed}")?;
        }
        Ok(())
    }
}

impl ConnectivityRenderer for TableRenderer {
    fn begin(&mut self, _: &mut dyn Write, _: Granularity) -> io::Result<()> {
        Ok(())
    }

    fn connection(
        &mut self,
        out: &mut dyn Write,
        src: &str,
        dst: &str,
        verdict: u32,
        allowed: &PortSet,
    ) -> io::Result<()> {
        if self.current.as_deref() != Some(src) {
            self.flush(out)?;
            self.current = Some(src.to_string());
        }
        self.total += 1;
        let slot = verdict as usize;
        if self.allowed.len() <= slot {
            self.allowed.resize(slot + 1, None);
        }
        let text = self.allowed[slot].get_or_insert_with(|| allowed.to_string());
        self.rows.push((dst.to_string(), text.clone()));
        Ok(())
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.flush(out)?;
        writeln!(
            out,
            "\n{} allowed connections from {} sources.",
            self.total, self.sources
        )
    }
}
