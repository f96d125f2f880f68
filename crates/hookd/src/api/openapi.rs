//! The OpenAPI 3.1 document: its frame (title, security scheme, tags), and [`complete`], which
//! writes into every operation what the shared code answers around its handler.
//!
//! The paths and schemas come from the handlers' `#[utoipa::path]` attributes, collected by the
//! router itself. What no single handler decides is added here, once, so a new route cannot
//! forget it (the test `openapi::every_operation_documents_the_pipeline_answers` holds it):
//! - the answers of the v1 pipeline (`pipeline.rs`) and the strict extractors (`extract.rs`):
//!   400, 401, 413, 429, 503 on every `/v1` operation; 404 where the path names an object; 409
//!   (an `Idempotency-Key` conflict) on POST, PATCH and DELETE; 408 and 415 where a JSON body is
//!   read; all in the one error shape;
//! - the `Scripe-Api-Version` header parameter on every `/v1` operation, `Idempotency-Key` on
//!   POST, PATCH and DELETE, and the headers every answer carries (`X-Request-Id`, the version
//!   used, `Retry-After` on 429 and 503);
//! - the id patterns of path ids and `cursor`s (the listed resource's id);
//! - the event catalog as enums: the catalog is configuration (`[[event_types]]`), so it is
//!   known only at start-up, not when the schemas are derived.
//!
//! The document is a contract a schema fuzzer holds the server to (`.ci/schemathesis`,
//! docs/contract-testing.md): a value it allows is one the server accepts, and every status the
//! server can answer is listed.

use serde_json::{json, Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};

use super::version;
use crate::domain::annotations;
use crate::domain::catalog::EventCatalog;
use crate::domain::ids;
use crate::domain::integration::policy;
use crate::domain::operational;

#[derive(OpenApi)]
#[openapi(
    info(title = "hookd API", description = "Webhook endpoints, events and deliveries, and custom webhook integrations. \
        Authenticate with `Authorization: Bearer scripe_sk_live_…` (or `scripe_sk_test_…`)."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "Webhook endpoints"), (name = "Events"), (name = "Deliveries"), (name = "Integrations"), (name = "Portal"), (name = "Operations"))
)]
struct Frame;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("scripe_sk_…")
                    .build(),
            ),
        );
    }
}

pub fn base() -> OpenApiDoc {
    let mut doc = Frame::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The document as served: the generated one with the pipeline's answers, headers, id patterns
/// and the event catalog written in (see the module docs).
pub fn complete(doc: &OpenApiDoc, catalog: &EventCatalog) -> Value {
    // Serialising plain data with string keys cannot fail.
    let mut doc = serde_json::to_value(doc).unwrap_or_else(|_| json!({}));
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if let Some(operation) = operation.as_object_mut() {
                    complete_operation(path, method, operation);
                }
            }
        }
    }
    event_type_enums(&mut doc, catalog);
    metadata_rules(&mut doc);
    url_rules(&mut doc);
    field_rules(&mut doc);
    doc
}

/// The methods an `Idempotency-Key` is honoured on (`idempotency.rs`).
const IDEMPOTENT_METHODS: &[&str] = &["post", "patch", "delete"];

/// Each listed resource's id prefix, by its path segment: path ids and `cursor`s must be ids of
/// that resource (else 404, or 400 for a cursor).
const RESOURCE_IDS: &[(&str, &str)] = &[
    ("webhook-endpoints", ids::EndpointId::PREFIX),
    ("events", ids::EventId::PREFIX),
    ("deliveries", ids::DeliveryId::PREFIX),
    ("integrations", ids::IntegrationId::PREFIX),
    ("calls", ids::CallId::PREFIX),
];

fn complete_operation(path: &str, method: &str, operation: &mut Map<String, Value>) {
    let v1 = path.starts_with("/v1/");
    let reads_body = operation.contains_key("requestBody");
    let idempotent = IDEMPOTENT_METHODS.contains(&method);
    if v1 {
        let parameters = operation
            .entry("parameters")
            .or_insert_with(|| json!([]))
            .as_array_mut();
        if let Some(parameters) = parameters {
            id_patterns(path, parameters);
            parameters.push(json!({
                "name": "Scripe-Api-Version",
                "in": "header",
                "required": false,
                "description": "Pins the API version; absent: the current default. An unknown version is 400 `version_unsupported`.",
                "schema": {"type": "string", "enum": version::SUPPORTED},
            }));
            if idempotent {
                parameters.push(json!({
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": false,
                    "description": "For 24 h the same key with the same parameters (JSON compared parsed, not as bytes) replays the first answer with `Idempotent-Replayed: true`; with other parameters it is 409 `idempotency_key_conflict`.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                }));
            }
        }
    }
    let responses = operation
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else {
        return;
    };
    if v1 {
        let names_object = path.contains('{');
        for (status, applies, description) in [
            ("400", true, "`invalid_request` (the field at fault in `param`), `url_not_allowed`, or `version_unsupported` (an unknown `Scripe-Api-Version`)."),
            ("401", true, "`unauthorized`: the API key is missing, malformed, unknown or revoked."),
            ("404", names_object, "`not_found`: no such object in this workspace and mode."),
            ("408", reads_body, "`request_timeout`: the body did not arrive within the body read timeout."),
            ("409", idempotent, "`idempotency_key_conflict` (this `Idempotency-Key` was used with other parameters) or `idempotency_key_in_use` (its first request is still running; `Retry-After: 1`)."),
            ("413", true, "`payload_too_large`: the body, or its declared `Content-Length`, is over the configured limit."),
            ("415", reads_body, "`unsupported_media_type`: the body is not sent as `Content-Type: application/json`."),
            ("429", true, "`rate_limited`: too many requests with this API key, or too many failed authentications from this address; retry after `Retry-After` seconds."),
            ("503", true, "`service_unavailable`: the database is unavailable; retry after `Retry-After` seconds."),
        ] {
            if !applies {
                continue;
            }
            let response = responses
                .entry(status)
                .or_insert_with(|| json!({"description": ""}));
            if response["description"].as_str().is_none_or(str::is_empty) {
                response["description"] = json!(description);
            }
            if response.get("content").is_none() {
                response["content"] = json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}});
            }
        }
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let headers = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        let Some(headers) = headers else {
            continue;
        };
        headers.insert(
            "X-Request-Id".into(),
            json!({"description": "This request's id, also in the server's logs.", "required": true, "schema": {"type": "string"}}),
        );
        if !v1 {
            continue;
        }
        headers.insert(
            "Scripe-Api-Version".into(),
            json!({"description": "The API version the answer follows.", "required": true, "schema": {"type": "string", "enum": version::SUPPORTED}}),
        );
        if status == "429" || status == "503" {
            headers.insert(
                "Retry-After".into(),
                json!({"description": "Seconds to wait before retrying.", "required": true, "schema": {"type": "string", "pattern": "^[0-9]+$"}}),
            );
        }
        if idempotent && status.starts_with('2') {
            headers.insert(
                "Idempotent-Replayed".into(),
                json!({"description": "`true` on an answer replayed for a repeated `Idempotency-Key`.", "required": false, "schema": {"type": "string", "enum": ["true"]}}),
            );
        }
    }
}

/// Patterns for the path's `{id}` and the `cursor` query parameter, from [`RESOURCE_IDS`].
fn id_patterns(path: &str, parameters: &mut [Value]) {
    let segments: Vec<&str> = path.split('/').collect();
    let prefix_of = |segment: &str| {
        RESOURCE_IDS
            .iter()
            .find(|(name, _)| *name == segment)
            .map(|(_, prefix)| *prefix)
    };
    // The object a `{id}` names is the segment before it; a list is its path's last segment.
    let path_id = segments
        .iter()
        .position(|s| *s == "{id}")
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| prefix_of(segments[i]));
    let listed = segments.last().and_then(|s| prefix_of(s));
    for parameter in parameters.iter_mut() {
        let (prefix, nullable) = match (parameter["name"].as_str(), parameter["in"].as_str()) {
            (Some("id"), Some("path")) => (path_id, false),
            // An empty cursor is the first page.
            (Some("cursor"), Some("query")) => (listed, true),
            _ => continue,
        };
        let Some(prefix) = prefix else {
            continue;
        };
        let pattern = ids::pattern(prefix);
        parameter["schema"] = if nullable {
            json!({"type": "string", "pattern": format!("^$|{pattern}")})
        } else {
            json!({"type": "string", "pattern": pattern})
        };
    }
}

/// Which fields take an event type: (schema, property, whether operational types are allowed).
/// Subscriptions and filters take every type; a publish only those hookd does not emit itself.
const EVENT_TYPE_FIELDS: &[(&str, &str, bool)] = &[
    ("CreateEndpoint", "events", true),
    ("UpdateEndpoint", "events", true),
    ("PublishEvent", "type", false),
    ("TestEvent", "event", true),
];

/// Query parameters that filter by event type.
const EVENT_TYPE_PARAMETERS: &[&str] = &["type", "eventType"];

fn event_type_enums(doc: &mut Value, catalog: &EventCatalog) {
    let all: Vec<&str> = catalog.types().iter().map(|t| t.name.as_str()).collect();
    let publishable: Vec<&str> = all
        .iter()
        .copied()
        .filter(|t| !operational::is_operational(t))
        .collect();
    for (schema, property, operational) in EVENT_TYPE_FIELDS {
        let names = if *operational { &all } else { &publishable };
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        let Some(field) = doc.pointer_mut(&pointer) else {
            continue;
        };
        if field.get("items").is_some() {
            field["items"] = json!({"type": "string", "enum": names});
            field["minItems"] = json!(1);
        } else {
            field["enum"] = json!(names);
        }
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut() {
            let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for parameter in parameters {
                let name = parameter["name"].as_str().unwrap_or("");
                if parameter["in"] == "query" && EVENT_TYPE_PARAMETERS.contains(&name) {
                    parameter["schema"] = json!({"type": "string", "enum": all});
                }
            }
        }
    }
}

/// No control characters (`char::is_control`: C0, DEL and C1), as names and values require.
const PRINTABLE: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";
/// Printable and not only white space.
const NOT_BLANK: &str =
    "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$";

/// The rules of `metadata` maps (`domain/annotations.rs`), which derived schemas cannot carry.
fn metadata_rules(doc: &mut Value) {
    for schema in ["CreateEndpoint", "UpdateEndpoint"] {
        let pointer = format!("/components/schemas/{schema}/properties/metadata");
        if let Some(field) = doc.pointer_mut(&pointer) {
            field["maxProperties"] = json!(annotations::METADATA_MAX_KEYS);
            field["propertyNames"] = json!({
                "type": "string",
                "minLength": 1,
                "maxLength": annotations::METADATA_KEY_MAX,
                "pattern": NOT_BLANK,
            });
            field["additionalProperties"] = json!({
                "type": "string",
                "maxLength": annotations::METADATA_VALUE_MAX,
                "pattern": PRINTABLE,
            });
        }
    }
}

/// The fields that take a destination URL: (schema, property).
const URL_FIELDS: &[(&str, &str)] = &[
    ("CreateEndpoint", "url"),
    ("UpdateEndpoint", "url"),
    ("CreateIntegration", "url"),
    ("UpdateIntegration", "url"),
    ("ClientCredentialsInput", "tokenUrl"),
];

/// A destination URL as the document describes it: https, a host name (not an IP literal, which
/// the egress policy may refuse), an optional plain path. The server accepts more (see
/// docs/contract-testing.md): the schema is the part a client can rely on whatever the egress
/// policy, since no schema can say which names resolve to private addresses.
const URL_PATTERN: &str =
    "^https://[a-z](-?[a-z0-9]){0,30}(\\.[a-z](-?[a-z0-9]){0,30}){1,4}(/[A-Za-z0-9._~-]{0,40}){0,8}$";

fn url_rules(doc: &mut Value) {
    for (schema, property) in URL_FIELDS {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        if let Some(field) = doc.pointer_mut(&pointer) {
            field["maxLength"] = json!(crate::domain::endpoint::URL_MAX);
            field["pattern"] = json!(URL_PATTERN);
        }
    }
}

/// A CEL filter as the document describes it: comparisons of `type` or `projectId` with a
/// string, joined by `&&` or `||`. Filters can do far more (docs/filters-and-rate-limits.md);
/// a grammar is more than a schema can say, so the schema holds the part that always parses.
const FILTER_PATTERN: &str = "^(type|projectId) (==|!=) \"[a-z0-9._-]{1,40}\"( (&&|\\|\\|) (type|projectId) (==|!=) \"[a-z0-9._-]{1,40}\"){0,3}$";

/// A path prefix an integration's calls may use: whole segments, none `.` or `..`.
/// Printable ASCII but `/ ? # \ @ %` and space (`%` for `%2e`, an encoded dot); a segment is
/// not only dots.
const PATH_PREFIX_PATTERN: &str = r"^/(\.*[\x21\x22\x24\x26-\x2d\x30-\x3e\x41-\x5b\x5d-\x7e][\x21\x22\x24\x26-\x2e\x30-\x3e\x41-\x5b\x5d-\x7e]*(/(\.*[\x21\x22\x24\x26-\x2d\x30-\x3e\x41-\x5b\x5d-\x7e][\x21\x22\x24\x26-\x2e\x30-\x3e\x41-\x5b\x5d-\x7e]*)?)*)?$";

/// Constraints the derived schemas cannot carry, each a JSON object merged into a property.
fn field_rules(doc: &mut Value) {
    let not_blank = json!({"type": "string", "minLength": 1, "maxLength": crate::domain::integration::auth::CREDENTIAL_MAX, "pattern": NOT_BLANK});
    let rules = [
        (
            "CreateEndpoint",
            "filter",
            json!({"maxLength": 4096, "pattern": FILTER_PATTERN}),
        ),
        (
            "UpdateEndpoint",
            "filter",
            json!({"maxLength": 4096, "pattern": FILTER_PATTERN}),
        ),
        // Names of `url`'s query parameters; the document's URL form has no query string, so in
        // the document the list is empty (the server takes up to 20 names of parameters the
        // URL really has).
        (
            "CreateEndpoint",
            "secretQueryParams",
            json!({"maxItems": 0}),
        ),
        (
            "UpdateEndpoint",
            "secretQueryParams",
            json!({"maxItems": 0}),
        ),
        (
            "CreateIntegration",
            "secretQueryParams",
            json!({"maxItems": 0}),
        ),
        (
            "UpdateIntegration",
            "secretQueryParams",
            json!({"maxItems": 0}),
        ),
        (
            "CreateIntegration",
            "allowedPathPrefixes",
            json!({"maxItems": policy::MAX_PATH_PREFIXES, "items": {"type": "string", "maxLength": policy::PATH_PREFIX_MAX, "pattern": PATH_PREFIX_PATTERN}}),
        ),
        (
            "UpdateIntegration",
            "allowedPathPrefixes",
            json!({"maxItems": policy::MAX_PATH_PREFIXES, "items": {"type": "string", "maxLength": policy::PATH_PREFIX_MAX, "pattern": PATH_PREFIX_PATTERN}}),
        ),
    ];
    for (schema, property, rule) in rules {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        if let (Some(field), Some(rule)) = (doc.pointer_mut(&pointer), rule.as_object()) {
            for (key, value) in rule {
                field[key] = value.clone();
            }
        }
    }
    let header_names = json!({"type": "string", "pattern": "^X-[A-Za-z0-9-]{1,40}$"});
    // `domain/integration/headers.rs`: no control characters but tab.
    let header_values = json!({
        "type": "string",
        "maxLength": crate::domain::integration::headers::VALUE_MAX,
        "pattern": "^[^\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f]*$",
    });
    for (schema, property) in [
        ("CreateIntegration", "headers"),
        ("UpdateIntegration", "headers"),
        ("CreateCall", "headers"),
        ("CreateCall", "query"),
    ] {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        if let Some(field) = doc.pointer_mut(&pointer) {
            let names = if property == "query" {
                json!({"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"})
            } else {
                header_names.clone()
            };
            field["propertyNames"] = names;
            field["additionalProperties"] = header_values.clone();
            field["maxProperties"] = json!(20);
        }
    }
    // The credentials of an integration's `auth`: not blank, no control characters; no other
    // fields than the variant's.
    if let Some(variants) = doc
        .pointer_mut("/components/schemas/AuthInput/oneOf")
        .and_then(Value::as_array_mut)
    {
        for variant in variants
            .iter_mut()
            .filter(|v| v.get("properties").is_some())
        {
            variant["additionalProperties"] = json!(false);
            if let Some(properties) = variant["properties"].as_object_mut() {
                for (name, property) in properties.iter_mut() {
                    *property = match name.as_str() {
                        "type" => continue,
                        // A header name the server may set (not one of its own, e.g. `Host`).
                        "name" => json!({"type": "string", "pattern": "^X-[A-Za-z0-9-]{1,40}$"}),
                        // Basic auth joins the two with `:`.
                        "username" => {
                            json!({"type": "string", "minLength": 1, "maxLength": crate::domain::integration::auth::CREDENTIAL_MAX, "pattern": "^[^\\x00-\\x20\\x7f-\\x9f:]+$"})
                        }
                        _ => not_blank.clone(),
                    };
                }
            }
        }
    }
    // OAuth2 client credentials, an `allOf` of the fields and the `type`, written as one object
    // so that it can refuse other fields as the server does.
    let credentials = doc
        .pointer("/components/schemas/ClientCredentialsInput")
        .cloned()
        .unwrap_or(Value::Null);
    for schema in ["AuthInput", "EndpointAuthInput"] {
        let pointer = format!("/components/schemas/{schema}/oneOf");
        let Some(variants) = doc.pointer_mut(&pointer).and_then(Value::as_array_mut) else {
            continue;
        };
        for variant in variants.iter_mut() {
            let Some(parts) = variant.get("allOf").and_then(Value::as_array) else {
                continue;
            };
            let (Some(fields), Some(kind)) = (credentials.as_object(), parts.get(1)) else {
                continue;
            };
            let mut merged = fields.clone();
            merged.remove("description");
            let mut properties = merged
                .get("properties")
                .cloned()
                .unwrap_or_else(|| json!({}));
            properties["type"] = kind["properties"]["type"].clone();
            let mut required = merged.get("required").cloned().unwrap_or_else(|| json!([]));
            if let Some(required) = required.as_array_mut() {
                required.push(json!("type"));
            }
            merged.insert("properties".into(), properties);
            merged.insert("required".into(), required);
            merged.insert("additionalProperties".into(), json!(false));
            *variant = Value::Object(merged);
        }
    }
}
