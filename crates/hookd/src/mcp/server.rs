//! The MCP server handler: `tools/list` and `tools/call` over whichever transport.
//!
//! Each tool is carried out as REST requests through [`Backend`] (see `backend.rs`), so errors
//! are the REST API's: a non-2xx answer becomes a tool error (`isError: true`) whose text is
//! `code: message` and whose structured content is the API's `{"error": {...}}`. Protocol errors
//! are kept for what is not a tool call at all: an unknown tool name, or a request that carries
//! no credentials.
//!
//! Tool names of integrations are recomputed from the connected integrations on every list and
//! call (no cache to go stale across nodes); calling the tool name of an integration that was
//! disconnected answers the API's 410 `integration_disconnected`, which names it.

use std::sync::Arc;

use axum::http::HeaderValue;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, Content, ErrorData, Extensions, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerInfo,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{RoleServer, ServerHandler};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::backend::{ApiRequest, Backend};
use super::raw_body::{id_key, PendingBodies, RawArguments};
use super::results::{api_error, request, tool_error, unreachable_api, Failure, ToolResult};
use super::sessions::Sessions;
use super::tools::{self, Listed, Named};
use crate::cli::path_id;
use crate::client::ApiClient;
use crate::domain::ids::ApiKeyId;
use crate::domain::integration::tool_name;
use crate::domain::tenant::Tenant;

/// The authenticated caller of an MCP request over HTTP, put in the request's extensions by
/// `http.rs` after the API key was checked.
#[derive(Clone, Debug)]
pub struct Caller {
    pub authorization: HeaderValue,
    pub tenant: Tenant,
    pub key_id: ApiKeyId,
}

/// Integrations listed for tools: at most this many pages of 100.
const MAX_PAGES: usize = 10;

enum Source {
    /// Streamable HTTP: this server's router, with each request's own credentials.
    Router {
        router: axum::Router,
        sessions: Arc<Sessions>,
    },
    /// stdio: a running hookd over HTTP, with raw bodies tapped by request id.
    Remote {
        client: Arc<ApiClient>,
        pending: Arc<PendingBodies>,
    },
}

/// The hookd MCP server (one instance per session).
pub struct HookdMcp {
    source: Source,
}

impl HookdMcp {
    pub fn in_process(router: axum::Router, sessions: Arc<Sessions>) -> Self {
        Self {
            source: Source::Router { router, sessions },
        }
    }

    pub fn remote(client: Arc<ApiClient>, pending: Arc<PendingBodies>) -> Self {
        Self {
            source: Source::Remote { client, pending },
        }
    }

    fn backend(&self, extensions: &Extensions) -> Result<Backend, ErrorData> {
        match &self.source {
            Source::Router { router, .. } => {
                let caller = caller(extensions).ok_or_else(|| {
                    ErrorData::invalid_request("This MCP request carries no API key.", None)
                })?;
                Ok(Backend::Router {
                    router: router.clone(),
                    authorization: caller.authorization,
                })
            }
            Source::Remote { client, .. } => Ok(Backend::Remote(Arc::clone(client))),
        }
    }

    /// The raw text of this `tools/call`'s `body` and `data` arguments, as a transport tapped
    /// them.
    fn raw_arguments(&self, context: &RequestContext<RoleServer>) -> RawArguments {
        match &self.source {
            Source::Router { .. } => context
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<RawArguments>())
                .cloned(),
            Source::Remote { pending, .. } => pending.take(&id_key(&context.id)),
        }
        .unwrap_or_default()
    }
}

fn caller(extensions: &Extensions) -> Option<Caller> {
    extensions
        .get::<axum::http::request::Parts>()?
        .extensions
        .get::<Caller>()
        .cloned()
}

/// The connected integrations of the caller's workspace and mode.
async fn list_integrations(backend: &Backend) -> Result<Vec<Listed>, Failure> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut req = ApiRequest::get("/v1/integrations").query("limit", "100");
        if let Some(c) = &cursor {
            req = req.query("cursor", c.clone());
        }
        let answer = backend.send(req).await.map_err(unreachable_api)?;
        if answer.status != 200 {
            return Err(Failure::Tool(api_error(&answer)));
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            data: Vec<Value>,
            next_cursor: Option<String>,
        }
        let page: Page = serde_json::from_slice(&answer.body).map_err(|e| {
            Failure::Tool(tool_error(
                "internal_error",
                format!("unexpected integrations list: {e}"),
                None,
            ))
        })?;
        all.extend(
            page.data
                .into_iter()
                .filter(|item| item["disconnectedAt"].is_null())
                .filter_map(|item| serde_json::from_value::<Listed>(item).ok()),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(all)
}

/// The id of a disconnected integration (among the 100 newest) whose tool name, name or id
/// `name` could be, so that calling it answers the API's 410 naming it.
async fn disconnected_named(backend: &Backend, name: &str) -> Result<Option<String>, Failure> {
    let answer = backend
        .send(
            ApiRequest::get("/v1/integrations")
                .query("limit", "100")
                .query("includeDisconnected", "true"),
        )
        .await
        .map_err(unreachable_api)?;
    let page: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let Some(items) = page["data"].as_array() else {
        return Ok(None);
    };
    for item in items {
        if item["disconnectedAt"].is_null() {
            continue;
        }
        let (Some(id), Some(iname)) = (item["id"].as_str(), item["name"].as_str()) else {
            continue;
        };
        let base = tool_name::derive(iname);
        let lower_id = id.to_ascii_lowercase();
        if name == base
            || (name.starts_with(&format!("{base}_"))
                && lower_id.ends_with(&name[base.len() + 1..]))
            || name.eq_ignore_ascii_case(iname)
            || name == id
        {
            return Ok(Some(id.to_string()));
        }
    }
    Ok(None)
}

/// A REST request body from tool arguments, minus `skip`, with the argument `raw_key` given as
/// the caller's raw text when a transport tapped it (else as parsed).
fn with_raw(
    arguments: &JsonObject,
    raw: Option<Box<RawValue>>,
    raw_key: &str,
    skip: &[&str],
) -> Result<String, Failure> {
    let mut options = arguments.clone();
    for key in skip {
        options.remove(*key);
    }
    let parsed = options.remove(raw_key);
    let raw = match (raw, parsed) {
        (Some(raw), _) => Some(raw),
        (None, Some(value)) => Some(serde_json::value::to_raw_value(&value).map_err(|e| {
            Failure::Tool(tool_error("invalid_request", e.to_string(), Some(raw_key)))
        })?),
        (None, None) => None,
    };
    let mut text = serde_json::to_string(&options)
        .map_err(|e| Failure::Tool(tool_error("invalid_request", e.to_string(), None)))?;
    if let Some(raw) = raw {
        // `options` serialises as an object: put the raw member in before its closing brace.
        text.pop();
        if options.is_empty() {
            text.push_str(&format!("{}:{}}}", json!(raw_key), raw.get()));
        } else {
            text.push_str(&format!(",{}:{}}}", json!(raw_key), raw.get()));
        }
    }
    Ok(text)
}

fn string_arg<'a>(arguments: &'a JsonObject, name: &str) -> Result<&'a str, Failure> {
    match arguments.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Failure::Tool(tool_error(
            "invalid_request",
            format!("{name} must be a string."),
            Some(name),
        ))),
        None => Err(Failure::Tool(tool_error(
            "invalid_request",
            format!("{name} is required."),
            Some(name),
        ))),
    }
}

fn no_unknown(arguments: &JsonObject, known: &[&str]) -> Result<(), Failure> {
    match arguments.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(Failure::Tool(tool_error(
            "invalid_request",
            format!(
                "Unknown argument {unknown:?}; this tool takes: {}.",
                if known.is_empty() {
                    "no arguments".to_string()
                } else {
                    known.join(", ")
                }
            ),
            Some(unknown),
        ))),
        None => Ok(()),
    }
}

impl HookdMcp {
    async fn call(
        &self,
        params: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> ToolResult {
        let backend = self.backend(&context.extensions)?;
        let arguments = params.arguments.clone().unwrap_or_default();
        let name = params.name.as_ref();
        match name {
            tools::LIST_INTEGRATIONS => {
                no_unknown(&arguments, &[])?;
                let named = tools::name_all(list_integrations(&backend).await?);
                let items: Vec<Value> = named.iter().map(integration_summary).collect();
                let text = serde_json::to_string(&items).unwrap_or_default();
                Ok(CallToolResult::success(vec![Content::text(text)]))
            }
            tools::CALL_INTEGRATION => {
                let which = string_arg(&arguments, "integration")?.to_string();
                no_unknown(
                    &arguments,
                    &["integration", "body", "method", "path", "query", "headers"],
                )?;
                let named = tools::name_all(list_integrations(&backend).await?);
                let found = named.iter().find(|n| {
                    n.integration.id == which
                        || n.tool == which
                        || n.integration.name.to_lowercase() == which.to_lowercase()
                });
                let id = match found {
                    Some(n) => n.integration.id.clone(),
                    None => match disconnected_named(&backend, &which).await? {
                        Some(id) => id,
                        None => {
                            return Err(Failure::Tool(tool_error(
                                "not_found",
                                format!(
                                    "No integration named {:?} in this workspace and mode; \
                                     list_integrations shows them.",
                                    which.chars().take(128).collect::<String>()
                                ),
                                Some("integration"),
                            )))
                        }
                    },
                };
                let raw = self.raw_arguments(context).body;
                let body = with_raw(&arguments, raw, "body", &["integration"])?;
                request(
                    &backend,
                    ApiRequest::post(format!("/v1/integrations/{}/calls", path_id(&id)), body),
                )
                .await
            }
            tools::LIST_EVENT_TYPES => {
                no_unknown(&arguments, &[])?;
                request(
                    &backend,
                    ApiRequest::get("/v1/event-types").query("limit", "100"),
                )
                .await
            }
            tools::PUBLISH_EVENT => {
                no_unknown(
                    &arguments,
                    &["type", "data", "projectId", "orderingKey", "idempotencyKey"],
                )?;
                let key = match arguments.get("idempotencyKey").cloned() {
                    None => None,
                    Some(Value::String(k)) => Some(k),
                    Some(_) => {
                        return Err(Failure::Tool(tool_error(
                            "invalid_request",
                            "idempotencyKey must be a string.",
                            Some("idempotencyKey"),
                        )))
                    }
                };
                let raw = self.raw_arguments(context).data;
                let event = with_raw(&arguments, raw, "data", &["idempotencyKey"])?;
                let mut req = ApiRequest::post("/v1/events", event);
                req.idempotency_key = key;
                request(&backend, req).await
            }
            tools::LIST_WEBHOOK_ENDPOINTS => {
                no_unknown(&arguments, &["limit", "cursor"])?;
                let mut req = ApiRequest::get("/v1/webhook-endpoints");
                for (name, value) in &arguments {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    req = req.query(name, text);
                }
                super::results::endpoint_page(&backend, req).await
            }
            tools::GET_DELIVERY | tools::RETRY_DELIVERY => {
                no_unknown(&arguments, &["id"])?;
                let id = path_id(string_arg(&arguments, "id")?);
                let req = if name == tools::GET_DELIVERY {
                    ApiRequest::get(format!("/v1/deliveries/{id}"))
                } else {
                    ApiRequest::post(format!("/v1/deliveries/{id}/retry"), "{}".into())
                };
                request(&backend, req).await
            }
            tool => {
                let named = tools::name_all(list_integrations(&backend).await?);
                let id = match named.iter().find(|n| n.tool == tool) {
                    Some(n) => n.integration.id.clone(),
                    None => match disconnected_named(&backend, tool).await? {
                        Some(id) => id,
                        None => {
                            return Err(Failure::Protocol(ErrorData::invalid_params(
                                format!(
                                    "Unknown tool {:?}; tools/list shows the tools.",
                                    tool.chars().take(128).collect::<String>()
                                ),
                                None,
                            )))
                        }
                    },
                };
                let raw = self.raw_arguments(context).body;
                let body = with_raw(&arguments, raw, "body", &[])?;
                request(
                    &backend,
                    ApiRequest::post(format!("/v1/integrations/{}/calls", path_id(&id)), body),
                )
                .await
            }
        }
    }
}

/// What `list_integrations` shows of one: no URL (it may carry a token in its query) and no
/// credentials, only what an agent needs to choose and call it.
fn integration_summary(named: &Named) -> Value {
    let i = &named.integration;
    let host = url::Url::parse(&i.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    json!({
        "tool": named.tool,
        "id": i.id,
        "name": i.name,
        "description": i.description,
        "host": host,
        "method": i.method,
        "contentType": i.content_type,
        "allowedMethods": i.allowed_methods,
        "allowedPathPrefixes": i.allowed_path_prefixes,
        "allowCallerHeaders": i.allow_caller_headers,
    })
}

impl ServerHandler for HookdMcp {
    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new("hookd", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "hookd is this workspace's webhook platform. Each connected custom webhook \
             integration is a tool named after it (e.g. internal_reporting_api): call it with a \
             body and get the upstream's answer; hookd adds the credentials. Generic tools list \
             integrations, publish events to webhook endpoints, and inspect or retry deliveries.",
        )
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let Source::Router { sessions, .. } = &self.source else {
            return;
        };
        let session = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get("mcp-session-id"))
            .and_then(|v| v.to_str().ok());
        if let Some(id) = session {
            sessions.register(id, context.peer.clone());
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let backend = self.backend(&context.extensions)?;
        let integrations = match list_integrations(&backend).await {
            Ok(list) => list,
            Err(Failure::Protocol(e)) => return Err(e),
            Err(Failure::Tool(result)) => {
                let text = result
                    .content
                    .first()
                    .and_then(|c| c.as_text())
                    .map(|t| t.text.clone())
                    .unwrap_or_default();
                return Err(ErrorData::internal_error(text, None));
            }
        };
        let mut all = tools::generic_tools();
        all.extend(
            tools::name_all(integrations)
                .iter()
                .map(tools::integration_tool),
        );
        Ok(ListToolsResult::with_all_items(all))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        metrics::counter!("hookd_mcp_tool_calls_total").increment(1);
        match self.call(request, &context).await {
            Ok(result) => Ok(result),
            Err(Failure::Tool(result)) => Ok(result),
            Err(Failure::Protocol(error)) => Err(error),
        }
    }
}
