//! Authentication and per-key rate limiting for `/v1`.
//!
//! `Authorization: Bearer scripe_sk_{live|test}_…` is hashed and looked up (never compared as
//! plaintext); a revoked key is gone from the lookup at once. The resolved [`Authed`] (key id
//! and tenant) goes into the request extensions for handlers and the idempotency layer.

use std::num::NonZeroU32;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::error::ApiError;
use super::AppState;
use crate::domain::api_key;
use crate::domain::ids::ApiKeyId;
use crate::domain::tenant::Tenant;

#[cfg(test)]
mod props;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Authed {
    pub key_id: ApiKeyId,
    pub tenant: Tenant,
}

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authed>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("Authentication is required.".into()))
    }
}

/// Per-API-key token buckets in process memory: exact for a single process (SQLite). On
/// PostgreSQL the store's shared limiter is used instead, so several nodes enforce one limit.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<ApiKeyId>,
    clock: DefaultClock,
    per_second: u32,
    burst: u32,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(per_second);
        Self {
            limiter: governor::RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            clock: DefaultClock::default(),
            per_second: per_second.get(),
            burst: burst.get(),
        }
    }

    /// Admits a request of `key`, through the store's shared limiter when it has one;
    /// `Err(seconds to wait)` when the key is over its limit.
    pub async fn admit(
        &self,
        store: &dyn crate::store::Store,
        key: &ApiKeyId,
    ) -> Result<Result<(), u64>, crate::store::StoreError> {
        let Some(shared) = store.shared_rate_limiter() else {
            return Ok(self.check(key));
        };
        let interval_ms = (1000 / i64::from(self.per_second)).max(1);
        let now = crate::domain::time::Timestamp::now();
        Ok(shared
            .admit(key, now, interval_ms, i64::from(self.burst))
            .await?
            .map_err(|wait_ms| u64::try_from(wait_ms).unwrap_or(1).div_ceil(1000)))
    }

    /// `Err(seconds to wait)` when the key is over its limit.
    pub fn check(&self, key: &ApiKeyId) -> Result<(), u64> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets buckets of keys that are back to full, so memory stays bounded.
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Records when each key was last used ("Last used" in the dashboard's Settings → API keys),
/// off the request path and at most once a minute per key and process: a write per request would
/// cost the database more than the answer is worth, and a minute is as precise as people read it.
#[derive(Default)]
pub struct KeyUsage {
    written: std::sync::Mutex<std::collections::HashMap<ApiKeyId, i64>>,
}

/// Seconds between two recorded uses of one key.
const USAGE_INTERVAL_SECS: i64 = 60;
/// Keys remembered before the map is emptied (bounds memory; costs one extra write per key).
const USAGE_MAX_KEYS: usize = 100_000;

impl KeyUsage {
    pub fn record(&self, store: &crate::store::DynStore, key: &ApiKeyId) {
        let now = crate::domain::time::Timestamp::now();
        let seconds = now.as_unix_seconds();
        {
            let Ok(mut written) = self.written.lock() else {
                return;
            };
            if written
                .get(key)
                .is_some_and(|at| seconds - at < USAGE_INTERVAL_SECS)
            {
                return;
            }
            if written.len() >= USAGE_MAX_KEYS {
                written.clear();
            }
            written.insert(key.clone(), seconds);
        }
        let (store, key) = (std::sync::Arc::clone(store), key.clone());
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(&key, now).await {
                tracing::debug!(error = &e as &(dyn std::error::Error + 'static), key_id = %key.as_str(), "could not record a key's last use");
            }
        });
    }
}

fn bearer_token(parts: &axum::http::HeaderMap) -> Option<&str> {
    let value = parts.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Resolves and rate-limits the caller named by `headers`, and records its workspace, mode and
/// key id (never the key) on the request's span.
pub async fn authenticate_headers(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Authed, ApiError> {
    // More than one `Authorization` is refused rather than resolved: which one a proxy, a cache
    // or a framework in front of hookd honours is a guess, and acting as a key the client may
    // not think it sent (or logging one while using another) is how such ambiguity is exploited.
    // A 400, not a 401: no key was judged, the request is malformed.
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Err(ApiError::InvalidRequest {
            param: Some("Authorization".into()),
            message: "Send one `Authorization` header; this request has several.".into(),
        });
    }
    let token = bearer_token(headers).ok_or_else(|| {
        ApiError::Unauthorized("Pass your API key as `Authorization: Bearer scripe_sk_…`.".into())
    })?;
    if api_key::parse_mode(token).is_none() {
        return Err(ApiError::Unauthorized("The API key is malformed.".into()));
    }
    let (key_id, tenant) = state
        .store
        .authenticate(&api_key::hash(token))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("The API key is unknown or revoked.".into()))?;
    state
        .rate_limiter
        .admit(state.store.as_ref(), &key_id)
        .await?
        .map_err(|retry_after_secs| ApiError::RateLimited {
            retry_after_secs: retry_after_secs.max(1),
        })?;
    state.key_usage.record(&state.store, &key_id);
    let span = tracing::Span::current();
    span.record("workspace", tenant.workspace_id.as_str());
    span.record("mode", tenant.mode.as_str());
    span.record("key_id", key_id.as_str());
    Ok(Authed { key_id, tenant })
}
