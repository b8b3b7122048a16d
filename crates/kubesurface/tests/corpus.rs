//! Real manifest sets (tests/corpus) and the bundled example, through the CLI.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .current_dir(repo())
        .args(args)
        .output()
        .expect("kubesurface runs")
}

/// `(src, dst) → allowed`, with `allowed` in the compact form (`All`, `TCP 80`, …) of the
/// CSV output.
fn matrix(args: &[&str]) -> BTreeMap<(String, String), String> {
    let mut full = vec!["connectivity"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "csv"]);
    let out = run(&full);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.splitn(3, ',');
            let (s, d, a) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            ((s.to_string(), d.to_string()), a.to_string())
        })
        .collect()
}

fn get<'a>(m: &'a BTreeMap<(String, String), String>, src: &str, dst: &str) -> Option<&'a str> {
    m.get(&(src.to_string(), dst.to_string()))
        .map(String::as_str)
}

const BOUTIQUE: &str = "tests/corpus/online-boutique";

#[test]
fn online_boutique_without_policies_is_a_full_mesh() {
    let m = matrix(&["tests/corpus/online-boutique/kubernetes-manifests.yaml"]);
    // 12 Deployments: 12·11 pairs, plus each to and from the outside.
    assert_eq!(m.len(), 12 * 11 + 12 + 12);
    assert!(m.values().all(|a| a == "All"));
}

#[test]
fn online_boutique_policies_admit_exactly_the_declared_paths() {
    let m = matrix(&[BOUTIQUE]);
    let fe = "default/frontend[Deployment]";
    assert_eq!(
        get(&m, fe, "default/cartservice[Deployment]"),
        Some("TCP 7070")
    );
    assert_eq!(
        get(
            &m,
            "default/checkoutservice[Deployment]",
            "default/paymentservice[Deployment]"
        ),
        Some("TCP 50051")
    );
    assert_eq!(
        get(
            &m,
            "default/cartservice[Deployment]",
            "default/redis-cart[Deployment]"
        ),
        Some("TCP 6379")
    );
    // deny-all isolates everything; only the frontend admits everyone (ingress: [{}]).
    assert_eq!(get(&m, "ext:0.0.0.0/0", fe), Some("All"));
    assert_eq!(
        get(&m, "ext:0.0.0.0/0", "default/cartservice[Deployment]"),
        None
    );
    assert_eq!(
        get(
            &m,
            "default/paymentservice[Deployment]",
            "default/cartservice[Deployment]"
        ),
        None
    );
    assert_eq!(
        get(&m, "default/loadgenerator[Deployment]", fe),
        Some("All")
    );
    assert_eq!(
        get(
            &m,
            "default/loadgenerator[Deployment]",
            "default/redis-cart[Deployment]"
        ),
        None
    );
}

#[test]
fn sock_shop_policy_mistakes_have_their_real_effect() {
    let m = matrix(&["tests/corpus/sock-shop"]);
    // cortex-access has `podSelector: {matchLabels: null}`: an empty selector, so it
    // isolates every pod in sock-shop and admits only `name: cortex`, which no pod has.
    // cart-access selects `name: cart`, but the pods are `name: carts`: so nothing admits
    // front-end or orders to carts, although that policy meant to.
    for src in [
        "sock-shop/orders[Deployment]",
        "sock-shop/front-end[Deployment]",
    ] {
        assert_eq!(get(&m, src, "sock-shop/carts[Deployment]"), None, "{src}");
    }
    assert!(
        m.keys()
            .all(|(_, dst)| dst != "sock-shop/carts[Deployment]")
    );
    // catalogue-db admits only catalogue, on 3306.
    assert_eq!(
        get(
            &m,
            "sock-shop/catalogue[Deployment]",
            "sock-shop/catalogue-db[Deployment]"
        ),
        Some("TCP 3306")
    );
    assert_eq!(
        get(
            &m,
            "sock-shop/front-end[Deployment]",
            "sock-shop/catalogue-db[Deployment]"
        ),
        None
    );
    // The legacy namespace annotation isolates nothing in v1; egress stays open.
    assert_eq!(
        get(&m, "sock-shop/carts[Deployment]", "ext:0.0.0.0/0"),
        Some("All")
    );
}

#[test]
fn guestbook_has_no_policies_so_everything_connects() {
    let m = matrix(&["tests/corpus/guestbook"]);
    assert_eq!(m.len(), 3 * 2 + 3 + 3);
    assert!(m.values().all(|a| a == "All"));
}

#[test]
fn openstack_example_node_origin_and_policies() {
    let m = matrix(&["examples/openstack", "--granularity", "pod"]);
    let vnc = "openstack/nova-novncproxy-5f7b9c6d48-tq7lm";
    // hostNetwork novncproxy on ctl-1 reaches the MariaDB pod on its own node on every
    // port, whatever the lockdown says, but not the ones on other nodes.
    assert_eq!(get(&m, vnc, "openstack/mariadb-server-0"), Some("All"));
    assert_eq!(get(&m, vnc, "openstack/mariadb-server-1"), None);
    let ks = "openstack/keystone-api-7c9d5b8f6d-2xkqz";
    assert_eq!(get(&m, ks, "openstack/mariadb-server-1"), Some("TCP 3306"));
    for compute in [
        "openstack/nova-compute-default-8k2lw",
        "openstack/nova-compute-default-vx9rd",
    ] {
        assert_eq!(get(&m, compute, "openstack/mariadb-server-0"), None);
        assert_eq!(
            get(&m, compute, "openstack/rabbitmq-rabbitmq[StatefulSet]"),
            Some("TCP 5672")
        );
    }
    assert_eq!(
        get(
            &m,
            "openstack/horizon[Deployment]",
            "ceph/ceph-rgw[Deployment]"
        ),
        None
    );
}

#[test]
fn output_is_deterministic() {
    for format in ["json", "table", "csv", "md", "dot"] {
        let args = [
            "connectivity",
            "examples/openstack",
            "tests/corpus/sock-shop",
            "-o",
            format,
        ];
        let a = run(&args);
        let b = run(&args);
        assert!(a.status.success());
        assert_eq!(a.stdout, b.stdout, "{format} output differs between runs");
    }
}

#[test]
fn json_output_follows_the_contract() {
    let out = run(&[
        "connectivity",
        BOUTIQUE,
        "-o",
        "json",
        "--granularity",
        "namespace",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "kubesurface.connectivity/v1");
    assert_eq!(v["granularity"], "namespace");
    let conns = v["connections"].as_array().unwrap();
    let pairs: Vec<(String, String)> = conns
        .iter()
        .map(|c| {
            (
                c["src"].as_str().unwrap().into(),
                c["dst"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("default".to_string(), "ext:0.0.0.0/0".to_string()),
            ("ext:0.0.0.0/0".to_string(), "default".to_string())
        ]
    );
    assert_eq!(
        conns[0]["allowed"],
        serde_json::json!({"TCP": [[1, 65535]], "UDP": [[1, 65535]], "SCTP": [[1, 65535]]})
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#"{"src":"default","dst":"ext:0.0.0.0/0","allowed":{"TCP":[[1,65535]],"UDP":[[1,65535]],"SCTP":[[1,65535]]}}"#), "{text}");
}

#[test]
fn stdin_is_read_with_dash() {
    let yaml =
        std::fs::read(repo().join("tests/corpus/guestbook/guestbook-all-in-one.yaml")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesurface"))
        .args(["connectivity", "-", "-o", "csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&yaml).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        1 + 12
    );
}

#[test]
fn bad_input_exits_2_naming_file_line_and_object() {
    let dir = std::env::temp_dir().join(format!("ks-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("np.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: broken, namespace: prod}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 300.1.2.3/8}\n",
    )
    .unwrap();
    let out = run(&["connectivity", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let expected = format!(
        "{}:5: NetworkPolicy prod/broken: spec.ingress[0].from[0].ipBlock.cidr",
        file.display()
    );
    assert!(err.contains(&expected), "{err}");
    let missing = run(&["connectivity", "/nonexistent/path.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    let usage = run(&["connectivity", "--granularity", "cluster", "x"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn unknown_kinds_are_reported_on_stderr() {
    // Online Boutique's kinds are all read now (ServiceAccounts included); add one that is not.
    let dir = std::env::temp_dir().join(format!("ks-unknown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
    )
    .unwrap();
    let out = run(&["connectivity", BOUTIQUE, dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("v1/ConfigMap (2)"), "{err}");
    assert!(
        !err.contains("ServiceAccount"),
        "ServiceAccounts are read: {err}"
    );
}
