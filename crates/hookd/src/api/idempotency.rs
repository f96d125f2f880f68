//! `Idempotency-Key` on POST, PATCH and DELETE.
//!
//! The first request with a key claims it in the database (atomically, so two concurrent
//! requests never both run), runs, and stores its status and body. For 24 h the same key with
//! the same request replays that answer with `Idempotent-Replayed: true`; with a different
//! request it is 409 `idempotency_key_conflict`; while the first is still running, 409
//! `idempotency_key_in_use` (as Stripe does). 5xx answers are not stored, so a retry can succeed.
//! Keys are scoped to the caller's workspace and mode.
//!
//! "The same request" means the same method, path and query, and the same *parameters*: a JSON
//! body is compared as parsed JSON, not as bytes, so a retry that re-serialises its body with
//! other whitespace or another key order replays (as Stripe does). See [`body_fingerprint`].
//!
//! Stored answers are sealed with the master key like every other secret at rest: the answer to
//! a create or a rotation carries the endpoint's plaintext signing secret.

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::auth::Authed;
use super::error::ApiError;
use super::extract::BodyLimit;
use super::AppState;
use crate::crypto::Cipher;
use crate::domain::time::Timestamp;
use crate::store::IdempotencyBegin;

#[cfg(test)]
mod props;

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";
/// Stored answers larger than this are not kept (the request still succeeds).
/// Integration call answers can reach a few MiB (a 1 MiB upstream body, escaped or base64).
const MAX_STORED_RESPONSE: usize = 16 * 1024 * 1024;

fn is_valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The stored form of an answer body: base64 of the sealed bytes.
fn seal(cipher: &Cipher, body: &[u8]) -> String {
    BASE64.encode(cipher.encrypt(body))
}

fn open(cipher: &Cipher, stored: &str) -> Result<Vec<u8>, ApiError> {
    let sealed = BASE64.decode(stored).map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("stored idempotent answer is not base64"))
    })?;
    cipher.decrypt(&sealed).map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("opening a stored idempotent answer"))
    })
}

/// What of a request body decides whether a retry is "the same request": a JSON body in a
/// canonical form (object keys sorted, no insignificant whitespace, numbers as parsed), any
/// other body (empty, not JSON, or JSON the parser refuses) as its bytes. Numbers compare by
/// value as serde_json reads them (`1.0` and `1.00` are one parameter), which is what the
/// handler itself sees.
fn body_fingerprint(bytes: &[u8]) -> Fingerprint<'_> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(mut value) => {
            // A no-op with serde_json's default (sorted) maps; sorts if a dependency ever turns
            // on `preserve_order`, so the fingerprint never depends on the client's key order.
            value.sort_all_objects();
            Fingerprint::Json(value.to_string())
        }
        Err(_) => Fingerprint::Raw(bytes),
    }
}

/// A request body as idempotency compares it (see [`body_fingerprint`]).
#[derive(Debug, PartialEq, Eq)]
enum Fingerprint<'a> {
    Json(String),
    Raw(&'a [u8]),
}

impl Fingerprint<'_> {
    /// Feeds the fingerprint to the request hash, tagged so a canonical JSON text and a raw body
    /// never hash alike.
    fn hash_into(&self, hasher: &mut Sha256) {
        match self {
            Self::Json(text) => {
                hasher.update(b"json\0");
                hasher.update(text.as_bytes());
            }
            Self::Raw(bytes) => {
                hasher.update(b"raw\0");
                hasher.update(bytes);
            }
        }
    }
}

/// The idempotency step of the v1 pipeline (see `pipeline.rs`): runs `handler` once per key,
/// or replays or refuses.
pub async fn guard<F, Fut>(
    state: &AppState,
    request: Request,
    handler: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if !matches!(
        *request.method(),
        Method::POST | Method::PATCH | Method::DELETE
    ) {
        return Ok(handler(request).await);
    }
    let Some(raw_key) = request.headers().get(HEADER) else {
        return Ok(handler(request).await);
    };
    let key = raw_key
        .to_str()
        .ok()
        .filter(|k| is_valid_key(k))
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "Idempotency-Key must be 1–64 characters of A–Z, a–z, 0–9, _ and -.",
            )
        })?;
    let tenant = request
        .extensions()
        .get::<Authed>()
        .map(|a| a.tenant.clone())
        .ok_or_else(|| ApiError::Unauthorized("Authentication is required.".into()))?;

    let (parts, body) = request.into_parts();
    let limit = parts
        .extensions
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(1024 * 1024);
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if crate::http_server::is_body_timeout(&e) {
            ApiError::RequestTimeout
        } else {
            ApiError::PayloadTooLarge { limit }
        }
    })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(""));
    hasher.update([0]);
    body_fingerprint(&bytes).hash_into(&mut hasher);
    let request_hash = hex::encode(hasher.finalize());

    let ttl_ms =
        i64::try_from(state.config.idempotency_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    match state
        .store
        .idempotency_begin(&tenant, &key, &request_hash, Timestamp::now(), ttl_ms)
        .await?
    {
        IdempotencyBegin::Conflict => return Err(ApiError::IdempotencyConflict),
        IdempotencyBegin::InProgress => return Err(ApiError::IdempotencyInProgress),
        IdempotencyBegin::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, open(&state.cipher, &body)?).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
            return Ok(response);
        }
        IdempotencyBegin::Started => {}
    }

    let response = handler(Request::from_parts(parts, Body::from(bytes))).await;
    let status = response.status();
    if status.is_server_error() {
        state.store.idempotency_abandon(&tenant, &key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    // Every handler builds its answer in memory, so collecting it costs nothing extra. The request
    // has run by now: whatever happens below, the client gets its real answer.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            state.store.idempotency_abandon(&tenant, &key).await?;
            return Err(ApiError::Internal(anyhow::anyhow!(
                "reading the response body: {e}"
            )));
        }
    };
    if bytes.len() > MAX_STORED_RESPONSE {
        tracing::warn!(
            size = bytes.len(),
            "answer too large to keep for idempotent replay; the key is released"
        );
        state.store.idempotency_abandon(&tenant, &key).await?;
        return Ok(Response::from_parts(parts, Body::from(bytes)));
    }
    state
        .store
        .idempotency_finish(&tenant, &key, status.as_u16(), &seal(&state.cipher, &bytes))
        .await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::{body_fingerprint, is_valid_key, open, seal, Fingerprint};
    use crate::crypto::Cipher;

    #[test]
    fn stored_answers_are_sealed() {
        let cipher = Cipher::new(&[3u8; 32]);
        let body = br#"{"data":{"secret":"whsec_00"}}"#;
        let stored = seal(&cipher, body);
        assert!(!stored.contains("whsec_"));
        assert_eq!(open(&cipher, &stored).unwrap(), body);
        assert!(open(&Cipher::new(&[4u8; 32]), &stored).is_err());
        assert!(open(&cipher, "not base64!").is_err());
    }

    #[test]
    fn json_bodies_compare_by_parameters_not_bytes() {
        let a = body_fingerprint(br#"{"name":"a","events":["x","y"],"n":{"b":1,"a":2}}"#);
        let b = body_fingerprint(
            b"{ \"n\" : {\"a\": 2, \"b\": 1},\n  \"events\": [\"x\", \"y\"], \"name\": \"a\" }",
        );
        assert_eq!(a, b);
        // Array order and values are parameters.
        assert_ne!(
            a,
            body_fingerprint(br#"{"name":"a","events":["y","x"],"n":{"b":1,"a":2}}"#)
        );
        assert_ne!(
            a,
            body_fingerprint(br#"{"name":"b","events":["x","y"],"n":{"b":1,"a":2}}"#)
        );
        assert_ne!(
            body_fingerprint(b"{\"a\":1}"),
            body_fingerprint(b"{\"a\":\"1\"}")
        );
        // Anything else compares as bytes.
        assert_eq!(body_fingerprint(b"not json"), Fingerprint::Raw(b"not json"));
        assert_eq!(body_fingerprint(b""), Fingerprint::Raw(b""));
    }

    #[test]
    fn key_syntax() {
        assert!(is_valid_key("abc-DEF_123"));
        assert!(is_valid_key(&"a".repeat(64)));
        assert!(!is_valid_key(&"a".repeat(65)));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("has space"));
        assert!(!is_valid_key("ünïcode"));
    }
}
