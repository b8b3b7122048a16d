//! Renders kubesurface results. One renderer per file; each writes as rows arrive, so
//! large outputs stream.

pub mod audit;
mod connectivity_csv;
mod connectivity_dot;
mod connectivity_json;
mod connectivity_md;
mod connectivity_table;
pub mod diff;
pub mod exposure;

use std::io::{self, Write};

use kubesurface_engine::connectivity::{ConnectionBatch, Granularity};
use kubesurface_engine::{PortSet, Settings};

pub use connectivity_csv::CsvRenderer;
pub use connectivity_dot::DotRenderer;
pub use connectivity_json::{CONNECTIVITY_SCHEMA, JsonRenderer, allowed_json};
pub use connectivity_md::MarkdownRenderer;
pub use connectivity_table::TableRenderer;

/// Output formats of `connectivity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Grouped by source, for people.
    Table,
    /// The `kubesurface.connectivity/v1` contract.
    Json,
    /// `src,dst,allowed`.
    Csv,
    /// A Markdown table.
    Markdown,
    /// A Graphviz digraph.
    Dot,
}

/// Receives connections in order (sorted by source, then destination).
pub trait ConnectivityRenderer {
    /// Called once before any connection.
    fn begin(&mut self, out: &mut dyn Write, granularity: Granularity) -> io::Result<()>;
    /// One allowed pair. `verdict` is equal for equal port sets (for caching).
    fn connection(
        &mut self,
        out: &mut dyn Write,
        src: &str,
        dst: &str,
        verdict: u32,
        allowed: &PortSet,
    ) -> io::Result<()>;
    /// A batch of allowed pairs in order: by default each one to [`Self::connection`];
    /// a renderer may override it to work on the whole batch at once.
    fn connections(&mut self, out: &mut dyn Write, batch: &ConnectionBatch<'_>) -> io::Result<()> {
        for &(src, dst, verdict) in batch.pairs() {
            self.connection(
                out,
                batch.name(src),
                batch.name(dst),
                verdict,
                batch.allowed(verdict),
            )?;
        }
        Ok(())
    }
    /// Called once after the last connection.
    fn end(&mut self, out: &mut dyn Write) -> io::Result<()>;
}

/// A renderer for `format`; the JSON one states `settings`.
pub fn connectivity_renderer_with(
    format: Format,
    settings: &Settings,
) -> Box<dyn ConnectivityRenderer> {
    match format {
        Format::Json => Box::new(JsonRenderer::with_settings(settings)),
        other => connectivity_renderer(other),
    }
}

/// A renderer for `format`.
pub fn connectivity_renderer(format: Format) -> Box<dyn ConnectivityRenderer> {
    match format {
        Format::Table => Box::<TableRenderer>::default(),
        Format::Json => Box::<JsonRenderer>::default(),
        Format::Csv => Box::<CsvRenderer>::default(),
        Format::Markdown => Box::<MarkdownRenderer>::default(),
        Format::Dot => Box::<DotRenderer>::default(),
    }
}

/// The settings a result was computed under, as the optional `settings` object of the JSON
/// contracts: `{"cni":"generic","ipblock_matches_pods":true}`.
pub fn settings_json(settings: &Settings) -> String {
    format!(
        "{{\"cni\":\"{}\",\"ipblock_matches_pods\":{}}}",
        settings.cni.as_str(),
        settings.ipblock_matches_pods
    )
}
