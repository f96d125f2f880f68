//! One module per page group; each declares its routes with `page_routes!` (its `routes()` and
//! `ROUTES`), gathered here by `groups!`. Shared pieces: form controls (`form_fields.rs`) and
//! [`settings_caller`].

pub mod api_keys;
pub mod charts;
pub mod deliveries;
pub mod endpoint_controls;
pub mod endpoint_detail;
pub mod endpoint_edit;
pub mod endpoints;
pub mod events;
pub mod form_fields;
pub mod integration_form;
pub mod integration_try;
pub mod integrations;
pub mod scope;

use std::sync::Arc;

use axum::Router;
use serde::Deserialize;

use super::errors::{DashError, DashResult};
use super::route_table::PageRoute;
use super::session::Session;
use crate::api::auth::Authed;
use crate::api::AppState;

/// The page groups with routes, listed once: their routers and their route tables.
macro_rules! groups {
    ($($group:ident),+) => {
        /// Every page group's routes.
        pub fn routes() -> Router<Arc<AppState>> {
            Router::new()$(.merge($group::routes()))+
        }

        /// Every page group's routes as data (see `dashboard/route_table.rs`).
        pub fn route_table() -> Vec<PageRoute> {
            [$($group::ROUTES),+].concat()
        }
    };
}

groups!(
    endpoints,
    endpoint_detail,
    endpoint_edit,
    deliveries,
    events,
    integrations,
    api_keys
);

/// The caller of a Settings page: only sessions opened with an API key manage integrations and
/// keys (a portal session is limited to endpoints and events).
pub fn settings_caller(session: &Session) -> DashResult<Authed> {
    session.scope.authed().ok_or_else(|| {
        DashError::forbidden(
            "Settings are managed by the workspace's team, signed in with an API key.",
        )
    })
}

/// An id in a page's path. A path segment that is not even UTF-8 (`%ff`) is a page that does not
/// exist (404 page), not axum's plain-text 400.
pub struct PathId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = DashError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| Self(id))
            .map_err(|_| DashError::not_found())
    }
}

/// `?notice=…` after a redirect: a fixed code mapped to a fixed sentence (never echoed text).
#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

impl NoticeQuery {
    pub fn text(&self, known: &[(&str, &'static str)]) -> Option<&'static str> {
        let code = self.notice.as_deref()?;
        known
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, text)| *text)
    }
}
