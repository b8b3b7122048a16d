//! `kubesurface reach`.

use std::process::ExitCode;

use kubesurface_analyses::query::{
    QueryPeer, everyone, name, parse_target, reaches, resolve, verdict,
};
use kubesurface_engine::{Engine, PortSet};
use kubesurface_model::Protocol;
use kubesurface_render::allowed_json;

use super::common::{load, settings, write_stdout};
use crate::cli::{QueryFormat, ReachArgs};

/// One answered pair.
struct Row {
    src: String,
    dst: String,
    via: Option<String>,
    allowed: PortSet,
    at_port: Option<bool>,
}

pub fn run(args: ReachArgs) -> Result<ExitCode, String> {
    if args.from.is_none() && args.to.is_none() {
        return Err("give --from, --to or both (`connectivity` prints everything)".into());
    }
    let loaded = load(&args.input)?;
    let engine = Engine::new(
        &loaded.cluster,
        settings(&args.input, None, &loaded.cluster),
    );
    let target = args.to.as_deref().map(parse_target).transpose()?;
    let sources = match &args.from {
        Some(f) => resolve(&engine, f)?,
        None => everyone(&engine),
    };
    let destinations = match &target {
        Some(t) => resolve(&engine, &t.peer)?,
        None => everyone(&engine),
    };
    let port = target.as_ref().and_then(|t| t.port.zip(t.protocol));
    let mut rows = Vec::new();
    for s in &sources {
        for d in &destinations {
            if s == d
                || matches!((s, d), (QueryPeer::Endpoint { index: a, .. }, QueryPeer::Endpoint { index: b, .. }) if a == b)
            {
                continue;
            }
            let allowed = verdict(&engine, s, d);
            let via = match d {
                QueryPeer::Endpoint { via, .. } => via.clone(),
                _ => None,
            };
            // Through a Service, only the Service port asked about counts.
            if let (
                Some((p, proto)),
                QueryPeer::Endpoint {
                    port_map: Some((sp, _, sproto)),
                    ..
                },
            ) = (port, d)
                && (*sp != p || *sproto != proto)
            {
                continue;
            }
            let at_port = port.map(|(p, proto)| reaches(&engine, s, d, p, proto));
            if at_port.is_none() && allowed.is_empty() {
                continue;
            }
            rows.push(Row {
                src: name(&engine, s),
                dst: name(&engine, d),
                via,
                allowed,
                at_port,
            });
        }
    }
    rows.sort_by(|a, b| (&a.src, &a.dst).cmp(&(&b.src, &b.dst)));
    let port_text = port.map(|(p, proto): (u16, Protocol)| format!("{proto} {p}"));
    write_stdout(|out| match args.output {
        QueryFormat::Table => {
            for r in &rows {
                let via = r
                    .via
                    .as_ref()
                    .map(|v| format!(" (via {v})"))
                    .unwrap_or_default();
                match (r.at_port, &port_text) {
                    (Some(ok), Some(pt)) => writeln!(
                        out,
                        "{} -> {}{via}: {pt} {}",
                        r.src,
                        r.dst,
                        if ok { "ALLOWED" } else { "denied" }
                    )?,
                    _ => writeln!(out, "{} -> {}{via}: {}", r.src, r.dst, r.allowed)?,
                }
            }
            let allowed = rows.iter().filter(|r| r.at_port.unwrap_or(true)).count();
            writeln!(out, "\n{allowed} of {} pairs allowed.", rows.len())
        }
        QueryFormat::Json => {
            let connections: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut v = serde_json::json!({
                        "src": r.src,
                        "dst": r.dst,
                        "allowed": serde_json::from_str::<serde_json::Value>(&allowed_json(&r.allowed)).unwrap_or_default(),
                    });
                    if let Some(ok) = r.at_port {
                        v["verdict"] = serde_json::json!(if ok { "allow" } else { "deny" });
                    }
                    if let Some(via) = &r.via {
                        v["via"] = serde_json::json!(via);
                    }
                    v
                })
                .collect();
            let doc = serde_json::json!({
                "schema": "kubesurface.reach/v1",
                "settings": {
                    "cni": engine.settings.cni.as_str(),
                    "ipblock_matches_pods": engine.settings.ipblock_matches_pods,
                },
                "from": args.from,
                "to": args.to,
                "connections": connections,
            });
            writeln!(out, "{doc}")
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
