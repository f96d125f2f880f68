//! `/v1/integrations/{id}/calls`: call an integration, and read its call log.
//!
//! A call answers 200 with the upstream's status, headers and body whatever the upstream's
//! status was (a 500 from the upstream is data, not a hookd failure). Only when no response
//! came back is the answer an error: 502 `upstream_error` (unreachable, connection reset,
//! invalid HTTP), 504 `upstream_timeout` (no complete answer within `timeoutMs`), or 400
//! `url_not_allowed` (the egress policy refuses the destination; retrying will not help, so it
//! is a 4xx). Every call, failed or not, is in the call log.
//!
//! A call outside the integration's call policy (`allowedMethods`, `allowedPathPrefixes`,
//! `allowCallerHeaders`) answers 403 `call_not_allowed` with the rule in `param`; nothing is
//! sent. The body is taken as the JSON text the caller wrote and sent as written.
//!
//! The call log of a disconnected integration stays readable (it is the audit trail): only
//! calling answers 410.
//!
//! [`perform`] is the one way a call is made: the REST handler and the MCP server both use it.
//! A client may mark its calls as made for an agent with `Hookd-Via: mcp` (what `hookd mcp`
//! does, since it calls through this API); the call log records it as `via: "mcp"`. It is the
//! client's own label, not a permission.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::auth::Authed;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::integrations::{load_any, load_connected, TAG};
use super::pagination::{page_request, Data, List};
use super::AppState;
use crate::domain::ids::CallId;
use crate::domain::integration::{
    CallErrorCode, CallVia, HttpMethod, IntegrationCall, StoredIntegration,
};
use crate::domain::url_credentials;
use crate::integrations::call::{self, CallFailure, CallInput, Credentials, PrepareError};
use crate::integrations::response::CallResult;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCall {
    /// Overrides the integration's method for this call.
    #[schema(value_type = Option<HttpMethod>)]
    pub method: Option<String>,
    /// Appended to the integration URL's path (`/daily` → `…/v1/runs/daily`). It cannot leave
    /// the integration's URL: `//host`, `@host`, `..` (in any encoding), backslashes, `?`, `#`
    /// and full URLs are rejected.
    /// The document describes plain segments of `A-Z a-z 0-9 . _ ~ -`, none starting with a
    /// dot; the server takes more (percent-escapes, other characters) within those rules.
    #[schema(
        example = "/daily",
        pattern = r"^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,40}){0,8}$"
    )]
    pub path: Option<String>,
    /// Added to the URL's query: an object of name → string/number/boolean (or an array of
    /// them for repeated names), or a query string.
    #[schema(value_type = Option<Object>, example = json!({"day": "2026-08-01"}))]
    pub query: Option<Value>,
    /// Extra headers for this call; same rules as the integration's headers, and the header
    /// carrying the integration's credentials cannot be overridden.
    pub headers: Option<BTreeMap<String, String>>,
    /// Any JSON. A string with a non-JSON `contentType` is sent as-is; anything else is sent
    /// serialised as JSON. Absent (or `null`): no body.
    #[schema(value_type = Option<Object>, example = json!({"x": 1}))]
    pub body: Option<Box<RawValue>>,
}

/// The header a client sets to mark its calls as made for an agent (see the module docs).
pub const VIA_HEADER: &str = "hookd-via";

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListCallsQuery {
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<CallFailure> for ApiError {
    fn from(failure: CallFailure) -> Self {
        match failure.code {
            CallErrorCode::UrlNotAllowed => ApiError::UrlNotAllowed {
                param: failure.param.to_string(),
                message: failure.message,
            },
            CallErrorCode::UpstreamTimeout => ApiError::Upstream {
                status: StatusCode::GATEWAY_TIMEOUT,
                code: "upstream_timeout",
                message: failure.message,
            },
            CallErrorCode::UpstreamError => ApiError::Upstream {
                status: StatusCode::BAD_GATEWAY,
                code: "upstream_error",
                message: failure.message,
            },
        }
    }
}

impl From<PrepareError> for ApiError {
    fn from(e: PrepareError) -> Self {
        match e {
            PrepareError::Invalid(field) => field.into(),
            PrepareError::NotAllowed(refusal) => ApiError::CallNotAllowed {
                rule: refusal.rule,
                message: refusal.message,
            },
        }
    }
}

/// Makes one call through a connected integration and logs it: the one path for every caller.
pub async fn perform(
    state: &AppState,
    auth: &Authed,
    stored: StoredIntegration,
    input: &CallInput,
    via: CallVia,
) -> ApiResult<CallResult> {
    let open_failed = |e| ApiError::Internal(anyhow::Error::new(e));
    let credentials = Credentials {
        url: url_credentials::open(&state.cipher, &stored.url_sealed)
            .map_err(ApiError::Internal)?,
        headers: state
            .cipher
            .open_json(&stored.headers_sealed)
            .map_err(open_failed)?,
        auth: state
            .cipher
            .open_json(&stored.auth_sealed)
            .map_err(open_failed)?,
    };
    let prepared = call::prepare(&stored.integration, &credentials, input);
    drop(credentials);
    let prepared = prepared.inspect_err(|e| {
        if let PrepareError::NotAllowed(refusal) = e {
            metrics::counter!("hookd_integration_calls_refused_total", "rule" => refusal.rule, "via" => via.as_str())
                .increment(1);
        }
    })?;
    // Its own task: if our client hangs up, the call still finishes and is logged.
    let task = tokio::spawn(call::execute(
        state.egress.clone(),
        state.engine.tokens().clone(),
        Arc::clone(&state.store),
        call::Origin {
            tenant: auth.tenant.clone(),
            key_id: auth.key_id.clone(),
            via,
        },
        stored.integration,
        prepared,
    ));
    Ok(task.await.map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("integration call task"))
    })??)
}

#[utoipa::path(post, path = "/v1/integrations/{id}/calls", tag = TAG, params(("id" = String, Path)), request_body = CreateCall,
    responses((status = 200, description = "The upstream answered (with any status).", body = Data<CallResult>),
              (status = 400, description = "Invalid input, or `url_not_allowed`.", body = ErrorBody),
              (status = 403, description = "`call_not_allowed`: outside the integration's call policy; `param` names the rule.", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 410, description = "Disconnected (`integration_disconnected`).", body = ErrorBody),
              (status = 502, description = "`upstream_error`: no usable response.", body = ErrorBody),
              (status = 504, description = "`upstream_timeout`.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(integration = %id))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateCall>,
) -> ApiResult<Json<Data<CallResult>>> {
    let stored = load_connected(&state, &auth.tenant, &id).await?;
    let input = CallInput {
        method: body.method,
        path: body.path,
        query: body.query,
        headers: body.headers,
        body: body.body,
    };
    let via = match headers.get(VIA_HEADER).map(|v| v.as_bytes()) {
        Some(b"mcp") => CallVia::Mcp,
        _ => CallVia::Api,
    };
    let result = perform(&state, &auth, stored, &input, via).await?;
    Ok(Json(Data { data: result }))
}

#[utoipa::path(get, path = "/v1/integrations/{id}/calls", tag = TAG, params(("id" = String, Path), ListCallsQuery),
    responses((status = 200, description = "The call log, newest first; still readable after the integration is disconnected (the audit trail).", body = List<IntegrationCall>),
              (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(integration = %id))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ListCallsQuery>,
) -> ApiResult<Json<List<IntegrationCall>>> {
    let stored = load_any(&state, &auth.tenant, &id).await?;
    let page = page_request(query.limit.as_deref(), query.cursor.as_deref(), |c| {
        CallId::parse(c).map(|id| id.to_string())
    })?;
    let page = state
        .store
        .list_integration_calls(&auth.tenant, &stored.integration.id, &page)
        .await?;
    Ok(Json(List::from_page(page, |c| c.id.to_string())))
}
