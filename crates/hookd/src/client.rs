//! The HTTP client behind the CLI's API commands (`hookd endpoints|events|deliveries|replay|
//! integrations|call`, see `cli/`): they talk to a running hookd over its public API
//! (`HOOKD_API_URL`, `HOOKD_API_KEY`), exactly as a script would, rather than opening the
//! database, so they work against a remote server and go through the same auth, tenancy, egress
//! policy and call log as every other caller. Every failure is a [`CliError`] with its exit code:
//! the API's `code: message` for 4xx (1), unreachable or 5xx (3), bad input or no key (2).
//!
//! `call` resolves the name with `GET /v1/integrations?name=…` (exact, case-insensitive). When
//! no connected integration has that name it looks again including disconnected ones and, if it
//! finds one, calls it anyway so that the API's own 410 `integration_disconnected` message,
//! which names the integration, is what the user sees.

use std::io::Write;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

use crate::cli::CliError;
use base64::Engine as _;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8080";

/// Longer than the longest integration timeout (60 s), so hookd's own 504 arrives first.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// A successful answer: the body as the API sent it and parsed.
#[derive(Debug)]
pub struct Reply {
    pub raw: String,
    pub body: Value,
}

impl Reply {
    /// The `data` member (a single object, or a list page's items).
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The text of the `data` member exactly as the API sent it (field order kept), for
    /// `--json`; the whole body when it has no `data`.
    pub fn data_raw(&self) -> &str {
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            data: &'a serde_json::value::RawValue,
        }
        serde_json::from_str::<Envelope<'_>>(&self.raw)
            .map(|e| e.data.get())
            .unwrap_or(&self.raw)
    }
}

/// A client of the hookd API, authenticated with one API key.
pub struct ApiClient {
    base: String,
    key: String,
    http: reqwest::Client,
}

/// The arguments of `hookd call`.
#[derive(Clone, Debug, Default)]
pub struct CallArgs {
    pub name: String,
    pub method: Option<String>,
    pub path: Option<String>,
    /// `@file.json` or inline JSON.
    pub data: Option<String>,
    /// Query parameters in the order given; a repeated name is sent once per value.
    pub query: Vec<(String, String)>,
    /// The caller's own headers.
    pub headers: Vec<(String, String)>,
}

impl ApiClient {
    /// From `HOOKD_API_URL` (default `http://127.0.0.1:8080`) and `HOOKD_API_KEY` (required).
    pub fn from_env() -> anyhow::Result<Self> {
        let base = std::env::var("HOOKD_API_URL").ok();
        let key = std::env::var("HOOKD_API_KEY").ok();
        Self::connect(base.as_deref(), key.as_deref())
    }

    /// From a URL and key given on the command line or in the environment (empty counts as
    /// unset). A missing key or a malformed URL is a usage error (exit 2).
    pub fn connect(base: Option<&str>, key: Option<&str>) -> anyhow::Result<Self> {
        let base = base
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_API_URL);
        let key = key
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                CliError::usage(
                    "no API key: set HOOKD_API_KEY or pass --api-key (scripe_sk_live_… or \
                 scripe_sk_test_…, e.g. one made with `hookd keys create --workspace default \
                 --mode live`)",
                )
            })?;
        Self::new(base, key)
    }

    pub fn new(base: &str, key: &str) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(base)
            .map_err(|e| CliError::usage(format!("the API URL {base:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CliError::usage(format!(
                "the API URL must be an http:// or https:// URL, got {base:?}"
            ))
            .into());
        }
        let http = reqwest::Client::builder()
            // The API is ours, usually on loopback: never route it through HTTP(S)_PROXY.
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("hookd-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            http,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    /// `GET path?query`.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Reply> {
        self.exchange(self.request(Method::GET, path).query(query))
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.exchange(self.request(Method::POST, path).json(body))
            .await
    }

    /// `POST path` with a JSON body given as text, sent as is (key order and number forms kept).
    pub async fn post_text(&self, path: &str, body: String) -> anyhow::Result<Reply> {
        self.exchange(
            self.request(Method::POST, path)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body),
        )
        .await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.exchange(self.request(Method::PATCH, path).json(body))
            .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> anyhow::Result<Reply> {
        self.exchange(self.request(Method::DELETE, path)).await
    }

    /// Sends one request as given (`path_and_query` below the API root, a JSON text body) and
    /// returns the answer whatever its status: the status, the request id and the body bytes.
    /// Used by `hookd mcp`, which turns API errors into tool errors itself.
    pub async fn send_raw(
        &self,
        method: Method,
        path_and_query: &str,
        json_body: Option<String>,
        idempotency_key: Option<&str>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Option<String>, bytes::Bytes)> {
        let mut request = self.request(method, path_and_query);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = json_body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(|e| {
            CliError::unavailable(format!(
                "could not reach the hookd API at {} (set HOOKD_API_URL): {}",
                self.base,
                root_cause(&e)
            ))
        })?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await.map_err(|e| {
            CliError::unavailable(format!(
                "reading the hookd API's answer: {}",
                root_cause(&e)
            ))
        })?;
        Ok((status, request_id, body))
    }

    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        Ok(self.exchange(request).await?.body)
    }

    /// Sends a request. A non-2xx answer becomes a [`CliError`] carrying the API's `code` and
    /// `message` (exit 1 for 4xx, 3 for 5xx); no answer at all is exit 3.
    async fn exchange(&self, request: RequestBuilder) -> anyhow::Result<Reply> {
        let response = request.send().await.map_err(|e| {
            CliError::unavailable(format!(
                "could not reach the hookd API at {} (set HOOKD_API_URL or --api-url): {}",
                self.base,
                root_cause(&e)
            ))
        })?;
        let status = response.status();
        let raw = response.text().await.map_err(|e| {
            CliError::unavailable(format!(
                "reading the hookd API's answer: {}",
                root_cause(&e)
            ))
        })?;
        let body: Value = serde_json::from_str(&raw).unwrap_or_else(|_| Value::String(raw.clone()));
        if status.is_success() {
            return Ok(Reply { raw, body });
        }
        let line = match (
            body["error"]["code"].as_str(),
            body["error"]["message"].as_str(),
        ) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => format!("the hookd API answered HTTP {status}: {body}"),
        };
        Err(if status.is_server_error() {
            CliError::unavailable(line)
        } else {
            CliError::api(line)
        }
        .into())
    }

    async fn find(&self, name: &str, include_disconnected: bool) -> anyhow::Result<Option<Value>> {
        let include = if include_disconnected {
            "true"
        } else {
            "false"
        };
        let page = self
            .send(self.request(Method::GET, "/v1/integrations").query(&[
                ("name", name),
                ("limit", "1"),
                ("includeDisconnected", include),
            ]))
            .await?;
        Ok(page["data"].as_array().and_then(|d| d.first()).cloned())
    }

    /// The id of a connected integration given by id (`int_…`) or name.
    pub async fn integration_id(&self, name_or_id: &str) -> anyhow::Result<String> {
        if name_or_id.starts_with("int_") {
            return Ok(name_or_id.to_string());
        }
        let found = self.find(name_or_id, false).await?.ok_or_else(|| {
            CliError::api(format!(
                "not_found: no connected integration named {name_or_id:?} in this workspace and \
                 mode (see `hookd integrations list`)"
            ))
        })?;
        found["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the API returned an integration without an id"))
    }

    /// Resolves `args.name` and calls the integration; the API's answer, whose `data` is the
    /// `CallResult`. `--data` is sent as written (key order and number forms kept).
    pub async fn call(&self, args: &CallArgs) -> anyhow::Result<Reply> {
        // An id is used as is (as `integrations update` and MCP's call_integration take one);
        // the API answers 404 or 410 for an unknown or disconnected one.
        let id = if args.name.starts_with("int_") {
            crate::cli::path_id(&args.name)
        } else {
            let integration = match self.find(&args.name, false).await? {
                Some(found) => found,
                None => self.find(&args.name, true).await?.ok_or_else(|| {
                    anyhow!(
                        "no integration named {:?} in this workspace and mode (see `hookd \
                         integrations list`)",
                        args.name
                    )
                })?,
            };
            integration["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("the API returned an integration without an id"))?
        };
        #[derive(serde::Serialize)]
        struct Body<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            method: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            path: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            body: Option<&'a serde_json::value::RawValue>,
            #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
            query: serde_json::Map<String, Value>,
            #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
            headers: serde_json::Map<String, Value>,
        }
        let mut query = serde_json::Map::new();
        for (name, value) in &args.query {
            match query.get_mut(name) {
                None => {
                    query.insert(name.clone(), Value::String(value.clone()));
                }
                Some(Value::Array(values)) => values.push(Value::String(value.clone())),
                Some(first) => {
                    let first = first.take();
                    query.insert(
                        name.clone(),
                        Value::Array(vec![first, Value::String(value.clone())]),
                    );
                }
            }
        }
        let headers = args
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        let data = args
            .data
            .as_deref()
            .map(|d| read_data(d, true))
            .transpose()?;
        let body = Body {
            method: args.method.as_deref(),
            path: args.path.as_deref(),
            body: data.as_deref(),
            query,
            headers,
        };
        let body = serde_json::to_string(&body).context("encoding the call")?;
        self.exchange(
            self.request(Method::POST, &format!("/v1/integrations/{id}/calls"))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body),
        )
        .await
    }
}

/// `--data`: inline JSON, or `@path` to read JSON from a file (`@-` reads standard input).
/// Problems are usage errors (exit 2), caught before anything is sent.
/// `text_allowed`: the API takes a JSON string too (an integration call's body), so the error
/// says how to send plain text; an event's `data` must be a JSON object.
pub fn parse_data(raw: &str, text_allowed: bool) -> anyhow::Result<Value> {
    let text = read_data(raw, text_allowed)?;
    Ok(serde_json::from_str(text.get())?)
}

/// `--data` as the JSON text the user wrote (validated, never re-encoded), for sending as is.
pub fn read_data(
    raw: &str,
    text_allowed: bool,
) -> anyhow::Result<Box<serde_json::value::RawValue>> {
    let (text, source) = match raw.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| CliError::usage(format!("reading --data from standard input: {e}")))?;
            (text, "standard input".to_string())
        }
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("reading --data file {path}: {e}")))?,
            path.to_string(),
        ),
        None => (raw.to_string(), "--data".to_string()),
    };
    serde_json::value::RawValue::from_string(text.trim().to_string()).map_err(|e| {
        let hint = if text_allowed {
            "; to send plain text, quote it as a JSON string: '\"text\"'"
        } else {
            "; an event's data is a JSON object, e.g. '{\"postId\": \"p_1\"}'"
        };
        CliError::usage(format!("{source} is not valid JSON ({e}{hint})")).into()
    })
}

/// Prints a `CallResult` given as the API's JSON text: the status line on `err`, the body on
/// `out` as the upstream sent it (JSON byte for byte, text as-is, base64 bodies decoded to
/// their bytes). Errors when the upstream status is not 2xx.
pub fn print_call_result(
    raw: &str,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<()> {
    let result: Value = serde_json::from_str(raw).context("the API returned invalid JSON")?;
    #[derive(serde::Deserialize)]
    struct RawBody<'a> {
        #[serde(borrow)]
        body: Option<&'a serde_json::value::RawValue>,
    }
    let raw_body = serde_json::from_str::<RawBody<'_>>(raw)
        .ok()
        .and_then(|r| r.body)
        .map(|b| b.get().to_string());
    let status = result["status"].as_u64().unwrap_or(0);
    let mut line = format!(
        "HTTP {status} ({} ms, {})",
        result["durationMs"].as_u64().unwrap_or(0),
        result["id"].as_str().unwrap_or("call")
    );
    if result["truncated"] == json!(true) {
        line.push_str(", body cut at 1 MiB");
    }
    writeln!(err, "{line}")?;
    let body = &result["body"];
    match (result["bodyEncoding"].as_str(), body) {
        (Some("json"), value) => match &raw_body {
            Some(text) => writeln!(out, "{text}")?,
            None => writeln!(out, "{value}")?,
        },
        (Some("base64"), Value::String(encoded)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .context("the API returned invalid base64")?;
            out.write_all(&bytes)?;
        }
        (_, Value::String(text)) => {
            out.write_all(text.as_bytes())?;
            if !text.is_empty() && !text.ends_with('\n') {
                writeln!(out)?;
            }
        }
        (_, other) => writeln!(out, "{other}")?,
    }
    out.flush()?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        bail!("the upstream answered HTTP {status}")
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_json_inline_or_from_a_file() {
        assert_eq!(parse_data(r#"{"x":1}"#, true).unwrap(), json!({"x": 1}));
        assert_eq!(parse_data(r#""text""#, true).unwrap(), json!("text"));
        assert!(parse_data("{oops", true).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, r#"[1, 2]"#).unwrap();
        assert_eq!(
            parse_data(&format!("@{}", path.display()), true).unwrap(),
            json!([1, 2])
        );
        assert!(parse_data("@/definitely/not/here.json", true).is_err());
    }

    #[test]
    fn results_print_status_and_body() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        // The upstream's JSON exactly as it came: key order and number forms kept.
        let result = r#"{"id": "call_x", "status": 201, "body": {"z": 1.50, "a": true},
                         "bodyEncoding": "json", "durationMs": 5, "truncated": false}"#;
        print_call_result(result, &mut out, &mut err).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"z\": 1.50, \"a\": true}\n"
        );
        assert!(String::from_utf8(err).unwrap().starts_with("HTTP 201"));

        let (mut out, mut err) = (Vec::new(), Vec::new());
        let failed = json!({"id": "call_y", "status": 500, "body": "boom",
                            "bodyEncoding": "text", "durationMs": 5, "truncated": false});
        assert!(print_call_result(&failed.to_string(), &mut out, &mut err).is_err());
        assert_eq!(out, b"boom\n");

        let mut out = Vec::new();
        let binary = json!({"status": 200, "body": "AAH/", "bodyEncoding": "base64"});
        print_call_result(&binary.to_string(), &mut out, &mut Vec::new()).unwrap();
        assert_eq!(out, [0, 1, 255]);
    }
}
