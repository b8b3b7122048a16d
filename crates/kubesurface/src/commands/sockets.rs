//! `kubesurface sockets`: the node's listening sockets across network namespaces, with the
//! processes, containers and pods that own them (`kubesurface-sockets` does the reading).

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use kubesurface_sockets::{Owner, Report, scan};

use super::common::write_stdout;
use crate::cli::{QueryFormat, SocketsArgs};

pub fn run(args: SocketsArgs) -> Result<ExitCode, String> {
    let node = args
        .node
        .clone()
        .or_else(kubesurface_sockets::hostname)
        .unwrap_or_else(|| "unknown".to_string());
    let report = scan(Path::new(&args.proc), &node)?;
    match args.output {
        // The notes are in the document; nothing goes to stderr, so that a DaemonSet's
        // log (stdout and stderr merged) is exactly the JSON.
        QueryFormat::Json => write_stdout(|out| report.write_json(out))?,
        QueryFormat::Table => {
            write_stdout(|out| table(out, &report))?;
            for note in &report.notes {
                eprintln!("kubesurface: note: {note}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per socket, for people; the host namespace is called `host`.
fn table(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let header = [
        "NETNS", "PROTO", "LOCAL", "SCOPE", "IFACE", "PROCESS", "OWNER",
    ];
    let rows: Vec<[String; 7]> = report
        .sockets
        .iter()
        .map(|s| {
            let netns = if s.host_netns {
                "host".to_string()
            } else {
                s.netns.clone()
            };
            let process = if s.pids.is_empty() {
                "-".to_string()
            } else {
                let pids: Vec<String> = s.pids.iter().map(u32::to_string).collect();
                format!("{} ({})", s.commands.join(","), pids.join(","))
            };
            let owner = match s.owner {
                Owner::Pod => format!(
                    "pod {}{}",
                    s.pod_uid.as_deref().unwrap_or("?"),
                    s.container_id
                        .as_deref()
                        .map(|c| format!(" container {}", short(c)))
                        .unwrap_or_default()
                ),
                Owner::Container => {
                    format!(
                        "container {}",
                        short(s.container_id.as_deref().unwrap_or("?"))
                    )
                }
                other => other.as_str().to_string(),
            };
            [
                netns,
                s.protocol.as_str().to_string(),
                s.endpoint(),
                s.scope.as_str().to_string(),
                s.interface.clone().unwrap_or_else(|| "-".to_string()),
                process,
                owner,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; 7]| -> io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    writeln!(
        out,
        "node {}: {} sockets",
        report.node,
        report.sockets.len()
    )?;
    line(out, header)?;
    for row in &rows {
        line(out, row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

/// The first 12 digits of a container ID, as `crictl ps` and `docker ps` show it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
