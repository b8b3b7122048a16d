//! Live clusters through the CLI, against the local test API server of the live crate:
//! a live run equals the run on its dump (and on the manifests it was recorded from),
//! skipped kinds are reported, failures exit 2 with one clear line.

#![cfg(feature = "live")]

#[path = "../../kubesurface-live/tests/server/mod.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use server::{Behavior, TestServer};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A temp dir removed on drop; also the `HOME` of the runs, so no real kubeconfig is read.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kubesurface-cli-live-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn command(bin: &Path, home: &TempDir, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(repo())
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", &home.0);
    c
}

fn run(home: &TempDir, args: &[&str]) -> Output {
    command(Path::new(env!("CARGO_BIN_EXE_kubesurface")), home, args)
        .output()
        .expect("kubesurface runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn live_result_equals_the_result_from_its_dump() {
    let server = TestServer::start(Behavior::standard());
    let dir = TempDir::new("dump");
    let kubeconfig = dir.write("kubeconfig", &server.kubeconfig(&server.token));
    for dump in ["cluster.yaml", "cluster.json"] {
        let dump = dir.path(dump).to_string_lossy().into_owned();
        let live = run(
            &dir,
            &[
                "connectivity",
                "--kubeconfig",
                &kubeconfig,
                "-o",
                "json",
                "--dump",
                &dump,
            ],
        );
        let live_json = ok(&live);
        let from_dump = ok(&run(&dir, &["connectivity", &dump, "-o", "json"]));
        assert_eq!(live_json, from_dump, "{dump}");
        // The recorded cluster is the openstack example: the same matrix as its manifests.
        let from_manifests = ok(&run(
            &dir,
            &["connectivity", "examples/openstack", "-o", "json"],
        ));
        assert_eq!(live_json, from_manifests);
        assert!(live_json.contains("\"connections\""));
        // Exposure too, at another granularity of the same model.
        let live = ok(&run(
            &dir,
            &["exposure", "--kubeconfig", &kubeconfig, "-o", "json"],
        ));
        let from_dump = ok(&run(&dir, &["exposure", &dump, "-o", "json"]));
        assert_eq!(live, from_dump);
    }
    // The JSON dump is a v1 List of complete objects.
    let text = std::fs::read_to_string(dir.path("cluster.json")).unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 73);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["apiVersion"].is_string() && i["kind"].is_string())
    );
}

#[test]
fn skipped_kinds_are_reported_on_stderr() {
    let server = TestServer::start(Behavior::standard());
    let dir = TempDir::new("skipped");
    let kubeconfig = dir.write("kubeconfig", &server.kubeconfig(&server.token));
    let out = run(&dir, &["connectivity", "--kubeconfig", &kubeconfig, "-q"]);
    ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains(
            "kubesurface: note: not installed in the cluster (404), skipped: HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute, ReferenceGrant, ServiceAccount\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("Gateway (gateways.gateway.networking.k8s.io): forbidden (403)"),
        "{err}"
    );
    // No progress bar and no summary: stderr is not a terminal.
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn kubeconfig_env_and_namespaces() {
    let server = TestServer::start(Behavior::plain());
    let dir = TempDir::new("env");
    let kubeconfig = dir.write("kubeconfig", &server.kubeconfig(&server.token));
    let out = command(
        Path::new(env!("CARGO_BIN_EXE_kubesurface")),
        &dir,
        &[
            "connectivity",
            "-n",
            "openstack",
            "-n",
            "ingress",
            "-o",
            "json",
            "-q",
        ],
    )
    .env("KUBECONFIG", &kubeconfig)
    .output()
    .unwrap();
    let json = ok(&out);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for c in v["connections"].as_array().unwrap() {
        for side in ["src", "dst"] {
            let name = c[side].as_str().unwrap();
            assert!(
                name.starts_with("openstack/")
                    || name.starts_with("ingress/")
                    || name.starts_with("ext:")
                    || name.starts_with("node:"),
                "{name}"
            );
        }
    }
    let log = server.requests();
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /api/v1/namespaces/ingress/pods?"))
    );
    assert!(!log.iter().any(|l| l.starts_with("GET /api/v1/pods")));
}

#[test]
fn bad_token_exits_2_with_one_clear_line() {
    let server = TestServer::start(Behavior::standard());
    let dir = TempDir::new("token");
    let kubeconfig = dir.write("kubeconfig", &server.kubeconfig("not-the-token"));
    let out = run(&dir, &["audit", "--kubeconfig", &kubeconfig]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "kubesurface: error: the API server {} rejected the credentials of context \"test\" (401 Unauthorized)",
            server.url
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn unreachable_server_exits_2_quickly() {
    let dir = TempDir::new("unreachable");
    let url = format!("https://127.0.0.1:{}", server::closed_port());
    let kubeconfig = dir.write("kubeconfig", &server::kubeconfig(&url, "t", None));
    let started = Instant::now();
    let out = run(&dir, &["connectivity", "--kubeconfig", &kubeconfig]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(
        err.trim_end(),
        format!(
            "kubesurface: error: cannot connect to the API server {url} (context \"test\"): connection refused; is the cluster up and the kubeconfig current?"
        )
    );
}

#[test]
fn untrusted_server_certificate_exits_2() {
    let server = TestServer::start(Behavior::standard());
    let dir = TempDir::new("tls");
    let kubeconfig = dir.write(
        "kubeconfig",
        &server.kubeconfig_with_ca(&server.token, Some(&server::unrelated_ca_pem())),
    );
    let out = run(&dir, &["connectivity", "--kubeconfig", &kubeconfig]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("kubesurface: error: TLS error talking to the API server"),
        "{err}"
    );
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[test]
fn no_kubeconfig_and_no_paths_exits_2() {
    let dir = TempDir::new("none");
    let out = run(&dir, &["connectivity"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("kubesurface: error: no input: give manifest files"),
        "{err}"
    );
    assert!(err.contains("no kubeconfig found"), "{err}");
}

#[test]
fn unknown_context_exits_2() {
    let server = TestServer::start(Behavior::plain());
    let dir = TempDir::new("context");
    let kubeconfig = dir.write("kubeconfig", &server.kubeconfig(&server.token));
    let out = run(
        &dir,
        &[
            "connectivity",
            "--kubeconfig",
            &kubeconfig,
            "--context",
            "prod",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("context \"prod\" is not in the kubeconfig (contexts: test, other)"),
        "{}",
        stderr(&out)
    );
}

/// Installed as `kubectl-surface` (krew links it so), usage lines say `kubectl surface`.
#[cfg(unix)]
#[test]
fn as_kubectl_plugin_usage_says_kubectl_surface() {
    let dir = TempDir::new("plugin");
    let link = dir.path("kubectl-surface");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubesurface"), &link).unwrap();
    let out = command(&link, &dir, &["connectivity", "--help"])
        .output()
        .unwrap();
    let help = ok(&out);
    assert!(
        help.contains("Usage: kubectl surface connectivity"),
        "{help}"
    );
    let out = command(&link, &dir, &["--help"]).output().unwrap();
    assert!(ok(&out).contains("Usage: kubectl surface <COMMAND>"));
    // Under its own name nothing changes.
    let out = run(&dir, &["--help"]);
    assert!(ok(&out).contains("Usage: kubesurface <COMMAND>"));
}
