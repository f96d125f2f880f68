//! MCP clients for the tests: the official Rust SDK's client (`rmcp`) over Streamable HTTP, one
//! that counts `notifications/tools/list_changed`, and a raw JSON-RPC session for what a real
//! client never sends (malformed messages, another key's session id, exact body bytes).

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{json, Value};

use crate::harness::TestApp;

/// A client handler that counts `notifications/tools/list_changed`.
#[derive(Clone, Default)]
pub struct Watcher {
    pub changed: Arc<AtomicUsize>,
}

impl Watcher {
    pub fn changes(&self) -> usize {
        self.changed.load(Ordering::SeqCst)
    }
}

impl ClientHandler for Watcher {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.fetch_add(1, Ordering::SeqCst);
    }
}

pub type Client = RunningService<RoleClient, Watcher>;

/// An initialised rmcp client of `app`'s `/mcp` with `key`, and its notification counter.
pub async fn connect(app: &TestApp, key: &str) -> (Client, Watcher) {
    try_connect(app, key).await.expect("MCP initialize")
}

pub async fn try_connect(app: &TestApp, key: &str) -> Result<(Client, Watcher), String> {
    let watcher = Watcher::default();
    let config = StreamableHttpClientTransportConfig::with_uri(app.url("/mcp")).auth_header(key);
    let transport = StreamableHttpClientTransport::from_config(config);
    let client = watcher
        .clone()
        .serve(transport)
        .await
        .map_err(|e| e.to_string())?;
    Ok((client, watcher))
}

pub async fn tools(client: &Client) -> Vec<Tool> {
    client.list_all_tools().await.expect("tools/list")
}

pub fn names(tools: &[Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

/// `tools/call`; the result, tool errors included (`isError`).
pub async fn call(client: &Client, name: &str, arguments: Value) -> CallToolResult {
    let arguments = arguments
        .as_object()
        .cloned()
        .expect("arguments are an object");
    client
        .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(arguments))
        .await
        .expect("tools/call answered")
}

/// The text of a tool result's first content.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// A successful tool result's text as JSON.
pub fn ok_json(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "tool error: {}", text(result));
    serde_json::from_str(&text(result)).expect("tool result text is JSON")
}

/// Asserts a tool error carrying the API's `code` (and `param`, when given).
pub fn assert_tool_error(result: &CallToolResult, code: &str, param: Option<&str>) {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    assert!(
        text(result).starts_with(&format!("{code}: ")),
        "{code}: in {}",
        text(result)
    );
    let error = &result
        .structured_content
        .as_ref()
        .expect("structured error")["error"];
    assert_eq!(error["code"], code, "{error}");
    if let Some(param) = param {
        assert_eq!(error["param"], param, "{error}");
    }
}

/// A hand-driven JSON-RPC session over Streamable HTTP.
pub struct RawSession {
    pub url: String,
    pub key: String,
    pub session: String,
    http: reqwest::Client,
}

/// One HTTP exchange: status, the session header, and the JSON-RPC message (from JSON or SSE).
pub struct Exchange {
    pub status: StatusCode,
    pub body: String,
    pub message: Value,
}

pub async fn post_mcp(
    http: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    session: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (Exchange, Option<String>) {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18");
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.body(body).send().await.expect("POST /mcp");
    let status = response.status();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.text().await.unwrap();
    // A JSON answer, or the first `data:` line of an event stream that holds a message.
    let message = serde_json::from_str(&body).unwrap_or_else(|_| {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .next()
            .unwrap_or(Value::Null)
    });
    (
        Exchange {
            status,
            body,
            message,
        },
        session,
    )
}

impl RawSession {
    /// Initialises a session with `key` (and sends `notifications/initialized`).
    pub async fn open(app: &TestApp, key: &str) -> Self {
        let http = reqwest::Client::new();
        let url = app.url("/mcp");
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"}}});
        let (answer, session) = post_mcp(&http, &url, Some(key), None, init.to_string()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let session = session.expect("an Mcp-Session-Id");
        let raw = Self {
            url,
            key: key.to_string(),
            session,
            http,
        };
        let (done, _) = raw
            .post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
        assert_eq!(done.status, 202, "{}", done.body);
        raw
    }

    /// Posts `body` as is, in this session, with this session's key.
    pub async fn post(&self, body: impl Into<reqwest::Body>) -> (Exchange, Option<String>) {
        post_mcp(
            &self.http,
            &self.url,
            Some(&self.key),
            Some(&self.session),
            body,
        )
        .await
    }

    /// Posts `body` in this session with another key.
    pub async fn post_as(&self, key: &str, body: impl Into<reqwest::Body>) -> Exchange {
        post_mcp(&self.http, &self.url, Some(key), Some(&self.session), body)
            .await
            .0
    }

    /// `tools/call` with the arguments given as JSON text (sent byte for byte).
    pub async fn call_text(&self, id: u64, tool: &str, arguments: &str) -> Exchange {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":{},"arguments":{arguments}}}}}"#,
            serde_json::to_string(tool).unwrap()
        );
        self.post(body).await.0
    }
}
