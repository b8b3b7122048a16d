//! Errors: one line each, saying what failed, where, and what to do about it.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A failure to read the cluster. Its message is one line, for `kubesurface: error: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveError {
    message: String,
}

impl LiveError {
    /// An error with this message (newlines are folded into spaces).
    pub fn new(message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        LiveError { message }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LiveError {}

/// An error and its sources as one line, skipping sources whose text the outer error
/// already shows (and kube's variant prefixes such as `ServiceError: `).
pub(crate) fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let text = strip_prefix(&text).to_string();
        // hyper-util's "client error (Connect)" only says which stage failed; its source
        // says what happened.
        let noise = text.starts_with("client error (");
        if !noise && !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn strip_prefix(s: &str) -> &str {
    for p in ["ServiceError: ", "HyperError: ", "auth error: "] {
        if let Some(rest) = s.strip_prefix(p) {
            return rest;
        }
    }
    s
}

/// What went wrong with one request, classified.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The server answered with an error status.
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    /// The connection failed.
    Transport { kind: Transport, detail: String },
    /// The request did not finish in time.
    Timeout,
    /// Credentials could not be obtained (exec plugin, token file, client certificate).
    Auth(String),
    /// The response was not a list.
    BadResponse(String),
    /// Anything else.
    Other(String),
}

/// Kinds of connection failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Refused,
    Dns,
    Tls,
    Reset,
    TimedOut,
    Other,
}

impl Failure {
    /// Transient failures are retried with back-off: 429, 500, 502, 503, 504, timeouts and
    /// dropped connections. Refused connections, DNS and TLS failures are not: they do
    /// not heal in seconds, and the user should hear about them at once.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            Failure::Status { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            Failure::Transport { kind, .. } => {
                matches!(kind, Transport::Reset | Transport::TimedOut)
            }
            Failure::Timeout => true,
            _ => false,
        }
    }

    /// The HTTP status code, if the server answered.
    pub(crate) fn code(&self) -> Option<u16> {
        match self {
            Failure::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Classifies a kube client error.
pub(crate) fn classify(e: &kube::Error) -> Failure {
    match e {
        kube::Error::Api(status) => Failure::Status {
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
        },
        kube::Error::Auth(_) => Failure::Auth(chain(e)),
        kube::Error::SerdeError(_) | kube::Error::FromUtf8(_) => Failure::BadResponse(chain(e)),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::RustlsTls(_) => {
            let detail = chain(e);
            Failure::Transport {
                kind: transport_kind(e, &detail),
                detail,
            }
        }
        _ => Failure::Other(chain(e)),
    }
}

fn transport_kind(e: &(dyn StdError + 'static), detail: &str) -> Transport {
    let lower = detail.to_ascii_lowercase();
    if matches!(
        e.downcast_ref::<kube::Error>(),
        Some(kube::Error::RustlsTls(_))
    ) || lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("corrupt message")
        || lower.contains("invalidcontenttype")
    {
        return Transport::Tls;
    }
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return Transport::Refused,
                io::ErrorKind::TimedOut => return Transport::TimedOut,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => return Transport::Reset,
                _ => {}
            }
        }
        cur = err.source();
    }
    if lower.contains("dns error") || lower.contains("failed to lookup address") {
        Transport::Dns
    } else if lower.contains("connection refused") {
        Transport::Refused
    } else if lower.contains("timed out") || lower.contains("deadline") {
        Transport::TimedOut
    } else if lower.contains("connection closed")
        || lower.contains("connection reset")
        || lower.contains("incomplete message")
        || lower.contains("broken pipe")
    {
        Transport::Reset
    } else {
        Transport::Other
    }
}

/// Where a request went: for messages.
pub(crate) struct Context<'a> {
    pub server: &'a str,
    pub context: &'a str,
    pub token: Option<&'a str>,
    pub timeout: Duration,
}

impl Context<'_> {
    /// The one-line message for a failure of `what` (`list pods in all namespaces`).
    pub(crate) fn describe(&self, what: &str, f: &Failure) -> LiveError {
        let server = self.server;
        let ctx = self.context;
        LiveError::new(match f {
            Failure::Transport {
                kind: Transport::Refused,
                ..
            } => format!(
                "cannot connect to the API server {server} (context \"{ctx}\"): connection refused; is the cluster up and the kubeconfig current?"
            ),
            Failure::Transport {
                kind: Transport::Dns,
                detail,
            } => format!("cannot resolve the API server {server} (context \"{ctx}\"): {detail}"),
            Failure::Transport {
                kind: Transport::Tls,
                detail,
            } if detail.contains("InvalidContentType") => format!(
                "TLS error talking to the API server {server} (context \"{ctx}\"): {detail}; the server does not seem to speak TLS (http:// instead of https://?)"
            ),
            Failure::Transport {
                kind: Transport::Tls,
                detail,
            } => format!(
                "TLS error talking to the API server {server} (context \"{ctx}\"): {detail}; check the cluster's certificate-authority in the kubeconfig"
            ),
            Failure::Transport {
                kind: Transport::TimedOut,
                ..
            }
            | Failure::Timeout => format!(
                "the API server {server} (context \"{ctx}\") did not answer within {}s ({what})",
                self.timeout.as_secs_f64()
            ),
            Failure::Transport { detail, .. } if detail.contains("invalid HTTP version") => {
                format!(
                    "cannot talk to the API server {server} (context \"{ctx}\"): {detail} (does the server expect https://?)"
                )
            }
            Failure::Transport { detail, .. } => {
                format!("cannot talk to the API server {server} (context \"{ctx}\"): {detail}")
            }
            Failure::Status { code: 401, .. } => format!(
                "the API server {server} rejected the credentials of context \"{ctx}\" (401 Unauthorized): {}; log in again or fix the user in the kubeconfig",
                token_diagnosis(self.token)
            ),
            Failure::Status {
                code: 403, message, ..
            } => {
                let hint = if what.ends_with("in all namespaces") || what == "list namespaces" {
                    " (or read only namespaces you may read, with -n NS)"
                } else {
                    ""
                };
                format!(
                    "forbidden (403) to {what}: {message}; kubesurface needs get and list on the resources in deploy/rbac.yaml{hint}"
                )
            }
            Failure::Status {
                code,
                reason,
                message,
            } => {
                let message = if message.is_empty() { reason } else { message };
                format!("the API server {server} failed to {what}: {code} {message}")
            }
            Failure::Auth(detail) => {
                format!("cannot get credentials for context \"{ctx}\": {detail}")
            }
            Failure::BadResponse(detail) => {
                format!("the API server {server} sent an unreadable answer to {what}: {detail}")
            }
            Failure::Other(detail) => format!("cannot {what} on {server}: {detail}"),
        })
    }
}

/// Why a token was refused, when the token says: an expired JWT names its expiry.
pub(crate) fn token_diagnosis(token: Option<&str>) -> String {
    let generic = "the token or client certificate is invalid or has expired".to_string();
    let Some(exp) = token.and_then(jwt_expiry) else {
        return generic;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if exp <= now {
        format!("the bearer token expired {} ago", human(now - exp))
    } else {
        format!(
            "the bearer token is not expired (it expires in {}) but was not accepted",
            human(exp - now)
        )
    }
}

fn human(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        7200..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// The `exp` claim of a JWT (`header.payload.signature`, base64url), if it is one.
fn jwt_expiry(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64url(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_f64().map(|f| f as u64)
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_exp() {
        // {"alg":"none"}.{"exp":1000,"sub":"x"}.
        let token = "eyJhbGciOiJub25lIn0.eyJleHAiOjEwMDAsInN1YiI6IngifQ.sig";
        assert_eq!(jwt_expiry(token), Some(1000));
        assert!(token_diagnosis(Some(token)).starts_with("the bearer token expired "));
        assert_eq!(jwt_expiry("not-a-jwt"), None);
        assert_eq!(jwt_expiry("a.b"), None);
        assert!(token_diagnosis(Some("opaque")).contains("invalid or has expired"));
    }

    #[test]
    fn one_line() {
        assert_eq!(LiveError::new("a\n  b").message(), "a b");
    }
}
