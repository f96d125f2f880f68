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
