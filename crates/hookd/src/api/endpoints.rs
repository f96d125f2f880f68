//! `/v1/webhook-endpoints`: create, list, get, update, delete and rotate the secret.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::auth::Authed;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{double_option, non_null, ApiJson, ApiPath, ApiQuery};
use super::pagination::{page_request, parse_bool, Data, List};
use super::AppState;
use crate::domain::endpoint::{self, Endpoint, EndpointPatch, NewEndpoint};
use crate::domain::ids::EndpointId;
use crate::domain::integration::Sealed;
use crate::domain::oauth2::{self, ClientCredentials, EndpointAuth, EndpointAuthInput};
use crate::domain::parse_name;
use crate::domain::secret::{KeyRing, SigningSecret};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::{EndpointFilter, StoredEndpoint};

pub const TAG: &str = "Webhook endpoints";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEndpoint {
    /// 1–128 characters.
    #[schema(example = "Production CRM")]
    pub name: String,
    /// Absolute https URL, at most 1024 characters.
    #[schema(example = "https://hooks.example.com/scripe")]
    pub url: String,
    /// At least one type from the event catalog; duplicates are removed.
    #[schema(example = json!(["post.created", "job.completed"]))]
    pub events: Vec<String>,
    /// Only events of this project are delivered; `null` delivers every project's events.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Optional OAuth2 client credentials: deliveries then also carry
    /// `Authorization: Bearer <token>` (see docs/oauth2.md). `clientSecret` is write-only.
    #[serde(default)]
    #[schema(value_type = Option<EndpointAuthInput>)]
    pub auth: Option<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateEndpoint {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub events: Option<Vec<String>>,
    /// `null` removes the project scope.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub project_id: Option<Option<String>>,
    /// `false` disables with `disabledReason: "manual"`; `true` re-enables and resumes delivery.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// Replaces the auth; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<EndpointAuthInput>)]
    pub auth: Option<Option<Value>>,
}

/// `WebhookEndpoint` plus the plaintext `secret`: only in the create and rotate answers.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_` + 64 lowercase hex characters. Shown once; store it now.
    #[schema(example = "whsec_4f9d3b6a1e2c8f0d7b5a4e9c2d1f8a3b6c5e0d9f2a1b4c7e8d3f6a5b2c1e0d4f")]
    pub secret: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListEndpointsQuery {
    /// 1–100, default 20.
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    pub project_id: Option<String>,
    /// `true` or `false`.
    pub is_active: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

pub(super) fn parse_endpoint_id(raw: &str) -> ApiResult<EndpointId> {
    EndpointId::parse(raw).map_err(|_| ApiError::not_found("webhook endpoint", raw))
}

/// Loads an endpoint of the caller's tenant or answers 404.
pub(super) async fn load(
    state: &AppState,
    tenant: &Tenant,
    raw_id: &str,
) -> ApiResult<StoredEndpoint> {
    let id = parse_endpoint_id(raw_id)?;
    state
        .store
        .get_endpoint(tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint", raw_id))
}

/// Parses a destination URL and applies the egress policy (400 `url_not_allowed`).
pub(super) async fn parse_destination(state: &AppState, param: &str, raw: &str) -> ApiResult<Url> {
    let url = endpoint::parse_url(param, raw)?;
    state
        .egress
        .policy()
        .check_destination(&url)
        .await
        .map_err(|refusal| ApiError::UrlNotAllowed {
            param: param.to_string(),
            message: refusal.to_string(),
        })?;
    Ok(url)
}

/// Checks a token URL against the egress policy, like every other destination (400
/// `url_not_allowed` naming `param`).
pub(super) async fn check_token_url(
    state: &AppState,
    param: &str,
    credentials: &ClientCredentials,
) -> ApiResult<()> {
    parse_destination(state, &format!("{param}.tokenUrl"), &credentials.token_url).await?;
    Ok(())
}

/// An endpoint's `auth`, parsed, checked and sealed.
async fn parse_auth(state: &AppState, raw: &Value) -> ApiResult<Sealed<EndpointAuth>> {
    let credentials = oauth2::parse_endpoint_auth("auth", raw)?;
    check_token_url(state, "auth", &credentials).await?;
    Ok(Sealed {
        sealed: state.cipher.seal_json(&credentials),
        view: EndpointAuth::OAuth2ClientCredentials(credentials.view()),
    })
}

#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = TAG, request_body = CreateEndpoint,
    responses((status = 201, description = "Endpoint created. The answer carries the plaintext secret.", body = Data<EndpointWithSecret>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<Data<EndpointWithSecret>>)> {
    let new = NewEndpoint {
        name: parse_name("name", &body.name, endpoint::NAME_MAX)?,
        events: state.catalog.parse_subscription("events", &body.events)?,
        project_id: endpoint::parse_project_id("projectId", body.project_id.as_deref())?,
        url: parse_destination(&state, "url", &body.url).await?,
    };
    let endpoint_auth = match &body.auth {
        Some(raw) => Some(parse_auth(&state, raw).await?),
        None => None,
    };
    let secret = SigningSecret::generate();
    let now = Timestamp::now();
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        url: new.url.to_string(),
        name: new.name,
        events: new.events,
        is_active: true,
        disabled_reason: None,
        project_id: new.project_id,
        secret_last4: secret.last4(),
        created_at: now,
        updated_at: now,
        auth: endpoint_auth.as_ref().map(|a| a.view.clone()),
    };
    let stored = StoredEndpoint {
        signing_keys: state.cipher.seal_json(&KeyRing::new(secret.clone())),
        endpoint,
        auth_sealed: endpoint_auth.map(|a| a.sealed).unwrap_or_default(),
    };
    state.store.insert_endpoint(&auth.tenant, &stored).await?;
    let body = EndpointWithSecret {
        endpoint: stored.endpoint,
        secret: secret.expose().to_string(),
    };
    Ok((StatusCode::CREATED, Json(Data { data: body })))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = TAG, params(ListEndpointsQuery),
    responses((status = 200, body = List<Endpoint>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiQuery(query): ApiQuery<ListEndpointsQuery>,
) -> ApiResult<Json<List<Endpoint>>> {
    let page = page_request(query.limit.as_deref(), query.cursor.as_deref(), |c| {
        EndpointId::parse(c).map(|id| id.to_string())
    })?;
    let filter = EndpointFilter {
        project_id: query.project_id,
        is_active: parse_bool("isActive", query.is_active.as_deref())?,
    };
    let page = state
        .store
        .list_endpoints(&auth.tenant, &filter, &page)
        .await?;
    Ok(Json(List::from_page(page, |e| e.id.to_string())))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = TAG, params(("id" = String, Path)),
    responses((status = 200, body = Data<Endpoint>), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Data<Endpoint>>> {
    let stored = load(&state, &auth.tenant, &id).await?;
    Ok(Json(Data {
        data: stored.endpoint,
    }))
}

#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = TAG, params(("id" = String, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = Data<Endpoint>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> ApiResult<Json<Data<Endpoint>>> {
    let endpoint_id = parse_endpoint_id(&id)?;
    let patch = EndpointPatch {
        name: body
            .name
            .as_deref()
            .map(|n| parse_name("name", n, endpoint::NAME_MAX))
            .transpose()?,
        events: body
            .events
            .as_deref()
            .map(|e| state.catalog.parse_subscription("events", e))
            .transpose()?,
        project_id: body
            .project_id
            .map(|p| endpoint::parse_project_id("projectId", p.as_deref()))
            .transpose()?,
        is_active: body.is_active,
        url: match body.url.as_deref() {
            Some(raw) => Some(parse_destination(&state, "url", raw).await?),
            None => None,
        },
        auth: match &body.auth {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => Some(Some(parse_auth(&state, raw).await?)),
        },
    };
    let updated = if patch.is_empty() {
        load(&state, &auth.tenant, &id).await?.endpoint
    } else {
        state
            .store
            .update_endpoint(&auth.tenant, &endpoint_id, &patch, Timestamp::now())
            .await?
            .ok_or_else(|| ApiError::not_found("webhook endpoint", &id))?
    };
    if patch.is_active == Some(true) {
        state.engine.endpoint_reactivated(&updated.id);
    } else {
        state.engine.endpoint_changed(&updated.id);
    }
    Ok(Json(Data { data: updated }))
}

#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = TAG, params(("id" = String, Path)),
    responses((status = 200, body = Data<Deleted>), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Data<Deleted>>> {
    let endpoint_id = parse_endpoint_id(&id)?;
    if !state
        .store
        .delete_endpoint(&auth.tenant, &endpoint_id, Timestamp::now())
        .await?
    {
        return Err(ApiError::not_found("webhook endpoint", &id));
    }
    state.engine.endpoint_changed(&endpoint_id);
    Ok(Json(Data {
        data: Deleted {
            id: endpoint_id.to_string(),
            deleted: true,
        },
    }))
}

#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = TAG, params(("id" = String, Path)),
    responses((status = 200, description = "The new secret; the previous one keeps signing for the grace period.", body = Data<EndpointWithSecret>),
              (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Data<EndpointWithSecret>>> {
    let endpoint_id = parse_endpoint_id(&id)?;
    let grace_ms =
        i64::try_from(state.config.rotation_grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    // Compare-and-swap loop: a concurrent rotation makes us re-read and rotate on top of it.
    for _ in 0..8 {
        let stored = load(&state, &auth.tenant, &id).await?;
        let ring: KeyRing = state
            .cipher
            .open_json(&stored.signing_keys)
            .map_err(|e| ApiError::Internal(e.into()))?;
        let secret = SigningSecret::generate();
        let now = Timestamp::now();
        let rotated = ring.rotate(secret.clone(), now.as_millis(), grace_ms);
        let sealed = state.cipher.seal_json(&rotated);
        let swapped = state
            .store
            .swap_signing_keys(
                &auth.tenant,
                &endpoint_id,
                &stored.signing_keys,
                &sealed,
                &secret.last4(),
                now,
            )
            .await?;
        if swapped {
            let mut endpoint = stored.endpoint;
            endpoint.secret_last4 = secret.last4();
            endpoint.updated_at = now;
            state.engine.endpoint_changed(&endpoint.id);
            return Ok(Json(Data {
                data: EndpointWithSecret {
                    endpoint,
                    secret: secret.expose().to_string(),
                },
            }));
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "secret rotation kept racing with concurrent rotations"
    )))
}
