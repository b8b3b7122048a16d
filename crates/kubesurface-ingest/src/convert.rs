//! Validates wire types and turns them into model types, with the API's defaults applied.
//! Errors here are plain messages; the caller adds file, line and object.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use kubesurface_model as model;
use model::{LabelSelector, Operator, PortSpec, Protocol, Requirement};

use crate::types;

/// `protocol`, defaulting to TCP.
pub fn protocol(p: Option<&str>) -> Result<Protocol, String> {
    p.map_or(Ok(Protocol::Tcp), Protocol::from_str)
}

/// A port number in 1..=65535.
pub fn port_number(n: i64, field: &str) -> Result<u16, String> {
    u16::try_from(n)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{field}: {n} is not a valid port (1-65535)"))
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters: a label value
/// (non-empty) or the name part of a label key.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A DNS-1123 subdomain: the optional prefix of a label key.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// Checks a label key as the API server does (`[prefix/]name`).
pub fn label_key(k: &str, field: &str) -> Result<(), String> {
    let ok = match k.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(k),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{field}: {k:?} is not a valid label key"))
    }
}

/// Checks a label value as the API server does (may be empty).
pub fn label_value(v: &str, field: &str) -> Result<(), String> {
    if v.is_empty() || is_label_name(v) {
        Ok(())
    } else {
        Err(format!("{field}: {v:?} is not a valid label value"))
    }
}

/// A label selector, with keys, values, operators and value lists checked as the API does.
pub fn selector(s: &types::LabelSelector, field: &str) -> Result<LabelSelector, String> {
    for (k, v) in &s.match_labels {
        label_key(k, &format!("{field}.matchLabels"))?;
        label_value(v, &format!("{field}.matchLabels[{k}]"))?;
    }
    for (i, e) in s.match_expressions.iter().enumerate() {
        label_key(&e.key, &format!("{field}.matchExpressions[{i}].key"))?;
        for v in &e.values {
            label_value(v, &format!("{field}.matchExpressions[{i}].values"))?;
        }
    }
    let match_labels = s
        .match_labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut match_expressions = Vec::with_capacity(s.match_expressions.len());
    for (i, e) in s.match_expressions.iter().enumerate() {
        let at = format!("{field}.matchExpressions[{i}]");
        let operator = match e.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                return Err(format!(
                    "{at}.operator: {other:?} is not a valid operator (In, NotIn, Exists, DoesNotExist)"
                ));
            }
        };
        let needs_values = matches!(operator, Operator::In | Operator::NotIn);
        if needs_values && e.values.is_empty() {
            return Err(format!(
                "{at}.values: must be non-empty for operator {}",
                e.operator
            ));
        }
        if !needs_values && !e.values.is_empty() {
            return Err(format!(
                "{at}.values: must be empty for operator {}",
                e.operator
            ));
        }
        if e.key.is_empty() {
            return Err(format!("{at}.key: must not be empty"));
        }
        let mut values = e.values.clone();
        values.sort();
        values.dedup();
        match_expressions.push(Requirement {
            key: e.key.clone(),
            operator,
            values,
        });
    }
    Ok(LabelSelector {
        match_labels,
        match_expressions,
    })
}

/// A CIDR as the API accepts it (host bits are cleared, as the API server treats them).
pub fn cidr(s: &str, field: &str) -> Result<IpNet, String> {
    IpNet::from_str(s.trim())
        .map(|n| n.trunc())
        .map_err(|_| format!("{field}: {s:?} is not a valid CIDR"))
}

/// An `ipBlock`: every `except` must be a CIDR strictly inside `cidr`, of the same family.
pub fn ip_block(b: &types::IpBlock, field: &str) -> Result<model::IpBlock, String> {
    let cidr = cidr(&b.cidr, &format!("{field}.cidr"))?;
    let mut except = Vec::with_capacity(b.except.len());
    for (i, e) in b.except.iter().enumerate() {
        let at = format!("{field}.except[{i}]");
        let net = self::cidr(e, &at)?;
        if !cidr.contains(&net) || net.prefix_len() <= cidr.prefix_len() {
            return Err(format!("{at}: {e} must be strictly within cidr {cidr}"));
        }
        except.push(net);
    }
    except.sort();
    except.dedup();
    Ok(model::IpBlock { cidr, except })
}

/// One `NetworkPolicyPort`.
pub fn policy_port(p: &types::PolicyPort, field: &str) -> Result<model::PolicyPort, String> {
    let protocol = protocol(p.protocol.as_deref()).map_err(|e| format!("{field}.protocol: {e}"))?;
    let port = match (&p.port, p.end_port) {
        (None, None) => PortSpec::All,
        (None, Some(_)) => return Err(format!("{field}.endPort: requires a numeric port")),
        (Some(types::IntOrString::Int(n)), end) => {
            let start = port_number(*n, &format!("{field}.port"))?;
            let end = match end {
                None => start,
                Some(e) => {
                    let end = port_number(e, &format!("{field}.endPort"))?;
                    if end < start {
                        return Err(format!(
                            "{field}.endPort: {end} must be greater than or equal to port {start}"
                        ));
                    }
                    end
                }
            };
            PortSpec::Range(start, end)
        }
        (Some(types::IntOrString::String(s)), end) => {
            if let Ok(n) = s.parse::<i64>() {
                // An all-digit string is read as the number, as intstr does for ports.
                let start = port_number(n, &format!("{field}.port"))?;
                let end = match end {
                    None => start,
                    Some(e) => port_number(e, &format!("{field}.endPort"))?.max(start),
                };
                PortSpec::Range(start, end)
            } else {
                if end.is_some() {
                    return Err(format!(
                        "{field}.endPort: may not be used with a named port ({s:?})"
                    ));
                }
                if s.is_empty() || s.len() > 15 {
                    return Err(format!(
                        "{field}.port: {s:?} is not a valid port name (1-15 characters)"
                    ));
                }
                PortSpec::Named(s.clone())
            }
        }
    };
    Ok(model::PolicyPort { protocol, port })
}

/// One `NetworkPolicyPeer`: exactly one of ipBlock, or a pod and/or namespace selector.
pub fn peer(p: &types::PolicyPeer, field: &str) -> Result<model::Peer, String> {
    match (&p.ip_block, &p.pod_selector, &p.namespace_selector) {
        (Some(b), None, None) => Ok(model::Peer::IpBlock(ip_block(
            b,
            &format!("{field}.ipBlock"),
        )?)),
        (Some(_), _, _) => Err(format!(
            "{field}: ipBlock may not be combined with podSelector or namespaceSelector"
        )),
        (None, None, None) => Err(format!(
            "{field}: must specify podSelector, namespaceSelector or ipBlock"
        )),
        (None, pods, namespaces) => Ok(model::Peer::Pods {
            pod_selector: pods
                .as_ref()
                .map(|s| selector(s, &format!("{field}.podSelector")))
                .transpose()?,
            namespace_selector: namespaces
                .as_ref()
                .map(|s| selector(s, &format!("{field}.namespaceSelector")))
                .transpose()?,
        }),
    }
}

/// A NetworkPolicy, with `policyTypes` defaulted as the API server defaults it.
pub fn network_policy(
    np: &types::NetworkPolicy,
    namespace: &str,
    source: model::Source,
) -> Result<model::NetworkPolicy, String> {
    let spec = &np.spec;
    let pod_selector = selector(&spec.pod_selector, "spec.podSelector")?;
    let (affects_ingress, affects_egress) = match &spec.policy_types {
        Some(types) if !types.is_empty() => {
            let mut ingress = false;
            let mut egress = false;
            for (i, t) in types.iter().enumerate() {
                match t.as_str() {
                    "Ingress" => ingress = true,
                    "Egress" => egress = true,
                    other => {
                        return Err(format!(
                            "spec.policyTypes[{i}]: {other:?} is not Ingress or Egress"
                        ));
                    }
                }
            }
            (ingress, egress)
        }
        _ => (true, !spec.egress.is_empty()),
    };
    let rules = |rules: &[types::PolicyRule], dir: &str, peers_field: &str| {
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("spec.{dir}[{i}]");
                let raw_peers = if peers_field == "from" {
                    &r.from
                } else {
                    &r.to
                };
                let peers = raw_peers
                    .iter()
                    .enumerate()
                    .map(|(j, p)| peer(p, &format!("{at}.{peers_field}[{j}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                let ports = r
                    .ports
                    .iter()
                    .enumerate()
                    .map(|(j, p)| policy_port(p, &format!("{at}.ports[{j}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(model::PolicyRule { peers, ports })
            })
            .collect::<Result<Vec<_>, String>>()
    };
    Ok(model::NetworkPolicy {
        namespace: namespace.to_string(),
        name: np.metadata.name.clone(),
        pod_selector,
        affects_ingress,
        affects_egress,
        ingress: rules(&spec.ingress, "ingress", "from")?,
        egress: rules(&spec.egress, "egress", "to")?,
        annotations: np.metadata.annotations.clone(),
        source,
    })
}

/// Declared container ports (containers and init containers, which may be sidecars).
pub fn container_ports(spec: &types::PodSpec) -> Result<Vec<model::ContainerPort>, String> {
    let mut out = Vec::new();
    let all = (spec.containers.iter().enumerate())
        .map(|(ci, c)| ("containers", ci, c))
        .chain((spec.init_containers.iter().enumerate()).map(|(ci, c)| ("initContainers", ci, c)));
    for (list, ci, c) in all {
        for (pi, p) in c.ports.iter().enumerate() {
            // The field path is only spelled out for an error.
            let at = |field: &str| format!("spec.{list}[{ci}].ports[{pi}].{field}");
            let port = u16::try_from(p.container_port)
                .ok()
                .filter(|n| *n != 0)
                .map_or_else(|| port_number(p.container_port, &at("containerPort")), Ok)?;
            let protocol =
                protocol(p.protocol.as_deref()).map_err(|e| format!("{}: {e}", at("protocol")))?;
            let host_port = match p.host_port {
                None | Some(0) => None,
                Some(h) => Some(
                    u16::try_from(h)
                        .ok()
                        .map_or_else(|| port_number(h, &at("hostPort")), Ok)?,
                ),
            };
            out.push(model::ContainerPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port,
                protocol,
                host_port,
                host_ip: p.host_ip.clone().filter(|h| !h.is_empty()),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Pod IPs from `status.podIPs`, else `status.podIP`.
pub fn pod_ips(status: &types::PodStatus) -> Result<Vec<IpAddr>, String> {
    let mut raw: Vec<&str> = status.pod_ips.iter().map(|p| p.ip.as_str()).collect();
    if raw.is_empty() {
        raw.extend(status.pod_ip.as_deref());
    }
    let mut ips = raw
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            IpAddr::from_str(s).map_err(|_| format!("status.podIP: {s:?} is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    ips.sort();
    ips.dedup();
    Ok(ips)
}

/// A Service.
pub fn service(
    s: &types::Service,
    namespace: &str,
    source: model::Source,
) -> Result<model::Service, String> {
    let mut ports = Vec::with_capacity(s.spec.ports.len());
    for (i, p) in s.spec.ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let port = port_number(p.port, &format!("{at}.port"))?;
        let protocol =
            protocol(p.protocol.as_deref()).map_err(|e| format!("{at}.protocol: {e}"))?;
        let target_port = match &p.target_port {
            None => model::TargetPort::Number(port),
            Some(types::IntOrString::Int(n)) => {
                model::TargetPort::Number(port_number(*n, &format!("{at}.targetPort"))?)
            }
            Some(types::IntOrString::String(name)) => match name.parse::<i64>() {
                Ok(n) => model::TargetPort::Number(port_number(n, &format!("{at}.targetPort"))?),
                Err(_) => model::TargetPort::Name(name.clone()),
            },
        };
        let node_port = match p.node_port {
            None | Some(0) => None,
            Some(n) => Some(port_number(n, &format!("{at}.nodePort"))?),
        };
        ports.push(model::ServicePort {
            name: p.name.clone(),
            protocol,
            port,
            target_port,
            node_port,
        });
    }
    let load_balancer_ingress = s
        .status
        .load_balancer
        .ingress
        .iter()
        .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
        .collect();
    Ok(model::Service {
        namespace: namespace.to_string(),
        name: s.metadata.name.clone(),
        service_type: s
            .spec
            .service_type
            .clone()
            .unwrap_or_else(|| "ClusterIP".to_string()),
        selector: s.spec.selector.clone(),
        ports,
        cluster_ip: s.spec.cluster_ip.clone(),
        external_ips: s.spec.external_ips.clone(),
        external_traffic_policy: s
            .spec
            .external_traffic_policy
            .clone()
            .unwrap_or_else(|| "Cluster".to_string()),
        load_balancer_source_ranges: s.spec.load_balancer_source_ranges.clone(),
        load_balancer_ingress,
        allocate_load_balancer_node_ports: s.spec.allocate_load_balancer_node_ports.unwrap_or(true),
        annotations: s.metadata.annotations.clone(),
        source,
    })
}

/// The pod's service account (`serviceAccountName`, else the deprecated `serviceAccount`).
pub fn service_account(spec: &types::PodSpec) -> Option<String> {
    spec.service_account_name
        .clone()
        .or_else(|| spec.service_account.clone())
        .filter(|s| !s.is_empty())
}

/// Where a pod may run: node selector, required node affinity, tolerations (moved out of
/// the spec, which keeps the rest).
pub fn scheduling(spec: &mut types::PodSpec) -> model::Scheduling {
    let requirement = |r: types::NodeSelectorRequirement, field: bool| model::NodeRequirement {
        key: r.key,
        operator: r.operator,
        values: r.values,
        field,
    };
    model::Scheduling {
        node_selector: std::mem::take(&mut spec.node_selector),
        required_terms: std::mem::take(
            &mut spec.affinity.node_affinity.required.node_selector_terms,
        )
        .into_iter()
        .map(|t| {
            t.match_expressions
                .into_iter()
                .map(|r| requirement(r, false))
                .chain(t.match_fields.into_iter().map(|r| requirement(r, true)))
                .collect()
        })
        .collect(),
        tolerations: std::mem::take(&mut spec.tolerations)
            .into_iter()
            .map(|t| model::Toleration {
                key: t.key.filter(|k| !k.is_empty()),
                operator: t.operator.unwrap_or_else(|| "Equal".into()),
                value: t.value.unwrap_or_default(),
                effect: t.effect.filter(|e| !e.is_empty()),
            })
            .collect(),
    }
}

fn endpoint_ports(
    ports: &[types::EndpointPort],
    field: &str,
) -> Result<Vec<(Option<String>, u16, Protocol)>, String> {
    ports
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.port.map(|n| (i, p, n)))
        .map(|(i, p, n)| {
            Ok((
                p.name.clone().filter(|n| !n.is_empty()),
                port_number(n, &format!("{field}[{i}].port"))?,
                protocol(p.protocol.as_deref())
                    .map_err(|e| format!("{field}[{i}].protocol: {e}"))?,
            ))
        })
        .collect()
}

fn endpoint_ip(ip: &str, field: &str) -> Result<IpAddr, String> {
    IpAddr::from_str(ip).map_err(|_| format!("{field}: {ip:?} is not an IP address"))
}

fn target_pod(t: &Option<types::TargetRef>, namespace: &str) -> Option<(String, String)> {
    t.as_ref().filter(|t| t.kind == "Pod").map(|t| {
        (
            t.namespace.clone().unwrap_or_else(|| namespace.to_string()),
            t.name.clone(),
        )
    })
}

/// The backends listed by a v1 Endpoints object (ready and not-ready addresses).
pub fn endpoints(
    e: &types::Endpoints,
    namespace: &str,
) -> Result<Vec<model::ServiceEndpoint>, String> {
    let mut out = Vec::new();
    for (si, subset) in e.subsets.iter().enumerate() {
        let ports = endpoint_ports(&subset.ports, &format!("subsets[{si}].ports"))?;
        for (ai, a) in subset
            .addresses
            .iter()
            .chain(&subset.not_ready_addresses)
            .enumerate()
        {
            out.push(model::ServiceEndpoint {
                ip: endpoint_ip(&a.ip, &format!("subsets[{si}].addresses[{ai}].ip"))?,
                ports: ports.clone(),
                pod: target_pod(&a.target_ref, namespace),
            });
        }
    }
    Ok(out)
}

/// The backends listed by an EndpointSlice.
pub fn endpoint_slice(
    s: &types::EndpointSlice,
    namespace: &str,
) -> Result<Vec<model::ServiceEndpoint>, String> {
    if s.address_type.as_deref() == Some("FQDN") {
        return Ok(Vec::new()); // names, not addresses: nothing a policy can match
    }
    let ports = endpoint_ports(&s.ports, "ports")?;
    let mut out = Vec::new();
    for (ei, e) in s.endpoints.iter().enumerate() {
        for (ai, a) in e.addresses.iter().enumerate() {
            out.push(model::ServiceEndpoint {
                ip: endpoint_ip(a, &format!("endpoints[{ei}].addresses[{ai}]"))?,
                ports: ports.clone(),
                pod: target_pod(&e.target_ref, namespace),
            });
        }
    }
    Ok(out)
}
