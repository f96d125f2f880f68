//! `hookd listen`: a local HTTP receiver for developing against hookd. It prints every webhook
//! it receives and whether the Standard Webhooks signature verifies against the `--secret`.
//!
//! It answers 200 `{"received": true}` when the signature verifies (or when no secret was given)
//! and 400 with the reason when it does not, so hookd records a failed attempt and retries, and
//! the user sees why in both places. Output goes to any `Write` (stdout in the CLI, a buffer in
//! tests); each request is printed as one block under a lock so concurrent deliveries never
//! interleave. Printed bodies are cut at 64 KiB and control characters are escaped, since the
//! body is untrusted input headed for a terminal.
//!
//! `--respond` rehearses failures: `500` answers 500 (hookd retries), `410` answers 410 Gone
//! (hookd disables the endpoint), and `slow` answers 200 only after [`SLOW_DELAY`], longer
//! than hookd's default 15 s delivery timeout, so the attempt fails as a timeout.

use std::fmt::Write as _;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use tokio::net::TcpListener;

use crate::domain::secret::SigningSecret;
use crate::signing::{self, VerifyError, DEFAULT_TOLERANCE_SECS};

/// Bodies larger than this are refused with 413 (hookd's own payloads are far smaller).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// How much of a body is printed; the rest is summarised by its size.
const PRINT_LIMIT: usize = 64 * 1024;
/// How long `--respond slow` waits before answering.
pub const SLOW_DELAY: std::time::Duration = std::time::Duration::from_secs(20);
const RULE: &str = "──────────────────────────────────────────────────────────────";

/// How the receiver answers (`hookd listen --respond`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Respond {
    /// 200 when the signature verifies (or none is checked), else 400.
    #[default]
    Normally,
    /// Always 500 Internal Server Error.
    ServerError,
    /// Always 410 Gone.
    Gone,
    /// 200 after [`SLOW_DELAY`].
    Slow,
}

/// Serves the receiver on `listener` until `shutdown` completes, printing to `out`.
///
/// Takes a bound listener so the CLI chooses the port and tests can bind port 0.
pub async fn run(
    listener: TcpListener,
    secret: Option<SigningSecret>,
    out: impl Write + Send + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_responding(listener, secret, Respond::Normally, out, shutdown).await
}

/// Like [`run`], answering as `respond` says.
pub async fn run_responding(
    listener: TcpListener,
    secret: Option<SigningSecret>,
    respond: Respond,
    out: impl Write + Send + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the address hookd listen is bound to")?;
    let mode = if secret.is_some() {
        "verifying signatures"
    } else {
        "not verifying signatures: no --secret given"
    };
    let mode = match respond {
        Respond::Normally => mode.to_string(),
        Respond::ServerError => format!("{mode}; answering 500 to everything"),
        Respond::Gone => format!("{mode}; answering 410 Gone to everything"),
        Respond::Slow => format!("{mode}; answering 200 after {} s", SLOW_DELAY.as_secs()),
    };
    let receiver = Arc::new(Receiver {
        secret,
        respond,
        out: Mutex::new(Box::new(out)),
    });
    receiver.print(&format!(
        "hookd listen: receiving webhooks on http://{addr}/ ({mode})\n"
    ));

    let app = Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(receiver);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving hookd listen")
}

struct Receiver {
    secret: Option<SigningSecret>,
    respond: Respond,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Receiver {
    /// Writes one whole block; a broken stdout must not take the receiver down.
    fn print(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(%error, "hookd listen could not write its output");
        }
    }
}

/// What the receiver concluded about a request's signature.
enum Verdict {
    Unchecked,
    Verified,
    Invalid(VerifyError),
    BodyRefused(String),
}

impl Verdict {
    fn line(&self) -> String {
        match self {
            Verdict::Unchecked => "(no --secret given, not verified)".to_string(),
            Verdict::Verified => "✔ signature verified".to_string(),
            Verdict::Invalid(reason) => format!("✘ signature invalid: {reason}"),
            Verdict::BodyRefused(reason) => format!("✘ body refused: {reason}"),
        }
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if method != Method::POST {
        let error = json!({"error": "hookd listen only receives webhooks, which are POSTed"});
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            Json(error),
        )
            .into_response();
    }
    let now = Utc::now();

    let (verdict, body, response) = match body {
        Err(rejection) => {
            let verdict = Verdict::BodyRefused(rejection.body_text());
            (verdict, Bytes::new(), rejection.into_response())
        }
        Ok(body) => {
            let verdict = match &receiver.secret {
                None => Verdict::Unchecked,
                Some(secret) => match signing::verify_headers(
                    secret,
                    &headers,
                    &body,
                    now.timestamp(),
                    DEFAULT_TOLERANCE_SECS,
                ) {
                    Ok(()) => Verdict::Verified,
                    Err(reason) => Verdict::Invalid(reason),
                },
            };
            let response = match &verdict {
                Verdict::Invalid(reason) => (
                    StatusCode::BAD_REQUEST,
                    Json(
                        json!({"received": false, "error": format!("signature invalid: {reason}")}),
                    ),
                )
                    .into_response(),
                _ => Json(json!({"received": true})).into_response(),
            };
            (verdict, body, response)
        }
    };
    let response = match receiver.respond {
        Respond::Normally | Respond::Slow => response,
        Respond::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"received": false, "error": "hookd listen --respond 500"})),
        )
            .into_response(),
        Respond::Gone => (
            StatusCode::GONE,
            Json(json!({"received": false, "error": "hookd listen --respond 410"})),
        )
            .into_response(),
    };

    let block = render(
        now,
        &method,
        &uri,
        &headers,
        &verdict,
        response.status(),
        &body,
    );
    receiver.print(&block);
    if receiver.respond == Respond::Slow {
        tokio::time::sleep(SLOW_DELAY).await;
    }
    response
}

/// The printed block for one request.
fn render(
    now: DateTime<Utc>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    verdict: &Verdict,
    status: StatusCode,
    body: &[u8],
) -> String {
    let mut block = String::with_capacity(512 + body.len().min(PRINT_LIMIT) * 2);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let _ = writeln!(block, "{RULE}");
    let _ = writeln!(
        block,
        "{}  {method} {}  → {status}",
        now.to_rfc3339_opts(SecondsFormat::Secs, true),
        sanitize(path),
    );

    let id = header_text(headers, &signing::WEBHOOK_ID);
    let _ = writeln!(block, "webhook-id:        {id}");
    let mut timestamp = header_text(headers, &signing::WEBHOOK_TIMESTAMP);
    if let Some(at) = timestamp
        .parse::<i64>()
        .ok()
        .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
    {
        let _ = write!(
            timestamp,
            " ({})",
            at.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
    }
    let _ = writeln!(block, "webhook-timestamp: {timestamp}");
    let _ = writeln!(block, "{}", verdict.line());
    block.push_str(&render_body(body));
    block.push_str("\n\n");
    block
}

fn header_text(headers: &HeaderMap, name: &header::HeaderName) -> String {
    match headers.get(name) {
        None => "(missing)".to_string(),
        Some(value) => match value.to_str() {
            Ok(text) => sanitize(text),
            Err(_) => "(not valid text)".to_string(),
        },
    }
}

/// The body as printed: pretty JSON when it parses as JSON, otherwise the raw text, cut at
/// [`PRINT_LIMIT`] bytes.
fn render_body(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_string();
    }
    let text = if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        reindent_json(body, PRINT_LIMIT + 1)
    } else {
        String::from_utf8_lossy(&body[..body.len().min(PRINT_LIMIT + 4)]).into_owned()
    };
    if text.len() <= PRINT_LIMIT {
        return sanitize(&text);
    }
    let mut cut = PRINT_LIMIT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n… (cut at {PRINT_LIMIT} bytes; body is {} bytes)",
        sanitize(&text[..cut]),
        body.len()
    )
}

/// Pretty-prints already-validated JSON by re-indenting its text. Working on the text rather
/// than a parsed `Value` keeps key order and number spelling exactly as sent, and stopping at
/// `limit` bytes bounds the work for deeply nested bodies.
fn reindent_json(json: &[u8], limit: usize) -> String {
    fn newline(out: &mut Vec<u8>, depth: usize) {
        out.push(b'\n');
        out.resize(out.len() + depth * 2, b' ');
    }

    let mut out = Vec::with_capacity(json.len().min(limit) + 64);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut i = 0;
    while i < json.len() && out.len() < limit {
        let byte = json[i];
        i += 1;
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'"' => {
                in_string = true;
                out.push(byte);
            }
            b'{' | b'[' => {
                out.push(byte);
                let close = if byte == b'{' { b'}' } else { b']' };
                let next = json[i..].iter().position(|b| !b.is_ascii_whitespace());
                if let Some(offset) = next.filter(|&offset| json[i + offset] == close) {
                    // An empty container stays `{}` / `[]`.
                    out.push(close);
                    i += offset + 1;
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(byte);
            }
            b',' => {
                out.push(byte);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(byte),
        }
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// Escapes control characters (other than newline and tab) so a body cannot drive the terminal.
fn sanitize(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    let mut clean = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            clean.extend(c.escape_default());
        } else {
            clean.push(c);
        }
    }
    clean
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    /// A `Write` the test can read back after the receiver has written to it.
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl SharedBuf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    struct Running {
        url: String,
        out: SharedBuf,
        client: reqwest::Client,
        stop: oneshot::Sender<()>,
        task: JoinHandle<anyhow::Result<()>>,
    }

    impl Running {
        async fn start(secret: Option<SigningSecret>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let out = SharedBuf::default();
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(run(listener, secret, out.clone(), async {
                let _ = stopped.await;
            }));
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            Self {
                url,
                out,
                client,
                stop,
                task,
            }
        }

        async fn post(&self, path: &str, headers: HeaderMap, body: &'static [u8]) -> (u16, String) {
            let response = self
                .client
                .post(format!("{}{path}", self.url))
                .headers(headers)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }

        async fn stop(self) -> String {
            self.stop.send(()).unwrap();
            self.task.await.unwrap().unwrap();
            self.out.text()
        }
    }

    const BODY: &[u8] = br#"{"type":"invoice.paid","data":{"amount":1200,"tags":[]}}"#;
    const PRETTY: &str = "{\n  \"type\": \"invoice.paid\",\n  \"data\": {\n    \"amount\": 1200,\n    \"tags\": []\n  }\n}";

    fn signed(secret: &SigningSecret, timestamp: i64, body: &[u8]) -> HeaderMap {
        let secrets = std::slice::from_ref(secret);
        signing::signature_headers(secrets, "msg_01HZX3K4M5N6P7Q8R9S0T1V2W3", timestamp, body)
            .unwrap()
    }

    #[tokio::test]
    async fn a_correctly_signed_webhook_is_accepted_and_printed() {
        let secret = SigningSecret::generate();
        let rx = Running::start(Some(secret.clone())).await;

        let headers = signed(&secret, Utc::now().timestamp(), BODY);
        let (status, answer) = rx.post("/hooks/billing?x=1", headers, BODY).await;
        assert_eq!(status, 200);
        assert_eq!(answer, r#"{"received":true}"#);

        let out = rx.stop().await;
        assert!(out.contains("verifying signatures"), "{out}");
        assert!(out.contains("POST /hooks/billing?x=1  → 200 OK"), "{out}");
        assert!(
            out.contains("webhook-id:        msg_01HZX3K4M5N6P7Q8R9S0T1V2W3"),
            "{out}"
        );
        assert!(out.contains("✔ signature verified"), "{out}");
        assert!(out.contains(PRETTY), "{out}");
    }

    #[tokio::test]
    async fn a_wrongly_signed_or_stale_webhook_is_refused_with_400() {
        let secret = SigningSecret::generate();
        let rx = Running::start(Some(secret.clone())).await;
        let now = Utc::now().timestamp();

        let forged = signed(&SigningSecret::generate(), now, BODY);
        let (status, answer) = rx.post("/", forged, BODY).await;
        assert_eq!(status, 400);
        assert!(
            answer.contains("signature invalid: no signature matches"),
            "{answer}"
        );

        let stale = signed(&secret, now - 3600, BODY);
        let (status, answer) = rx.post("/", stale, BODY).await;
        assert_eq!(status, 400);
        assert!(answer.contains("in the past"), "{answer}");

        let out = rx.stop().await;
        assert!(
            out.contains("✘ signature invalid: no signature matches"),
            "{out}"
        );
        assert!(out.contains("POST /  → 400 Bad Request"), "{out}");
        assert!(out.contains("s in the past"), "{out}");
        assert!(!out.contains("verified"), "{out}");
    }

    #[tokio::test]
    async fn missing_headers_are_named() {
        let secret = SigningSecret::generate();
        let rx = Running::start(Some(secret.clone())).await;

        let (status, answer) = rx.post("/", HeaderMap::new(), BODY).await;
        assert_eq!(status, 400);
        assert!(answer.contains("missing webhook-id header"), "{answer}");

        let mut headers = signed(&secret, Utc::now().timestamp(), BODY);
        headers.remove(&signing::WEBHOOK_SIGNATURE);
        let (status, answer) = rx.post("/", headers, BODY).await;
        assert_eq!(status, 400);
        assert!(
            answer.contains("missing webhook-signature header"),
            "{answer}"
        );

        let out = rx.stop().await;
        assert!(out.contains("webhook-id:        (missing)"), "{out}");
        assert!(
            out.contains("✘ signature invalid: missing webhook-id header"),
            "{out}"
        );
        assert!(
            out.contains("✘ signature invalid: missing webhook-signature header"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn without_a_secret_everything_is_accepted_and_non_json_printed_raw() {
        let rx = Running::start(None).await;

        let raw: &[u8] = b"name=ada&note=not json {\x1b[31m";
        let (status, _) = rx.post("/form", HeaderMap::new(), raw).await;
        assert_eq!(status, 200);

        let out = rx.stop().await;
        assert!(out.contains("not verifying signatures"), "{out}");
        assert!(out.contains("(no --secret given, not verified)"), "{out}");
        assert!(out.contains("name=ada&note=not json {\\u{1b}[31m"), "{out}");
        assert!(!out.contains('\x1b'), "control characters must be escaped");
    }

    #[tokio::test]
    async fn oversized_bodies_and_other_methods_are_refused() {
        let rx = Running::start(None).await;

        let big: &'static [u8] = vec![b'a'; MAX_BODY_BYTES + 1].leak();
        let (status, _) = rx.post("/", HeaderMap::new(), big).await;
        assert_eq!(status, 413);

        let response = rx.client.get(&rx.url).send().await.unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST");

        let out = rx.stop().await;
        assert!(out.contains("→ 413 Payload Too Large"), "{out}");
        assert!(out.contains("✘ body refused"), "{out}");
        assert!(!out.contains("GET"), "{out}");
    }

    #[test]
    fn json_is_reindented_without_reordering_or_reformatting() {
        let body = br#" {"z":1.50,"a":{"s":"a, b: {c} [d] \"e\" \\","n":null},"big":123456789012345678901234567890,"e":{},"l":[1,[2,3],{ }]} "#;
        let expected = r#"{
  "z": 1.50,
  "a": {
    "s": "a, b: {c} [d] \"e\" \\",
    "n": null
  },
  "big": 123456789012345678901234567890,
  "e": {},
  "l": [
    1,
    [
      2,
      3
    ],
    {}
  ]
}"#;
        assert_eq!(render_body(body), expected);
        assert_eq!(render_body(b"42"), "42");
        assert_eq!(render_body(b""), "(empty body)");
        assert_eq!(render_body(b"{\"a\":"), "{\"a\":");
    }

    #[test]
    fn printed_bodies_are_cut_and_bounded() {
        let raw = "é".repeat(PRINT_LIMIT);
        let printed = render_body(raw.as_bytes());
        assert!(printed.len() < PRINT_LIMIT + 100);
        assert!(printed.ends_with(&format!("body is {} bytes)", raw.len())));

        // Deep nesting with many elements would blow up when indented; the output stays bounded.
        let mut nested = "[".repeat(100);
        nested.push_str(&vec!["1"; 200_000].join(","));
        nested.push_str(&"]".repeat(100));
        let printed = render_body(nested.as_bytes());
        assert!(printed.len() < PRINT_LIMIT + 100, "{}", printed.len());
        assert!(printed.contains("… (cut at 65536 bytes"));
    }
}
