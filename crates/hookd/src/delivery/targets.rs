//! A short-lived cache of where each endpoint's deliveries go and which secrets sign them.
//!
//! Every attempt needs the endpoint's URL, its signing keys and its OAuth2 credentials, if any; reading, decrypting and
//! preparing them per attempt would put a database read on the hot path. Entries live a second and are dropped
//! at once when this node changes the endpoint (another node's change is seen within the TTL).
//!
//! A miss is loaded once: the runners of an endpoint that miss together (every one of its up to
//! `endpoint_max_in_flight` runners at the first delivery, and again each time the entry
//! expires) wait for the one that reads, instead of each reading, decrypting and preparing the
//! same row: a fan-out's first wave would otherwise make hundreds of them at once
//! (docs/performance.md, "Fan-out latency"). A load that overlaps an invalidation answers its
//! own attempt but is not cached, so the change is seen by the next attempt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

use crate::crypto::Cipher;
use crate::domain::ids::EndpointId;
use crate::domain::oauth2::ClientCredentials;
use crate::domain::secret::KeyRing;
use crate::signing::Signer;
use crate::store::DynStore;

/// Short enough that a change made through another node (URL, secret, disabling) takes effect
/// within a second; long enough to keep the database off the hot path.
const TTL: Duration = Duration::from_secs(1);

pub struct Target {
    pub url: Url,
    /// The decrypted key ring, ready to sign with.
    pub signer: Signer,
    pub is_active: bool,
    /// OAuth2 client credentials: deliveries carry a bearer token from them.
    pub auth: Option<ClientCredentials>,
    /// Attempts per second the endpoint accepts (`None`: no limit); see `pacing.rs`.
    pub rate_limit_per_sec: Option<u32>,
}

pub struct Targets {
    store: DynStore,
    cipher: Cipher,
    cache: Mutex<HashMap<EndpointId, (Arc<Target>, Instant)>>,
    /// Per endpoint: held by the one runner loading it.
    loading: Mutex<HashMap<EndpointId, Arc<tokio::sync::Mutex<()>>>>,
    /// Bumped by every invalidation: a load that started before one is not cached.
    generation: AtomicU64,
}

impl Targets {
    pub fn new(store: DynStore, cipher: Cipher) -> Self {
        Self {
            store,
            cipher,
            cache: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The endpoint's target, or `None` when it was deleted.
    pub async fn get(&self, id: &EndpointId) -> anyhow::Result<Option<Arc<Target>>> {
        if let Some(target) = self.fresh(id) {
            return Ok(Some(target));
        }
        let gate = self.gate(id);
        let _loading = gate.lock().await;
        // Whoever held the gate before may have loaded it meanwhile.
        if let Some(target) = self.fresh(id) {
            return Ok(Some(target));
        }
        self.load(id).await
    }

    fn fresh(&self, id: &EndpointId) -> Option<Arc<Target>> {
        let cache = self.lock();
        let (target, loaded) = cache.get(id)?;
        (loaded.elapsed() < TTL).then(|| Arc::clone(target))
    }

    fn gate(&self, id: &EndpointId) -> Arc<tokio::sync::Mutex<()>> {
        let mut loading = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        if loading.len() > 10_000 {
            // Gates nobody holds or waits for carry no state.
            loading.retain(|_, gate| Arc::strong_count(gate) > 1);
        }
        Arc::clone(loading.entry(id.clone()).or_default())
    }

    async fn load(&self, id: &EndpointId) -> anyhow::Result<Option<Arc<Target>>> {
        let generation = self.generation.load(Ordering::Acquire);
        let Some(row) = self.store.dispatch_target(id).await? else {
            self.invalidate(id);
            return Ok(None);
        };
        let keys: KeyRing = self.cipher.open_json(&row.signing_keys)?;
        let url = crate::domain::url_credentials::open(&self.cipher, &row.url)?;
        let target = Arc::new(Target {
            url,
            signer: Signer::new(&keys),
            is_active: row.is_active,
            auth: crate::oauth2::open_endpoint_auth(&self.cipher, &row.auth_sealed)?,
            rate_limit_per_sec: row.rate_limit_per_sec,
        });
        let mut cache = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return Ok(Some(target));
        }
        if cache.len() > 100_000 {
            cache.retain(|_, (_, loaded)| loaded.elapsed() < TTL);
        }
        cache.insert(id.clone(), (Arc::clone(&target), Instant::now()));
        Ok(Some(target))
    }

    pub fn invalidate(&self, id: &EndpointId) {
        let mut cache = self.lock();
        cache.remove(id);
        // Under the cache's lock, so a load either sees the bump or inserts before the removal.
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EndpointId, (Arc<Target>, Instant)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::{Fixture, Setup};
    use crate::domain::time::Timestamp;

    /// The runners of an endpoint that miss the cache together share one load: every one of
    /// them gets the same prepared target, not a copy each read from the database.
    #[tokio::test]
    async fn concurrent_misses_share_one_load() {
        let fx = Fixture::start(Setup::default()).await;
        let endpoint = fx
            .publish(Timestamp::now().plus_millis(60_000))
            .await
            .endpoint_id;
        let targets = &fx.dispatcher.shared.targets;
        let got = futures_util::future::join_all((0..32).map(|_| targets.get(&endpoint))).await;
        let got: Vec<_> = got.into_iter().map(|t| t.unwrap().unwrap()).collect();
        assert!(got.iter().all(|t| Arc::ptr_eq(t, &got[0])));

        // Invalidated: the next lookup reads the endpoint again.
        targets.invalidate(&endpoint);
        let again = targets.get(&endpoint).await.unwrap().unwrap();
        assert!(!Arc::ptr_eq(&again, &got[0]));
    }
}
