//! The tools hookd offers an MCP client: the generic ones, and one per connected integration.
//!
//! Descriptions are written for a model: what the tool does, when to use it, what comes back.
//! Input schemas are precise JSON Schemas (`additionalProperties: false`), and a per-integration
//! tool shows only what that integration lets a caller choose (see
//! `domain/integration/policy.rs`): `method` only when several are allowed, `path` only when
//! path prefixes are allowed, `headers` only with `allowCallerHeaders`.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::integration::fields::is_json;
use crate::domain::integration::tool_name;

pub const LIST_INTEGRATIONS: &str = "list_integrations";
pub const CALL_INTEGRATION: &str = "call_integration";
pub const LIST_EVENT_TYPES: &str = "list_event_types";
pub const PUBLISH_EVENT: &str = "publish_event";
pub const LIST_WEBHOOK_ENDPOINTS: &str = "list_webhook_endpoints";
pub const GET_DELIVERY: &str = "get_delivery";
pub const RETRY_DELIVERY: &str = "retry_delivery";

/// The generic tools' names: no integration's tool may take one of them.
pub const GENERIC: &[&str] = &[
    LIST_INTEGRATIONS,
    CALL_INTEGRATION,
    LIST_EVENT_TYPES,
    PUBLISH_EVENT,
    LIST_WEBHOOK_ENDPOINTS,
    GET_DELIVERY,
    RETRY_DELIVERY,
];

/// An integration as a tool needs it (the fields of the API's `Integration`, never credentials).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub method: String,
    pub allowed_methods: Vec<String>,
    pub allowed_path_prefixes: Vec<String>,
    pub allow_caller_headers: bool,
    pub content_type: String,
    pub url: String,
}

/// A connected integration with its tool name.
#[derive(Clone, Debug)]
pub struct Named {
    pub tool: String,
    pub integration: Listed,
}

/// Names the tools of `integrations` (see `domain/integration/tool_name.rs`).
pub fn name_all(integrations: Vec<Listed>) -> Vec<Named> {
    let pairs: Vec<(&str, &str)> = integrations
        .iter()
        .map(|i| (i.id.as_str(), i.name.as_str()))
        .collect();
    let names = tool_name::assign(&pairs, GENERIC);
    names
        .into_iter()
        .zip(integrations)
        .map(|(tool, integration)| Named { tool, integration })
        .collect()
}

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("tool schemas are objects"),
    }
}

fn read_only(tool: Tool) -> Tool {
    tool.with_annotations(ToolAnnotations::new().read_only(true))
}

const ANY_JSON: [&str; 6] = ["object", "array", "string", "number", "boolean", "null"];

fn body_schema(content_type: &str) -> Value {
    if is_json(content_type) {
        json!({
            "type": ANY_JSON,
            "description": format!(
                "The request body, any JSON (sent as {content_type}, exactly as written: key order \
                 and number forms are kept). Leave it out to send no body."
            ),
        })
    } else {
        json!({
            "type": "string",
            "description": format!(
                "The request body as text, sent as-is with Content-Type {content_type}. Leave it \
                 out to send no body."
            ),
        })
    }
}

fn query_schema() -> Value {
    json!({
        "type": "object",
        "description": "Query parameters added to the URL: name → string, number or boolean \
                        (or an array of them for a repeated name).",
        "additionalProperties": {
            "type": ["string", "number", "boolean", "array"],
            "items": {"type": ["string", "number", "boolean"]},
        },
    })
}

/// The call options an integration allows, as schema properties.
fn call_properties(integration: &Listed) -> serde_json::Map<String, Value> {
    let mut properties = serde_json::Map::new();
    properties.insert("body".into(), body_schema(&integration.content_type));
    properties.insert("query".into(), query_schema());
    if integration.allowed_methods.len() > 1 {
        properties.insert(
            "method".into(),
            json!({
                "type": "string",
                "enum": integration.allowed_methods,
                "description": format!("The HTTP method; default {}.", integration.method),
            }),
        );
    }
    if !integration.allowed_path_prefixes.is_empty() {
        properties.insert(
            "path".into(),
            json!({
                "type": "string",
                "maxLength": 2048,
                "description": format!(
                    "Appended to the integration's URL path; must start with one of: {}.",
                    integration.allowed_path_prefixes.join(", ")
                ),
            }),
        );
    }
    if integration.allow_caller_headers {
        properties.insert(
            "headers".into(),
            json!({
                "type": "object",
                "description": "Extra request headers: name → value. The headers carrying the \
                                integration's credentials cannot be set.",
                "additionalProperties": {"type": "string"},
            }),
        );
    }
    properties
}

/// The tool of one connected integration.
pub fn integration_tool(named: &Named) -> Tool {
    let i = &named.integration;
    // Without a description, the method and host only: the URL's path or query may carry a
    // token, and nothing an agent receives may.
    let what = i.description.clone().unwrap_or_else(|| {
        let host = url::Url::parse(&i.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        format!(
            "Calls the custom webhook integration {:?} ({} to {host}).",
            i.name, i.method
        )
    });
    let description = format!(
        "{what}\n\nThis is the hookd integration {:?}: hookd sends the request with the \
         integration's configured credentials (you never see or send them) and returns the \
         upstream's answer as JSON: {{\"status\", \"headers\", \"body\", \"bodyEncoding\", \
         \"durationMs\", \"id\"}}. A non-2xx upstream status is still a result, not an error.",
        i.name
    );
    let input = json!({
        "type": "object",
        "properties": call_properties(i),
        "additionalProperties": false,
    });
    Tool::new(named.tool.clone(), description, schema(input)).with_title(i.name.clone())
}

/// The generic tools, in a fixed order.
pub fn generic_tools() -> Vec<Tool> {
    let id = |what: &str, prefix: &str| {
        json!({"type": "string", "pattern": format!("^{prefix}[0-9A-Za-z]+$"),
               "description": format!("The {what} id ({prefix}…).")})
    };
    vec![
        read_only(Tool::new(
            LIST_INTEGRATIONS,
            "Lists the custom webhook integrations of this workspace (named outbound HTTP \
             connections to internal or third-party APIs), newest first, with the tool name to \
             call each by, its description, method, content type and what a call may change \
             (allowedMethods, allowedPathPrefixes, allowCallerHeaders). Credentials are never \
             shown. Use it to find the integration a task refers to by name.",
            schema(json!({"type": "object", "properties": {}, "additionalProperties": false})),
        )),
        Tool::new(
            CALL_INTEGRATION,
            "Calls a custom webhook integration by its name (case-insensitive), its tool name \
             or its id (int_…), exactly like the integration's own tool: hookd adds the \
             configured credentials and returns the upstream's answer {\"status\", \"headers\", \
             \"body\", \"bodyEncoding\", \"durationMs\", \"id\"}. Only the options the \
             integration allows are accepted; others are refused with call_not_allowed.",
            schema(json!({
                "type": "object",
                "properties": {
                    "integration": {"type": "string", "minLength": 1, "maxLength": 128,
                                    "description": "The integration's name, tool name or id."},
                    "body": {"type": ANY_JSON, "description": "The request body: any JSON for a \
                             JSON integration (sent exactly as written), a string for a text one."},
                    "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
                               "description": "Only if the integration allows it (allowedMethods)."},
                    "path": {"type": "string", "maxLength": 2048,
                             "description": "Appended to the URL path; only under allowedPathPrefixes."},
                    "query": query_schema(),
                    "headers": {"type": "object", "additionalProperties": {"type": "string"},
                                "description": "Extra headers; only with allowCallerHeaders."},
                },
                "required": ["integration"],
                "additionalProperties": false,
            })),
        ),
        read_only(Tool::new(
            LIST_EVENT_TYPES,
            "Lists the event types this workspace can publish (e.g. post.created, \
             job.completed), each with its description. Use it before publish_event to pick a \
             valid type.",
            schema(json!({"type": "object", "properties": {}, "additionalProperties": false})),
        )),
        Tool::new(
            PUBLISH_EVENT,
            "Publishes an event: hookd stores it and delivers it, signed, to every active \
             webhook endpoint subscribed to its type (retrying failures). Returns the event \
             with its id and deliveryCount. The type must be one of list_event_types.",
            schema(json!({
                "type": "object",
                "properties": {
                    "type": {"type": "string", "minLength": 1, "maxLength": 128,
                             "description": "The event type, e.g. job.completed."},
                    "data": {"type": "object", "description": "The event's payload."},
                    "projectId": {"type": ["string", "null"], "maxLength": 128,
                                  "description": "Only endpoints of this project (or of every project) receive it."},
                    "orderingKey": {"type": ["string", "null"], "minLength": 1, "maxLength": 128,
                                    "description": "Events with the same ordering key are delivered to each endpoint one at a time, in publish order."},
                    "idempotencyKey": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$",
                                       "description": "Makes a retried publish safe: the same key within 24 h returns the first answer."},
                },
                "required": ["type", "data"],
                "additionalProperties": false,
            })),
        ),
        read_only(Tool::new(
            LIST_WEBHOOK_ENDPOINTS,
            "Lists the webhook endpoints (the URLs events are delivered to), newest first, with \
             their subscribed event types and whether they are active: one page, {data, \
             hasMore, nextCursor}; pass nextCursor as cursor for the next one. Signing secrets \
             are never shown.",
            schema(json!({
                "type": "object",
                "properties": {
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Page size, default 20."},
                    "cursor": {"type": "string", "maxLength": 128, "description": "nextCursor of the previous page."},
                },
                "additionalProperties": false,
            })),
        )),
        read_only(Tool::new(
            GET_DELIVERY,
            "Shows one delivery of an event to an endpoint: its status (pending, succeeded, \
             failed, cancelled), attempt count, next attempt time, and every attempt with its \
             status code, error and the start of the response body.",
            schema(json!({
                "type": "object",
                "properties": {"id": id("delivery", "dlv_")},
                "required": ["id"],
                "additionalProperties": false,
            })),
        )),
        Tool::new(
            RETRY_DELIVERY,
            "Makes one more delivery attempt now, whatever the delivery's status (for example \
             after the receiver was fixed). Returns the delivery.",
            schema(json!({
                "type": "object",
                "properties": {"id": id("delivery", "dlv_")},
                "required": ["id"],
                "additionalProperties": false,
            })),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(methods: &[&str], prefixes: &[&str], headers: bool, content_type: &str) -> Listed {
        Listed {
            id: "int_01JA00000000000000000AAAA1".into(),
            name: "Internal reporting API".into(),
            description: Some("Stores run summaries.".into()),
            method: "POST".into(),
            allowed_methods: methods.iter().map(|m| m.to_string()).collect(),
            allowed_path_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            allow_caller_headers: headers,
            content_type: content_type.into(),
            url: "https://reports.example.com/v1".into(),
        }
    }

    #[test]
    fn integration_tools_show_only_what_the_integration_allows() {
        let closed = name_all(vec![listed(&["POST"], &[], false, "application/json")]);
        let tool = integration_tool(&closed[0]);
        assert_eq!(tool.name, "internal_reporting_api");
        assert!(tool
            .description
            .as_deref()
            .unwrap()
            .starts_with("Stores run summaries."));
        let props = tool.input_schema["properties"].as_object().unwrap();
        let keys: Vec<&str> = props.keys().map(String::as_str).collect();
        assert_eq!(keys, ["body", "query"]);
        assert_eq!(tool.input_schema["additionalProperties"], false);

        let mut undescribed = listed(&["POST"], &[], false, "application/json");
        undescribed.description = None;
        undescribed.url = "https://reports.example.com/v1?token=tok_secret_123".into();
        let tool = integration_tool(&name_all(vec![undescribed])[0]);
        let description = tool.description.as_deref().unwrap();
        assert!(
            description.contains("POST to reports.example.com"),
            "{description}"
        );
        assert!(!description.contains("tok_secret_123"));

        let open = name_all(vec![listed(&["GET", "POST"], &["/runs"], true, "text/csv")]);
        let tool = integration_tool(&open[0]);
        let props = tool.input_schema["properties"].as_object().unwrap();
        assert_eq!(props["body"]["type"], "string");
        assert_eq!(props["method"]["enum"], json!(["GET", "POST"]));
        assert!(props["path"]["description"]
            .as_str()
            .unwrap()
            .contains("/runs"));
        assert!(props.contains_key("headers"));
    }

    #[test]
    fn generic_tools_have_unique_names_and_closed_schemas() {
        let tools = generic_tools();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, GENERIC);
        for tool in &tools {
            assert_eq!(tool.input_schema["type"], "object");
            assert_eq!(tool.input_schema["additionalProperties"], false);
            assert!(tool.description.as_ref().unwrap().len() > 80);
        }
    }
}
