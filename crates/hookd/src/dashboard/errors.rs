//! How failures look in the dashboard.
//!
//! Two kinds: a failure of the whole page ([`DashError`], rendered as a short page with the
//! status the API would have used), and validation failures of a form ([`FormErrors`]), shown
//! next to the field the API named in `param`. Both take the API's own [`ApiError`], so the
//! dashboard shows the same messages as the API and never invents its own rules.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout;
use crate::api::error::ApiError;

/// A page that cannot be shown.
#[derive(Debug)]
pub struct DashError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl DashError {
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here. It may have been removed, or it belongs to another workspace or mode.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Not allowed", message)
    }
}

impl From<ApiError> for DashError {
    fn from(error: ApiError) -> Self {
        let status = error.status();
        if status.is_server_error() {
            // Logged (with its cause chain) the way the API logs it; the page gets the sentence.
            let logged = error.into_response();
            return Self::new(
                logged.status(),
                "Something went wrong",
                "hookd could not finish this request; it was logged. Try again in a moment.",
            );
        }
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::GONE => "No longer available",
            StatusCode::PAYLOAD_TOO_LARGE => "Too large",
            _ => "Request refused",
        };
        Self::new(status, title, error.to_string())
    }
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let body = layout::bare(
            self.title,
            html! {
                main class="bare" {
                    div class="card narrow" {
                        h1 { (self.title) }
                        p { (self.message) }
                        p { a class="button" href="/" { "Back to the dashboard" } }
                    }
                }
            },
        );
        (self.status, body).into_response()
    }
}

pub type DashResult<T> = Result<T, DashError>;

/// Validation failures of one form: at most one message per field, plus any not tied to one.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    fields: Vec<(String, String)>,
    general: Vec<String>,
}

impl FormErrors {
    /// A field's error, `param` being the API's name for it (`timeoutMs`, `auth.token`,
    /// `headers.X-Api-Key`).
    pub fn field(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            fields: vec![(param.into(), message.into())],
            general: Vec::new(),
        }
    }

    /// Sorts an API error: a 4xx naming a field goes beside it, another 4xx on top of the form;
    /// a 5xx stays a page error.
    pub fn from_api(error: ApiError) -> Result<Self, DashError> {
        if error.status().is_server_error() {
            return Err(error.into());
        }
        let message = error.to_string();
        Ok(match error {
            ApiError::InvalidRequest {
                param: Some(param), ..
            }
            | ApiError::NotFound {
                param: Some(param), ..
            }
            | ApiError::UrlNotAllowed { param, .. } => Self::field(param, message),
            _ => Self {
                fields: Vec::new(),
                general: vec![message],
            },
        })
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    /// The message for a field whose API name is `param` or starts with `param.`
    /// (so `headers` collects `headers.X-Api-Key`).
    pub fn for_param(&self, param: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(p, _)| {
                p == param
                    || p.strip_prefix(param)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
            .map(|(_, m)| m.as_str())
    }

    /// Messages not shown beside any of `known` fields (shown above the form).
    pub fn unplaced<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        let stray = self.fields.iter().filter(|(p, _)| {
            !known.iter().any(|k| {
                p == k
                    || p.strip_prefix(k)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
        });
        self.general
            .iter()
            .map(String::as_str)
            .chain(stray.map(|(_, m)| m.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_land_beside_their_field() {
        let errors = FormErrors::from_api(ApiError::invalid("headers.X-Key", "bad value")).unwrap();
        assert_eq!(errors.for_param("headers"), Some("bad value"));
        assert_eq!(errors.for_param("head"), None);
        assert!(errors.unplaced(&["headers"]).is_empty());
        assert_eq!(errors.unplaced(&["url"]), vec!["bad value"]);
    }

    #[test]
    fn server_errors_stay_page_errors() {
        let error = ApiError::Internal(anyhow::anyhow!("boom"));
        assert!(FormErrors::from_api(error).is_err());
    }
}
