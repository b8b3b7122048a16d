//! A test Kubernetes API server: the real API paths, served from recorded JSON lists
//! (`tests/fixtures/openstack/`), over HTTPS (a self-signed CA made at test time) or plain
//! HTTP, with bearer-token auth, paging with continue tokens, and injected failures:
//! 403, 404, slow answers, a 500 that succeeds on retry, an expired continue token.
//!
//! Shared by `crates/kubesurface-live/tests/` and `crates/kubesurface/tests/live.rs`.
//! It listens on 127.0.0.1 only and stops when the [`TestServer`] is dropped.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// The fixture directory: `<group or core>/<version>/<plural>.json`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kubesurface-live/tests/fixtures/openstack")
        .canonicalize()
        .expect("fixtures exist")
}

/// How the server behaves. Resources are named by plural (`pods`, `gateways`).
#[derive(Clone, Debug)]
pub struct Behavior {
    /// Serve HTTPS (else plain HTTP).
    pub tls: bool,
    /// The bearer token accepted.
    pub token: String,
    /// Fixture directory.
    pub fixtures: PathBuf,
    /// Resources answered with 403.
    pub forbidden: BTreeSet<String>,
    /// Resources answered this late.
    pub slow: BTreeMap<String, Duration>,
    /// Resources answered with 500 on their first request (then normally).
    pub fail_once: BTreeSet<String>,
    /// Resources whose first continue token is answered with 410 Gone.
    pub expire_continue_once: BTreeSet<String>,
    /// Most items per page when the client sends `limit` (the API may return fewer).
    pub page_size: usize,
}

impl Behavior {
    /// The openstack fixtures over HTTPS: pods in pages of 4, 403 on `gateways`, a 1.5 s
    /// answer for `services`, a 500 once for `deployments`; Gateway API CRDs other than
    /// GatewayClass and Gateway are absent (404).
    pub fn standard() -> Behavior {
        Behavior {
            tls: true,
            token: "test-token-5f3a".into(),
            fixtures: fixtures(),
            forbidden: ["gateways".to_string()].into(),
            slow: [("services".to_string(), Duration::from_millis(1500))].into(),
            fail_once: ["deployments".to_string()].into(),
            expire_continue_once: BTreeSet::new(),
            page_size: 4,
        }
    }

    /// Plain HTTP, no injected failures.
    pub fn plain() -> Behavior {
        Behavior {
            tls: false,
            forbidden: BTreeSet::new(),
            slow: BTreeMap::new(),
            fail_once: BTreeSet::new(),
            ..Behavior::standard()
        }
    }
}

/// A running server.
pub struct TestServer {
    /// `https://127.0.0.1:PORT` or `http://…`.
    pub url: String,
    /// The CA certificate (PEM) that signed the server certificate, for HTTPS.
    pub ca_pem: Option<String>,
    /// The token it accepts.
    pub token: String,
    log: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with a free port.
    pub fn start(behavior: Behavior) -> TestServer {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let log = Arc::new(Mutex::new(Vec::new()));
        let tls = behavior.tls.then(make_tls);
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let acceptor = tls.map(|t| t.acceptor);
        let token = behavior.token.clone();
        let state = Arc::new(State {
            behavior,
            log: Arc::clone(&log),
            seen: Mutex::new(BTreeSet::new()),
        });
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let state = Arc::clone(&state);
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let svc = service_fn(move |req| {
                                let state = Arc::clone(&state);
                                async move { Ok::<_, Infallible>(state.handle(req).await) }
                            });
                            let http = hyper::server::conn::http1::Builder::new();
                            match acceptor {
                                Some(acceptor) => {
                                    if let Ok(tls) = acceptor.accept(stream).await {
                                        let _ = http.serve_connection(TokioIo::new(tls), svc).await;
                                    }
                                }
                                None => {
                                    let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                                }
                            }
                        });
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stop_rx => {}
                }
            });
        });
        let addr: SocketAddr = addr_rx.recv().unwrap();
        let scheme = if ca_pem.is_some() { "https" } else { "http" };
        TestServer {
            url: format!("{scheme}://{addr}"),
            ca_pem,
            token,
            log,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Every request so far: `METHOD path?query -> status`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// A kubeconfig for this server with one context, `test`, and the given token.
    pub fn kubeconfig(&self, token: &str) -> String {
        self.kubeconfig_with_ca(token, self.ca_pem.as_deref())
    }

    /// A kubeconfig trusting `ca_pem` (or none, for HTTP).
    pub fn kubeconfig_with_ca(&self, token: &str, ca_pem: Option<&str>) -> String {
        kubeconfig(&self.url, token, ca_pem)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A kubeconfig (YAML) with contexts `test` (current) and `other`, both pointing at `url`.
pub fn kubeconfig(url: &str, token: &str, ca_pem: Option<&str>) -> String {
    let ca = match ca_pem {
        Some(pem) => format!(
            "    certificate-authority-data: {}\n",
            base64(pem.as_bytes())
        ),
        None => String::new(),
    };
    format!(
        "apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test-cluster
  cluster:
    server: {url}
{ca}contexts:
- name: test
  context:
    cluster: test-cluster
    user: test-user
- name: other
  context:
    cluster: test-cluster
    user: other-user
users:
- name: test-user
  user:
    token: {token}
- name: other-user
  user:
    token: wrong-token
"
    )
}

struct State {
    behavior: Behavior,
    log: Arc<Mutex<Vec<String>>>,
    /// Resources that already had their first request (for `fail_once`) or their first
    /// continue token answered (for `expire_continue_once`).
    seen: Mutex<BTreeSet<String>>,
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()
    });
    respond(code, &body)
}

fn respond(code: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// A parsed API path.
struct ApiPath {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
}

fn parse_path(path: &str) -> Option<ApiPath> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
        _ => return None,
    };
    let (namespace, plural, name) = match rest {
        [p] => (None, p.to_string(), None),
        ["namespaces", ns, p] => (Some(ns.to_string()), p.to_string(), None),
        ["namespaces", ns, p, n] => (Some(ns.to_string()), p.to_string(), Some(n.to_string())),
        [p, n] => (None, p.to_string(), Some(n.to_string())),
        _ => return None,
    };
    Some(ApiPath {
        group,
        version,
        namespace,
        plural,
        name,
    })
}

fn query(q: &str, key: &str) -> Option<String> {
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

impl State {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let q = req.uri().query().unwrap_or("").to_string();
        let response = self.answer(&req, &path, &q).await;
        let line = if q.is_empty() {
            format!("{} {path} -> {}", req.method(), response.status().as_u16())
        } else {
            format!(
                "{} {path}?{q} -> {}",
                req.method(),
                response.status().as_u16()
            )
        };
        self.log.lock().unwrap().push(line);
        response
    }

    async fn answer(&self, req: &Request<Incoming>, path: &str, q: &str) -> Response<Full<Bytes>> {
        let b = &self.behavior;
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer {}", b.token) {
            return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
        }
        if req.method() != hyper::Method::GET {
            return status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "read-only server",
            );
        }
        let Some(api) = parse_path(path) else {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
            );
        };
        if let Some(delay) = b.slow.get(&api.plural) {
            tokio::time::sleep(*delay).await;
        }
        if b.forbidden.contains(&api.plural) {
            let scope = match &api.namespace {
                Some(ns) => format!("in the namespace \"{ns}\""),
                None => "at the cluster scope".into(),
            };
            let group = if api.group.is_empty() {
                ""
            } else {
                api.group.as_str()
            };
            return status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!(
                    "{} is forbidden: User \"system:serviceaccount:tools:kubesurface\" cannot list resource \"{}\" in API group \"{group}\" {scope}",
                    api.plural, api.plural
                ),
            );
        }
        if b.fail_once.contains(&api.plural)
            && self
                .seen
                .lock()
                .unwrap()
                .insert(format!("500:{}", api.plural))
        {
            return status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "etcdserver: request timed out",
            );
        }
        let file = b
            .fixtures
            .join(if api.group.is_empty() {
                "core"
            } else {
                &api.group
            })
            .join(&api.version)
            .join(format!("{}.json", api.plural));
        let Ok(text) = std::fs::read_to_string(&file) else {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
            );
        };
        let mut list: Value = serde_json::from_str(&text).unwrap();
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if let Some(name) = &api.name {
            let found = items.into_iter().find(|i| {
                i["metadata"]["name"] == name.as_str()
                    && api
                        .namespace
                        .as_deref()
                        .is_none_or(|ns| i["metadata"]["namespace"] == ns)
            });
            return match found {
                Some(mut obj) => {
                    let kind = list["kind"]
                        .as_str()
                        .unwrap()
                        .trim_end_matches("List")
                        .to_string();
                    obj["kind"] = json!(kind);
                    obj["apiVersion"] = list["apiVersion"].clone();
                    respond(StatusCode::OK, &obj)
                }
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{} \"{name}\" not found", api.plural),
                ),
            };
        }
        let items: Vec<Value> = items
            .into_iter()
            .filter(|i| {
                api.namespace
                    .as_deref()
                    .is_none_or(|ns| i["metadata"]["namespace"] == ns)
            })
            .collect();
        let start: usize = match query(q, "continue") {
            Some(token) => {
                if b.expire_continue_once.contains(&api.plural)
                    && self
                        .seen
                        .lock()
                        .unwrap()
                        .insert(format!("410:{}", api.plural))
                {
                    return status(
                        StatusCode::GONE,
                        "Expired",
                        "The provided continue parameter is too old to display a consistent list result.",
                    );
                }
                match token.strip_prefix("page-").and_then(|n| n.parse().ok()) {
                    Some(n) => n,
                    None => {
                        return status(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            "invalid continue token",
                        );
                    }
                }
            }
            None => 0,
        };
        let limit = query(q, "limit").and_then(|l| l.parse::<usize>().ok());
        let end = match limit {
            Some(l) => (start + l.min(b.page_size)).min(items.len()),
            None => items.len(),
        };
        list["items"] = Value::Array(items[start.min(end)..end].to_vec());
        if end < items.len() {
            list["metadata"]["continue"] = json!(format!("page-{end}"));
            list["metadata"]["remainingItemCount"] = json!(items.len() - end);
        }
        respond(StatusCode::OK, &list)
    }
}

struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    ca_pem: String,
}

/// A CA and a server certificate for 127.0.0.1 and localhost, signed by it.
fn make_tls() -> Tls {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kubesurface test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.signed_by(&key, &issuer).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    Tls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca_cert.pem(),
    }
}

/// A CA the server does not use (for the TLS failure test).
pub fn unrelated_ca_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
