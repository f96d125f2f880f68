//! `Scripe-Api-Version`: pins the API version; absent means the current default. Unknown
//! versions are rejected before anything else runs (the first step of `pipeline.rs`), and every
//! answer echoes the version used.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

#[cfg(test)]
mod props;

pub const HEADER: &str = "scripe-api-version";
/// Every version this build answers, oldest first; the last is the default.
pub const SUPPORTED: &[&str] = &["2026-08-01"];
pub const DEFAULT: &str = "2026-08-01";

/// The version a request asks for (the default when it names none), or why it is refused.
pub fn resolve(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let Some(requested) = headers.get(HEADER) else {
        return Ok(DEFAULT);
    };
    let requested = requested.to_str().unwrap_or("").trim();
    match SUPPORTED.iter().find(|s| **s == requested) {
        Some(known) => Ok(known),
        None => {
            let shown: String = requested.chars().take(32).collect();
            Err(ApiError::VersionUnsupported(shown))
        }
    }
}

/// The answer to a request for a version we do not support, which names the default.
pub fn refuse(unsupported: ApiError) -> Response {
    with_version(unsupported.into_response(), DEFAULT)
}

/// Echoes `version` on `response`.
pub fn with_version(mut response: Response, version: &'static str) -> Response {
    response
        .headers_mut()
        .insert(HEADER, HeaderValue::from_static(version));
    response
}
