//! What a tool answers: a result, a tool error carrying the REST API's code and message, or
//! (for what is not a tool call at all) a protocol error; and the one way a tool makes a REST
//! request and turns its answer into one of those.

use rmcp::model::{CallToolResult, Content, ErrorData, Meta};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::backend::{ApiAnswer, ApiRequest, Backend};

/// A tool's failure: a tool error, or (for what is not a tool call) a protocol error.
pub enum Failure {
    Tool(CallToolResult),
    Protocol(ErrorData),
}

impl From<ErrorData> for Failure {
    fn from(e: ErrorData) -> Self {
        Self::Protocol(e)
    }
}

pub type ToolResult = Result<CallToolResult, Failure>;

pub fn with_request_id(mut result: CallToolResult, request_id: Option<String>) -> CallToolResult {
    if let Some(id) = request_id {
        let mut meta = Meta::new();
        meta.0.insert("requestId".into(), Value::String(id));
        result.meta = Some(meta);
    }
    result
}

/// A tool error carrying the API's code and message (`code: message`, and the error object as
/// structured content).
pub fn api_error(answer: &ApiAnswer) -> CallToolResult {
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let error = &parsed["error"];
    let text = match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => format!("The hookd API answered HTTP {}.", answer.status),
    };
    let mut result = CallToolResult::error(vec![Content::text(text)]);
    if error.is_object() {
        result.structured_content = Some(json!({"error": error}));
    }
    with_request_id(result, answer.request_id.clone())
}

pub fn tool_error(code: &str, message: impl Into<String>, param: Option<&str>) -> CallToolResult {
    let message = message.into();
    let mut result = CallToolResult::error(vec![Content::text(format!("{code}: {message}"))]);
    result.structured_content =
        Some(json!({"error": {"code": code, "message": message, "param": param}}));
    result
}

pub fn unreachable_api(cause: String) -> Failure {
    Failure::Tool(tool_error(
        "service_unavailable",
        format!("The hookd API could not be reached: {cause}"),
        None,
    ))
}

/// The `data` member of a 2xx answer, as the API wrote it.
pub fn data_text(answer: &ApiAnswer) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        data: &'a RawValue,
    }
    let text = String::from_utf8_lossy(&answer.body);
    serde_json::from_str::<Envelope<'_>>(&text)
        .map(|e| e.data.get().to_string())
        .unwrap_or_else(|_| text.into_owned())
}

pub async fn request(backend: &Backend, request: ApiRequest) -> ToolResult {
    let answer = backend.send(request).await.map_err(unreachable_api)?;
    if (200..300).contains(&answer.status) {
        let result = CallToolResult::success(vec![Content::text(data_text(&answer))]);
        Ok(with_request_id(result, answer.request_id))
    } else {
        Err(Failure::Tool(api_error(&answer)))
    }
}

/// `GET /v1/webhook-endpoints` for an agent: the whole page (`data`, `hasMore`, `nextCursor`, so
/// the `cursor` argument can be used), without the `…Last4` hints of the signing secret and of
/// an OAuth2 client secret: nothing an MCP client receives carries part of a credential.
pub async fn endpoint_page(backend: &Backend, request: ApiRequest) -> ToolResult {
    let answer = backend.send(request).await.map_err(unreachable_api)?;
    if !(200..300).contains(&answer.status) {
        return Err(Failure::Tool(api_error(&answer)));
    }
    let mut page: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if let Some(endpoints) = page["data"].as_array_mut() {
        for endpoint in endpoints.iter_mut().filter_map(Value::as_object_mut) {
            endpoint.remove("secretLast4");
            if let Some(auth) = endpoint.get_mut("auth").and_then(Value::as_object_mut) {
                auth.remove("clientSecretLast4");
            }
        }
    }
    let result = CallToolResult::success(vec![Content::text(page.to_string())]);
    Ok(with_request_id(result, answer.request_id))
}
