//! One call through an integration: build the request from the integration and the caller's
//! input, send it through the egress client (with an OAuth2 bearer token when the integration's
//! auth is `oauth2_client_credentials`), record it in the call log, and hand back the upstream's
//! answer or why there was none.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::value::RawValue;
use serde_json::Value;
use url::Url;

use super::response::CallResult;
use super::target;
use crate::domain::ids::{ApiKeyId, CallId};
use crate::domain::integration::fields::is_json;
use crate::domain::integration::headers::{header_param, HeaderList};
use crate::domain::integration::policy::{CallShape, Refusal};
use crate::domain::integration::{
    excerpt, AuthConfig, CallErrorCode, CallVia, HeaderSecrets, HttpMethod, Integration,
    IntegrationCall,
};
use crate::domain::oauth2::ClientCredentials;
use crate::domain::redact::display_url;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::domain::FieldError;
use crate::egress::{EgressClient, EgressError, OutboundRequest};
use crate::oauth2::{self, AuthorizedError, TokenCache};
use crate::store::DynStore;

/// Upstream bodies beyond this are cut off and the answer says `truncated: true`.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The caller's part of a call, as received.
#[derive(Clone, Debug, Default)]
pub struct CallInput {
    pub method: Option<String>,
    pub path: Option<String>,
    pub query: Option<Value>,
    pub headers: Option<BTreeMap<String, String>>,
    /// The JSON text the caller wrote, sent as written (key order and number forms kept).
    pub body: Option<Box<RawValue>>,
}

/// Why a call was not prepared: invalid input (400), or input the integration's call policy
/// does not allow (403 `call_not_allowed`).
#[derive(Debug)]
pub enum PrepareError {
    Invalid(FieldError),
    NotAllowed(Refusal),
}

impl From<FieldError> for PrepareError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

/// The integration's credentials, opened from their sealed blobs for the duration of one call.
pub struct Credentials {
    /// The integration's URL with its secret query values opened.
    pub url: Url,
    pub headers: HeaderSecrets,
    pub auth: AuthConfig,
}

/// A request ready to send, with what the call log records about it.
#[derive(Debug)]
pub struct PreparedCall {
    pub request: OutboundRequest,
    pub method: HttpMethod,
    /// The request's URL as the call log shows it: secret query values as `****`.
    pub logged_url: Url,
    /// The credentials of the bearer token added at send time (`Debug` redacts the secret).
    pub oauth2: Option<ClientCredentials>,
}

/// Validates the caller's input against the integration and builds the outbound request.
/// Header order: the integration's custom headers, then the call's, then the auth (which
/// therefore always wins), then `Content-Type` when there is a body.
///
/// This is where the integration's call policy is enforced, for every caller (REST API, CLI,
/// MCP, dashboard): once the input is known to be well-formed, before anything is built.
pub fn prepare(
    integration: &Integration,
    credentials: &Credentials,
    input: &CallInput,
) -> Result<PreparedCall, PrepareError> {
    let method = match input.method.as_deref() {
        Some(raw) => HttpMethod::parse("method", raw)?,
        None => integration.method,
    };
    let url = target::build(
        &credentials.url,
        input.path.as_deref(),
        input.query.as_ref(),
    )?;
    // The same path and query on the masked URL every read shows: what the call log keeps.
    let logged_url = Url::parse(&integration.url)
        .map_err(|e| FieldError::new("url", format!("The integration's URL is invalid: {e}")))
        .and_then(|masked| target::build(&masked, input.path.as_deref(), input.query.as_ref()))?;
    integration
        .policy()
        .check(
            integration.method,
            CallShape {
                method,
                path: input.path.as_deref(),
                has_headers: input.headers.as_ref().is_some_and(|h| !h.is_empty()),
            },
        )
        .map_err(PrepareError::NotAllowed)?;

    let configured = HeaderList::parse("headers", &credentials.headers)
        .map_err(|e| {
            FieldError::new(
                "headers",
                format!(
                    "The integration's stored headers are no longer accepted ({}); update them \
                     with PATCH.",
                    e.message
                ),
            )
        })?
        .into_sensitive();
    let per_call = match &input.headers {
        Some(raw) => HeaderList::parse("headers", raw)?,
        None => HeaderList::default(),
    };
    let auth_header = credentials.auth.view().header_name();
    for (given, name) in per_call.names() {
        let carries_credentials = Some(name) == auth_header.as_ref()
            || (*name == AUTHORIZATION && configured.contains(&AUTHORIZATION));
        if carries_credentials {
            return Err(FieldError::new(
                header_param("headers", given),
                format!(
                    "The {given} header carries the integration's credentials and cannot be set \
                     per call."
                ),
            )
            .into());
        }
    }
    let mut headers = HeaderMap::new();
    configured.apply(&mut headers);
    per_call.apply(&mut headers);
    if let Some((name, value)) = credentials.auth.header()? {
        headers.insert(name, value);
    }

    let body = match &input.body {
        None => Bytes::new(),
        Some(raw) => body_bytes(raw, &integration.content_type),
    };
    if input.body.is_some() {
        let content_type = HeaderValue::from_str(&integration.content_type).map_err(|_| {
            FieldError::new(
                "contentType",
                "The integration's contentType is not a valid header.",
            )
        })?;
        headers.insert(CONTENT_TYPE, content_type);
    }

    let mut request = OutboundRequest::new(method.to_reqwest(), url);
    request.headers = headers;
    request.body = body;
    request.timeout = Duration::from_millis(u64::from(integration.timeout_ms));
    request.max_response_bytes = MAX_RESPONSE_BYTES;
    Ok(PreparedCall {
        request,
        method,
        logged_url,
        oauth2: credentials.auth.oauth2().cloned(),
    })
}

/// The bytes sent for a body: a JSON string for a non-JSON content type is the body itself
/// (text, form data, XML …); anything else is the caller's JSON text exactly as written.
fn body_bytes(raw: &RawValue, content_type: &str) -> Bytes {
    if !is_json(content_type) {
        if let Ok(text) = serde_json::from_str::<String>(raw.get()) {
            return Bytes::from(text.into_bytes());
        }
    }
    Bytes::copy_from_slice(raw.get().trim().as_bytes())
}

/// Why a call has no upstream response, with a message naming the integration.
#[derive(Debug, Clone)]
pub struct CallFailure {
    pub code: CallErrorCode,
    pub message: String,
    /// The configuration field at fault when the egress policy refused: `url` or
    /// `auth.tokenUrl`.
    pub param: &'static str,
}

/// Who made a call, as the call log records it.
#[derive(Clone, Debug)]
pub struct Origin {
    pub tenant: Tenant,
    /// The API key that made the call.
    pub key_id: ApiKeyId,
    pub via: CallVia,
}

/// Sends a prepared call and writes its call-log entry.
///
/// Run it in its own task (as the API does): a caller that hangs up mid-call must not cancel the
/// log write of a request that has already reached the upstream.
#[tracing::instrument(skip_all, fields(integration = %integration.id, call = tracing::field::Empty))]
pub async fn execute(
    egress: EgressClient,
    tokens: TokenCache,
    store: DynStore,
    origin: Origin,
    integration: Integration,
    prepared: PreparedCall,
) -> Result<CallResult, CallFailure> {
    let Origin {
        tenant,
        key_id: caller,
        via,
    } = origin;
    let id = CallId::generate();
    tracing::Span::current().record("call", tracing::field::display(&id));
    let created_at = Timestamp::now();
    let url = prepared.logged_url.clone();
    let request_body = excerpt(&prepared.request.body);
    let started = std::time::Instant::now();
    let auth = prepared.oauth2.as_ref().map(|credentials| oauth2::Auth {
        tokens: &tokens,
        credentials,
        retry_by: None,
    });
    let outcome = oauth2::send(&egress, auth, prepared.request).await;

    let mut entry = IntegrationCall {
        id: id.clone(),
        integration_id: integration.id.clone(),
        api_key_id: caller,
        via,
        method: prepared.method,
        url: url.to_string(),
        status: None,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        error_code: None,
        error: None,
        request_body,
        response_body: String::new(),
        truncated: false,
        created_at,
    };
    let result = match outcome {
        Ok(response) => {
            metrics::counter!("hookd_integration_calls_total", "outcome" => "answered", "via" => via.as_str())
                .increment(1);
            entry.status = Some(response.status);
            entry.duration_ms = i64::try_from(response.duration.as_millis()).unwrap_or(i64::MAX);
            entry.response_body = excerpt(&response.body);
            entry.truncated = response.truncated;
            Ok(CallResult::from_response(id, &response))
        }
        Err(error) => {
            let failure = describe_failure(&integration, prepared.method, &url, &error);
            metrics::counter!("hookd_integration_calls_total", "outcome" => failure.code.as_str(), "via" => via.as_str())
                .increment(1);
            // The one line for this failure (the API answers 502/504 without logging again);
            // the span carries the integration and call ids. No URL: it may hold credentials.
            let failed = NoAnswer(error.clone());
            tracing::warn!(
                code = failure.code.as_str(),
                error = &failed as &(dyn std::error::Error + 'static),
                "integration call failed"
            );
            entry.error_code = Some(failure.code);
            entry.error = Some(error.to_string());
            Err(failure)
        }
    };
    metrics::histogram!("hookd_integration_call_duration_seconds")
        .record(entry.duration_ms as f64 / 1000.0);
    // The upstream has already seen the request: a failed log write must not turn its answer
    // into an error (the client would retry and repeat the side effect), so it is logged here.
    if let Err(e) = store.insert_integration_call(&tenant, &entry).await {
        tracing::error!(error = %e, "could not write the integration call log");
    }
    result
}

/// The logged error of a call without an answer; its source is why.
#[derive(Debug, thiserror::Error)]
#[error("the upstream gave no usable answer")]
struct NoAnswer(#[source] AuthorizedError);

fn describe_failure(
    integration: &Integration,
    method: HttpMethod,
    url: &Url,
    error: &AuthorizedError,
) -> CallFailure {
    let name = &integration.name;
    let method = method.as_str();
    let url = display_url(url);
    let error = match error {
        AuthorizedError::Egress(error) => error,
        // The token endpoint counts as part of the upstream: its timeout is a 504, anything
        // else it does wrong a 502, and a refused token URL is the caller's to fix.
        AuthorizedError::Token(token) => {
            let code = if token.is_timeout() {
                CallErrorCode::UpstreamTimeout
            } else if token.is_refused_by_policy() {
                CallErrorCode::UrlNotAllowed
            } else {
                CallErrorCode::UpstreamError
            };
            return CallFailure {
                code,
                message: format!(
                    "The integration {name:?} could not authenticate for {method} {url}: {token}."
                ),
                param: "auth.tokenUrl",
            };
        }
    };
    match error {
        EgressError::Timeout(limit) => CallFailure {
            code: CallErrorCode::UpstreamTimeout,
            message: format!(
                "The integration {name:?} did not answer {method} {url} within its timeout of \
                 {} ms.",
                limit.as_millis()
            ),
            param: "url",
        },
        EgressError::Refused(refusal) => CallFailure {
            code: CallErrorCode::UrlNotAllowed,
            message: format!("The integration {name:?} cannot be called: {refusal}."),
            param: "url",
        },
        EgressError::Connect(cause) | EgressError::Protocol(cause) => CallFailure {
            code: CallErrorCode::UpstreamError,
            message: format!("The integration {name:?} failed on {method} {url}: {cause}."),
            param: "url",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::IntegrationId;
    use crate::domain::integration::{header_views, AuthView};

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    fn integration(content_type: &str) -> Integration {
        Integration {
            id: IntegrationId::generate(),
            name: "Reports".into(),
            description: None,
            // As reads show it: the secret `token` masked.
            url: "https://reports.example.com/v1?apiVersion=2&token=****".into(),
            secret_query_params: vec!["token".into()],
            method: HttpMethod::Post,
            allowed_methods: vec![HttpMethod::Post],
            allowed_path_prefixes: vec!["/daily".into()],
            allow_caller_headers: true,
            headers: header_views(&HeaderSecrets::new()),
            auth: AuthView::None,
            content_type: content_type.into(),
            timeout_ms: 1500,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            disconnected_at: None,
        }
    }

    fn credentials() -> Credentials {
        let mut headers = HeaderSecrets::new();
        headers.insert("X-Team".into(), "reporting-secret".into());
        headers.insert("X-Shared".into(), "configured".into());
        Credentials {
            url: Url::parse("https://reports.example.com/v1?apiVersion=2&token=tok_q_secret")
                .unwrap(),
            headers,
            auth: AuthConfig::Bearer {
                token: "tok_1234567890".into(),
            },
        }
    }

    #[test]
    fn builds_the_request_with_headers_auth_and_bounds() {
        let mut per_call = BTreeMap::new();
        per_call.insert("X-Shared".to_string(), "per-call".to_string());
        let input = CallInput {
            path: Some("/daily".into()),
            headers: Some(per_call),
            body: Some(raw(r#"{"x": 1.50, "a": 2}"#)),
            ..CallInput::default()
        };
        let prepared = prepare(&integration("application/json"), &credentials(), &input).unwrap();
        let request = &prepared.request;
        assert_eq!(
            request.url.as_str(),
            "https://reports.example.com/v1/daily?apiVersion=2&token=tok_q_secret"
        );
        // The call log keeps the masked form; the secret query value is sent, never logged.
        assert_eq!(
            prepared.logged_url.as_str(),
            "https://reports.example.com/v1/daily?apiVersion=2&token=****"
        );
        assert_eq!(request.headers["x-shared"], "per-call");
        assert_eq!(request.headers["authorization"], "Bearer tok_1234567890");
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(&request.body[..], br#"{"x": 1.50, "a": 2}"#);
        assert_eq!(request.timeout, Duration::from_millis(1500));
        assert_eq!(request.max_response_bytes, MAX_RESPONSE_BYTES);
        // Credentials never show up in debug output.
        let debug = format!("{prepared:?}");
        assert!(!debug.contains("tok_1234567890") && !debug.contains("reporting-secret"));
        assert!(!debug.contains("tok_q_secret"), "{debug}");
    }

    #[test]
    fn per_call_input_cannot_replace_the_credentials() {
        let mut per_call = BTreeMap::new();
        per_call.insert("authorization".to_string(), "Bearer mine".to_string());
        let input = CallInput {
            headers: Some(per_call),
            ..CallInput::default()
        };
        let err = prepare(&integration("application/json"), &credentials(), &input).unwrap_err();
        assert!(matches!(err, PrepareError::Invalid(e) if e.param == "headers.authorization"));
    }

    #[test]
    fn the_call_policy_is_enforced() {
        let mut closed = integration("application/json");
        closed.allow_caller_headers = false;
        let mut per_call = BTreeMap::new();
        per_call.insert("X-Mine".to_string(), "1".to_string());
        let refused = |input: &CallInput| match prepare(&closed, &credentials(), input) {
            Err(PrepareError::NotAllowed(refusal)) => refusal.rule,
            other => panic!("{other:?}"),
        };
        let headers = CallInput {
            headers: Some(per_call),
            ..CallInput::default()
        };
        assert_eq!(refused(&headers), "allowCallerHeaders");
        let get = CallInput {
            method: Some("GET".into()),
            ..CallInput::default()
        };
        assert_eq!(refused(&get), "allowedMethods");
        let path = CallInput {
            path: Some("/weekly".into()),
            ..CallInput::default()
        };
        assert_eq!(refused(&path), "allowedPathPrefixes");
    }

    #[test]
    fn strings_are_raw_only_for_non_json_content_types() {
        let input = CallInput {
            body: Some(raw(r#""a,b""#)),
            ..CallInput::default()
        };
        let text = prepare(&integration("text/csv"), &credentials(), &input).unwrap();
        assert_eq!(&text.request.body[..], b"a,b");
        let json_body = prepare(&integration("application/json"), &credentials(), &input).unwrap();
        assert_eq!(&json_body.request.body[..], br#""a,b""#);
        let none = prepare(
            &integration("text/csv"),
            &credentials(),
            &CallInput::default(),
        )
        .unwrap();
        assert!(none.request.body.is_empty());
        assert!(none.request.headers.get("content-type").is_none());
    }
}
