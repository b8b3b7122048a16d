//! The Cilium dialect: `cilium.io/v2` CiliumNetworkPolicy (namespaced) and
//! CiliumClusterwideNetworkPolicy, read into [`TieredPolicy`]s. `docs/cilium.md` is the
//! manual; this is the mapping.
//!
//! **One object, several policies.** An object holds one rule in `spec` and/or a list in
//! `specs`; Cilium treats each as an independent rule with its own subject and its own
//! default-deny setting (`CiliumNetworkPolicy.Parse` in `pkg/k8s/apis/cilium.io/v2`).
//! So each becomes its own policy: `spec` keeps the object's name, `specs[i]` is named
//! `NAME#i` (below, NAME stands for either).
//!
//! **Deny wins.** "Deny policies take precedence over allow policies, regardless of
//! whether they are a Cilium Network Policy, a Clusterwide Cilium Network Policy or even a
//! Kubernetes Network Policy" (docs.cilium.io "Deny policies"). The rule's `ingressDeny`
//! and `egressDeny` become a policy `NAME (deny)` in [`DEFAULT_TIER`] at order
//! `f64::MIN`, before every allow rule, that isolates nothing; `ingress` and `egress` stay
//! in policy `NAME` at [`KUBERNETES_POLICY_ORDER`], beside the Kubernetes
//! NetworkPolicies, whose allow rules are unioned with them. A rule with deny sections
//! only is one policy `NAME` at `f64::MIN` that also carries the isolation.
//!
//! **Default deny.** An endpoint selected by a rule with an ingress section (`ingress` or
//! `ingressDeny`, non-empty) is default-deny for ingress, unless the rule sets
//! `enableDefaultDeny.ingress: false`; the same for egress (docs.cilium.io "Policy
//! Enforcement Modes: Endpoint default policy"; `Rule.Sanitize` and the repository's
//! `hasIngressDefaultDeny` in `pkg/policy`). That is the `NAME` policy's `isolates_*`.
//! `ingress: [{}]` isolates and allows nothing; `ingress: []` is no section at all.
//!
//! The policy enforcement mode is assumed to be `default` (`always` and `never` are
//! agent settings the manifests do not show).

mod rules;
mod selector;
mod wire;

#[cfg(test)]
mod tests;

use kubesurface_model::{
    DEFAULT_TIER, Dialect, KUBERNETES_POLICY_ORDER, LabelExpr, Source, Subject, TieredPolicy,
};

use crate::document::Body;
use crate::objects::Parsed;

/// The policies read from one object, and notes on what was mapped conservatively.
#[derive(Debug, Default)]
pub struct Read {
    /// One or two policies per rule (`spec`, `specs[i]`): `NAME` and `NAME (deny)`.
    pub policies: Vec<TieredPolicy>,
    /// Human-readable notes, each `file:line: Kind ns/name: field: note`.
    pub warnings: Vec<String>,
}

/// Types one object of the `cilium.io` group: the two policy kinds of `cilium.io/v2`;
/// every other kind is unknown (counted and reported).
pub fn classify(
    kind: &str,
    api_version: &str,
    body: &Body<'_>,
    namespace: &str,
    source: Source,
) -> Result<Parsed, String> {
    let dialect = match (api_version, kind) {
        ("cilium.io/v2", "CiliumNetworkPolicy") => Dialect::CiliumNetworkPolicy,
        ("cilium.io/v2", "CiliumClusterwideNetworkPolicy") => {
            Dialect::CiliumClusterwideNetworkPolicy
        }
        _ => return Ok(Parsed::Unknown(format!("{api_version}/{kind}"))),
    };
    let mut read = read(dialect, body, namespace, source)?;
    let parsed = if read.policies.len() == 1 {
        Parsed::Tiered(Box::new(read.policies.remove(0)))
    } else {
        Parsed::TieredMany(read.policies)
    };
    if read.warnings.is_empty() {
        Ok(parsed)
    } else {
        Ok(Parsed::Warned {
            parsed: Box::new(parsed),
            warnings: read.warnings,
        })
    }
}

/// Reads one CiliumNetworkPolicy (`namespace` is its namespace) or
/// CiliumClusterwideNetworkPolicy (`namespace` is ignored).
pub fn read(
    dialect: Dialect,
    body: &Body<'_>,
    namespace: &str,
    source: Source,
) -> Result<Read, String> {
    let object: wire::Policy = crate::objects::parse(body)?;
    let name = object.metadata.name.clone();
    let namespace = match dialect {
        Dialect::CiliumNetworkPolicy => Some(namespace),
        _ => None,
    };
    let mut entries: Vec<(String, String, &wire::Rule)> = Vec::new();
    if let Some(spec) = &object.spec {
        entries.push(("spec".into(), name.clone(), spec));
    }
    for (i, spec) in object.specs.iter().flatten().enumerate() {
        entries.push((format!("specs[{i}]"), format!("{name}#{i}"), spec));
    }
    if object.spec.is_none() && object.specs.is_none() {
        return Err(format!(
            "spec: one of spec or specs is required (Cilium rejects an empty {})",
            dialect.kind()
        ));
    }
    let mut out = Read::default();
    let mut notes = Vec::new();
    for (field, rule_name, rule) in entries {
        let ctx = Rule {
            dialect,
            namespace,
            name: rule_name,
            annotations: &object.metadata.annotations,
            source: &source,
        };
        ctx.read(rule, &field, &mut out.policies, &mut notes)?;
    }
    let object_name = match namespace {
        Some(ns) => format!("{} {ns}/{name}", dialect.kind()),
        None => format!("{} {name}", dialect.kind()),
    };
    out.warnings = notes
        .into_iter()
        .map(|n| format!("{source}: {object_name}: {n}"))
        .collect();
    Ok(out)
}

/// What one rule (`spec` or `specs[i]`) needs to know about its object.
struct Rule<'a> {
    dialect: Dialect,
    namespace: Option<&'a str>,
    name: String,
    annotations: &'a kubesurface_model::Labels,
    source: &'a Source,
}

impl Rule<'_> {
    fn read(
        &self,
        r: &wire::Rule,
        field: &str,
        policies: &mut Vec<TieredPolicy>,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        // Rule.Validate: exactly one selector, and at least one non-empty section.
        let subject = match (&r.endpoint_selector, &r.node_selector) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{field}: endpointSelector and nodeSelector are mutually exclusive"
                ));
            }
            (None, None) => {
                return Err(format!(
                    "{field}: one of endpointSelector or nodeSelector is required"
                ));
            }
            (Some(es), None) => {
                let at = format!("{field}.endpointSelector");
                let parsed = selector::parse(es, &at)?;
                match self.namespace {
                    Some(ns) => Subject::Pods(parsed.pods(selector::Scope::SubjectIn(ns), &at)?),
                    // A clusterwide `reserved:host` subject is the host endpoint.
                    None if parsed.is_reserved_host() => Subject::Nodes(LabelExpr::All),
                    None => Subject::Pods(parsed.pods(selector::Scope::Cluster, &at)?),
                }
            }
            (None, Some(ns)) => {
                let at = format!("{field}.nodeSelector");
                if self.namespace.is_some() {
                    return Err(format!(
                        "{at}: node selectors can only be used in CiliumClusterwideNetworkPolicies"
                    ));
                }
                Subject::Nodes(selector::parse(ns, &at)?.nodes(&at)?)
            }
        };
        if r.ingress.is_empty()
            && r.ingress_deny.is_empty()
            && r.egress.is_empty()
            && r.egress_deny.is_empty()
        {
            return Err(format!(
                "{field}: a rule must have at least one of ingress, ingressDeny, egress, egressDeny (Cilium rejects the policy)"
            ));
        }
        let mut ctx = rules::Context {
            namespace: self.namespace,
            host_policy: r.node_selector.is_some(),
            source: self.source,
            warnings,
        };
        let mut section = |deny: bool, ingress: bool| -> Result<Vec<_>, String> {
            let mut out = Vec::new();
            match (ingress, deny) {
                (true, false) => {
                    for (i, x) in r.ingress.iter().enumerate() {
                        out.extend(rules::ingress(
                            x,
                            &format!("{field}.ingress[{i}]"),
                            false,
                            &mut ctx,
                        )?);
                    }
                }
                (true, true) => {
                    for (i, x) in r.ingress_deny.iter().enumerate() {
                        out.extend(rules::ingress(
                            x,
                            &format!("{field}.ingressDeny[{i}]"),
                            true,
                            &mut ctx,
                        )?);
                    }
                }
                (false, false) => {
                    for (i, x) in r.egress.iter().enumerate() {
                        out.extend(rules::egress(
                            x,
                            &format!("{field}.egress[{i}]"),
                            false,
                            &mut ctx,
                        )?);
                    }
                }
                (false, true) => {
                    for (i, x) in r.egress_deny.iter().enumerate() {
                        out.extend(rules::egress(
                            x,
                            &format!("{field}.egressDeny[{i}]"),
                            true,
                            &mut ctx,
                        )?);
                    }
                }
            }
            Ok(out)
        };
        let ingress_deny = section(true, true)?;
        let ingress = section(false, true)?;
        let egress_deny = section(true, false)?;
        let egress = section(false, false)?;

        let has_ingress = !r.ingress.is_empty() || !r.ingress_deny.is_empty();
        let has_egress = !r.egress.is_empty() || !r.egress_deny.is_empty();
        let policy = |name: String, order: f64| TieredPolicy {
            dialect: self.dialect,
            namespace: self.namespace.map(str::to_string),
            name,
            tier: DEFAULT_TIER.to_string(),
            order: Some(order),
            subject: subject.clone(),
            ingress: Vec::new(),
            egress: Vec::new(),
            applies_ingress: false,
            applies_egress: false,
            isolates_ingress: false,
            isolates_egress: false,
            annotations: self.annotations.clone(),
            source: self.source.clone(),
        };
        let isolates_ingress = has_ingress && r.enable_default_deny.ingress.unwrap_or(true);
        let isolates_egress = has_egress && r.enable_default_deny.egress.unwrap_or(true);
        let has_deny = !r.ingress_deny.is_empty() || !r.egress_deny.is_empty();
        let has_allow = !r.ingress.is_empty() || !r.egress.is_empty();
        if has_deny && !has_allow {
            // Deny sections only: one policy before every allow rule, which also carries
            // the default deny its sections enable.
            policies.push(TieredPolicy {
                ingress: ingress_deny,
                egress: egress_deny,
                applies_ingress: has_ingress,
                applies_egress: has_egress,
                isolates_ingress,
                isolates_egress,
                ..policy(self.name.clone(), f64::MIN)
            });
            return Ok(());
        }
        if has_deny {
            policies.push(TieredPolicy {
                ingress: ingress_deny,
                egress: egress_deny,
                applies_ingress: !r.ingress_deny.is_empty(),
                applies_egress: !r.egress_deny.is_empty(),
                ..policy(format!("{} (deny)", self.name), f64::MIN)
            });
        }
        policies.push(TieredPolicy {
            ingress,
            egress,
            applies_ingress: has_ingress,
            applies_egress: has_egress,
            isolates_ingress,
            isolates_egress,
            ..policy(self.name.clone(), KUBERNETES_POLICY_ORDER)
        });
        Ok(())
    }
}
