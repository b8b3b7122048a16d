//! Reads a live Kubernetes cluster for kubesurface: read-only (only `get` and `list`,
//! never Secrets or ConfigMaps), every kind the analyses model, in parallel, paged, with
//! retries; the result is one `v1 List`, the same text `--dump` writes, so any live run
//! can be reproduced offline.
//!
//! ```no_run
//! let snapshot = kubesurface_live::read_cluster(&kubesurface_live::Options::default())?;
//! for s in &snapshot.skipped {
//!     eprintln!("skipped {s}");
//! }
//! let text = snapshot.to_json(); // feed to kubesurface_ingest::load_texts
//! # Ok::<(), kubesurface_live::LiveError>(())
//! ```
//!
//! This crate knows nothing of the model: it hands over text, and the ingest crate reads
//! it exactly as it reads a `kubectl get -o json` dump.

mod config;
mod dump;
mod error;
mod fetch;
mod progress;
mod resources;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;

pub use dump::{DumpFormat, REDACTED};
pub use error::LiveError;
pub use resources::{RESOURCES, Resource};

use fetch::{Fetcher, Job, Outcome, Scope};

/// How to read the cluster.
#[derive(Debug, Clone)]
pub struct Options {
    /// Kubeconfig file; `None`: `$KUBECONFIG`, then `~/.kube/config`, then in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// Context; `None`: the kubeconfig's current-context.
    pub context: Option<String>,
    /// Only these namespaces; empty: all namespaces.
    pub namespaces: Vec<String>,
    /// Show a progress bar on stderr when reading takes more than a moment (never when
    /// stderr is not a terminal).
    pub progress: bool,
    /// TCP and TLS connection timeout.
    pub connect_timeout: Duration,
    /// Timeout of one request (one page).
    pub request_timeout: Duration,
    /// Objects per page (`limit`).
    pub page_size: u32,
    /// Retries of one request after a transient failure (429, 5xx, timeout, reset).
    pub retries: u32,
    /// First back-off delay; doubled on each retry.
    pub backoff: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kubeconfig: None,
            context: None,
            namespaces: Vec::new(),
            progress: true,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            page_size: 500,
            retries: 4,
            backoff: Duration::from_millis(250),
            concurrency: 6,
        }
    }
}

/// Why a resource was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The server does not serve it (404): the CRD or API is not installed.
    NotInstalled,
    /// Forbidden (403) to the user.
    Forbidden,
}

/// An optional resource that was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its kind (`HTTPRoute`).
    pub kind: &'static str,
    /// Its RBAC name (`httproutes.gateway.networking.k8s.io`).
    pub resource: String,
    /// Why.
    pub reason: SkipReason,
    /// The namespaces it was forbidden in; empty: everywhere it was asked for.
    pub namespaces: Vec<String>,
    /// The server's words.
    pub detail: String,
}

impl fmt::Display for Skipped {
    /// `HTTPRoute (httproutes.gateway.networking.k8s.io): not installed (404)`, or
    /// `Gateway (gateways.gateway.networking.k8s.io): forbidden (403) in namespace(s) a, b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): ", self.kind, self.resource)?;
        match self.reason {
            SkipReason::NotInstalled => f.write_str("not installed (404)"),
            SkipReason::Forbidden if self.namespaces.is_empty() => f.write_str("forbidden (403)"),
            SkipReason::Forbidden => write!(
                f,
                "forbidden (403) in namespace(s) {}",
                self.namespaces.join(", ")
            ),
        }
    }
}

/// What was read from the cluster.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The kubeconfig context (or `in-cluster`).
    pub context: String,
    /// The API server URL.
    pub server: String,
    /// `{"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [...]}`; items in
    /// [`RESOURCES`] order, then namespace order, then the server's order.
    pub list: Value,
    /// Optional resources not read.
    pub skipped: Vec<Skipped>,
    /// Objects read per kind (kinds with none are left out).
    pub counts: Vec<(&'static str, usize)>,
    /// Requests retried after a transient failure.
    pub retries: usize,
    /// How long reading took.
    pub elapsed: Duration,
}

impl Snapshot {
    /// The name this input is reported under: `<cluster:CONTEXT>`.
    pub fn input_name(&self) -> String {
        format!("<cluster:{}>", self.context)
    }

    /// The `List` as pretty JSON: the text to model, and the `.json` dump, byte for byte.
    pub fn to_json(&self) -> String {
        dump::to_json(&self.list)
    }

    /// The `List` as YAML.
    pub fn to_yaml(&self) -> Result<String, LiveError> {
        dump::to_yaml(&self.list)
    }

    /// The number of objects read.
    pub fn len(&self) -> usize {
        self.list["items"].as_array().map_or(0, Vec::len)
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the `List` to `path`: JSON for `.json`, YAML otherwise. Returns the format.
    pub fn write_dump(&self, path: &Path) -> Result<DumpFormat, LiveError> {
        let format = DumpFormat::for_path(path);
        let text = match format {
            DumpFormat::Json => self.to_json(),
            DumpFormat::Yaml => self.to_yaml()?,
        };
        dump::write_atomically(path, &text)?;
        Ok(format)
    }
}

/// Reads the cluster. Blocks; runs its own async runtime.
pub fn read_cluster(opts: &Options) -> Result<Snapshot, LiveError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LiveError::new(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(read(opts));
    // Background connection tasks must not keep the process waiting.
    runtime.shutdown_background();
    result
}

/// The namespaces given, sorted and without duplicates.
fn namespaces(opts: &Options) -> Result<Vec<String>, LiveError> {
    let mut out = opts.namespaces.clone();
    out.sort();
    out.dedup();
    for ns in &out {
        if ns.is_empty()
            || !ns
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(LiveError::new(format!(
                "--namespace {ns:?}: not a valid namespace name (lowercase letters, digits and '-')"
            )));
        }
    }
    Ok(out)
}

/// The jobs, in output order: per resource, one cluster-wide job, or one per namespace.
fn jobs(namespaces: &[String]) -> Vec<Job> {
    let mut out = Vec::new();
    for r in RESOURCES {
        if namespaces.is_empty() || !(r.namespaced || r.kind == "Namespace") {
            out.push(Job {
                resource: r,
                scope: Scope::All,
            });
        } else {
            for ns in namespaces {
                let scope = if r.kind == "Namespace" {
                    Scope::GetNamespace(ns.clone())
                } else {
                    Scope::Namespace(ns.clone())
                };
                out.push(Job { resource: r, scope });
            }
        }
    }
    out
}

async fn read(opts: &Options) -> Result<Snapshot, LiveError> {
    let start = Instant::now();
    let namespaces = namespaces(opts)?;
    let target = config::resolve(opts).await?;
    let server = target.config.cluster_url.to_string();
    let server = server.trim_end_matches('/').to_string();
    let describe = |what: &str, f: &error::Failure| {
        error::Context {
            server: &server,
            context: &target.context,
            token: target.token.as_deref(),
            timeout: opts.request_timeout,
        }
        .describe(what, f)
    };
    let mut config = target.config.clone();
    config.connect_timeout = Some(opts.connect_timeout);
    config.read_timeout = Some(opts.request_timeout);
    config.reset_reader_on_write = true;
    config.default_retry = false;
    let client =
        kube::Client::try_from(config).map_err(|e| describe("connect", &error::classify(&e)))?;
    let fetcher = Arc::new(Fetcher {
        client,
        page_size: opts.page_size.max(1),
        retries: opts.retries,
        backoff: opts.backoff,
        request_timeout: opts.request_timeout,
        permits: Semaphore::new(opts.concurrency.max(1)),
        retried: AtomicUsize::new(0),
    });
    let jobs = jobs(&namespaces);
    let progress = progress::Progress::new(opts.progress, jobs.len());
    let objects = Arc::new(AtomicUsize::new(0));

    // First contact alone: an unreachable server or bad credentials are reported once,
    // at once, not by every job.
    let mut outcomes: Vec<Option<Outcome>> = (0..jobs.len()).map(|_| None).collect();
    let first = fetcher.run(&jobs[0], true).await;
    let first = first.map_err(|e| {
        progress.finish();
        describe(&e.what, &e.failure)
    })?;
    count(&objects, &first);
    progress.step(objects.load(Ordering::Relaxed));
    outcomes[0] = Some(first);

    let mut set = tokio::task::JoinSet::new();
    for (i, job) in jobs.iter().enumerate().skip(1) {
        let fetcher = Arc::clone(&fetcher);
        let job = job.clone();
        set.spawn(async move { (i, fetcher.run(&job, false).await) });
    }
    while let Some(joined) = set.join_next().await {
        let (i, result) = joined.map_err(|e| LiveError::new(format!("a list task failed: {e}")))?;
        match result {
            Ok(outcome) => {
                count(&objects, &outcome);
                progress.step(objects.load(Ordering::Relaxed));
                outcomes[i] = Some(outcome);
            }
            Err(e) => {
                set.abort_all();
                progress.finish();
                return Err(describe(&e.what, &e.failure));
            }
        }
    }
    progress.finish();

    let mut items = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for (job, outcome) in jobs.iter().zip(outcomes) {
        let r = job.resource;
        match outcome.expect("every job has finished") {
            Outcome::Items(list) => {
                if !list.is_empty() {
                    match counts.last_mut() {
                        Some((k, n)) if *k == r.kind => *n += list.len(),
                        _ => counts.push((r.kind, list.len())),
                    }
                }
                items.extend(list);
            }
            Outcome::Skipped { forbidden, detail } => {
                let reason = if forbidden {
                    SkipReason::Forbidden
                } else {
                    SkipReason::NotInstalled
                };
                let ns = match &job.scope {
                    Scope::Namespace(ns) | Scope::GetNamespace(ns) => Some(ns.clone()),
                    Scope::All => None,
                };
                match skipped
                    .iter_mut()
                    .find(|s| s.kind == r.kind && s.reason == reason)
                {
                    Some(s) => s.namespaces.extend(ns),
                    None => skipped.push(Skipped {
                        kind: r.kind,
                        resource: r.qualified_name(),
                        reason,
                        namespaces: if reason == SkipReason::Forbidden {
                            ns.into_iter().collect()
                        } else {
                            Vec::new()
                        },
                        detail,
                    }),
                }
            }
        }
    }
    Ok(Snapshot {
        context: target.context,
        server,
        list: dump::list(items),
        skipped,
        counts,
        retries: fetcher.retried.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    })
}

fn count(objects: &AtomicUsize, outcome: &Outcome) {
    if let Outcome::Items(items) = outcome {
        objects.fetch_add(items.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_per_namespace() {
        let all = jobs(&[]);
        assert_eq!(all.len(), RESOURCES.len());
        let two = jobs(&["a".into(), "b".into()]);
        let cluster_scoped = RESOURCES
            .iter()
            .filter(|r| !r.namespaced && r.kind != "Namespace")
            .count();
        assert_eq!(
            two.len(),
            cluster_scoped + 2 * (RESOURCES.len() - cluster_scoped)
        );
        assert!(matches!(two[0].scope, Scope::GetNamespace(ref n) if n == "a"));
    }

    #[test]
    fn namespace_names_checked() {
        let opts = Options {
            namespaces: vec!["b".into(), "a".into(), "b".into()],
            ..Options::default()
        };
        assert_eq!(namespaces(&opts).unwrap(), vec!["a", "b"]);
        let bad = Options {
            namespaces: vec!["A/b".into()],
            ..Options::default()
        };
        assert!(namespaces(&bad).is_err());
    }
}
