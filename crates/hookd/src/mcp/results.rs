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
///
/// URLs in the message are cut to their scheme and host: an integration's path may carry a
/// credential (a Slack-style hook URL), and `list_integrations` hides it from agents for that
/// reason, so an upstream failure must not quote it either.
pub fn api_error(answer: &ApiAnswer) -> CallToolResult {
    let mut parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if let Some(message) = parsed["error"]["message"].as_str() {
        let shown = hosts_only(message);
        parsed["error"]["message"] = Value::String(shown);
    }
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

/// `message` with every `http(s)://host/path…` shortened to `http(s)://host`.
fn hosts_only(message: &str) -> String {
    let mut shown = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map_or(0, |i| i + 1);
        let is_web = matches!(&rest[scheme_start..at], "http" | "https");
        let authority_end = rest[at + 3..]
            .find(|c: char| c == '/' || c.is_whitespace() || "\"'<>)".contains(c))
            .map_or(rest.len(), |i| at + 3 + i);
        shown.push_str(&rest[..authority_end]);
        rest = &rest[authority_end..];
        if is_web && rest.starts_with('/') {
            let path_end = rest
                .find(|c: char| c.is_whitespace() || "\"'<>)".contains(c))
                .unwrap_or(rest.len());
            // A sentence's closing punctuation stays.
            let kept = rest[..path_end].len().saturating_sub(
                rest[..path_end]
                    .trim_end_matches(['.', ',', ';', ':'])
                    .len(),
            );
            shown.push_str(&rest[path_end - kept..path_end]);
            rest = &rest[path_end..];
        }
    }
    shown.push_str(rest);
    shown
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

#[cfg(test)]
mod tests {
    use super::hosts_only;

    #[test]
    fn urls_in_messages_keep_only_scheme_and_host() {
        assert_eq!(
            hosts_only("could not authenticate for POST http://127.0.0.1:19002/api/T000/B000/XXXX (refused)."),
            "could not authenticate for POST http://127.0.0.1:19002 (refused)."
        );
        assert_eq!(
            hosts_only("https://hooks.slack.com/services/T0/B0/secret, then https://a.example/x."),
            "https://hooks.slack.com, then https://a.example."
        );
        assert_eq!(hosts_only("no url here"), "no url here");
        assert_eq!(hosts_only("https://h.example"), "https://h.example");
        assert_eq!(hosts_only("ftp://h/x and ://"), "ftp://h/x and ://");
        assert_eq!(
            hosts_only("été https://é.example/ä/ö"),
            "été https://é.example"
        );
    }
}
