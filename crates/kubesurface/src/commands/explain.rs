//! `kubesurface explain`.

use std::process::ExitCode;

use kubesurface_analyses::query::{QueryPeer, name, parse_target, peer_ref, resolve};
use kubesurface_engine::Engine;
use kubesurface_engine::explain::{Explanation, SideTrail, explain};

use super::common::{load, settings, write_stdout};
use crate::cli::{ExplainArgs, QueryFormat};

fn side_json(s: &SideTrail) -> serde_json::Value {
    let mut v = serde_json::json!({
        "allowed": s.allowed,
        "reason": s.reason,
        "policies": s.policies.iter().map(|p| serde_json::json!({
            "policy": p.policy,
            "location": p.location,
            "admits": p.admits,
            "rules": p.rules.iter().map(|r| serde_json::json!({
                "index": r.index,
                "peer": {"matched": r.peer.matched, "why": r.peer.why},
                "port": {"matched": r.port.matched, "why": r.port.why},
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    // Present only when dialect policies (admin, Calico, Cilium) decided this side.
    if !s.steps.is_empty() {
        v["steps"] = s
            .steps
            .iter()
            .map(|st| {
                serde_json::json!({
                    "tier": st.tier,
                    "order": st.order,
                    "policy": st.policy,
                    "location": st.location,
                    "rule": st.rule,
                    "action": st.action,
                    "peer": {"matched": st.peer.matched, "why": st.peer.why},
                    "port": {"matched": st.port.matched, "why": st.port.why},
                    "decided": st.decided,
                })
            })
            .collect();
    }
    v
}

/// The explanation as JSON.
pub fn explanation_json(
    src: &str,
    dst: &str,
    port: u16,
    protocol: &str,
    e: &Explanation,
) -> serde_json::Value {
    serde_json::json!({
        "src": src,
        "dst": dst,
        "port": port,
        "protocol": protocol,
        "allowed": e.allowed,
        "decided_by": e.decided_by,
        "egress": side_json(&e.egress),
        "ingress": side_json(&e.ingress),
        "assumptions": e.assumptions,
    })
}

/// The explanation for people.
pub fn explanation_text(
    src: &str,
    dst: &str,
    port: u16,
    protocol: &str,
    e: &Explanation,
) -> String {
    let mut t = format!(
        "{src} -> {dst} {protocol} {port}: {} ({})\n",
        if e.allowed { "ALLOWED" } else { "DENIED" },
        e.decided_by
    );
    for (label, side) in [
        (format!("egress of {src}"), &e.egress),
        (format!("ingress of {dst}"), &e.ingress),
    ] {
        t.push_str(&format!("  {label}: {}\n", side.reason));
        for st in &side.steps {
            let order = st.order.map(|o| format!(" order {o}")).unwrap_or_default();
            t.push_str(&format!(
                "    {}tier {}{order}: {} {} -> {}\n",
                if st.decided { "* " } else { "  " },
                st.tier,
                st.policy,
                st.rule,
                st.action
            ));
            if !st.policy.starts_with("NetworkPolicy ") {
                let mark = |m: bool| if m { "yes" } else { "no " };
                t.push_str(&format!(
                    "        peer {} {}\n",
                    mark(st.peer.matched),
                    st.peer.why
                ));
                t.push_str(&format!(
                    "        port {} {}\n",
                    mark(st.port.matched),
                    st.port.why
                ));
            }
        }
        for p in &side.policies {
            t.push_str(&format!(
                "    policy {} ({}){}\n",
                p.policy,
                p.location,
                if p.admits { ": admits" } else { "" }
            ));
            if p.rules.is_empty() {
                t.push_str("      no rules: admits nothing\n");
            }
            for r in &p.rules {
                let mark = |m: bool| if m { "yes" } else { "no " };
                t.push_str(&format!(
                    "      rule {}: peer {} {}\n",
                    r.index,
                    mark(r.peer.matched),
                    r.peer.why
                ));
                t.push_str(&format!(
                    "              port {} {}\n",
                    mark(r.port.matched),
                    r.port.why
                ));
            }
        }
    }
    for a in &e.assumptions {
        t.push_str(&format!("  assumed: {a}\n"));
    }
    t
}

pub fn run(args: ExplainArgs) -> Result<ExitCode, String> {
    let loaded = load(&args.input)?;
    let s = settings(&args.input, None, &loaded.cluster);
    let engine = Engine::new(&loaded.cluster, s);
    let target = parse_target(&args.to)?;
    let (Some(port), Some(protocol)) = (target.port, target.protocol) else {
        return Err(format!(
            "{:?}: explain needs a port: PEER:PORT[/PROTO]",
            args.to
        ));
    };
    let sources = resolve(&engine, &args.from)?;
    let destinations = resolve(&engine, &target.peer)?;
    let mut results = Vec::new();
    for src in &sources {
        for dst in &destinations {
            let (p, proto) = match dst {
                QueryPeer::Endpoint {
                    port_map: Some((sp, tp, pr)),
                    ..
                } if *sp == port && *pr == protocol => (*tp, *pr),
                QueryPeer::Endpoint {
                    port_map: Some(_), ..
                } => continue,
                _ => (port, protocol),
            };
            let e = explain(
                &loaded.cluster,
                s,
                &peer_ref(&engine, src),
                &peer_ref(&engine, dst),
                p,
                proto,
            );
            results.push((name(&engine, src), name(&engine, dst), p, proto.as_str(), e));
        }
    }
    write_stdout(|out| match args.output {
        QueryFormat::Table => {
            for (s, d, p, proto, e) in &results {
                writeln!(out, "{}", explanation_text(s, d, *p, proto, e))?;
            }
            Ok(())
        }
        QueryFormat::Json => {
            let list: Vec<serde_json::Value> = results
                .iter()
                .map(|(s, d, p, proto, e)| explanation_json(s, d, *p, proto, e))
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({"schema": "kubesurface.explain/v1", "explanations": list})
            )
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
