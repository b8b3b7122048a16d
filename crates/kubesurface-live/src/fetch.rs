//! Listing: one job per (resource, scope), run in parallel; pages with limit/continue;
//! transient failures retried with exponential back-off.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kube::Client;
use kube::api::{GetParams, ListParams};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::dump;
use crate::error::{Failure, classify};
use crate::resources::Resource;

/// What one job reads.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// The whole collection: cluster-scoped, or namespaced in all namespaces.
    All,
    /// The collection in one namespace.
    Namespace(String),
    /// One Namespace object (`-n NS`).
    GetNamespace(String),
}

/// One list (or get) operation.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub resource: &'static Resource,
    pub scope: Scope,
}

impl Job {
    /// What the job does, for messages: `list pods in all namespaces`.
    pub(crate) fn what(&self) -> String {
        let name = self.resource.qualified_name();
        match &self.scope {
            Scope::All if self.resource.namespaced => format!("list {name} in all namespaces"),
            Scope::All => format!("list {name}"),
            Scope::Namespace(ns) => format!("list {name} in namespace {ns}"),
            Scope::GetNamespace(ns) => format!("get namespace {ns}"),
        }
    }
}

/// What a job found.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The objects, complete (apiVersion and kind filled in).
    Items(Vec<Value>),
    /// Absent (404 for every version tried) or forbidden (403), for an optional resource.
    Skipped { forbidden: bool, detail: String },
}

/// A failed job: what it tried, and why it failed.
#[derive(Debug)]
pub(crate) struct JobError {
    pub what: String,
    pub failure: Failure,
}

/// State shared by all jobs.
pub(crate) struct Fetcher {
    pub client: Client,
    pub page_size: u32,
    pub retries: u32,
    pub backoff: Duration,
    pub request_timeout: Duration,
    pub permits: Semaphore,
    pub retried: AtomicUsize,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default)]
    items: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
}

impl Fetcher {
    /// Runs one job. `first_contact` turns off retries of connection failures, so an
    /// unreachable server is reported at once rather than after minutes of back-off.
    pub(crate) async fn run(
        self: &Arc<Self>,
        job: &Job,
        first_contact: bool,
    ) -> Result<Outcome, JobError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let r = job.resource;
        let err = |failure| JobError {
            what: job.what(),
            failure,
        };
        if let Scope::GetNamespace(ns) = &job.scope {
            let path = r.path(r.versions[0], None);
            let result = self
                .request(
                    || kube::core::Request::new(&path).get(ns, &GetParams::default()),
                    first_contact,
                )
                .await;
            return match result {
                Ok(text) => {
                    let mut obj: Map<String, Value> = serde_json::from_str(&text)
                        .map_err(|e| err(Failure::BadResponse(e.to_string())))?;
                    dump::normalize(&mut obj, &r.api_version(r.versions[0]), r.kind);
                    Ok(Outcome::Items(vec![Value::Object(obj)]))
                }
                Err(f) if f.code() == Some(403) => Ok(Outcome::Skipped {
                    forbidden: true,
                    detail: status_message(&f),
                }),
                Err(f) if f.code() == Some(404) => Err(err(Failure::Other(format!(
                    "namespace \"{ns}\" does not exist"
                )))),
                Err(f) => Err(err(f)),
            };
        }
        let namespace = match &job.scope {
            Scope::Namespace(ns) => Some(ns.as_str()),
            _ => None,
        };
        let mut not_found = None;
        for version in r.versions {
            match self.list_all(r, version, namespace, first_contact).await {
                Ok(items) => return Ok(Outcome::Items(items)),
                Err(f) if f.code() == Some(404) => not_found = Some(f),
                Err(f) if f.code() == Some(403) && r.optional => {
                    return Ok(Outcome::Skipped {
                        forbidden: true,
                        detail: status_message(&f),
                    });
                }
                Err(f) => return Err(err(f)),
            }
        }
        if r.optional {
            Ok(Outcome::Skipped {
                forbidden: false,
                detail: format!(
                    "not served (404 for {})",
                    r.versions
                        .iter()
                        .map(|v| r.api_version(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        } else {
            Err(err(
                not_found.unwrap_or(Failure::Other("no version served".into()))
            ))
        }
    }

    /// Every page of one collection. A `410 Gone` (the continue token expired while
    /// paging) restarts the listing once.
    async fn list_all(
        &self,
        r: &Resource,
        version: &str,
        namespace: Option<&str>,
        first_contact: bool,
    ) -> Result<Vec<Value>, Failure> {
        let path = r.path(version, namespace);
        let api_version = r.api_version(version);
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        let mut restarted = false;
        loop {
            let mut lp = ListParams::default().limit(self.page_size);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let text = match self
                .request(|| kube::core::Request::new(&path).list(&lp), first_contact)
                .await
            {
                Ok(text) => text,
                Err(f) if f.code() == Some(410) && token.is_some() && !restarted => {
                    restarted = true;
                    items.clear();
                    token = None;
                    continue;
                }
                Err(f) => return Err(f),
            };
            let page: Page = serde_json::from_str(&text)
                .map_err(|e| Failure::BadResponse(format!("not a list: {e}")))?;
            for item in page.items.unwrap_or_default() {
                match item {
                    Value::Object(mut obj) => {
                        dump::normalize(&mut obj, &api_version, r.kind);
                        items.push(Value::Object(obj));
                    }
                    other => {
                        return Err(Failure::BadResponse(format!(
                            "a list item is not an object: {other}"
                        )));
                    }
                }
            }
            match page.metadata.continue_token.filter(|t| !t.is_empty()) {
                Some(next) if token.as_deref() == Some(next.as_str()) => {
                    return Err(Failure::BadResponse(
                        "the server repeated the same continue token".into(),
                    ));
                }
                Some(next) => token = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// One request, retried with exponential back-off while the failure is transient.
    async fn request(
        &self,
        build: impl Fn() -> Result<http::Request<Vec<u8>>, kube::core::request::Error>,
        first_contact: bool,
    ) -> Result<String, Failure> {
        let mut attempt = 0;
        loop {
            let req = build().map_err(|e| Failure::Other(e.to_string()))?;
            let failure =
                match tokio::time::timeout(self.request_timeout, self.client.request_text(req))
                    .await
                {
                    Ok(Ok(text)) => return Ok(text),
                    Ok(Err(e)) => classify(&e),
                    Err(_) => Failure::Timeout,
                };
            let transient = failure.retryable()
                && !(first_contact
                    && matches!(failure, Failure::Transport { .. } | Failure::Timeout));
            if !transient || attempt >= self.retries {
                return Err(failure);
            }
            self.retried.fetch_add(1, Ordering::Relaxed);
            let delay = self.backoff.saturating_mul(1 << attempt.min(5));
            tokio::time::sleep(delay.min(Duration::from_secs(8))).await;
            attempt += 1;
        }
    }
}

fn status_message(f: &Failure) -> String {
    match f {
        Failure::Status {
            code,
            reason,
            message,
        } if !message.is_empty() => {
            format!("{code} {reason}: {message}")
        }
        Failure::Status { code, reason, .. } => format!("{code} {reason}"),
        other => format!("{other:?}"),
    }
}
