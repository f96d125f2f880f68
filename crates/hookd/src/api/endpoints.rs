//! `/v1/webhook-endpoints`: create, list, get, update, delete and rotate the secret.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::auth::Authed;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{double_option, non_null, ApiJson, ApiPath, ApiQuery, Whole};
use super::pagination::{page_request, parse_bool, Data, List};
use super::AppState;
use crate::domain::annotations;
use crate::domain::endpoint::{self, Endpoint, EndpointPatch, NewEndpoint};
use crate::domain::filter::Filter;
use crate::domain::ids::EndpointId;
use crate::domain::integration::Sealed;
use crate::domain::oauth2::{self, ClientCredentials, EndpointAuth, EndpointAuthInput};
use crate::domain::parse_name;
use crate::domain::rate_limit;
use crate::domain::secret::{KeyRing, SigningSecret};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::domain::url_credentials;
use crate::store::{EndpointFilter, StoredEndpoint};

pub const TAG: &str = "Webhook endpoints";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEndpoint {
    /// 1–128 characters, not only spaces, no control characters.
    #[schema(example = "Production CRM")]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Absolute https URL, at most 1024 characters.
    #[schema(example = "https://hooks.example.com/scripe", max_length = 1024)]
    pub url: String,
    /// At least one type from the event catalog; duplicates are removed.
    #[schema(example = json!(["post.created", "job.completed"]))]
    pub events: Vec<String>,
    /// Only events of this project are delivered; `null` delivers every project's events.
    /// 1–128 characters, no control characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub project_id: Option<String>,
    /// Free text for people, at most 1024 characters (default `""`).
    #[serde(default)]
    #[schema(
        example = "Orders for the CRM team",
        max_length = 1024,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// String → string pairs: at most 50 keys of 1–40 characters, values up to 500 characters.
    #[serde(default)]
    #[schema(example = json!({"team": "crm"}))]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Query parameters of `url` whose values are credentials (e.g. `["token"]`): sealed at
    /// rest and shown as `****` in every read, still sent with every delivery. At most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub secret_query_params: Vec<String>,
    /// Optional OAuth2 client credentials: deliveries then also carry
    /// `Authorization: Bearer <token>` (see docs/oauth2.md). `clientSecret` is write-only.
    #[serde(default)]
    #[schema(value_type = Option<EndpointAuthInput>)]
    pub auth: Option<Value>,
    /// A CEL expression over the event (`type`, `projectId`, `data`), at most 4096 bytes: only
    /// events for which it is true are delivered here. Checked at once (400 `invalid_request`,
    /// `param: "filter"`); see docs/filters-and-rate-limits.md for the rules.
    #[serde(default)]
    #[schema(example = "data.amount > 100 && data.currency == \"EUR\"")]
    pub filter: Option<String>,
    /// Attempts to this endpoint are paced to at most this many per second (1–1000), evenly
    /// spaced. Absent or `null`: no limit.
    #[serde(default)]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub rate_limit_per_sec: Option<Whole>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateEndpoint {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, max_length = 1024)]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub events: Option<Vec<String>>,
    /// `null` removes the project scope.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub project_id: Option<Option<String>>,
    /// Replaces the secret query parameters (of the new `url`, or of the current one).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, max_items = 20)]
    pub secret_query_params: Option<Vec<String>>,
    /// `false` disables with `disabledReason: "manual"`; `true` re-enables and resumes delivery.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// `""` removes the description.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(
        nullable = false,
        max_length = 1024,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// Replaces the whole map; `{}` removes every pair.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Replaces the auth; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<EndpointAuthInput>)]
    pub auth: Option<Option<Value>>,
    /// A CEL filter as on create; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub filter: Option<Option<String>>,
    /// 1–1000 attempts per second; `null` removes the limit.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub rate_limit_per_sec: Option<Option<Whole>>,
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
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    pub project_id: Option<String>,
    /// `true` or `false`.
    #[param(value_type = Option<bool>)]
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

/// The URL a PATCH stores, sealed: the new `url` (checked by the egress policy), or the current
/// one when only `secretQueryParams` changes; its secret parameters the new list, or those of
/// the current URL still present in the new one. `None` when neither field was sent.
async fn patched_url(
    state: &AppState,
    tenant: &Tenant,
    id: &EndpointId,
    raw_url: Option<&str>,
    secret_params: Option<&[String]>,
) -> ApiResult<Option<Url>> {
    if raw_url.is_none() && secret_params.is_none() {
        return Ok(None);
    }
    // The caller's endpoint (404 otherwise); then its stored URL, sealed values included.
    let endpoint = load(state, tenant, id.as_str()).await?;
    // The URL as every read shows it (credentials masked), sent back unchanged, e.g. by an edit
    // form that only changed the name: it keeps the stored URL rather than storing the mask.
    let raw_url = raw_url.filter(|raw| *raw != endpoint.endpoint.url);
    if raw_url.is_none() && secret_params.is_none() {
        return Ok(None);
    }
    let Some(current) = state.store.dispatch_target(id).await? else {
        // Deleted meanwhile: the update itself answers 404.
        return Ok(None);
    };
    let new_url = match raw_url {
        Some(raw) => Some(parse_destination(state, "url", raw).await?),
        None => None,
    };
    Ok(url_credentials::patched(
        &state.cipher,
        "secretQueryParams",
        &current.url,
        new_url,
        secret_params,
    )?)
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

/// Checks a filter (`None`: no filter); the stored value is the source, compiled when used.
fn parse_filter(raw: Option<&str>) -> ApiResult<Option<String>> {
    Ok(raw
        .map(Filter::parse)
        .transpose()?
        .map(|f| f.source().to_string()))
}

fn parse_rate(raw: Option<Whole>) -> ApiResult<Option<u32>> {
    Ok(raw
        .map(|r| rate_limit::parse_rate("rateLimitPerSec", r.unsigned()))
        .transpose()?)
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
        filter: parse_filter(body.filter.as_deref())?,
        rate_limit_per_sec: parse_rate(body.rate_limit_per_sec)?,
        description: annotations::parse_description(
            "description",
            body.description.as_deref().unwrap_or(""),
        )?,
        metadata: annotations::parse_metadata("metadata", &body.metadata.unwrap_or_default())?,
        url: parse_destination(&state, "url", &body.url).await?,
    };
    let secret_params = url_credentials::parse_secret_params(
        "secretQueryParams",
        &new.url,
        &body.secret_query_params,
    )?;
    let endpoint_auth = match &body.auth {
        Some(raw) => Some(parse_auth(&state, raw).await?),
        None => None,
    };
    endpoint::check_one_authorization(&new.url, endpoint_auth.is_some())?;
    let secret = SigningSecret::generate();
    let now = Timestamp::now();
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        // A password and secret query values are sealed before they are stored, never shown.
        url: url_credentials::seal_params(&state.cipher, &new.url, &secret_params).to_string(),
        secret_query_params: secret_params,
        name: new.name,
        events: new.events,
        is_active: true,
        disabled_reason: None,
        project_id: new.project_id,
        filter: new.filter,
        rate_limit_per_sec: new.rate_limit_per_sec,
        secret_last4: secret.last4(),
        description: new.description,
        metadata: new.metadata,
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
    let mut endpoint = stored.endpoint;
    endpoint.url = url_credentials::masked(&endpoint.url);
    let body = EndpointWithSecret {
        endpoint,
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
        filter: body
            .filter
            .map(|f| parse_filter(f.as_deref()))
            .transpose()?,
        rate_limit_per_sec: body.rate_limit_per_sec.map(parse_rate).transpose()?,
        description: body
            .description
            .as_deref()
            .map(|d| annotations::parse_description("description", d))
            .transpose()?,
        metadata: body
            .metadata
            .as_ref()
            .map(|m| annotations::parse_metadata("metadata", m))
            .transpose()?,
        url: patched_url(
            &state,
            &auth.tenant,
            &endpoint_id,
            body.url.as_deref(),
            body.secret_query_params.as_deref(),
        )
        .await?,
        auth: match &body.auth {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => Some(Some(parse_auth(&state, raw).await?)),
        },
    };
    if patch.url.is_some() || matches!(patch.auth, Some(Some(_))) {
        // What the endpoint would be: the patched URL and auth, or the stored ones.
        let current = load(&state, &auth.tenant, &id).await?.endpoint;
        let url = match &patch.url {
            Some(url) => url.clone(),
            None => Url::parse(&current.url).map_err(|e| ApiError::Internal(e.into()))?,
        };
        let has_auth = match &patch.auth {
            Some(auth) => auth.is_some(),
            None => current.auth.is_some(),
        };
        endpoint::check_one_authorization(&url, has_auth)?;
    }
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
