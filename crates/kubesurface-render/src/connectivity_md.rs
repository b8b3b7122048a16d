//! A Markdown table, for pull-request comments and reports.

use std::io::{self, Write};

use kubesurface_engine::PortSet;
use kubesurface_engine::connectivity::Granularity;

use crate::ConnectivityRenderer;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Markdown with a heading and one table.
#[derive(Default)]
pub struct MarkdownRenderer {
    rows: usize,
}

impl ConnectivityRenderer for MarkdownRenderer {
    fn begin(&mut self, out: &mut dyn Write, granularity: Granularity) -> io::Result<()> {
        writeln!(
            out,
            "### Connectivity ({} granularity)\n",
            granularity.as_str()
        )?;
        writeln!(out, "| Source | Destination | Allowed |")?;
        writeln!(out, "|---|---|---|")
    }

    fn connection(
        &mut self,
        out: &mut dyn Write,
        src: &str,
        dst: &str,
        _verdict: u32,
        allowed: &PortSet,
    ) -> io::Result<()> {
        self.rows += 1;
        writeln!(
            out,
            "| `{}` | `{}` | {} |",
            cell(src),
            cell(dst),
            cell(&allowed.to_string())
        )
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "\n{} allowed connections.", self.rows)
    }
}
