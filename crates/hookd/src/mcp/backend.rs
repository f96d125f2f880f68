//! How a tool reaches hookd: through the REST API, always.
//!
//! Every tool is a REST request made with the MCP client's own API key, so a tool call goes
//! through exactly what any API request goes through (the one v1 pipeline: authentication, the
//! per-key rate limit, workspace and mode scoping, idempotency; the handlers' validation and
//! error codes; a request id, the access log and metrics) and nothing is implemented twice.
//! Over Streamable HTTP the request is handed to this server's own router in process; `hookd
//! mcp` (stdio) sends it over HTTP to a running server with `HOOKD_API_KEY`.
//!
//! Requests carry `Hookd-Via: mcp`, so the integration call log marks calls made by agents.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request};
use bytes::Bytes;
use tower::ServiceExt as _;

use crate::api::integration_calls::VIA_HEADER;
use crate::client::ApiClient;

/// Answers of the API are bounded (call bodies at 1 MiB); this only guards the buffer.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// One REST request of a tool.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    pub method: Method,
    /// Path below the API root, already percent-encoded where it carries ids (`/v1/…`).
    pub path: String,
    pub query: Vec<(String, String)>,
    /// JSON text.
    pub body: Option<String>,
    pub idempotency_key: Option<String>,
}

impl ApiRequest {
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
        }
    }

    pub fn post(path: impl Into<String>, body: String) -> Self {
        Self {
            method: Method::POST,
            body: Some(body),
            ..Self::get(path)
        }
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_string(), value.into()));
        self
    }

    fn uri(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish();
        format!("{}?{query}", self.path)
    }
}

/// The API's answer: status, request id and body bytes as sent.
#[derive(Clone, Debug)]
pub struct ApiAnswer {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: Bytes,
}

/// Where the REST requests of one MCP request go.
#[derive(Clone)]
pub enum Backend {
    /// This server's own router, with the MCP request's `Authorization` header.
    Router {
        router: axum::Router,
        authorization: HeaderValue,
    },
    /// A running hookd over HTTP (`hookd mcp`).
    Remote(Arc<ApiClient>),
}

impl Backend {
    /// Sends one request; `Err` only when no answer came back (the message says why).
    pub async fn send(&self, request: ApiRequest) -> Result<ApiAnswer, String> {
        match self {
            Self::Router {
                router,
                authorization,
            } => {
                let mut builder = Request::builder()
                    .method(request.method.clone())
                    .uri(request.uri())
                    .header(header::AUTHORIZATION, authorization.clone())
                    .header(VIA_HEADER, "mcp");
                if let Some(key) = &request.idempotency_key {
                    builder = builder.header("idempotency-key", key);
                }
                let body = match request.body {
                    Some(text) => {
                        builder = builder.header(header::CONTENT_TYPE, "application/json");
                        Body::from(text)
                    }
                    None => Body::empty(),
                };
                let http_request = builder.body(body).map_err(|e| e.to_string())?;
                let response = router
                    .clone()
                    .oneshot(http_request)
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let request_id = response
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(ApiAnswer {
                    status,
                    request_id,
                    body,
                })
            }
            Self::Remote(client) => {
                let (status, request_id, body) = client
                    .send_raw(
                        request.method.clone(),
                        &request.uri(),
                        request.body,
                        request.idempotency_key.as_deref(),
                        &[(VIA_HEADER, "mcp")],
                    )
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                Ok(ApiAnswer {
                    status,
                    request_id,
                    body,
                })
            }
        }
    }
}
