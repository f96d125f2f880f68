//! `/v1/integrations`: create, list (filter `name`), get, update and disconnect custom webhook
//! integrations. The calls and the call log are in `integration_calls.rs`.
//!
//! Decisions worth knowing:
//! - A duplicate name (per workspace and mode, ignoring case, among connected integrations) is a
//!   400 `invalid_request` with `param: "name"`, as SPEC.md words every validation failure. The
//!   OpenAPI document cannot say "unique", so the contract fuzz is told that these two
//!   operations may answer 400 to a body the document allows (`.ci/schemathesis.toml`).
//! - Credentials are write-only: the answer shows header names with `valueLast4` and the auth
//!   type with `…Last4` hints. PATCH answers add `credentialsKept`, true when the integration
//!   still carries credentials set before this PATCH (e.g. after changing only the URL).
//! - DELETE disconnects. Afterwards every request on that id (GET, PATCH, DELETE, calls)
//!   answers 410 `integration_disconnected` naming the integration, except the call log, which
//!   stays readable as the audit trail (`integration_calls.rs`); an id that never
//!   existed (or belongs to another workspace or mode) answers 404. Disconnected integrations
//!   are left out of lists unless `includeDisconnected=true` (then `disconnectedAt` is set), which
//!   is how a caller that knows only the name (the CLI) can still get the 410 rather than "no
//!   such name". The name of a disconnected integration is free for a new one.
//! - `description` and the call policy (`allowedMethods`, `allowedPathPrefixes`,
//!   `allowCallerHeaders`; rules in `domain/integration/policy.rs`) are plain settings. In a
//!   PATCH, `null` removes the description and returns `allowedMethods` to its default (the
//!   configured method, following it). Every change is announced to the workspace's MCP sessions
//!   (`notifications/tools/list_changed`, see `mcp/sessions.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::auth::Authed;
use super::endpoints::{check_token_url, parse_destination, Deleted};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::pagination::{page_request, parse_bool, Data, List};
use super::AppState;
use crate::domain::endpoint;
use crate::domain::ids::IntegrationId;
use crate::domain::integration::auth::AuthInput;
use crate::domain::integration::headers::{header_param, HeaderList};
use crate::domain::integration::{
    fields, header_views, policy, AuthConfig, AuthView, HeaderSecrets, HttpMethod, Integration,
    IntegrationPatch, Sealed, StoredIntegration,
};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::domain::url_credentials;
use crate::domain::FieldError;
use crate::store::{IntegrationFilter, StoreError};

pub const TAG: &str = "Integrations";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateIntegration {
    /// 1–128 characters, unique per workspace and mode (case-insensitive).
    #[schema(
        example = "Internal reporting API",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Absolute https URL (see the egress policy); no user:password@ part.
    #[schema(example = "https://reports.internal.example.com/v1/runs")]
    pub url: String,
    /// Names of query parameters of `url` whose values are credentials (`?token=…`): sealed at
    /// rest, shown as `****` in every read, sent as written. At most 20.
    #[serde(default)]
    #[schema(example = json!(["token"]))]
    pub secret_query_params: Vec<String>,
    /// Default method of calls: GET, POST (default), PUT, PATCH, DELETE or HEAD.
    #[schema(value_type = Option<HttpMethod>)]
    pub method: Option<String>,
    /// Headers sent on every call (name → value). Values are write-only.
    #[schema(example = json!({"X-Api-Version": "2026-08-01"}))]
    pub headers: Option<BTreeMap<String, String>>,
    /// Default `{"type": "none"}`.
    #[schema(value_type = Option<AuthInput>)]
    pub auth: Option<Value>,
    /// Content type of call bodies; default `application/json`.
    #[schema(
        max_length = 255,
        pattern = r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[^\x00-\x08\x0a-\x1f\x7f-\x9f]*)?$"
    )]
    pub content_type: Option<String>,
    /// 1–60000, default 10000.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 60000)]
    pub timeout_ms: Option<super::extract::Whole>,
    /// What the upstream does, for people and AI agents (becomes the MCP tool's description);
    /// at most 2000 characters.
    #[schema(
        example = "Logs a summary of each automation run for compliance.",
        max_length = 2000,
        pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// Methods a call may use; default: the configured `method` only.
    #[schema(value_type = Option<Vec<HttpMethod>>, min_items = 1)]
    pub allowed_methods: Option<Vec<String>>,
    /// `path`s a call may append, by whole segments (`/reports` admits `/reports/daily`);
    /// default none: calls may not set a path.
    #[schema(example = json!(["/reports"]))]
    pub allowed_path_prefixes: Option<Vec<String>>,
    /// Whether a call may add its own headers; default false.
    pub allow_caller_headers: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateIntegration {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// Changing the URL keeps the configured headers and auth (the answer says
    /// `credentialsKept: true`). The URL as reads show it (secret values as `****`) sent back
    /// keeps the stored one.
    pub url: Option<String>,
    /// Replaces the list of secret query parameters; when absent, those of the current URL
    /// still present in the new one stay secret.
    pub secret_query_params: Option<Vec<String>>,
    #[schema(value_type = Option<HttpMethod>)]
    pub method: Option<String>,
    /// Replaces all custom headers; `{}` removes them.
    pub headers: Option<BTreeMap<String, String>>,
    /// Replaces the auth; `{"type": "none"}` removes it.
    #[schema(value_type = Option<AuthInput>)]
    pub auth: Option<Value>,
    #[schema(
        max_length = 255,
        pattern = r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[^\x00-\x08\x0a-\x1f\x7f-\x9f]*)?$"
    )]
    pub content_type: Option<String>,
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 60000)]
    pub timeout_ms: Option<super::extract::Whole>,
    /// `null` or `""` removes the description.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000, pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$")]
    pub description: Option<Option<String>>,
    /// `null` goes back to the default (the configured method only).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<HttpMethod>>, min_items = 1)]
    pub allowed_methods: Option<Option<Vec<String>>>,
    /// Replaces the list; `[]`: calls may not set a path.
    pub allowed_path_prefixes: Option<Vec<String>>,
    pub allow_caller_headers: Option<bool>,
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or set.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The PATCH answer: the integration plus whether its credentials were kept.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdatedIntegration {
    #[serde(flatten)]
    pub integration: Integration,
    /// True when headers or auth set before this PATCH are still configured (and will be sent
    /// to the possibly new URL).
    pub credentials_kept: bool,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListIntegrationsQuery {
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Exact name, case-insensitive.
    pub name: Option<String>,
    /// `true` to include disconnected integrations (with `disconnectedAt` set); default `false`.
    #[param(value_type = Option<bool>)]
    pub include_disconnected: Option<String>,
}

fn parse_id(raw: &str) -> ApiResult<IntegrationId> {
    IntegrationId::parse(raw).map_err(|_| ApiError::not_found("integration", raw))
}

/// 410 for a disconnected integration, naming it.
pub(super) fn disconnected(stored: &StoredIntegration, at: Timestamp) -> ApiError {
    ApiError::Gone {
        code: "integration_disconnected",
        message: format!(
            "The integration {:?} ({}) was disconnected at {}; it can no longer be used. \
             Create a new integration to connect again.",
            stored.integration.name,
            stored.integration.id,
            at.to_rfc3339()
        ),
    }
}

/// Loads an integration of the caller's tenant, connected or not: 404 if it never existed.
pub(super) async fn load_any(
    state: &AppState,
    tenant: &Tenant,
    raw_id: &str,
) -> ApiResult<StoredIntegration> {
    let id = parse_id(raw_id)?;
    state
        .store
        .find_integration(tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("integration", raw_id))
}

/// Loads a connected integration of the caller's tenant: 404 if it never existed, 410 if it was
/// disconnected.
pub async fn load_connected(
    state: &AppState,
    tenant: &Tenant,
    raw_id: &str,
) -> ApiResult<StoredIntegration> {
    let id = parse_id(raw_id)?;
    let stored = state
        .store
        .find_integration(tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("integration", raw_id))?;
    match stored.integration.disconnected_at {
        Some(at) => Err(disconnected(&stored, at)),
        None => Ok(stored),
    }
}

fn name_taken(name: &str) -> ApiError {
    ApiError::invalid(
        "name",
        format!(
            "An integration named {name:?} already exists in this workspace and mode \
             (names are compared case-insensitively)."
        ),
    )
}

/// The integration URL: syntax, no embedded credentials, and the egress policy.
async fn parse_url(state: &AppState, raw: &str) -> ApiResult<Url> {
    let url = endpoint::parse_url("url", raw)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid(
            "url",
            "url must not contain a user name or password; use auth (e.g. {\"type\": \"basic\"}).",
        ));
    }
    parse_destination(state, "url", raw).await
}

/// The auth's header may not also be a custom header: one of them would silently lose.
fn check_auth_vs_headers<'a>(
    auth: &AuthView,
    header_names: impl IntoIterator<Item = &'a String>,
) -> Result<(), FieldError> {
    let Some(auth_header) = auth.header_name() else {
        return Ok(());
    };
    for name in header_names {
        if name.eq_ignore_ascii_case(auth_header.as_str()) {
            return Err(FieldError::new(
                header_param("headers", name),
                format!(
                    "The {name} header is set by the integration's {} auth; remove it from headers.",
                    auth.type_name()
                ),
            ));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/integrations", tag = TAG, request_body = CreateIntegration,
    responses((status = 201, description = "Integration created. Credentials are not shown back.", body = Data<Integration>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 409, description = "An `Idempotency-Key` conflict.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiJson(body): ApiJson<CreateIntegration>,
) -> ApiResult<(StatusCode, Json<Data<Integration>>)> {
    let name = fields::parse_name("name", &body.name)?;
    let method = match body.method.as_deref() {
        Some(raw) => HttpMethod::parse("method", raw)?,
        None => HttpMethod::DEFAULT,
    };
    let content_type = match body.content_type.as_deref() {
        Some(raw) => fields::parse_content_type("contentType", raw)?,
        None => fields::DEFAULT_CONTENT_TYPE.to_string(),
    };
    let timeout_ms = match body.timeout_ms.map(|w| w.0) {
        Some(raw) => fields::parse_timeout("timeoutMs", raw)?,
        None => fields::DEFAULT_TIMEOUT_MS,
    };
    let headers: HeaderSecrets = body.headers.unwrap_or_default();
    HeaderList::parse("headers", &headers)?;
    let auth_config = match &body.auth {
        Some(raw) => AuthConfig::parse("auth", raw)?,
        None => AuthConfig::None,
    };
    if let Some(credentials) = auth_config.oauth2() {
        check_token_url(&state, "auth", credentials).await?;
    }
    let auth_view = auth_config.view();
    check_auth_vs_headers(&auth_view, headers.keys())?;
    let description = body
        .description
        .as_deref()
        .map(|d| policy::parse_description("description", d))
        .transpose()?
        .flatten();
    let allowed_methods = match &body.allowed_methods {
        Some(raw) => policy::parse_methods("allowedMethods", raw)?,
        None => vec![method],
    };
    let allowed_path_prefixes = match &body.allowed_path_prefixes {
        Some(raw) => policy::parse_path_prefixes("allowedPathPrefixes", raw)?,
        None => Vec::new(),
    };
    let url = parse_url(&state, &body.url).await?;
    let secret_params =
        url_credentials::parse_secret_params("secretQueryParams", &url, &body.secret_query_params)?;
    // Secret query values are sealed before they are stored, and never shown again.
    let url_sealed = url_credentials::seal_params(&state.cipher, &url, &secret_params).to_string();

    let now = Timestamp::now();
    let stored = StoredIntegration {
        integration: Integration {
            id: IntegrationId::generate(),
            name,
            description,
            url: url_credentials::masked(&url_sealed),
            secret_query_params: secret_params,
            method,
            allowed_methods,
            allowed_path_prefixes,
            allow_caller_headers: body.allow_caller_headers.unwrap_or(false),
            headers: header_views(&headers),
            auth: auth_view,
            content_type,
            timeout_ms,
            created_at: now,
            updated_at: now,
            disconnected_at: None,
        },
        url_sealed,
        headers_sealed: state.cipher.seal_json(&headers),
        auth_sealed: state.cipher.seal_json(&auth_config),
    };
    match state.store.insert_integration(&auth.tenant, &stored).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(name_taken(&stored.integration.name)),
        Err(e) => return Err(e.into()),
    }
    state.mcp_sessions.tools_changed(&auth.tenant);
    Ok((
        StatusCode::CREATED,
        Json(Data {
            data: stored.integration,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/integrations", tag = TAG, params(ListIntegrationsQuery),
    responses((status = 200, body = List<Integration>), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiQuery(query): ApiQuery<ListIntegrationsQuery>,
) -> ApiResult<Json<List<Integration>>> {
    let page = page_request(query.limit.as_deref(), query.cursor.as_deref(), |c| {
        IntegrationId::parse(c).map(|id| id.to_string())
    })?;
    let filter = IntegrationFilter {
        name: query.name,
        include_disconnected: parse_bool(
            "includeDisconnected",
            query.include_disconnected.as_deref(),
        )?
        .unwrap_or(false),
    };
    let page = state
        .store
        .list_integrations(&auth.tenant, &filter, &page)
        .await?;
    Ok(Json(List::from_page(page, |i| i.id.to_string())))
}

#[utoipa::path(get, path = "/v1/integrations/{id}", tag = TAG, params(("id" = String, Path)),
    responses((status = 200, body = Data<Integration>), (status = 404, body = ErrorBody),
              (status = 410, description = "Disconnected (`integration_disconnected`).", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(integration = %id))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Data<Integration>>> {
    let stored = load_connected(&state, &auth.tenant, &id).await?;
    Ok(Json(Data {
        data: stored.integration,
    }))
}

#[utoipa::path(patch, path = "/v1/integrations/{id}", tag = TAG, params(("id" = String, Path)), request_body = UpdateIntegration,
    responses((status = 200, body = Data<UpdatedIntegration>), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
              (status = 409, description = "An `Idempotency-Key` conflict.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(integration = %id))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateIntegration>,
) -> ApiResult<Json<Data<UpdatedIntegration>>> {
    let stored = load_connected(&state, &auth.tenant, &id).await?;
    let current = &stored.integration;
    let mut patch = IntegrationPatch {
        name: body
            .name
            .as_deref()
            .map(|n| fields::parse_name("name", n))
            .transpose()?,
        method: body
            .method
            .as_deref()
            .map(|m| HttpMethod::parse("method", m))
            .transpose()?,
        content_type: body
            .content_type
            .as_deref()
            .map(|c| fields::parse_content_type("contentType", c))
            .transpose()?,
        timeout_ms: body
            .timeout_ms
            .map(|t| fields::parse_timeout("timeoutMs", t.0))
            .transpose()?,
        description: body
            .description
            .as_ref()
            .map(|d| match d.as_deref() {
                Some(text) => policy::parse_description("description", text),
                None => Ok(None),
            })
            .transpose()?,
        allowed_methods: body
            .allowed_methods
            .as_ref()
            .map(|m| match m {
                Some(raw) => policy::parse_methods("allowedMethods", raw).map(Some),
                None => Ok(None),
            })
            .transpose()?,
        allowed_path_prefixes: body
            .allowed_path_prefixes
            .as_deref()
            .map(|p| policy::parse_path_prefixes("allowedPathPrefixes", p))
            .transpose()?,
        allow_caller_headers: body.allow_caller_headers,
        ..IntegrationPatch::default()
    };
    if let Some(headers) = &body.headers {
        HeaderList::parse("headers", headers)?;
        patch.headers = Some(Sealed {
            sealed: state.cipher.seal_json(headers),
            view: header_views(headers),
        });
    }
    if let Some(raw) = &body.auth {
        let config = AuthConfig::parse("auth", raw)?;
        if let Some(credentials) = config.oauth2() {
            check_token_url(&state, "auth", credentials).await?;
        }
        patch.auth = Some(Sealed {
            sealed: state.cipher.seal_json(&config),
            view: config.view(),
        });
    }
    let auth_view = patch.auth.as_ref().map_or(&current.auth, |a| &a.view);
    let header_names = patch.headers.as_ref().map_or(&current.headers, |h| &h.view);
    check_auth_vs_headers(auth_view, header_names.keys())?;
    // The masked URL sent back unchanged (e.g. by an edit form) keeps the stored one.
    let new_url = match body.url.as_deref().filter(|raw| *raw != current.url) {
        Some(raw) => Some(parse_url(&state, raw).await?),
        None => None,
    };
    patch.url = url_credentials::patched(
        &state.cipher,
        "secretQueryParams",
        &stored.url_sealed,
        new_url,
        body.secret_query_params.as_deref(),
    )?;

    let credentials_kept = (patch.auth.is_none() && current.auth.has_credentials())
        || (patch.headers.is_none() && !current.headers.is_empty());
    let integration_id = parse_id(&id)?;
    let updated = if patch.is_empty() {
        stored.integration
    } else {
        match state
            .store
            .update_integration(&auth.tenant, &integration_id, &patch, Timestamp::now())
            .await
        {
            Ok(Some(updated)) => updated,
            // Disconnected between our read and the update.
            Ok(None) => {
                return Err(load_connected(&state, &auth.tenant, &id)
                    .await
                    .err()
                    .unwrap_or_else(|| ApiError::not_found("integration", &id)))
            }
            Err(StoreError::Conflict(_)) => {
                return Err(name_taken(patch.name.as_deref().unwrap_or_default()))
            }
            Err(e) => return Err(e.into()),
        }
    };
    state.mcp_sessions.tools_changed(&auth.tenant);
    Ok(Json(Data {
        data: UpdatedIntegration {
            integration: updated,
            credentials_kept,
        },
    }))
}

#[utoipa::path(delete, path = "/v1/integrations/{id}", tag = TAG, params(("id" = String, Path)),
    responses((status = 200, description = "Disconnected: later requests on this id answer 410.", body = Data<Deleted>),
              (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(integration = %id))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Data<Deleted>>> {
    let stored = load_connected(&state, &auth.tenant, &id).await?;
    let integration_id = stored.integration.id.clone();
    if !state
        .store
        .disconnect_integration(&auth.tenant, &integration_id, Timestamp::now())
        .await?
    {
        // Someone else disconnected it first: answer as if we came second.
        return Err(load_connected(&state, &auth.tenant, &id)
            .await
            .err()
            .unwrap_or_else(|| ApiError::not_found("integration", &id)));
    }
    state.mcp_sessions.tools_changed(&auth.tenant);
    Ok(Json(Data {
        data: Deleted {
            id: integration_id.to_string(),
            deleted: true,
        },
    }))
}
