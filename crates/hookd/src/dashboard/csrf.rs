//! State-changing forms: the body is read within the API's size limit, parsed as
//! `application/x-www-form-urlencoded`, and accepted only with the session's CSRF token.
//!
//! The token is random per session and sealed inside the `HttpOnly` cookie, so a page on another
//! site can neither read it nor guess it; `SameSite=Strict` is a second, independent guard. A
//! read-only session (a read-only portal) is refused here, whatever the form, so no page has to
//! remember to check.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::errors::DashError;
use super::session::Session;
use crate::api::AppState;

#[cfg(test)]
mod props;

/// The name of the hidden field carrying the token.
pub const FIELD: &str = "_csrf";

/// The fields of a submitted form, in order (names may repeat, as in header rows).
#[derive(Debug, Default, Clone)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value named `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value named `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A form posted by a signed-in, writable session with a valid CSRF token.
pub struct CsrfForm {
    pub session: Session,
    pub fields: Fields,
}

/// Whether `submitted` is the session's token (compared in constant time).
pub fn token_matches(session: &Session, submitted: &str) -> bool {
    !submitted.is_empty() && bool::from(session.csrf.as_bytes().ct_eq(submitted.as_bytes()))
}

/// Reads a form body: 415 for another content type, 413 over the limit, both as pages.
pub async fn read_fields(request: Request, state: &Arc<AppState>) -> Result<Fields, Response> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(DashError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Not a form",
            "Send this form from the dashboard page (as application/x-www-form-urlencoded).",
        )
        .into_response());
    }
    let body = Bytes::from_request(request, state).await.map_err(|_| {
        DashError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too large",
            format!(
                "The form is larger than the {}-byte limit; shorten the longest field and try again.",
                state.config.max_body_bytes
            ),
        )
        .into_response()
    })?;
    Ok(Fields::parse(&body))
}

impl FromRequest<Arc<AppState>> for CsrfForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let fields = read_fields(Request::from_parts(parts, body), state).await?;
        if !token_matches(&session, fields.get(FIELD)) {
            return Err(DashError::forbidden(
                "This form could not be verified (its security token is missing or out of date). \
                 Reload the page and submit it again.",
            )
            .into_response());
        }
        if session.scope.read_only {
            return Err(DashError::forbidden(
                "This session is read-only: it can look, but not change anything.",
            )
            .into_response());
        }
        Ok(Self { session, fields })
    }
}
