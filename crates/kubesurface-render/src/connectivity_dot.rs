//! A Graphviz digraph: one node per peer, one edge per allowed pair labelled with ports.

use std::collections::BTreeSet;
use std::io::{self, Write};

use kubesurface_engine::PortSet;
use kubesurface_engine::connectivity::Granularity;

use crate::ConnectivityRenderer;

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// DOT output; external peers are drawn as boxes.
#[derive(Default)]
pub struct DotRenderer {
    external: BTreeSet<String>,
}

impl ConnectivityRenderer for DotRenderer {
    fn begin(&mut self, out: &mut dyn Write, granularity: Granularity) -> io::Result<()> {
        writeln!(out, "digraph connectivity {{")?;
        writeln!(
            out,
            "  label={};",
            quote(&format!(
                "kubesurface connectivity ({})",
                granularity.as_str()
            ))
        )?;
        writeln!(out, "  node [shape=ellipse];")
    }

    fn connection(
        &mut self,
        out: &mut dyn Write,
        src: &str,
        dst: &str,
        _verdict: u32,
        allowed: &PortSet,
    ) -> io::Result<()> {
        for peer in [src, dst] {
            if peer.starts_with("ext:") {
                self.external.insert(peer.to_string());
            }
        }
        writeln!(
            out,
            "  {} -> {} [label={}];",
            quote(src),
            quote(dst),
            quote(&allowed.to_string())
        )
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        for peer in &self.external {
            writeln!(out, "  {} [shape=box];", quote(peer))?;
        }
        writeln!(out, "}}")
    }
}
