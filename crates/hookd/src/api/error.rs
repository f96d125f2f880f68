//! The one API error type and its JSON shape.
//!
//! Every non-2xx answer is `{"error": {"code", "message", "param"}}`. The status is derived from
//! the variant; 5xx causes are logged with their whole `source()` chain and never sent.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::{url_credentials, FieldError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidRequest {
        param: Option<String>,
        message: String,
    },
    #[error("{message}")]
    UrlNotAllowed { param: String, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{message}")]
    NotFound {
        param: Option<String>,
        message: String,
    },
    #[error("This Idempotency-Key was already used with a different request; use a new key for a new request.")]
    IdempotencyConflict,
    #[error(
        "A request with this Idempotency-Key is still being processed; retry after it completes."
    )]
    IdempotencyInProgress,
    #[error("The request body is larger than the {limit}-byte limit.")]
    PayloadTooLarge { limit: usize },
    #[error("Send the request body as JSON with `Content-Type: application/json`.")]
    UnsupportedMediaType,
    #[error("Scripe-Api-Version {0:?} is not supported; supported versions: {supported}.", supported = super::version::SUPPORTED.join(", "))]
    VersionUnsupported(String),
    #[error("Too many requests for this API key; retry after {retry_after_secs} s.")]
    RateLimited { retry_after_secs: u64 },
    /// Too many failed authentications from the caller's address (see `api/auth_throttle.rs`).
    #[error(
        "Too many failed authentications from this address; retry after {retry_after_secs} s."
    )]
    AuthThrottled { retry_after_secs: u64 },
    /// The request body did not arrive within the body read timeout (`http_body_timeout_ms`).
    #[error("The request body did not arrive in time; send it again, faster.")]
    RequestTimeout,
    #[error("This route does not accept that HTTP method.")]
    MethodNotAllowed,
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// A call the integration's call policy does not allow; `rule` names the setting.
    #[error("{message}")]
    CallNotAllowed { rule: &'static str, message: String },
    /// The delivery exists (and is shown) but can no longer be attempted: its endpoint is gone.
    #[error("This delivery's endpoint was deleted, so the delivery can't be retried.")]
    DeliveryNotRetryable,
    #[error("{message}")]
    Upstream {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("The database is unavailable; retry shortly.")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            param: Some(param.into()),
            message: message.into(),
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound {
            param: Some("id".to_string()),
            message: format!(
                "No {what} with id {:?}.",
                id.chars().take(80).collect::<String>()
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. }
            | Self::UrlNotAllowed { .. }
            | Self::VersionUnsupported(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::IdempotencyConflict
            | Self::IdempotencyInProgress
            | Self::DeliveryNotRetryable => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::CallNotAllowed { .. } => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } | Self::AuthThrottled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Upstream { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { .. } => "invalid_request",
            Self::UrlNotAllowed { .. } => "url_not_allowed",
            Self::Unauthorized(_) => "unauthorized",
            Self::NotFound { .. } => "not_found",
            Self::IdempotencyConflict => "idempotency_key_conflict",
            Self::IdempotencyInProgress => "idempotency_key_in_use",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::VersionUnsupported(_) => "version_unsupported",
            Self::RateLimited { .. } | Self::AuthThrottled { .. } => "rate_limited",
            Self::RequestTimeout => "request_timeout",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::DeliveryNotRetryable => "delivery_not_retryable",
            Self::CallNotAllowed { .. } => "call_not_allowed",
            Self::Gone { code, .. } | Self::Upstream { code, .. } => code,
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { param, .. } | Self::NotFound { param, .. } => param.as_deref(),
            Self::UrlNotAllowed { param, .. } => Some(param),
            Self::VersionUnsupported(_) => Some("Scripe-Api-Version"),
            Self::CallNotAllowed { rule, .. } => Some(rule),
            _ => None,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::InvalidRequest {
            param: Some(e.param),
            message: e.message,
        }
    }
}

impl From<url_credentials::PatchError> for ApiError {
    fn from(e: url_credentials::PatchError) -> Self {
        match e {
            url_credentials::PatchError::Invalid(field) => field.into(),
            url_credentials::PatchError::Stored(e) => Self::Internal(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e)
        } else {
            Self::Internal(anyhow::Error::new(e))
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable, snake_case.
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// The offending field, when one is to blame.
    pub param: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Upstream failures of integration calls were logged where they happened, with the
        // integration's ids (`integrations/call.rs`): not a second time here.
        if status.is_server_error() && !matches!(self, Self::Upstream { .. }) {
            // As an error value, so the log has the whole `source()` chain (a `causes` array
            // in JSON logs, `error.sources` in text).
            tracing::error!(
                code = self.code(),
                error = &self as &(dyn std::error::Error + 'static),
                "request failed"
            );
        }
        let message = match &self {
            Self::Internal(_) => {
                "An internal error occurred; it was logged with this request's X-Request-Id."
                    .to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
                param: self.param().map(str::to_string),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        match &self {
            Self::RateLimited { retry_after_secs } | Self::AuthThrottled { retry_after_secs } => {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(*retry_after_secs));
            }
            Self::Unavailable(_) | Self::IdempotencyInProgress => {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
