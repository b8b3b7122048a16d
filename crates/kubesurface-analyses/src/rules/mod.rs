//! The audit rules. One module per rule: its code, name, severity and docs (the source of
//! both `kubesurface rules [ID]` and `docs/rules/KSnnn.md`), its check, and its tests.

use kubesurface_engine::Engine;
use kubesurface_model::Source;

use crate::config::Config;
use crate::exposure::Exposure;
use crate::findings::{Finding, Location, Severity};

mod common;
mod ks101_nodeport;
mod ks102_open_load_balancer;
mod ks103_external_ips;
mod ks104_host_port;
mod ks105_host_network;
mod ks106_wildcard_host_socket;
mod ks107_route_to_sensitive;
mod ks108_blocked_exposure;
mod ks109_undeclared_listener;
mod ks201_no_default_deny;
mod ks202_no_egress_isolation;
mod ks203_untrusted_reaches_sensitive;
mod ks204_shared_node;
mod ks205_ingress_from_anywhere;
mod ks301_policy_selects_nothing;
mod ks302_peer_matches_nothing;
mod ks303_unresolved_named_port;
mod ks304_policy_on_host_network;
mod ks305_egress_blocks_dns;
mod ks306_service_without_backends;
mod ks307_legacy_isolation_annotation;
mod ks308_policy_not_enforced;
mod ks309_l7_rules;
#[cfg(test)]
pub(crate) mod testing;

/// A rule: identity, documentation and check.
pub struct Rule {
    /// Stable code, `KSnnn`.
    pub code: &'static str,
    /// Short kebab-case name.
    pub name: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// One line: what it finds.
    pub summary: &'static str,
    /// Why it matters (Markdown).
    pub rationale: &'static str,
    /// A minimal manifest that triggers it (YAML).
    pub example: &'static str,
    /// How to fix it (Markdown).
    pub remediation: &'static str,
    /// The check.
    pub check: fn(&AuditContext<'_>, &mut Vec<Finding>),
}

impl Rule {
    /// A finding of this rule.
    pub fn finding(
        &self,
        objects: Vec<String>,
        message: String,
        locations: Vec<&Source>,
    ) -> Finding {
        let mut locations: Vec<Location> = locations.into_iter().map(Location::from).collect();
        locations.sort();
        locations.dedup();
        Finding {
            rule: self.code,
            name: self.name,
            severity: self.severity,
            objects,
            message,
            locations,
            suppressed: false,
            suppression: None,
        }
    }

    /// The rule's documentation page (Markdown), as written to `docs/rules/KSnnn.md`.
    pub fn markdown(&self) -> String {
        format!(
            "# {code} {name}\n\n**Severity:** {sev}\n\n{summary}\n\n## Why it matters\n\n{rationale}\n\n## Example\n\n```yaml\n{example}\n```\n\n## Remediation\n\n{remediation}\n",
            code = self.code,
            name = self.name,
            sev = self.severity,
            summary = self.summary,
            rationale = self.rationale.trim(),
            example = self.example.trim(),
            remediation = self.remediation.trim(),
        )
    }
}

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[
    &ks101_nodeport::RULE,
    &ks102_open_load_balancer::RULE,
    &ks103_external_ips::RULE,
    &ks104_host_port::RULE,
    &ks105_host_network::RULE,
    &ks106_wildcard_host_socket::RULE,
    &ks107_route_to_sensitive::RULE,
    &ks108_blocked_exposure::RULE,
    &ks109_undeclared_listener::RULE,
    &ks201_no_default_deny::RULE,
    &ks202_no_egress_isolation::RULE,
    &ks203_untrusted_reaches_sensitive::RULE,
    &ks204_shared_node::RULE,
    &ks205_ingress_from_anywhere::RULE,
    &ks301_policy_selects_nothing::RULE,
    &ks302_peer_matches_nothing::RULE,
    &ks303_unresolved_named_port::RULE,
    &ks304_policy_on_host_network::RULE,
    &ks305_egress_blocks_dns::RULE,
    &ks306_service_without_backends::RULE,
    &ks307_legacy_isolation_annotation::RULE,
    &ks308_policy_not_enforced::RULE,
    &ks309_l7_rules::RULE,
];

/// The rule with this code (case-insensitive).
pub fn rule(code: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code))
}

/// A listening socket reported by `kubesurface sockets`, joined to the cluster (filled in
/// by the sockets analysis; empty when no socket report is given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSocket {
    /// Node name.
    pub node: String,
    /// Protocol.
    pub protocol: kubesurface_model::Protocol,
    /// Bound address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// `wildcard`, `loopback` or `specific`.
    pub scope: String,
    /// True when the socket is in the node's own network namespace.
    pub host_netns: bool,
    /// Owning command names.
    pub commands: Vec<String>,
    /// Index of the owning endpoint in `Cluster::endpoints`, when known.
    pub endpoint: Option<usize>,
}

/// Everything a rule may look at.
pub struct AuditContext<'a> {
    /// The compiled cluster.
    pub engine: &'a Engine<'a>,
    /// The config.
    pub config: &'a Config,
    /// Every exposure.
    pub exposures: &'a [Exposure],
    /// Endpoint indices in the untrusted zone.
    pub untrusted: Vec<usize>,
    /// Endpoint indices in the sensitive zone.
    pub sensitive: Vec<usize>,
    /// Listening sockets from socket reports (empty without `--sockets`).
    pub sockets: &'a [HostSocket],
}

impl<'a> AuditContext<'a> {
    /// Builds the context: zones from the config.
    pub fn new(
        engine: &'a Engine<'a>,
        config: &'a Config,
        exposures: &'a [Exposure],
        sockets: &'a [HostSocket],
    ) -> Self {
        AuditContext {
            untrusted: crate::zones::members(engine.cluster, &config.untrusted),
            sensitive: crate::zones::members(engine.cluster, &config.sensitive),
            engine,
            config,
            exposures,
            sockets,
        }
    }

    /// The cluster.
    pub fn cluster(&self) -> &'a kubesurface_model::Cluster {
        self.engine.cluster
    }
}

/// The annotation that suppresses rules on an object: `kubesurface.io/ignore: "KS101,KS105"`.
pub const IGNORE_ANNOTATION: &str = "kubesurface.io/ignore";
/// The annotation giving the reason for an annotation suppression.
pub const IGNORE_REASON_ANNOTATION: &str = "kubesurface.io/ignore-reason";

/// Annotations of an object named `NS/Kind/NAME` (or `Kind/NAME`), when the model keeps them.
fn annotations_of<'c>(
    cluster: &'c kubesurface_model::Cluster,
    object: &str,
) -> Option<&'c kubesurface_model::Labels> {
    let parts: Vec<&str> = object.splitn(3, '/').collect();
    let (ns, kind, name) = match parts.as_slice() {
        [ns, kind, name] => (*ns, *kind, *name),
        [kind, name] => ("", *kind, *name),
        _ => return None,
    };
    match kind {
        "Service" => cluster
            .services
            .iter()
            .find(|s| s.namespace == ns && s.name == name)
            .map(|s| &s.annotations),
        "NetworkPolicy" => cluster
            .policies
            .iter()
            .find(|p| p.namespace == ns && p.name == name)
            .map(|p| &p.annotations),
        "Ingress" => cluster
            .ingresses
            .iter()
            .find(|i| i.namespace == ns && i.name == name)
            .map(|i| &i.annotations),
        "Namespace" => cluster.namespaces.get(name).map(|n| &n.annotations),
        "Pod" => cluster
            .endpoints
            .iter()
            .find(|e| !e.representative && e.namespace == ns && e.name == name)
            .map(|e| &e.annotations),
        _ => cluster
            .endpoints
            .iter()
            .find(|e| e.namespace == ns && e.workload.kind == kind && e.workload.name == name)
            .map(|e| &e.annotations),
    }
}

/// Marks findings suppressed by the config's `ignore:` or by an object annotation.
fn suppress(cluster: &kubesurface_model::Cluster, config: &Config, f: &mut Finding) {
    for i in &config.ignore {
        if i.rule.eq_ignore_ascii_case(f.rule)
            && i.object.as_ref().is_none_or(|o| f.objects.contains(o))
        {
            f.suppressed = true;
            f.suppression = Some(format!("config: {}", i.reason));
            return;
        }
    }
    for object in &f.objects {
        let Some(annotations) = annotations_of(cluster, object) else {
            continue;
        };
        let listed = annotations
            .get(IGNORE_ANNOTATION)
            .is_some_and(|v| v.split(',').any(|c| c.trim().eq_ignore_ascii_case(f.rule)));
        if listed {
            let reason = annotations
                .get(IGNORE_REASON_ANNOTATION)
                .cloned()
                .unwrap_or_else(|| "no reason given".to_string());
            f.suppressed = true;
            f.suppression = Some(format!("annotation on {object}: {reason}"));
            return;
        }
    }
}

/// Runs every rule; findings are suppressed as configured and ranked: severity (highest
/// first), then rule code, then objects.
pub fn audit(ctx: &AuditContext<'_>) -> Vec<Finding> {
    use rayon::prelude::*;
    let timings = std::env::var_os("KUBESURFACE_RULE_TIMINGS").is_some();
    // Rules are independent: they run in parallel, and their findings are ranked below.
    let found: Vec<Vec<Finding>> = RULES
        .par_iter()
        .map(|rule| {
            let started = std::time::Instant::now();
            let mut out = Vec::new();
            (rule.check)(ctx, &mut out);
            if timings {
                eprintln!(
                    "kubesurface: rule {} took {:?}",
                    rule.code,
                    started.elapsed()
                );
            }
            out
        })
        .collect();
    let mut out: Vec<Finding> = found.into_iter().flatten().collect();
    for f in &mut out {
        f.objects.sort();
        f.objects.dedup();
        suppress(ctx.cluster(), ctx.config, f);
    }
    out.sort_by(|a, b| {
        (b.severity, a.rule, &a.objects, &a.message)
            .cmp(&(a.severity, b.rule, &b.objects, &b.message))
    });
    out.dedup();
    out
}
