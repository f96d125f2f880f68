//! One module per page group; each exposes `routes()`, merged here. Shared pieces: form
//! controls (`form_fields.rs`) and [`settings_caller`].

pub mod api_keys;
pub mod form_fields;
pub mod integration_form;
pub mod integration_try;
pub mod integrations;

use std::sync::Arc;

use axum::Router;
use serde::Deserialize;

use super::errors::{DashError, DashResult};
use super::session::Session;
use crate::api::auth::Authed;
use crate::api::AppState;

/// Every page group's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(integrations::routes())
        .merge(api_keys::routes())
}

/// The caller of a Settings page: only sessions opened with an API key manage integrations and
/// keys (a portal session is limited to endpoints and events).
pub fn settings_caller(session: &Session) -> DashResult<Authed> {
    session.scope.authed().ok_or_else(|| {
        DashError::forbidden(
            "Settings are managed by the workspace's team, signed in with an API key.",
        )
    })
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
