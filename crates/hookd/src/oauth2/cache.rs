//! The token cache: one token per credential, fetched once however many requests need it.
//!
//! Each credential (token URL, client id and secret, scope, audience; keyed by a SHA-256 of them,
//! so the map holds no secret in the clear) has a slot with the current token and, while one is
//! being fetched, the fetch itself as a shared future. A request that finds a fresh token uses it;
//! one that finds a fetch under way awaits that same fetch; only the first request after expiry
//! starts a fetch. A failed fetch is handed to every request that waited for it (they fail
//! together rather than queueing one fetch each behind a hanging server) and is not cached: the
//! next request tries again.
//!
//! A token is used until [`refresh_after`] its arrival. A receiver answering 401 may have
//! revoked it earlier: [`TokenCache::reject`] drops it, unless a newer one already replaced it,
//! so a burst of 401s for one token causes one fetch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use reqwest::header::HeaderValue;
use sha2::{Digest, Sha256};

use super::token::{self, Token, TokenError};
use crate::domain::oauth2::{refresh_after, ClientCredentials};
use crate::egress::EgressClient;

/// Above this many credentials, slots without a fresh token or a fetch are forgotten.
const PRUNE_ABOVE: usize = 10_000;

type Key = [u8; 32];
type Fetch = Shared<BoxFuture<'static, Result<Token, TokenError>>>;

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// The token and until when it is used.
    token: Option<(HeaderValue, Instant)>,
    fetch: Option<Fetch>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Tokens of every OAuth2 client-credentials auth this node uses. Cheap to clone (shared).
#[derive(Clone)]
pub struct TokenCache {
    egress: EgressClient,
    slots: Arc<Mutex<HashMap<Key, Arc<Slot>>>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

impl TokenCache {
    /// Token requests go through `egress`, under the same policy as every outbound request.
    pub fn new(egress: EgressClient) -> Self {
        Self {
            egress,
            slots: Arc::default(),
        }
    }

    /// A token for `credentials`: the cached one while fresh, else the result of the one fetch
    /// (with `timeout`) that every concurrent caller shares.
    pub async fn token(
        &self,
        credentials: &ClientCredentials,
        timeout: Duration,
    ) -> Result<HeaderValue, TokenError> {
        let slot = self.slot(credentials);
        let fetch = {
            let mut state = slot.lock();
            if let Some((header, until)) = &state.token {
                if Instant::now() < *until {
                    return Ok(header.clone());
                }
            }
            match &state.fetch {
                Some(fetch) => fetch.clone(),
                None => {
                    let fetch = fetch(
                        self.egress.clone(),
                        credentials.clone(),
                        timeout,
                        Arc::downgrade(&slot),
                    )
                    .boxed()
                    .shared();
                    state.fetch = Some(fetch.clone());
                    fetch
                }
            }
        };
        fetch.await.map(|token| token.header)
    }

    /// The receiver refused `header` (401): drop it so the next [`TokenCache::token`] fetches a
    /// new one, unless it was replaced already.
    pub fn reject(&self, credentials: &ClientCredentials, header: &HeaderValue) {
        let slot = self.slot(credentials);
        let mut state = slot.lock();
        if state.token.as_ref().is_some_and(|(held, _)| held == header) {
            state.token = None;
        }
    }

    fn slot(&self, credentials: &ClientCredentials) -> Arc<Slot> {
        let key = key(credentials);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() > PRUNE_ABOVE && !slots.contains_key(&key) {
            let now = Instant::now();
            slots.retain(|_, slot| {
                let state = slot.lock();
                state.fetch.is_some() || state.token.as_ref().is_some_and(|(_, t)| *t > now)
            });
        }
        Arc::clone(slots.entry(key).or_default())
    }
}

fn key(credentials: &ClientCredentials) -> Key {
    let mut hash = Sha256::new();
    for part in [
        credentials.token_url.as_str(),
        &credentials.client_id,
        &credentials.client_secret,
        credentials.scope.as_deref().unwrap_or(""),
        credentials.audience.as_deref().unwrap_or(""),
    ] {
        // Length-prefixed, so no two different credentials hash the same bytes.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().into()
}

/// One fetch; on completion it stores a token in its slot (if it lasts) and clears itself.
async fn fetch(
    egress: EgressClient,
    credentials: ClientCredentials,
    timeout: Duration,
    slot: Weak<Slot>,
) -> Result<Token, TokenError> {
    let started = Instant::now();
    let result = match token::request(&credentials, timeout) {
        Ok(request) => match egress.send(request).await {
            Ok(answer) => token::read(&credentials, &answer),
            Err(cause) => Err(TokenError::Unreachable {
                url: token::shown_url(&credentials),
                cause,
            }),
        },
        Err(e) => Err(e),
    };
    let outcome = if result.is_ok() { "fetched" } else { "failed" };
    metrics::counter!("hookd_oauth2_token_requests_total", "outcome" => outcome).increment(1);
    match &result {
        Ok(_) => {
            tracing::debug!(token_url = %token::shown_url(&credentials), "fetched an OAuth2 token")
        }
        Err(e) => tracing::warn!(error = %e, "OAuth2 token request failed"),
    }
    if let Some(slot) = slot.upgrade() {
        let mut state = slot.lock();
        state.fetch = None;
        if let Ok(token) = &result {
            let keep = refresh_after(token.expires_in);
            state.token = (!keep.is_zero()).then(|| (token.header.clone(), started + keep));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use axum::response::IntoResponse;

    use super::*;
    use crate::egress::EgressPolicy;

    /// A real loopback token server that answers after `delay`: `tok-N` while `healthy`, else
    /// 500. Returns its token URL and its hit counter.
    async fn server(delay: Duration, healthy: Arc<AtomicBool>) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let app = axum::Router::new().fallback(move || {
            let (counter, healthy) = (Arc::clone(&counter), Arc::clone(&healthy));
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(delay).await;
                if healthy.load(Ordering::SeqCst) {
                    axum::Json(serde_json::json!({"access_token": format!("tok-{n}"),
                                                  "expires_in": 3600}))
                    .into_response()
                } else {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}/token"), hits)
    }

    fn cache() -> TokenCache {
        let policy = EgressPolicy {
            allow_http: true,
            allow_nets: vec!["127.0.0.0/8".parse().unwrap()],
        };
        TokenCache::new(EgressClient::new(policy, None).unwrap())
    }

    fn credentials(token_url: &str, secret: &str) -> ClientCredentials {
        ClientCredentials {
            token_url: token_url.into(),
            client_id: "id".into(),
            client_secret: secret.into(),
            scope: None,
            audience: None,
        }
    }

    async fn concurrently(
        cache: &TokenCache,
        credentials: &ClientCredentials,
        n: usize,
    ) -> Vec<Result<HeaderValue, TokenError>> {
        let calls = (0..n).map(|_| cache.token(credentials, Duration::from_secs(5)));
        futures_util::future::join_all(calls).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_fetch() {
        let healthy = Arc::new(AtomicBool::new(true));
        let (url, hits) = server(Duration::from_millis(200), healthy).await;
        let cache = cache();
        let creds = credentials(&url, "secret-1");
        let tokens = concurrently(&cache, &creds, 50).await;
        assert!(tokens.iter().all(|t| t.as_ref().unwrap() == "Bearer tok-1"));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // Cached now; another credential (a different secret) has its own token.
        assert_eq!(
            cache.token(&creds, Duration::from_secs(5)).await.unwrap(),
            "Bearer tok-1"
        );
        let other = credentials(&url, "secret-2");
        assert_eq!(
            cache.token(&other, Duration::from_secs(5)).await.unwrap(),
            "Bearer tok-2"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_fetch_fails_its_waiters_together_and_is_not_cached() {
        let healthy = Arc::new(AtomicBool::new(false));
        let (url, hits) = server(Duration::from_millis(200), Arc::clone(&healthy)).await;
        let cache = cache();
        let creds = credentials(&url, "secret");
        let failures = concurrently(&cache, &creds, 20).await;
        assert!(failures.iter().all(|f| f
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("answered 500")));
        assert_eq!(hits.load(Ordering::SeqCst), 1, "one fetch for 20 waiters");
        healthy.store(true, Ordering::SeqCst);
        assert_eq!(
            cache.token(&creds, Duration::from_secs(5)).await.unwrap(),
            "Bearer tok-2"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rejecting_a_token_refetches_once_and_stale_rejections_are_ignored() {
        let healthy = Arc::new(AtomicBool::new(true));
        let (url, hits) = server(Duration::ZERO, healthy).await;
        let cache = cache();
        let creds = credentials(&url, "secret");
        let first = cache.token(&creds, Duration::from_secs(5)).await.unwrap();
        cache.reject(&creds, &first);
        let second = cache.token(&creds, Duration::from_secs(5)).await.unwrap();
        assert_eq!(second, "Bearer tok-2");
        // A late 401 for the old token does not throw the new one away.
        cache.reject(&creds, &first);
        assert_eq!(
            cache.token(&creds, Duration::from_secs(5)).await.unwrap(),
            second
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_token_server_is_bounded_by_the_timeout() {
        let healthy = Arc::new(AtomicBool::new(true));
        let (url, _) = server(Duration::from_secs(30), healthy).await;
        let cache = cache();
        let started = Instant::now();
        let err = cache
            .token(&credentials(&url, "secret"), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
