//! The real kube client code path against a local test API server (HTTPS and HTTP).

mod server;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kubesurface_live::{Options, REDACTED, SkipReason, Snapshot, read_cluster};
use serde_json::Value;
use server::{Behavior, TestServer};

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kubesurface-live-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options(dir: &TempDir, kubeconfig: &str) -> Options {
    let path = dir.0.join("kubeconfig");
    std::fs::write(&path, kubeconfig).unwrap();
    Options {
        kubeconfig: Some(path),
        progress: false,
        backoff: Duration::from_millis(50),
        ..Options::default()
    }
}

fn read(server: &TestServer, tweak: impl FnOnce(&mut Options)) -> Result<Snapshot, String> {
    let dir = TempDir::new("read");
    let mut opts = options(&dir, &server.kubeconfig(&server.token));
    tweak(&mut opts);
    read_cluster(&opts).map_err(|e| e.to_string())
}

/// Every fixture item, completed as the reader completes it, in the reader's order.
fn fixture_count() -> usize {
    let mut n = 0;
    for r in kubesurface_live::RESOURCES {
        let file = server::fixtures()
            .join(if r.group.is_empty() { "core" } else { r.group })
            .join(r.versions[0])
            .join(format!("{}.json", r.plural));
        if let Ok(text) = std::fs::read_to_string(file) {
            let v: Value = serde_json::from_str(&text).unwrap();
            n += v["items"].as_array().unwrap().len();
        }
    }
    n
}

fn items(s: &Snapshot) -> &Vec<Value> {
    s.list["items"].as_array().unwrap()
}

#[test]
fn https_reads_every_kind_with_paging_retries_and_skips() {
    let server = TestServer::start(Behavior::standard());
    let started = Instant::now();
    let snap = read(&server, |_| {}).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "services are slow"
    );
    assert_eq!(snap.context, "test");
    assert_eq!(snap.server, server.url);
    assert_eq!(snap.list["apiVersion"], "v1");
    assert_eq!(snap.list["kind"], "List");
    assert_eq!(snap.len(), fixture_count());
    assert_eq!(snap.len(), 73);

    // Every item is a complete object, without managedFields, env values redacted.
    for item in items(&snap) {
        assert!(
            item["apiVersion"].is_string() && item["kind"].is_string(),
            "{item}"
        );
        assert!(item["metadata"].get("managedFields").is_none());
    }
    let text = snap.to_json();
    assert!(text.contains(REDACTED), "container env values are redacted");
    // Items come in resource-table order: namespaces first.
    assert_eq!(items(&snap)[0]["kind"], "Namespace");
    let counts: Vec<(&str, usize)> = snap.counts.clone();
    assert!(counts.contains(&("Pod", 10)), "{counts:?}");
    assert!(counts.contains(&("NetworkPolicy", 11)), "{counts:?}");

    // Pods came in 3 pages of at most 4, with continue tokens.
    let log = server.requests();
    let pod_requests: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("GET /api/v1/pods"))
        .collect();
    assert_eq!(pod_requests.len(), 3, "{pod_requests:#?}");
    assert!(pod_requests[0].contains("limit=500") && !pod_requests[0].contains("continue"));
    assert!(
        pod_requests[1].contains("continue=page-4"),
        "{pod_requests:?}"
    );
    assert!(
        pod_requests[2].contains("continue=page-8"),
        "{pod_requests:?}"
    );

    // The 500 was retried and then succeeded.
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /apis/apps/v1/deployments") && l.ends_with("500"))
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /apis/apps/v1/deployments") && l.ends_with("200"))
    );
    assert_eq!(snap.retries, 1);

    // Gateway: forbidden; HTTPRoute and the other absent CRDs: not installed; GatewayClass read.
    let gateway = snap.skipped.iter().find(|s| s.kind == "Gateway").unwrap();
    assert_eq!(gateway.reason, SkipReason::Forbidden);
    assert_eq!(gateway.resource, "gateways.gateway.networking.k8s.io");
    assert!(gateway.to_string().contains("forbidden"), "{gateway}");
    let route = snap.skipped.iter().find(|s| s.kind == "HTTPRoute").unwrap();
    assert_eq!(route.reason, SkipReason::NotInstalled);
    assert!(route.to_string().contains("404"), "{route}");
    let skipped: BTreeSet<&str> = snap.skipped.iter().map(|s| s.kind).collect();
    assert_eq!(
        skipped,
        [
            "Gateway",
            "HTTPRoute",
            "GRPCRoute",
            "TLSRoute",
            "TCPRoute",
            "UDPRoute",
            "ReferenceGrant",
            // The optional dialect kinds this test server does not serve (nor ServiceAccounts).
            "ServiceAccount",
            "AdminNetworkPolicy",
            "BaselineAdminNetworkPolicy",
            "ClusterNetworkPolicy",
            "NetworkPolicy",
            "GlobalNetworkPolicy",
            "Tier",
            "HostEndpoint",
            "CiliumNetworkPolicy",
            "CiliumClusterwideNetworkPolicy",
        ]
        .into()
    );
    let calico = snap
        .skipped
        .iter()
        .find(|s| s.kind == "NetworkPolicy")
        .unwrap();
    assert_eq!(calico.resource, "networkpolicies.projectcalico.org");
    // Every version of an absent CRD was tried before giving up.
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /apis/gateway.networking.k8s.io/v1beta1/httproutes"))
    );
    // Read-only: only GETs.
    assert!(log.iter().all(|l| l.starts_with("GET ")));
}

#[test]
fn http_gives_the_same_list_as_https() {
    let https = TestServer::start(Behavior::standard());
    let http = TestServer::start(Behavior::plain());
    assert!(http.url.starts_with("http://"));
    let a = read(&https, |_| {}).unwrap();
    let b = read(&http, |_| {}).unwrap();
    // Same objects; HTTPS additionally skipped the forbidden Gateways (none in the fixtures).
    assert_eq!(a.list, b.list);
    assert_eq!(a.to_json(), b.to_json());
}

#[test]
fn namespaces_restrict_every_namespaced_list() {
    let server = TestServer::start(Behavior::plain());
    let snap = read(&server, |o| {
        o.namespaces = vec!["openstack".into(), "ceph".into()]
    })
    .unwrap();
    let log = server.requests();
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /api/v1/namespaces/ceph ")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /api/v1/namespaces/openstack/pods?"))
    );
    assert!(
        log.iter()
            .any(|l| l
                .starts_with("GET /apis/networking.k8s.io/v1/namespaces/ceph/networkpolicies?"))
    );
    assert!(!log.iter().any(|l| l.starts_with("GET /api/v1/pods")));
    // Cluster-scoped kinds are still read whole.
    assert!(log.iter().any(|l| l.starts_with("GET /api/v1/nodes?")));
    let mut namespaces = BTreeSet::new();
    for item in items(&snap) {
        match item["kind"].as_str().unwrap() {
            "Node" | "IngressClass" | "GatewayClass" => {}
            "Namespace" => {
                namespaces.insert(item["metadata"]["name"].as_str().unwrap().to_string());
            }
            _ => {
                let ns = item["metadata"]["namespace"].as_str().unwrap();
                assert!(ns == "openstack" || ns == "ceph", "{item}");
            }
        }
    }
    assert_eq!(
        namespaces,
        ["ceph".to_string(), "openstack".to_string()].into()
    );
    // Namespaces come sorted, so the order does not depend on the command line.
    assert_eq!(items(&snap)[0]["metadata"]["name"], "ceph");
}

#[test]
fn missing_namespace_is_an_error() {
    let server = TestServer::start(Behavior::plain());
    let err = read(&server, |o| o.namespaces = vec!["nope".into()]).unwrap_err();
    assert!(err.contains("namespace \"nope\" does not exist"), "{err}");
}

#[test]
fn bad_token_is_a_clear_error() {
    let server = TestServer::start(Behavior::standard());
    let dir = TempDir::new("token");
    let opts = options(&dir, &server.kubeconfig("wrong"));
    let err = read_cluster(&opts).unwrap_err().to_string();
    assert!(err.contains("401 Unauthorized"), "{err}");
    assert!(
        err.contains("rejected the credentials of context \"test\""),
        "{err}"
    );
    assert!(!err.contains('\n'));
    // Only the first request was made: errors are found once, not by every list.
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
}

#[test]
fn expired_jwt_says_expired() {
    let server = TestServer::start(Behavior::standard());
    let dir = TempDir::new("jwt");
    // {"alg":"none"} . {"exp":1000,"sub":"x"} . sig
    let jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjEwMDAsInN1YiI6IngifQ.c2ln";
    let opts = options(&dir, &server.kubeconfig(jwt));
    let err = read_cluster(&opts).unwrap_err().to_string();
    assert!(err.contains("the bearer token expired"), "{err}");
}

#[test]
fn context_flag_picks_the_user() {
    let server = TestServer::start(Behavior::plain());
    let err = read(&server, |o| o.context = Some("other".into())).unwrap_err();
    assert!(err.contains("context \"other\""), "{err}");
    let err = read(&server, |o| o.context = Some("nope".into())).unwrap_err();
    assert!(
        err.contains("context \"nope\" is not in the kubeconfig (contexts: test, other)"),
        "{err}"
    );
}

#[test]
fn unreachable_server_fails_fast() {
    let dir = TempDir::new("unreachable");
    let url = format!("https://127.0.0.1:{}", server::closed_port());
    let opts = options(&dir, &server::kubeconfig(&url, "t", None));
    let started = Instant::now();
    let err = read_cluster(&opts).unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains("cannot connect to the API server"), "{err}");
    assert!(err.contains("connection refused"), "{err}");
}

#[test]
fn untrusted_certificate_is_a_tls_error() {
    let server = TestServer::start(Behavior::standard());
    let dir = TempDir::new("tls");
    let other = server::unrelated_ca_pem();
    let opts = options(
        &dir,
        &server.kubeconfig_with_ca(&server.token, Some(&other)),
    );
    let err = read_cluster(&opts).unwrap_err().to_string();
    assert!(
        err.starts_with("TLS error talking to the API server"),
        "{err}"
    );
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(server.requests().is_empty());
}

#[test]
fn slow_server_times_out_after_retries() {
    let mut behavior = Behavior::plain();
    behavior.slow.insert("pods".into(), Duration::from_secs(3));
    let server = TestServer::start(behavior);
    let started = Instant::now();
    let err = read(&server, |o| {
        o.request_timeout = Duration::from_millis(300);
        o.retries = 2;
    })
    .unwrap_err();
    assert!(
        err.contains("did not answer within 0.3s (list pods in all namespaces)"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn forbidden_required_kind_is_an_error() {
    let mut behavior = Behavior::plain();
    behavior.forbidden.insert("networkpolicies".into());
    let server = TestServer::start(behavior);
    let err = read(&server, |_| {}).unwrap_err();
    assert!(
        err.starts_with(
            "forbidden (403) to list networkpolicies.networking.k8s.io in all namespaces"
        ),
        "{err}"
    );
    assert!(err.contains("deploy/rbac.yaml"), "{err}");
}

#[test]
fn forbidden_nodes_are_skipped() {
    let mut behavior = Behavior::plain();
    behavior.forbidden.insert("nodes".into());
    let server = TestServer::start(behavior);
    let snap = read(&server, |_| {}).unwrap();
    let nodes = snap.skipped.iter().find(|s| s.kind == "Node").unwrap();
    assert_eq!(nodes.reason, SkipReason::Forbidden);
    assert!(!items(&snap).iter().any(|i| i["kind"] == "Node"));
}

#[test]
fn expired_continue_token_restarts_the_list() {
    let mut behavior = Behavior::plain();
    behavior.expire_continue_once.insert("pods".into());
    let server = TestServer::start(behavior);
    let snap = read(&server, |_| {}).unwrap();
    assert_eq!(snap.len(), 73);
    let pods: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|l| l.starts_with("GET /api/v1/pods"))
        .collect();
    // page 1, 410 on page 2, then pages 1..3 again.
    assert_eq!(pods.len(), 5, "{pods:#?}");
    assert!(pods[1].ends_with("410"));
    assert!(!items(&snap).is_empty());
    let names: BTreeSet<&str> = items(&snap)
        .iter()
        .filter(|i| i["kind"] == "Pod")
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 10, "no pod twice, none lost");
}

#[test]
fn retries_give_up_on_a_persistent_500() {
    // `fail_once` fails only the first request; a retry budget of 0 makes it final.
    let server = TestServer::start(Behavior::standard());
    let err = read(&server, |o| o.retries = 0).unwrap_err();
    assert!(
        err.contains(
            "failed to list deployments.apps in all namespaces: 500 etcdserver: request timed out"
        ),
        "{err}"
    );
}

#[test]
fn dump_round_trips_as_json_and_yaml() {
    let server = TestServer::start(Behavior::plain());
    let snap = read(&server, |_| {}).unwrap();
    let dir = TempDir::new("dump");
    let json_path = dir.0.join("cluster.json");
    snap.write_dump(&json_path).unwrap();
    assert_eq!(std::fs::read_to_string(&json_path).unwrap(), snap.to_json());
    let yaml_path = dir.0.join("cluster.yaml");
    snap.write_dump(&yaml_path).unwrap();
    let yaml = std::fs::read_to_string(&yaml_path).unwrap();
    let back: Value = serde_saphyr::from_str_with_options(
        &yaml,
        serde_saphyr::options! { legacy_octal_numbers: true },
    )
    .unwrap();
    assert_eq!(back, snap.list);
    // No temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn no_kubeconfig_anywhere_is_a_clear_error() {
    // Without --kubeconfig, $KUBECONFIG and ~/.kube/config are read; a kubeconfig path that
    // does not exist is named.
    let opts = Options {
        kubeconfig: Some(PathBuf::from("/nonexistent/kubeconfig")),
        progress: false,
        ..Options::default()
    };
    let err = read_cluster(&opts).unwrap_err().to_string();
    assert!(
        err.starts_with("kubeconfig /nonexistent/kubeconfig:"),
        "{err}"
    );
}
