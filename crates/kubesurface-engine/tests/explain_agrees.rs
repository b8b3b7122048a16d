//! `explain` evaluates one pair straight from the policies; the matrix uses classes and
//! bitsets. They must agree on every pair and port of real inputs.

use std::collections::BTreeSet;

use kubesurface_engine::explain::{PeerRef, explain};
use kubesurface_engine::{Engine, Settings};
use kubesurface_model::{PortSpec, Protocol};

fn check(path: &str, settings: Settings) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    let loaded = kubesurface_ingest::load_paths(&[format!("{root}{path}")]).unwrap();
    let cluster = &loaded.cluster;
    let engine = Engine::new(cluster, settings);
    // Every port any policy or pod mentions, and its neighbours.
    let mut ports: BTreeSet<u16> = [1, 53, 80, 443, 65535].into();
    for p in &cluster.policies {
        for r in p.ingress.iter().chain(&p.egress) {
            for port in &r.ports {
                if let PortSpec::Range(lo, hi) = port.port {
                    ports.extend([lo, hi, lo.saturating_sub(1).max(1), hi.saturating_add(1)]);
                }
            }
        }
    }
    for e in &cluster.endpoints {
        ports.extend(e.ports.iter().map(|p| p.port));
    }
    let mut disagreements = Vec::new();
    for s in 0..cluster.endpoints.len() {
        for d in 0..cluster.endpoints.len() {
            if s == d {
                continue;
            }
            let matrix = engine.endpoint_verdict(s, d);
            for &port in &ports {
                for proto in Protocol::ALL {
                    let e = explain(
                        cluster,
                        settings,
                        &PeerRef::Endpoint(s),
                        &PeerRef::Endpoint(d),
                        port,
                        proto,
                    );
                    if e.allowed != matrix.contains(proto, port) {
                        disagreements.push(format!(
                            "{} -> {} {proto} {port}: explain {} matrix {}",
                            cluster.endpoints[s].display_name(),
                            cluster.endpoints[d].display_name(),
                            e.allowed,
                            !e.allowed
                        ));
                    }
                }
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{path}:\n{}",
        disagreements.join("\n")
    );
}

#[test]
fn explain_agrees_with_the_matrix_on_the_openstack_example() {
    check("examples/openstack", Settings::default());
    check(
        "examples/openstack",
        Settings {
            ipblock_matches_pods: false,
            ..Settings::default()
        },
    );
}

#[test]
fn explain_agrees_with_the_matrix_on_the_corpus() {
    check("tests/corpus/sock-shop", Settings::default());
    check("tests/corpus/online-boutique", Settings::default());
}

#[test]
fn explain_names_the_deciding_rule() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    let loaded =
        kubesurface_ingest::load_paths(&[format!("{root}tests/corpus/sock-shop")]).unwrap();
    let c = &loaded.cluster;
    let idx = |n: &str| {
        c.endpoints
            .iter()
            .position(|e| e.workload.name == n)
            .unwrap()
    };
    let e = explain(
        c,
        Settings::default(),
        &PeerRef::Endpoint(idx("orders")),
        &PeerRef::Endpoint(idx("carts")),
        80,
        Protocol::Tcp,
    );
    assert!(!e.allowed);
    // carts is isolated only by cortex-access (its empty podSelector), which admits `name: cortex`.
    assert_eq!(e.ingress.policies.len(), 1);
    assert_eq!(e.ingress.policies[0].policy, "sock-shop/cortex-access");
    assert!(
        e.ingress.policies[0].rules[0]
            .peer
            .why
            .contains("do not match podSelector name=cortex"),
        "{:?}",
        e.ingress.policies[0].rules[0]
    );
}
