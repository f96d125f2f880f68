//! `POST /v1/portal-sessions`: a one-time sign-in link to the customer portal (the dashboard,
//! limited to the caller's workspace and mode, optionally to one project, optionally
//! read-only). A host application creates one per customer visit and hands over the URL, or
//! puts it in an `<iframe>` (docs/dashboard.md). Redeeming it is the dashboard's business.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Authed;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use super::pagination::Data;
use super::AppState;
use crate::domain::endpoint;
use crate::domain::portal::{self, NewPortalLink, PortalScope};
use crate::domain::time::Timestamp;

pub const TAG: &str = "Portal";

/// Where a link is redeemed: `{public address}/portal/{token}`.
pub const REDEEM_PATH: &str = "/portal/";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePortalSession {
    /// How long the link (and the portal session it opens) lasts: 60–604800 seconds (7 days),
    /// default 3600.
    #[serde(default)]
    #[schema(example = 3600, minimum = 60, maximum = 604800)]
    #[schema(value_type = Option<u64>)]
    pub expires_in_secs: Option<super::extract::Whole>,
    /// Limit the portal to this project's endpoints and the events they receive. The project
    /// must be known to the workspace and mode (an endpoint or an event names it), else 404.
    #[serde(default)]
    #[schema(example = "proj_a1b2c3d4e5f6g7h8")]
    pub project_id: Option<String>,
    /// Hide every change: the portal only shows (default `false`).
    #[serde(default)]
    pub read_only: Option<bool>,
}

/// A portal link: open it once, before `expiresAt`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortalSession {
    /// The one-time sign-in URL. Treat it as a secret until it is used.
    #[schema(example = "https://hooks.example.com/portal/hpt_…")]
    pub url: String,
    /// When the link stops working, and the portal session it opened ends.
    #[schema(value_type = String, example = "2026-08-01T13:00:00Z")]
    pub expires_at: Timestamp,
}

/// The address a link is built on: the configured public URL, else the request's `Host`.
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(configured) = &state.config.public_url {
        return configured.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| state.config.listen.to_string(), str::to_string);
    format!("http://{host}")
}

#[utoipa::path(post, path = "/v1/portal-sessions", tag = TAG, request_body = CreatePortalSession,
    responses((status = 201, description = "A one-time sign-in link to the customer portal.", body = Data<PortalSession>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, description = "`projectId` names no project of this workspace and mode.", body = ErrorBody)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreatePortalSession>,
) -> ApiResult<(StatusCode, Json<Data<PortalSession>>)> {
    let expires_in =
        portal::parse_expires_in("expiresInSecs", body.expires_in_secs.map(|w| w.unsigned()))?;
    let project_id = endpoint::parse_project_id("projectId", body.project_id.as_deref())?;
    if let Some(project) = &project_id {
        if !state.store.project_exists(&auth.tenant, project).await? {
            return Err(ApiError::NotFound {
                param: Some("projectId".into()),
                message: format!(
                    "No project {:?} in this workspace and mode: no endpoint or event names it.",
                    project.chars().take(80).collect::<String>()
                ),
            });
        }
    }
    let now = Timestamp::now();
    let scope = PortalScope {
        tenant: auth.tenant.clone(),
        // Read back from the workspace when the link is redeemed.
        workspace_name: String::new(),
        project_id,
        read_only: body.read_only.unwrap_or(false),
        expires_at: portal::expiry(now, expires_in),
    };
    let link = NewPortalLink::generate(scope, now);
    state.store.insert_portal_link(&link).await?;
    let url = format!(
        "{}{REDEEM_PATH}{}",
        public_base(&state, &headers),
        link.token
    );
    Ok((
        StatusCode::CREATED,
        Json(Data {
            data: PortalSession {
                url,
                expires_at: link.scope.expires_at,
            },
        }),
    ))
}
