//! `Scripe-Api-Version`: pins the API version; absent means the current default. Unknown
//! versions are rejected before anything else runs, and every answer echoes the version used.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

pub const HEADER: &str = "scripe-api-version";
/// Every version this build answers, oldest first; the last is the default.
pub const SUPPORTED: &[&str] = &["2026-08-01"];
pub const DEFAULT: &str = "2026-08-01";

pub async fn negotiate(request: Request, next: Next) -> Response {
    let requested = request
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().unwrap_or("").trim().to_string());
    let version = match requested {
        None => DEFAULT,
        Some(v) => match SUPPORTED.iter().find(|s| **s == v) {
            Some(known) => *known,
            None => {
                let shown: String = v.chars().take(32).collect();
                return with_version(ApiError::VersionUnsupported(shown).into_response(), DEFAULT);
            }
        },
    };
    with_version(next.run(request).await, version)
}

fn with_version(mut response: Response, version: &'static str) -> Response {
    response
        .headers_mut()
        .insert(HEADER, HeaderValue::from_static(version));
    response
}
